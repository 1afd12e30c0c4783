//! Reading server answers: response codes (parsed by imap-proto or, for codes it does not know,
//! taken from the text), throttling hints, and the mapping of a NO / BAD / BYE to an
//! [`ImapError`] kind.

use std::time::Duration;

use async_imap::imap_proto::{ResponseCode, Status};

use crate::error::ImapError;
use crate::types::{AppendUid, Namespace, Namespaces};

/// A status answer (tagged or untagged) in owned form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusText {
    /// `OK`, `NO`, `BAD`, `BYE` or `PREAUTH`.
    pub status: &'static str,
    /// The response code's atom, upper-case (e.g. `AUTHENTICATIONFAILED`), if any.
    pub code: Option<String>,
    /// The response code's arguments as text (e.g. `1 5` for `[APPENDUID 1 5]`).
    pub code_args: String,
    /// The human-readable text after the code.
    pub text: String,
}

impl StatusText {
    /// The text as the server sent it, code included, for messages.
    pub fn full(&self) -> String {
        match &self.code {
            Some(c) if self.code_args.is_empty() => format!("[{c}] {}", self.text),
            Some(c) => format!("[{c} {}] {}", self.code_args, self.text),
            None => self.text.clone(),
        }
        .trim()
        .to_string()
    }

    pub(crate) fn from_parts(
        status: &Status,
        code: Option<&ResponseCode<'_>>,
        information: Option<&str>,
    ) -> Self {
        let status = match status {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
            Status::PreAuth => "PREAUTH",
            Status::Bye => "BYE",
        };
        let info = information.unwrap_or("").trim();
        match code {
            Some(code) => {
                let (name, args) = known_code(code);
                StatusText {
                    status,
                    code: Some(name),
                    code_args: args,
                    text: info.to_string(),
                }
            }
            None => {
                // imap-proto leaves codes it does not know in the text: `[THROTTLED] ...`.
                let (code, code_args, text) = split_code(info);
                StatusText {
                    status,
                    code,
                    code_args,
                    text,
                }
            }
        }
    }
}

/// Splits `[CODE args] text` into its parts.
pub fn split_code(info: &str) -> (Option<String>, String, String) {
    let Some(rest) = info.strip_prefix('[') else {
        return (None, String::new(), info.to_string());
    };
    let Some(end) = rest.find(']') else {
        return (None, String::new(), info.to_string());
    };
    let inner = &rest[..end];
    let text = rest[end + 1..].trim().to_string();
    let (name, args) = match inner.split_once(' ') {
        Some((n, a)) => (n, a.trim()),
        None => (inner, ""),
    };
    if name.is_empty() {
        return (None, String::new(), info.to_string());
    }
    (Some(name.to_ascii_uppercase()), args.to_string(), text)
}

