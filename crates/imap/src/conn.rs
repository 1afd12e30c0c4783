//! The command/response loop over async-imap's framed connection.
//!
//! async-imap's `Session` turns a NO into `Error::No(String)` with the response code flattened
//! into a debug string, which loses what we need to tell AUTHENTICATIONFAILED from UNAVAILABLE or
//! OVERQUOTA from TOOBIG. So commands are written here (our own tags, our own literals) and the
//! answers read with async-imap's `read_response`, which frames and parses them with imap-proto.

use std::collections::HashMap;
use std::io;

use async_imap::imap_proto::{Capability, Response, Status};
use tokio::io::AsyncWriteExt;

use crate::error::{CertificateInfo, ImapError, Result};
use crate::response::{classify, classify_bye, Ctx, StatusText};
use crate::transport::Transport;
use crate::types::{Capabilities, Timeouts};

pub(crate) type Framed = async_imap::Client<Transport>;

/// One parsed response. async-imap returns its `ResponseData` from the public `read_response`
/// but does not export the type's name, so it is kept behind this small type-erased holder.
pub(crate) struct ResponseData(Box<dyn Parsed>);

trait Parsed: Send + Sync {
    fn get(&self) -> &Response<'_>;
}

struct Holder<T> {
    value: T,
    parsed: for<'a> fn(&'a T) -> &'a Response<'a>,
}

impl<T: Send + Sync> Parsed for Holder<T> {
    fn get(&self) -> &Response<'_> {
        (self.parsed)(&self.value)
    }
}

impl ResponseData {
    fn wrap<T: Send + Sync + 'static>(
        value: T,
        parsed: for<'a> fn(&'a T) -> &'a Response<'a>,
    ) -> Self {
        ResponseData(Box::new(Holder { value, parsed }))
    }

    /// The parsed response.
    pub(crate) fn parsed(&self) -> &Response<'_> {
        self.0.get()
    }
}

