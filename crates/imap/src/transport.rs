//! The byte stream under async-imap: TCP or TLS, an idle timeout on every read and write, and a
//! response filter.
//!
//! The filter exists because async-imap's parser (imap-proto) closes the whole connection on a
//! response it does not know (e.g. `* NAMESPACE`, `* ESEARCH`) and on 8-bit bytes in a status
//! text. The filter frames the server's stream (lines and `{n}` literals, never looking inside
//! literal data) and takes unknown untagged responses aside, where the session reads them
//! (NAMESPACE is parsed from there), and replaces 8-bit bytes in status texts with `?`.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, BufWriter, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;
use tokio_rustls::client::TlsStream;

/// TCP or TLS over TCP.
pub(crate) enum Inner {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Inner {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Inner::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Inner {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Inner::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Inner::Plain(s) => Pin::new(s).poll_flush(cx),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Inner::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Untagged response types imap-proto 0.17 parses; anything else is taken aside.
const KNOWN: &[&str] = &[
    "OK",
    "NO",
    "BAD",
    "BYE",
    "PREAUTH",
    "CAPABILITY",
    "LIST",
    "LSUB",
    "STATUS",
    "SEARCH",
    "SORT",
    "FLAGS",
    "ENABLED",
    "METADATA",
    "VANISHED",
    "QUOTA",
    "QUOTAROOT",
    "ID",
    "ACL",
    "LISTRIGHTS",
    "MYRIGHTS",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// At the start of a response.
    Start,
    /// Inside a response, after a literal: a continuation line follows.
    Continue { divert: bool },
    /// Inside literal data.
    Literal { left: usize, divert: bool },
}

/// The longest line Ferry reads (outside literals, whose size the server announces with `{n}`
/// and async-imap bounds): a hostile or broken server that trickles bytes without a line feed
/// must not grow the memory without bound. Real lines are far shorter: a FETCH line with flags,
/// envelope and body structure, or a CAPABILITY line, stays below a few kilobytes.
pub(crate) const MAX_LINE: usize = 1024 * 1024;

/// The most Ferry keeps of responses taken aside (NAMESPACE and those async-imap cannot parse):
/// one response larger than this is an error; older ones are dropped to stay below it (only
/// the latest NAMESPACE is ever read).
pub(crate) const MAX_ASIDE: usize = 4 * 1024 * 1024;

/// A line or a response over its limit; see [`MAX_LINE`] and [`MAX_ASIDE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLong {
    /// "a line", "a response".
    pub(crate) what: &'static str,
    pub(crate) limit: usize,
}

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} longer than {} bytes", self.what, self.limit)
    }
}

impl std::error::Error for TooLong {}

/// Frames the server's byte stream into responses; see the module documentation.
#[derive(Debug)]
pub(crate) struct Filter {
    mode: Mode,
    /// The line being assembled (held until its CRLF).
    line: Vec<u8>,
    /// Bytes ready for the parser.
    out: Vec<u8>,
    out_pos: usize,
    /// The response being taken aside.
    aside: Vec<u8>,
    /// Complete responses taken aside.
    pub(crate) diverted: std::collections::VecDeque<Vec<u8>>,
    /// Bytes in `diverted`.
    diverted_bytes: usize,
    /// Set when a limit was passed: the stream is unusable from then on.
    failed: Option<TooLong>,
}

impl Filter {
    pub(crate) fn new() -> Self {
        Filter {
            mode: Mode::Start,
            line: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            aside: Vec::new(),
            diverted: std::collections::VecDeque::new(),
            diverted_bytes: 0,
            failed: None,
        }
    }

    fn pending_out(&self) -> &[u8] {
        &self.out[self.out_pos..]
    }

    fn emit(&mut self, divert: bool, bytes: &[u8]) {
        if divert {
            if self.aside.len() + bytes.len() > MAX_ASIDE {
                self.failed = Some(TooLong {
                    what: "a response",
                    limit: MAX_ASIDE,
                });
                return;
            }
            self.aside.extend_from_slice(bytes);
        } else {
            self.out.extend_from_slice(bytes);
        }
    }