fn known_code(code: &ResponseCode<'_>) -> (String, String) {
    let uidset = |v: &[async_imap::imap_proto::rfc4315::UidSetMember]| {
        v.iter()
            .map(|m| match m {
                async_imap::imap_proto::rfc4315::UidSetMember::Uid(u) => u.to_string(),
                async_imap::imap_proto::rfc4315::UidSetMember::UidRange(r) => {
                    format!("{}:{}", r.start(), r.end())
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let (name, args) = match code {
        ResponseCode::Alert => ("ALERT", String::new()),
        ResponseCode::BadCharset(_) => ("BADCHARSET", String::new()),
        ResponseCode::Capabilities(_) => ("CAPABILITY", String::new()),
        ResponseCode::HighestModSeq(n) => ("HIGHESTMODSEQ", n.to_string()),
        ResponseCode::Parse => ("PARSE", String::new()),
        ResponseCode::PermanentFlags(f) => ("PERMANENTFLAGS", format!("({})", f.join(" "))),
        ResponseCode::ReadOnly => ("READ-ONLY", String::new()),
        ResponseCode::ReadWrite => ("READ-WRITE", String::new()),
        ResponseCode::TryCreate => ("TRYCREATE", String::new()),
        ResponseCode::UidNext(n) => ("UIDNEXT", n.to_string()),
        ResponseCode::UidValidity(n) => ("UIDVALIDITY", n.to_string()),
        ResponseCode::Unseen(n) => ("UNSEEN", n.to_string()),
        ResponseCode::AppendUid(v, set) => ("APPENDUID", format!("{v} {}", uidset(set))),
        ResponseCode::CopyUid(v, a, b) => ("COPYUID", format!("{v} {} {}", uidset(a), uidset(b))),
        ResponseCode::UidNotSticky => ("UIDNOTSTICKY", String::new()),
        _ => ("UNKNOWN-CODE", String::new()),
    };
    (name.to_string(), args)
}

/// `[APPENDUID uidvalidity uid-set]` → one (validity, uid) per appended message, in order.
pub fn parse_appenduid(args: &str) -> Option<(u32, Vec<u32>)> {
    let mut parts = args.split_whitespace();
    let validity: u32 = parts.next()?.parse().ok()?;
    let set = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let mut uids = Vec::new();
    for piece in set.split(',') {
        match piece.split_once(':') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                // Guard against absurd ranges from a broken server.
                if hi - lo > 1_000_000 {
                    return None;
                }
                uids.extend(lo..=hi);
            }
            None => uids.push(piece.parse().ok()?),
        }
    }
    Some((validity, uids))
}

/// The single APPENDUID of a one-message APPEND.
pub fn single_appenduid(args: &str) -> Option<AppendUid> {
    let (uid_validity, uids) = parse_appenduid(args)?;
    match uids.as_slice() {
        [uid] => Some(AppendUid {
            uid_validity,
            uid: *uid,
        }),
        _ => None,
    }
}

/// Microsoft's `Request is throttled. Suggested Backoff Time: 299961 milliseconds`, and
/// similar `N seconds` hints.
pub fn throttle_wait(text: &str) -> Option<Duration> {
    let lower = text.to_ascii_lowercase();
    let at = lower
        .find("backoff time:")
        .map(|i| i + "backoff time:".len())?;
    let rest = lower[at..].trim_start();
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() {
        return None;
    }
    // More digits than a u64 holds: a wait longer than any cap.
    let n: u64 = digits.parse().unwrap_or(u64::MAX);
    let unit = rest[digits.len()..].trim_start();
    if unit.starts_with("ms") || unit.starts_with("milli") {
        Some(Duration::from_millis(n))
    } else if unit.starts_with('s') {
        Some(Duration::from_secs(n))
    } else {
        Some(Duration::from_millis(n))
    }
}

/// Whether a text says the server throttles.
pub fn is_throttle_text(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("request is throttled")
        || lower.contains("throttl")
        || lower.contains("too many requests")
        || lower.contains("rate limit")
}

fn is_connection_limit_text(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("maximum number of connections")
        || lower.contains("too many connections")
        || lower.contains("too many simultaneous")
        || lower.contains("connection limit")
}

/// What was being done when a NO / BAD / BYE arrived, for the error.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ctx<'a> {
    pub server: &'a str,
    /// The command's name, e.g. `APPEND`.
    pub command: &'a str,
    /// For login: the authenticating user and the target user.
    pub login: Option<(&'a str, Option<&'a str>)>,
    /// UTF-8 folder name, for folder commands.
    pub folder: Option<&'a str>,
    /// Message size, for APPEND.
    pub size: Option<u64>,
    /// The server's APPENDLIMIT, for APPEND.
    pub limit: Option<u64>,
}

/// Maps a refusal to its error kind.
pub(crate) fn classify(ctx: &Ctx<'_>, st: &StatusText) -> ImapError {
    let server = ctx.server.to_string();
    let full = st.full();
    let code = st.code.as_deref().unwrap_or("");
    let folder = || ctx.folder.unwrap_or("").to_string();

    // Throttling and limits first: they can come back from any command.
    if code == "THROTTLED" || is_throttle_text(&st.text) {
        return ImapError::throttled(server, full);
    }
    if is_connection_limit_text(&st.text) {
        return ImapError::TooManyConnections {
            server,
            server_text: full,
        };
    }
    if code == "LIMIT" {
        return ImapError::throttled(server, full);
    }
    if st.status == "BAD" {
        return ImapError::Protocol {
            server,
            step: ctx.command.to_string(),
            detail: format!("the server answered BAD: {full}"),
        };
    }
    match code {
        "OVERQUOTA" => {
            return ImapError::OverQuota {
                server,
                server_text: full,
            }
        }
        "TOOBIG" => {
            return ImapError::TooBig {
                server,
                size: ctx.size.unwrap_or(0),
                limit: ctx.limit,
                server_text: full,
            }
        }
        "NONEXISTENT" | "TRYCREATE" => {
            return ImapError::NoSuchFolder {
                server,
                folder: folder(),
                server_text: full,
            }
        }
        "ALREADYEXISTS" => {
            return ImapError::AlreadyExists {
                server,
                folder: folder(),
                server_text: full,
            }
        }
        "UNAVAILABLE" | "SERVERBUG" if ctx.login.is_some() || code == "UNAVAILABLE" => {
            return ImapError::ServerUnavailable {
                server,
                server_text: full,
            }
        }
        "PRIVACYREQUIRED" => {
            return ImapError::TlsRequired {
                server,
                server_text: full,
            }
        }
        _ => {}
    }
    let lower = st.text.to_ascii_lowercase();
    if ctx.command == "APPEND" && lower.contains("quota") {
        return ImapError::OverQuota {
            server,
            server_text: full,
        };
    }
    if let Some((user, login_as)) = ctx.login {
        let user = user.to_string();
        return match code {
            "AUTHORIZATIONFAILED" if login_as.is_some() => ImapError::NotAuthorized {
                server,
                user,
                login_as: login_as.unwrap_or_default().to_string(),
                server_text: full,
            },
            "EXPIRED" | "CONTACTADMIN" => ImapError::AccountDisabled {
                server,
                user,
                server_text: full,
            },
            _ if lower.contains("plaintext authentication disallowed")
                || lower.contains("ssl required")
                || lower.contains("tls required") =>
            {
                ImapError::TlsRequired {
                    server,
                    server_text: full,
                }
            }
            // An explanation other than Dovecot's generic failure means the password was
            // right but the account may not log in (Dovecot `nologin` with a reason).
            "ALERT" | ""
                if !lower.contains("authentication failed")
                    && (lower.contains("disabled")
                        || lower.contains("locked")
                        || lower.contains("suspended")
                        || lower.contains("not allowed")
                        || lower.contains("nologin")) =>
            {
                ImapError::AccountDisabled {
                    server,
                    user,
                    server_text: full,
                }
            }
            _ => ImapError::AuthFailed {
                server,
                user,
                login_as: login_as.map(str::to_string),
                server_text: full,
            },
        };
    }
    if ctx.command == "APPEND"
        && (lower.contains("too large")
            || lower.contains("too big")
            || lower.contains("maximum size"))
    {
        return ImapError::TooBig {
            server,
            size: ctx.size.unwrap_or(0),
            limit: ctx.limit,
            server_text: full,
        };
    }
    if ctx.folder.is_some()
        && (lower.contains("doesn't exist")
            || lower.contains("does not exist")
            || lower.contains("not found"))
    {
        return ImapError::NoSuchFolder {
            server,
            folder: folder(),
            server_text: full,
        };
    }
    ImapError::Rejected {
        server,
        command: ctx.command.to_string(),
        server_text: full,
    }
}

/// A BYE (unsolicited, or at the greeting) as an error.
pub(crate) fn classify_bye(server: &str, step: &str, st: &StatusText) -> ImapError {
    let full = st.full();
    if is_connection_limit_text(&st.text) {
        return ImapError::TooManyConnections {
            server: server.to_string(),
            server_text: full,
        };
    }
    if st.code.as_deref() == Some("THROTTLED") || is_throttle_text(&st.text) {
        return ImapError::throttled(server.to_string(), full);
    }
    if st.code.as_deref() == Some("UNAVAILABLE") {
        return ImapError::ServerUnavailable {
            server: server.to_string(),
            server_text: full,
        };
    }
    ImapError::ConnectionLost {
        server: server.to_string(),
        step: step.to_string(),
        reason: format!("the server said BYE: {full}"),
    }
}

/// Parses a raw `* NAMESPACE personal other shared` response (RFC 2342), names decoded from
/// modified UTF-7.
pub fn parse_namespace(raw: &[u8]) -> Option<Namespaces> {
    let mut p = Parser { s: raw, i: 0 };
    p.expect(b"* ")?;
    let word = p.atom()?;
    if !word.eq_ignore_ascii_case("NAMESPACE") {
        return None;
    }
    let mut groups = Vec::new();
    for _ in 0..3 {
        p.expect(b" ")?;
        groups.push(p.namespace_group()?);
    }
    let mut it = groups.into_iter();
    Some(Namespaces {
        personal: it.next()?,
        other_users: it.next()?,
        shared: it.next()?,
    })
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn expect(&mut self, t: &[u8]) -> Option<()> {
        if self.s[self.i..].starts_with(t) {
            self.i += t.len();
            Some(())
        } else {
            None
        }
    }
    fn atom(&mut self) -> Option<String> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c <= b' ' || b"(){%*\"\\]".contains(&c) || c >= 0x7f {
                break;
            }
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    /// quoted / literal / NIL → Some(None) for NIL.
    fn nstring(&mut self) -> Option<Option<String>> {
        match self.peek()? {
            b'"' => {
                self.i += 1;
                let mut out = Vec::new();
                loop {
                    let c = self.peek()?;
                    self.i += 1;
                    match c {
                        b'"' => break,
                        b'\\' => {
                            out.push(self.peek()?);
                            self.i += 1;
                        }
                        _ => out.push(c),
                    }
                }
                Some(Some(String::from_utf8_lossy(&out).into_owned()))
            }
            b'{' => {
                let close = self.s[self.i..].iter().position(|&b| b == b'}')? + self.i;
                let n: usize = std::str::from_utf8(&self.s[self.i + 1..close])
                    .ok()?
                    .trim_end_matches('+')
                    .parse()
                    .ok()?;
                self.i = close + 1;
                self.expect(b"\r\n")?;
                let data = self.s.get(self.i..self.i + n)?;
                self.i += n;
                Some(Some(String::from_utf8_lossy(data).into_owned()))
            }
            _ => {
                let a = self.atom()?;
                a.eq_ignore_ascii_case("NIL").then_some(None)
            }
        }
    }
    /// Skips one extension value (string or parenthesized list).
    fn skip_value(&mut self) -> Option<()> {
        if self.peek()? == b'(' {
            self.i += 1;
            loop {
                match self.peek()? {
                    b')' => {
                        self.i += 1;
                        return Some(());
                    }
                    b' ' => self.i += 1,
                    _ => self.skip_value()?,
                }
            }
        } else {
            self.nstring().map(|_| ())
        }
    }
    fn namespace_group(&mut self) -> Option<Vec<Namespace>> {
        if self.peek()? != b'(' {
            return match self.nstring()? {
                None => Some(Vec::new()),
                Some(_) => None,
            };
        }
        self.expect(b"(")?;
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b')' => {
                    self.i += 1;
                    return Some(out);
                }
                b' ' => self.i += 1,
                b'(' => {
                    self.i += 1;
                    let prefix = self.nstring()??;
                    self.expect(b" ")?;
                    let delim = self.nstring()?;
                    // Namespace response extensions: SP string SP (values)
                    while self.peek()? == b' ' {
                        self.i += 1;
                        self.skip_value()?;
                    }
                    self.expect(b")")?;
                    out.push(Namespace {
                        prefix: crate::utf7::decode_lossy(&prefix),
                        delimiter: delim.and_then(|d| d.chars().next()),
                    });
                }
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(status: &'static str, info: &str) -> StatusText {
        let (code, code_args, text) = split_code(info);
        StatusText {
            status,
            code,
            code_args,
            text,
        }
    }

    fn ctx_login() -> Ctx<'static> {
        Ctx {
            server: "mail:993",
            command: "LOGIN",
            login: Some(("jdoe", None)),
            ..Ctx::default()
        }
    }

    #[test]
    fn splits_codes() {
        assert_eq!(
            split_code("[AUTHENTICATIONFAILED] Authentication failed."),
            (
                Some("AUTHENTICATIONFAILED".into()),
                String::new(),
                "Authentication failed.".into()
            )
        );
        assert_eq!(
            split_code("[APPENDUID 38505 3955] APPEND completed"),
            (
                Some("APPENDUID".into()),
                "38505 3955".into(),
                "APPEND completed".into()
            )
        );
        assert_eq!(
            split_code("no code"),
            (None, String::new(), "no code".into())
        );
        assert_eq!(
            split_code("[unclosed"),
            (None, String::new(), "[unclosed".into())
        );
    }

    #[test]
    fn appenduid_sets() {
        assert_eq!(
            single_appenduid("38505 3955"),
            Some(AppendUid {
                uid_validity: 38505,
                uid: 3955
            })
        );
        assert_eq!(parse_appenduid("7 4:6,9"), Some((7, vec![4, 5, 6, 9])));
        assert_eq!(parse_appenduid("7 6:4"), Some((7, vec![4, 5, 6])));
        assert_eq!(single_appenduid("7 4:6"), None);
        assert_eq!(parse_appenduid("x 1"), None);
        assert_eq!(parse_appenduid("1 1:4000000000"), None);
    }

    #[test]
    fn throttle_texts() {
        let ms = "Request is throttled. Suggested Backoff Time: 299961 milliseconds";
        assert_eq!(throttle_wait(ms), Some(Duration::from_millis(299_961)));
        assert!(is_throttle_text(ms));
        assert_eq!(
            throttle_wait("Throttled. Suggested backoff time: 30 seconds"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(throttle_wait("Authentication failed."), None);
        assert_eq!(
            throttle_wait("Suggested Backoff Time: 99999999999999999999999 milliseconds"),
            Some(Duration::from_millis(u64::MAX))
        );
        // A named wait beyond the cap: Ferry waits the cap, and says what the server asked.
        let long = "Request is throttled. Suggested Backoff Time: 86400000 milliseconds";
        let e = classify(
            &Ctx {
                server: "outlook:993",
                command: "APPEND",
                ..Ctx::default()
            },
            &st("NO", long),
        );
        match &e {
            ImapError::Throttled { wait, asked, .. } => {
                assert_eq!(*wait, Some(crate::error::MAX_THROTTLE_WAIT));
                assert_eq!(*asked, Some(Duration::from_secs(86_400)));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            e.to_string(),
            format!("outlook:993: throttled by the server (the server asked for a wait of 86400 s; Ferry waits at most 900 s): {long}")
        );
        assert_eq!(e.report().wait_ms, Some(900_000));
        let e = classify(
            &Ctx {
                server: "outlook:993",
                command: "APPEND",
                ..Ctx::default()
            },
            &st("NO", ms),
        );
        match e {
            ImapError::Throttled { wait, .. } => {
                assert_eq!(wait, Some(Duration::from_millis(299_961)))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(&Ctx::default(), &st("NO", "[THROTTLED] slow down")),
            ImapError::Throttled { wait: None, .. }
        ));
        assert!(matches!(
            classify(&Ctx::default(), &st("NO", "[LIMIT] Too many commands")),
            ImapError::Throttled { .. }
        ));
    }

    #[test]
    fn login_refusals_each_have_a_kind() {
        let c = ctx_login();
        let kind = |info: &str| classify(&c, &st("NO", info)).kind();
        assert_eq!(
            kind("[AUTHENTICATIONFAILED] Authentication failed."),
            "auth_failed"
        );
        assert_eq!(
            kind("[UNAVAILABLE] Temporary authentication failure. [host:2026-11-29]"),
            "server_unavailable"
        );
        assert_eq!(kind("[PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."), "tls_required");
        assert_eq!(
            kind("Plaintext authentication disallowed on non-secure (SSL/TLS) connections."),
            "tls_required"
        );
        assert_eq!(kind("[ALERT] Account is disabled"), "account_disabled");
        assert_eq!(kind("[EXPIRED] Password expired"), "account_disabled");
        assert_eq!(
            kind("[UNAVAILABLE] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=3)"),
            "too_many_connections"
        );
        let admin = Ctx {
            login: Some(("admin", Some("jdoe"))),
            ..ctx_login()
        };
        assert_eq!(
            classify(
                &admin,
                &st("NO", "[AUTHORIZATIONFAILED] Authorization failed")
            )
            .kind(),
            "not_authorized"
        );
        assert_eq!(
            classify(&c, &st("BAD", "Error in IMAP command")).kind(),
            "protocol"
        );
    }

    #[test]
    fn command_refusals() {
        let c = Ctx {
            server: "s",
            command: "APPEND",
            folder: Some("Archiv"),
            size: Some(5_000_000),
            limit: Some(1_000_000),
            ..Ctx::default()
        };
        let kind = |info: &str| classify(&c, &st("NO", info)).kind();
        assert_eq!(
            kind("[OVERQUOTA] Quota exceeded (mailbox for user is full)"),
            "over_quota"
        );
        assert_eq!(kind("[TOOBIG] Mail size is too large"), "too_big");
        assert_eq!(
            kind("[TRYCREATE] Mailbox doesn't exist: Archiv"),
            "no_such_folder"
        );
        assert_eq!(kind("Something else"), "rejected");
        let bye = classify_bye(
            "s",
            "LOGIN",
            &st("BYE", "Maximum number of connections from user+IP exceeded"),
        );
        assert_eq!(bye.kind(), "too_many_connections");
        assert_eq!(
            classify_bye("s", "FETCH", &st("BYE", "Server shutting down.")).kind(),
            "connection_lost"
        );
    }

    #[test]
    fn namespaces() {
        let ns = parse_namespace(b"* NAMESPACE ((\"INBOX.\" \".\")) NIL ((\"#shared/\" \"/\" \"X-EXT\" (\"a\" \"b\")))\r\n").unwrap();
        assert_eq!(ns.personal_prefix(), "INBOX.");
        assert_eq!(ns.personal_delimiter(), Some('.'));
        assert!(ns.other_users.is_empty());
        assert_eq!(ns.shared[0].prefix, "#shared/");
        let ns = parse_namespace(b"* NAMESPACE ((\"\" \"/\")(\"Other &AOk-\" NIL)) NIL NIL\r\n")
            .unwrap();
        assert_eq!(ns.personal.len(), 2);
        assert_eq!(ns.personal[1].prefix, "Other é");
        assert_eq!(ns.personal[1].delimiter, None);
        let ns = parse_namespace(b"* NAMESPACE (({6}\r\nINBOX. \".\")) NIL NIL\r\n").unwrap();
        assert_eq!(ns.personal_prefix(), "INBOX.");
        assert!(parse_namespace(b"* LIST () \"/\" x\r\n").is_none());
    }
}