/// One part of a command line.
pub(crate) enum Part<'a> {
    /// Sent as is.
    Text(&'a str),
    /// A literal: `{n}` (waiting for the server's `+`) or `{n+}` where the server allows.
    Literal(&'a [u8]),
}

/// The answer to one command.
pub(crate) struct Reply {
    pub untagged: Vec<ResponseData>,
    pub status: StatusText,
    pub tagged: Option<ResponseData>,
}

impl Reply {
    pub(crate) fn is_ok(&self) -> bool {
        self.status.status == "OK"
    }
}

pub(crate) struct Conn {
    pub framed: Framed,
    /// `host:port`, for messages.
    pub server: String,
    pub timeouts: Timeouts,
    pub caps: Capabilities,
    pub certificate: Option<CertificateInfo>,
    next_tag: u32,
    /// Why the connection is unusable, once it is.
    broken: Option<String>,
    /// Tags of commands whose answers were abandoned (a dropped fetch stream); read off before
    /// the next command.
    pending: Vec<String>,
    /// A BYE seen, to explain the close that follows.
    bye: Option<StatusText>,
}

pub(crate) fn capability_atoms(caps: &[Capability<'_>]) -> Capabilities {
    Capabilities::from_atoms(caps.iter().map(|c| match c {
        Capability::Imap4rev1 => "IMAP4REV1".to_string(),
        Capability::Auth(m) => format!("AUTH={m}"),
        Capability::Atom(a) => a.to_string(),
    }))
}

/// Quotes a string for the wire (printable ASCII only: callers encode first).
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Whether a string can go as a quoted string (7-bit, no CR / LF / NUL).
pub(crate) fn quotable(s: &str) -> bool {
    s.bytes()
        .all(|b| b != 0 && b != b'\r' && b != b'\n' && b < 0x80)
}

impl Conn {
    pub(crate) fn new(transport: Transport, server: String, timeouts: Timeouts) -> Self {
        Conn {
            framed: async_imap::Client::new(transport),
            server,
            timeouts,
            caps: Capabilities::default(),
            certificate: None,
            next_tag: 0,
            broken: None,
            pending: Vec::new(),
            bye: None,
        }
    }

    pub(crate) fn transport(&mut self) -> &mut Transport {
        self.framed.get_mut()
    }

    pub(crate) fn transport_ref(&self) -> &Transport {
        self.framed.get_ref()
    }

    fn usable(&self, step: &str) -> Result<()> {
        match &self.broken {
            Some(reason) => Err(ImapError::ConnectionLost {
                server: self.server.clone(),
                step: step.to_string(),
                reason: format!("the connection already failed earlier ({reason}); reconnect"),
            }),
            None => Ok(()),
        }
    }

    /// Marks the connection unusable and builds the error for an I/O failure.
    pub(crate) fn io_error(&mut self, step: &str, e: io::Error) -> ImapError {
        let too_long = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<crate::transport::TooLong>());
        if let Some(t) = too_long {
            let err = ImapError::ResponseTooLong {
                server: self.server.clone(),
                step: step.to_string(),
                what: t.what.to_string(),
                limit: t.limit as u64,
            };
            self.broken = Some(err.to_string());
            return err;
        }
        let err = match e.kind() {
            io::ErrorKind::TimedOut => ImapError::Timeout {
                server: self.server.clone(),
                step: step.to_string(),
                after: self.timeouts.idle,
            },
            io::ErrorKind::Other if e.to_string().contains("during parsing") => {
                let text = e.to_string();
                ImapError::Protocol {
                    server: self.server.clone(),
                    step: step.to_string(),
                    detail: format!(
                        "unreadable answer: {}",
                        text.chars().take(300).collect::<String>()
                    ),
                }
            }
            _ => match self.bye.take() {
                Some(bye) => classify_bye(&self.server, step, &bye),
                None => ImapError::ConnectionLost {
                    server: self.server.clone(),
                    step: step.to_string(),
                    reason: e.to_string(),
                },
            },
        };
        self.broken = Some(err.to_string());
        err
    }

    fn closed(&mut self, step: &str) -> ImapError {
        let err = match self.bye.take() {
            Some(bye) => classify_bye(&self.server, step, &bye),
            None => ImapError::ConnectionLost {
                server: self.server.clone(),
                step: step.to_string(),
                reason: "the server closed the connection".to_string(),
            },
        };
        self.broken = Some(err.to_string());
        err
    }

    pub(crate) fn mark_broken(&mut self, reason: String) {
        self.broken = Some(reason);
    }

    fn new_tag(&mut self) -> String {
        self.next_tag += 1;
        format!("F{}", self.next_tag)
    }

    /// Reads one response. `None` never comes back: a closed stream is an error.
    pub(crate) async fn read(&mut self, step: &str) -> Result<ResponseData> {
        match self.framed.read_response().await {
            Ok(Some(r)) => {
                let r = ResponseData::wrap(r, |r| r.parsed());
                if let Response::Data {
                    status: Status::Bye,
                    outcome,
                } = r.parsed()
                {
                    self.bye = Some(StatusText::from_parts(
                        &Status::Bye,
                        outcome.code.as_ref(),
                        outcome.information.as_deref(),
                    ));
                }
                Ok(r)
            }
            Ok(None) => Err(self.closed(step)),
            Err(e) => Err(self.io_error(step, e)),
        }
    }

    async fn write(&mut self, bytes: &[u8], step: &str) -> Result<()> {
        if let Err(e) = self.framed.get_mut().write_all(bytes).await {
            return Err(self.io_error(step, e));
        }
        Ok(())
    }

    async fn flush(&mut self, step: &str) -> Result<()> {
        if let Err(e) = self.framed.get_mut().flush().await {
            return Err(self.io_error(step, e));
        }
        Ok(())
    }

    /// Reads off answers to abandoned commands.
    async fn drain(&mut self) -> Result<()> {
        while let Some(tag) = self.pending.first().cloned() {
            loop {
                let r = self.read("reading an abandoned answer").await?;
                if matches!(r.parsed(), Response::Done { tag: t, .. } if t.0 == tag) {
                    break;
                }
            }
            self.pending.remove(0);
        }
        Ok(())
    }

    pub(crate) fn abandon(&mut self, tag: String) {
        self.pending.push(tag);
    }

    /// Writes one command without flushing; returns its tag. Synchronizing literals (when the
    /// server has no LITERAL+) wait for the server's `+`; a refusal then is returned as the
    /// error `ctx` describes.
    pub(crate) async fn write_command(
        &mut self,
        parts: &[Part<'_>],
        step: &str,
        ctx: &Ctx<'_>,
    ) -> Result<String> {
        self.usable(step)?;
        self.drain().await?;
        self.transport().reset_timers();
        let tag = self.new_tag();
        self.write(tag.as_bytes(), step).await?;
        self.write(b" ", step).await?;
        for part in parts {
            match part {
                Part::Text(t) => self.write(t.as_bytes(), step).await?,
                Part::Literal(data) => {
                    let non_sync = self.caps.literal_plus()
                        || (self.caps.literal_minus() && data.len() <= 4096);
                    if non_sync {
                        self.write(format!("{{{}+}}\r\n", data.len()).as_bytes(), step)
                            .await?;
                    } else {
                        self.write(format!("{{{}}}\r\n", data.len()).as_bytes(), step)
                            .await?;
                        self.flush(step).await?;
                        self.await_continuation(&tag, step, ctx).await?;
                    }
                    self.write(data, step).await?;
                }
            }
        }
        self.write(b"\r\n", step).await?;
        Ok(tag)
    }

    async fn await_continuation(&mut self, tag: &str, step: &str, ctx: &Ctx<'_>) -> Result<()> {
        loop {
            let r = self.read(step).await?;
            match r.parsed() {
                Response::Continue(_) => return Ok(()),
                Response::Done {
                    tag: t,
                    status,
                    outcome,
                } if t.0 == tag => {
                    let st = StatusText::from_parts(
                        status,
                        outcome.code.as_ref(),
                        outcome.information.as_deref(),
                    );
                    return Err(classify(ctx, &st));
                }
                _ => {}
            }
        }
    }

    /// Sends a command and flushes; returns its tag.
    pub(crate) async fn send(
        &mut self,
        parts: &[Part<'_>],
        step: &str,
        ctx: &Ctx<'_>,
    ) -> Result<String> {
        let tag = self.write_command(parts, step, ctx).await?;
        self.flush(step).await?;
        Ok(tag)
    }

    /// Writes raw bytes as a continuation line (SASL responses).
    pub(crate) async fn send_line(&mut self, line: &[u8], step: &str) -> Result<()> {
        self.write(line, step).await?;
        self.write(b"\r\n", step).await?;
        self.flush(step).await
    }

    pub(crate) async fn flush_commands(&mut self, step: &str) -> Result<()> {
        self.flush(step).await
    }

    /// Reads until the tagged answer to `tag`.
    pub(crate) async fn collect(&mut self, tag: &str, step: &str) -> Result<Reply> {
        let mut untagged = Vec::new();
        loop {
            let r = self.read(step).await?;
            let done = match r.parsed() {
                Response::Done {
                    tag: t,
                    status,
                    outcome,
                } if t.0 == tag => Some(StatusText::from_parts(
                    status,
                    outcome.code.as_ref(),
                    outcome.information.as_deref(),
                )),
                Response::Done { .. } => None,
                _ => {
                    untagged.push(r);
                    continue;
                }
            };
            if let Some(status) = done {
                return Ok(Reply {
                    untagged,
                    status,
                    tagged: Some(r),
                });
            }
        }
    }

    /// Reads until every tag in `tags` has its tagged answer (pipelined commands).
    pub(crate) async fn collect_all(
        &mut self,
        tags: &[String],
        step: &str,
    ) -> Result<(Vec<ResponseData>, HashMap<String, StatusText>)> {
        let mut untagged = Vec::new();
        let mut done = HashMap::new();
        while done.len() < tags.len() {
            let r = self.read(step).await?;
            match r.parsed() {
                Response::Done {
                    tag,
                    status,
                    outcome,
                } => {
                    if tags.contains(&tag.0) {
                        done.insert(
                            tag.0.clone(),
                            StatusText::from_parts(
                                status,
                                outcome.code.as_ref(),
                                outcome.information.as_deref(),
                            ),
                        );
                    }
                }
                _ => untagged.push(r),
            }
        }
        Ok((untagged, done))
    }

    /// Sends a command and reads its whole answer.
    pub(crate) async fn run(
        &mut self,
        parts: &[Part<'_>],
        step: &str,
        ctx: &Ctx<'_>,
    ) -> Result<Reply> {
        let tag = self.send(parts, step, ctx).await?;
        self.collect(&tag, step).await
    }

    /// [`run`](Self::run), a refusal being an error.
    pub(crate) async fn run_ok(
        &mut self,
        parts: &[Part<'_>],
        step: &str,
        ctx: &Ctx<'_>,
    ) -> Result<Reply> {
        let reply = self.run(parts, step, ctx).await?;
        if reply.is_ok() {
            Ok(reply)
        } else {
            Err(classify(ctx, &reply.status))
        }
    }

    /// A simple command with no arguments needing literals.
    pub(crate) async fn simple(&mut self, command: &str, ctx: &Ctx<'_>) -> Result<Reply> {
        self.run_ok(&[Part::Text(command)], ctx.command, ctx).await
    }

    /// CAPABILITY.
    pub(crate) async fn refresh_capabilities(&mut self) -> Result<()> {
        let server = self.server.clone();
        let ctx = Ctx {
            server: &server,
            command: "CAPABILITY",
            ..Ctx::default()
        };
        let reply = self.simple("CAPABILITY", &ctx).await?;
        for r in &reply.untagged {
            if let Response::Capabilities(c) = r.parsed() {
                self.caps = capability_atoms(c);
                return Ok(());
            }
        }
        Err(ImapError::Protocol {
            server: self.server.clone(),
            step: "CAPABILITY".into(),
            detail: "the server sent no capability list".into(),
        })
    }

    pub(crate) async fn shutdown(&mut self) {
        let _ = self.framed.get_mut().shutdown().await;
    }
}