    /// Feeds bytes from the server; fails (for good) when a line or a response taken aside
    /// passes its limit.
    pub(crate) fn feed(&mut self, mut data: &[u8]) -> Result<(), TooLong> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.out_pos > 0 && self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
        while !data.is_empty() {
            match self.mode {
                Mode::Literal { left, divert } => {
                    let n = left.min(data.len());
                    self.emit(divert, &data[..n]);
                    data = &data[n..];
                    self.mode = if n == left {
                        Mode::Continue { divert }
                    } else {
                        Mode::Literal {
                            left: left - n,
                            divert,
                        }
                    };
                }
                Mode::Start | Mode::Continue { .. } => {
                    let end = data.iter().position(|&b| b == b'\n');
                    let take = end.map_or(data.len(), |p| p + 1);
                    if self.line.len() + take > MAX_LINE {
                        let e = TooLong {
                            what: "a line",
                            limit: MAX_LINE,
                        };
                        self.failed = Some(e);
                        self.line = Vec::new();
                        return Err(e);
                    }
                    self.line.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if end.is_some() {
                        let line = std::mem::take(&mut self.line);
                        self.complete_line(line);
                    }
                }
            }
            if let Some(e) = self.failed {
                self.aside = Vec::new();
                return Err(e);
            }
        }
        Ok(())
    }

    fn complete_line(&mut self, mut line: Vec<u8>) {
        let (divert, status) = match self.mode {
            Mode::Start => classify(&line),
            Mode::Continue { divert } => (divert, false),
            Mode::Literal { .. } => unreachable_literal(),
        };
        if status {
            // Status texts end at CRLF and hold no literal; imap-proto accepts only 7-bit text.
            let end = line.len().saturating_sub(2);
            for b in &mut line[..end] {
                if *b >= 0x80 || *b == 0 {
                    *b = b'?';
                }
            }
        }
        let literal = if status { None } else { literal_size(&line) };
        self.emit(divert, &line);
        match literal {
            Some(left) if left > 0 => self.mode = Mode::Literal { left, divert },
            Some(_) => self.mode = Mode::Continue { divert },
            None => {
                self.mode = Mode::Start;
                if divert {
                    let resp = std::mem::take(&mut self.aside);
                    tracing::debug!(
                        "took aside a response async-imap cannot parse: {:?}",
                        String::from_utf8_lossy(&resp[..resp.len().min(200)])
                    );
                    self.diverted_bytes += resp.len();
                    self.diverted.push_back(resp);
                    while self.diverted_bytes > MAX_ASIDE && self.diverted.len() > 1 {
                        let dropped = self.diverted.pop_front().map_or(0, |r| r.len());
                        self.diverted_bytes -= dropped;
                    }
                }
            }
        }
    }

    /// At end of stream: hand over what is left so the parser reports the truncation.
    fn finish(&mut self) {
        let line = std::mem::take(&mut self.line);
        self.out.extend_from_slice(&line);
    }
}

fn unreachable_literal() -> (bool, bool) {
    // complete_line is only called in line modes; treat anything else as pass-through.
    (false, false)
}

/// (take aside, is a status response) for the first line of a response.
fn classify(line: &[u8]) -> (bool, bool) {
    if line.starts_with(b"+") {
        return (false, true);
    }
    let mut words = line.split(|&b| b == b' ');
    let first = words.next().unwrap_or_default();
    let second = words
        .next()
        .unwrap_or_default()
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .unwrap_or_default();
    let upper = String::from_utf8_lossy(second).to_ascii_uppercase();
    let is_status = matches!(upper.as_str(), "OK" | "NO" | "BAD" | "BYE" | "PREAUTH");
    if first != b"*" {
        // Tagged: always a status response.
        return (false, true);
    }
    if is_status {
        return (false, true);
    }
    if !upper.is_empty() && upper.bytes().all(|b| b.is_ascii_digit()) {
        // `* n FETCH/EXISTS/EXPUNGE/RECENT`
        return (false, false);
    }
    (!KNOWN.contains(&upper.as_str()), false)
}

/// `{n}` or `{n+}` at the end of a line.
fn literal_size(line: &[u8]) -> Option<usize> {
    let body = line
        .strip_suffix(b"\r\n")
        .or_else(|| line.strip_suffix(b"\n"))?;
    let body = body.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let digits = &body[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Whether `host` names this computer literally: a loopback address (`127.0.0.0/8`, `::1`,
/// also in brackets or IPv4-mapped) or `localhost`. Other names are not trusted even when they
/// resolve to a loopback address today: a resolver or a hosts file can change that.
pub(crate) fn is_loopback_name(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// Plain TCP (no TLS at all) only to this computer, checked on the name before connecting and
/// on the connected peer's address after (`localhost` mapped elsewhere by a hosts file is
/// refused too). Enforced here, under every caller, so none can send a password in clear text
/// across a network by mistake.
pub(crate) fn refuse_plain_to_remote(
    server: &str,
    host: &str,
    peer: Option<std::net::IpAddr>,
) -> Result<(), crate::error::ImapError> {
    let reason = if !is_loopback_name(host) {
        format!("{host} is not this computer (a loopback address or localhost)")
    } else {
        match peer.map(|ip| ip.to_canonical()) {
            Some(ip) if !ip.is_loopback() => {
                format!("{host} resolves to {ip}, which is not a loopback address")
            }
            _ => return Ok(()),
        }
    };
    Err(crate::error::ImapError::PlaintextRefused {
        server: server.to_string(),
        reason,
    })
}

/// The stream handed to async-imap.
pub(crate) struct Transport {
    io: BufWriter<Inner>,
    filter: Filter,
    idle: Duration,
    read_timer: Option<Pin<Box<Sleep>>>,
    write_timer: Option<Pin<Box<Sleep>>>,
    read_buf: Box<[u8]>,
    eof: bool,
    bytes_in: u64,
    bytes_out: u64,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("tls", &matches!(self.io.get_ref(), Inner::Tls(_)))
            .field("bytes_in", &self.bytes_in)
            .field("bytes_out", &self.bytes_out)
            .finish()
    }
}

impl Transport {
    pub(crate) fn new(inner: Inner, idle: Duration) -> Self {
        Transport {
            io: BufWriter::with_capacity(64 * 1024, inner),
            filter: Filter::new(),
            idle,
            read_timer: None,
            write_timer: None,
            read_buf: vec![0u8; 64 * 1024].into_boxed_slice(),
            eof: false,
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    /// The TCP stream back (for STARTTLS). Anything buffered from before is dropped, as RFC
    /// 3207 asks (no plaintext injection into the TLS session).
    pub(crate) fn into_inner(self) -> Inner {
        self.io.into_inner()
    }

    /// Restarts the idle clocks: a new command begins.
    pub(crate) fn reset_timers(&mut self) {
        self.read_timer = None;
        self.write_timer = None;
    }

    /// Responses taken aside since the last call.
    pub(crate) fn take_diverted(&mut self) -> Vec<Vec<u8>> {
        self.filter.diverted_bytes = 0;
        std::mem::take(&mut self.filter.diverted).into()
    }

    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.io.get_ref(), Inner::Tls(_))
    }

    pub(crate) fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    pub(crate) fn bytes_out(&self) -> u64 {
        self.bytes_out
    }
}

fn timed_out(idle: Duration, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("nothing {what} for {:.1} s", idle.as_secs_f32()),
    )
}

/// Polls an idle timer armed on the first `Pending`; true when it fired.
fn timer_fired(timer: &mut Option<Pin<Box<Sleep>>>, idle: Duration, cx: &mut Context<'_>) -> bool {
    let t = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
    if t.as_mut().poll(cx).is_ready() {
        *timer = None;
        true
    } else {
        false
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let pending = this.filter.pending_out();
            if !pending.is_empty() {
                let n = pending.len().min(buf.remaining());
                buf.put_slice(&pending[..n]);
                this.filter.out_pos += n;
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            let mut rb = ReadBuf::new(&mut this.read_buf);
            match Pin::new(&mut this.io).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    this.read_timer = None;
                    let n = rb.filled().len();
                    if n == 0 {
                        this.eof = true;
                        this.filter.finish();
                    } else {
                        this.bytes_in += n as u64;
                        if let Err(e) = this.filter.feed(&this.read_buf[..n]) {
                            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
                        }
                    }
                }
                Poll::Ready(Err(e)) => {
                    this.read_timer = None;
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => {
                    if timer_fired(&mut this.read_timer, this.idle, cx) {
                        return Poll::Ready(Err(timed_out(this.idle, "received")));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_write(cx, buf) {
            Poll::Ready(r) => {
                this.write_timer = None;
                if let Ok(n) = &r {
                    this.bytes_out += *n as u64;
                }
                Poll::Ready(r)
            }
            Poll::Pending => {
                if timer_fired(&mut this.write_timer, this.idle, cx) {
                    return Poll::Ready(Err(timed_out(this.idle, "accepted by the server")));
                }
                Poll::Pending
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_flush(cx) {
            Poll::Ready(r) => {
                this.write_timer = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                if timer_fired(&mut this.write_timer, this.idle, cx) {
                    return Poll::Ready(Err(timed_out(this.idle, "accepted by the server")));
                }
                Poll::Pending
            }
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[&[u8]]) -> (Vec<u8>, Vec<Vec<u8>>) {
        let mut f = Filter::new();
        let mut out = Vec::new();
        for chunk in input {
            f.feed(chunk).unwrap();
            out.extend_from_slice(f.pending_out());
            f.out_pos = f.out.len();
        }
        (out, f.diverted.into())
    }

    #[test]
    fn passes_known_responses_and_literals_untouched() {
        let body = b"Subject: x\r\n* NAMESPACE inside a literal {3}\r\n\r\nhi\r\n";
        let mut stream = format!("* 1 FETCH (UID 7 BODY[] {{{}}}\r\n", body.len()).into_bytes();
        stream.extend_from_slice(body);
        stream.extend_from_slice(b")\r\nA1 OK done\r\n");
        // Feed byte by byte to exercise every split point.
        let chunks: Vec<&[u8]> = stream.chunks(1).collect();
        let (out, diverted) = run(&chunks);
        assert_eq!(out, stream);
        assert!(diverted.is_empty());
    }

    #[test]
    fn takes_namespace_aside() {
        let stream: &[u8] =
            b"* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL\r\n* OK [ALERT] caf\xc3\xa9\r\nA2 OK NAMESPACE done\r\n";
        let (out, diverted) = run(&[stream]);
        assert_eq!(out, b"* OK [ALERT] caf??\r\nA2 OK NAMESPACE done\r\n");
        assert_eq!(
            diverted,
            vec![b"* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL\r\n".to_vec()]
        );
    }

    #[test]
    fn diverted_response_keeps_its_literals() {
        let stream: &[u8] = b"* NAMESPACE (({3}\r\nA.B \".\")) NIL NIL\r\nA3 OK x\r\n";
        let (out, diverted) = run(&[stream]);
        assert_eq!(out, b"A3 OK x\r\n");
        assert_eq!(diverted.len(), 1);
        assert_eq!(
            diverted[0],
            b"* NAMESPACE (({3}\r\nA.B \".\")) NIL NIL\r\n".to_vec()
        );
    }

    #[test]
    fn a_line_without_end_is_cut_at_the_limit() {
        let mut f = Filter::new();
        f.feed(b"* OK ready\r\n").unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        let mut fed = 0;
        let err = loop {
            match f.feed(&chunk) {
                Ok(()) => fed += chunk.len(),
                Err(e) => break e,
            }
        };
        assert_eq!(
            err,
            TooLong {
                what: "a line",
                limit: MAX_LINE
            }
        );
        assert_eq!(fed, MAX_LINE);
        assert!(f.line.capacity() == 0, "the partial line is released");
        // Failed for good: the stream is out of step.
        assert_eq!(f.feed(b"\r\n"), Err(err));
        // A line of exactly the limit passes; a literal of any size is not a line.
        let mut f = Filter::new();
        let mut line = vec![b'a'; MAX_LINE - 2];
        line.extend_from_slice(b"\r\n");
        f.feed(&line).unwrap();
        let mut f = Filter::new();
        f.feed(b"* 1 FETCH (BODY[] {3000000}\r\n").unwrap();
        for _ in 0..3000 {
            f.feed(&[b'y'; 1000]).unwrap();
            f.out_pos = f.out.len();
        }
        f.feed(b")\r\nF1 OK done\r\n").unwrap();
    }

    #[test]
    fn responses_taken_aside_are_bounded() {
        let mut f = Filter::new();
        let ns = b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n";
        for _ in 0..(2 * MAX_ASIDE / ns.len()) {
            f.feed(ns).unwrap();
        }
        let kept: usize = f.diverted.iter().map(Vec::len).sum();
        assert!(kept <= MAX_ASIDE, "{kept}");
        assert_eq!(kept, f.diverted_bytes);
        assert_eq!(f.diverted.back().unwrap(), &ns.to_vec());
        // One response set aside that grows past the limit through literals.
        let mut f = Filter::new();
        let err = (|| -> Result<(), TooLong> {
            f.feed(b"* XUNKNOWN {1000000}\r\n")?;
            loop {
                f.feed(&[b'z'; 1000000])?;
                f.feed(b" {1000000}\r\n")?;
            }
        })()
        .unwrap_err();
        assert_eq!(
            err,
            TooLong {
                what: "a response",
                limit: MAX_ASIDE
            }
        );
    }

    #[test]
    fn loopback_names() {
        for ok in [
            "127.0.0.1",
            "127.0.0.2",
            "::1",
            "[::1]",
            "localhost",
            "LOCALHOST",
            "localhost.",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_loopback_name(ok), "{ok}");
        }
        for no in [
            "10.0.0.1",
            "mail.example.com",
            "localhost.example.com",
            "127.0.0.1.nip.io",
            "::",
            "0.0.0.0",
            "[fe80::1]",
            "",
        ] {
            assert!(!is_loopback_name(no), "{no}");
        }
        let local = Some("127.0.0.1".parse().unwrap());
        assert!(refuse_plain_to_remote("s", "localhost", local).is_ok());
        assert!(refuse_plain_to_remote("s", "::1", Some("::1".parse().unwrap())).is_ok());
        let e = refuse_plain_to_remote("s", "localhost", Some("192.0.2.7".parse().unwrap()))
            .unwrap_err();
        assert_eq!(e.to_string(), "s: refusing to connect without encryption: localhost resolves to 192.0.2.7, which is not a loopback address");
        let e =
            refuse_plain_to_remote("mail.example.com:143", "mail.example.com", None).unwrap_err();
        assert_eq!(e.kind(), "plaintext_refused");
    }

    #[test]
    fn literal_sizes() {
        assert_eq!(literal_size(b"* 1 FETCH (BODY[] {12}\r\n"), Some(12));
        assert_eq!(literal_size(b"x {0}\r\n"), Some(0));
        assert_eq!(literal_size(b"x {12+}\r\n"), Some(12));
        assert_eq!(literal_size(b"x {}\r\n"), None);
        assert_eq!(literal_size(b"x }\r\n"), None);
    }
}
