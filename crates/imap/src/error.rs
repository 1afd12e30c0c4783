//! The one error type of this crate: each kind says what happened, where, and (via
//! [`ImapError::advice`]) what the admin can do about it.

use std::time::Duration;

use serde::Serialize;
use ts_rs::TS;

use crate::oauth::{OAuthProvider, OAuthRefusal, TokenError};

/// What Ferry knows about a server certificate that it refused (or was asked to pin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct CertificateInfo {
    /// SHA-256 of the leaf certificate (DER), lowercase hex without separators: the value to pin.
    pub sha256: String,
    /// Subject distinguished name, e.g. `CN=mail.example.com`.
    pub subject: String,
    /// Issuer distinguished name (equal to the subject for a self-signed certificate).
    pub issuer: String,
    /// Start of validity, RFC 3339.
    pub not_before: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
    /// DNS names from the subject alternative name extension.
    pub dns_names: Vec<String>,
    /// Why the certificate was refused (e.g. "self-signed", "expired", "fingerprint differs from the pinned one").
    pub reason: String,
}

/// Every way a step on an IMAP connection can fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImapError {
    /// The server refused the user name / password pair (for an admin login: also when the
    /// admin may not act for `login_as`, as Dovecot does not tell the two apart).
    #[error("{server}: login as {user:?}{} refused: wrong user name or password ({server_text})",
        .login_as.as_ref().map(|t| format!(" acting for {t:?}")).unwrap_or_default())]
    AuthFailed {
        server: String,
        user: String,
        login_as: Option<String>,
        server_text: String,
    },
    /// The admin / master account may not act as the target user (RFC 5530 AUTHORIZATIONFAILED).
    #[error("{server}: {user:?} may not log in as {login_as:?} ({server_text})")]
    NotAuthorized {
        server: String,
        user: String,
        login_as: String,
        server_text: String,
    },
    /// The credentials are right but the account may not log in (disabled, expired, nologin).
    #[error("{server}: account {user:?} is disabled or may not log in ({server_text})")]
    AccountDisabled {
        server: String,
        user: String,
        server_text: String,
    },
    /// The server refuses to log in over an unencrypted connection.
    #[error("{server}: the server requires TLS before login ({server_text})")]
    TlsRequired { server: String, server_text: String },
    /// The server offers no login method Ferry can use.
    #[error("{server}: no usable login method (server offers: {offered})")]
    NoLoginMethod { server: String, offered: String },
    /// The per-user or per-IP connection limit is reached.
    #[error("{server}: too many connections ({server_text})")]
    TooManyConnections { server: String, server_text: String },
    /// A temporary failure on the server side (authentication backend down, RFC 5530 UNAVAILABLE).
    #[error("{server}: the server is temporarily unavailable ({server_text})")]
    ServerUnavailable { server: String, server_text: String },
    /// No TCP connection could be made (DNS failure, refused, no route).
    #[error("{server}: cannot connect: {reason}")]
    Unreachable { server: String, reason: String },
    /// The server's certificate is not trusted: not by the system roots and not pinned.
    #[error("{server}: certificate not trusted ({}): SHA-256 {}, subject {}, issuer {}, valid {} to {}",
        .cert.reason, .cert.sha256, .cert.subject, .cert.issuer, .cert.not_before, .cert.not_after)]
    UntrustedCertificate {
        server: String,
        cert: Box<CertificateInfo>,
    },
    /// The TLS handshake failed for another reason than trust (protocol, cipher, not TLS at all).
    #[error("{server}: TLS handshake failed: {reason}")]
    Tls { server: String, reason: String },
    /// The server asks Ferry to slow down. `asked`: the back-off it named, when it named one;
    /// `wait`: what Ferry waits, `asked` capped at [`MAX_THROTTLE_WAIT`] (a server, or a typo in
    /// one, must not park a migration for days).
    #[error("{server}: throttled by the server{}: {server_text}", throttle_note(*.wait, *.asked))]
    Throttled {
        server: String,
        wait: Option<Duration>,
        asked: Option<Duration>,
        server_text: String,
    },
    /// A network step took longer than its timeout (the connection is closed).
    #[error("{server}: no answer within {} s during {step}", .after.as_secs_f32())]
    Timeout {
        server: String,
        step: String,
        after: Duration,
    },
    /// The connection broke or the server said BYE.
    #[error("{server}: connection lost during {step}: {reason}")]
    ConnectionLost {
        server: String,
        step: String,
        reason: String,
    },
    /// The mailbox is over its storage quota.
    #[error("{server}: over quota ({server_text})")]
    OverQuota { server: String, server_text: String },
    /// The message is larger than the server accepts.
    #[error("{server}: message of {size} bytes is too big{} ({server_text})", .limit.map(|l| format!(" (limit {l} bytes)")).unwrap_or_default())]
    TooBig {
        server: String,
        size: u64,
        limit: Option<u64>,
        server_text: String,
    },
    /// The folder does not exist.
    #[error("{server}: folder {folder:?} does not exist ({server_text})")]
    NoSuchFolder {
        server: String,
        folder: String,
        server_text: String,
    },
    /// The folder already exists (CREATE).
    #[error("{server}: folder {folder:?} already exists ({server_text})")]
    AlreadyExists {
        server: String,
        folder: String,
        server_text: String,
    },
    /// The server said NO to a command for another reason.
    #[error("{server}: {command} refused: {server_text}")]
    Rejected {
        server: String,
        command: String,
        server_text: String,
    },
    /// The server said something Ferry cannot understand, or BAD to a command.
    #[error("{server}: protocol error during {step}: {detail}")]
    Protocol {
        server: String,
        step: String,
        detail: String,
    },
    /// An argument cannot be sent (e.g. a line break in a folder or user name).
    #[error("invalid {what}: {reason}")]
    InvalidInput { what: String, reason: String },
    /// The server sent a line (or a response Ferry sets aside) longer than Ferry accepts without
    /// ending it: a broken or hostile server would otherwise fill the memory. The connection is
    /// closed.
    #[error("{server}: during {step}, the server sent {what} longer than {} MiB without ending it; Ferry closed the connection", .limit / (1024 * 1024))]
    ResponseTooLong {
        server: String,
        step: String,
        /// "a line", "a response".
        what: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// A connection without encryption to another computer than this one: the password would
    /// cross the network in clear text.
    #[error("{server}: refusing to connect without encryption: {reason}")]
    PlaintextRefused { server: String, reason: String },
    /// The server refused the OAuth 2.0 access token (its error challenge read into `refusal`).
    #[error("{server}: sign-in to {user:?} with a token from {issuer} refused: {} ({server_text})", .refusal.describe())]
    OAuthRefused {
        server: String,
        user: String,
        /// Who issued the token (app and tenant, or service account).
        issuer: String,
        provider: OAuthProvider,
        refusal: Box<OAuthRefusal>,
        server_text: String,
    },
    /// No access token could be had for the sign-in.
    #[error("no access token for {user:?} from {issuer}: {error}")]
    TokenUnavailable {
        user: String,
        issuer: String,
        error: TokenError,
    },
}

/// A serializable summary of an error, for the UI and JSON output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ErrorReport {
    /// Stable machine name of the kind, e.g. `auth_failed`.
    pub kind: String,
    /// The full message.
    pub message: String,
    /// One sentence of advice.
    pub advice: String,
    /// Whether trying again later can succeed without changing anything.
    pub retryable: bool,
    /// Suggested wait before a retry, in milliseconds (throttling).
    pub wait_ms: Option<u64>,
    /// The refused certificate, for `untrusted_certificate`.
    pub certificate: Option<CertificateInfo>,
}

impl ImapError {
    /// Stable machine name of the kind.
    pub fn kind(&self) -> &'static str {
        match self {
            ImapError::AuthFailed { .. } => "auth_failed",
            ImapError::NotAuthorized { .. } => "not_authorized",
            ImapError::AccountDisabled { .. } => "account_disabled",
            ImapError::TlsRequired { .. } => "tls_required",
            ImapError::NoLoginMethod { .. } => "no_login_method",
            ImapError::TooManyConnections { .. } => "too_many_connections",
            ImapError::ServerUnavailable { .. } => "server_unavailable",
            ImapError::Unreachable { .. } => "unreachable",
            ImapError::UntrustedCertificate { .. } => "untrusted_certificate",
            ImapError::Tls { .. } => "tls",
            ImapError::Throttled { .. } => "throttled",
            ImapError::Timeout { .. } => "timeout",
            ImapError::ConnectionLost { .. } => "connection_lost",
            ImapError::OverQuota { .. } => "over_quota",
            ImapError::TooBig { .. } => "too_big",
            ImapError::NoSuchFolder { .. } => "no_such_folder",
            ImapError::AlreadyExists { .. } => "already_exists",
            ImapError::Rejected { .. } => "rejected",
            ImapError::Protocol { .. } => "protocol",
            ImapError::InvalidInput { .. } => "invalid_input",
            ImapError::ResponseTooLong { .. } => "response_too_long",
            ImapError::PlaintextRefused { .. } => "plaintext_refused",
            ImapError::OAuthRefused { .. } => "oauth_refused",
            ImapError::TokenUnavailable { .. } => "token_unavailable",
        }
    }

    /// One sentence telling the admin what to do.
    pub fn advice(&self) -> &'static str {
        match self {
            ImapError::AuthFailed { .. } => {
                "Check the user name and password (for an admin or master-user login: the admin's own password, and that it may act for other users)."
            }
            ImapError::NotAuthorized { .. } => {
                "Check that the admin account is configured as a master user (or may act for other users) on this server."
            }
            ImapError::AccountDisabled { .. } => {
                "Enable the account (or its mail service) on the server, or leave this user out of the migration."
            }
            ImapError::TlsRequired { .. } => {
                "Connect with TLS (port 993) or STARTTLS (port 143) instead of plain text."
            }
            ImapError::NoLoginMethod { .. } => {
                "Enable a login method Ferry supports on the server: LOGIN or AUTHENTICATE PLAIN over TLS for passwords, OAUTHBEARER or XOAUTH2 for sign-in with access tokens."
            }
            ImapError::TooManyConnections { .. } => {
                "Close other mail clients for this user or lower Ferry's parallel connections, then retry."
            }
            ImapError::ServerUnavailable { .. } => {
                "The server has a temporary problem (often its directory service); retry in a few minutes."
            }
            ImapError::Unreachable { .. } => {
                "Check the host name, the port and that a firewall lets this computer reach the server."
            }
            ImapError::UntrustedCertificate { .. } => {
                "If this is your own server's certificate, compare the SHA-256 fingerprint with the server's and pin it; otherwise do not connect."
            }
            ImapError::Tls { .. } => {
                "Check that the port speaks the chosen security (993: TLS, 143: STARTTLS) and that the server allows TLS 1.2 or newer."
            }
            ImapError::Throttled { .. } => {
                "The server limits the rate of requests; Ferry waits the time it suggests (at most 15 minutes) and retries."
            }
            ImapError::Timeout { .. } => {
                "The server stopped answering; retry, and check the network or the server's load if it persists."
            }
            ImapError::ConnectionLost { .. } => {
                "The connection broke; retry (Ferry resumes where it stopped)."
            }
            ImapError::OverQuota { .. } => {
                "Raise the mailbox's storage quota on the destination, or free space, then retry."
            }
            ImapError::TooBig { .. } => {
                "Raise the server's maximum message size, or leave this message out and copy it another way."
            }
            ImapError::NoSuchFolder { .. } => {
                "Check the folder name; it may have been renamed or deleted meanwhile."
            }
            ImapError::AlreadyExists { .. } => "The folder is already there; nothing to do.",
            ImapError::Rejected { .. } => {
                "Read the server's answer; if it is unclear, check the server's log for this command."
            }
            ImapError::Protocol { .. } => {
                "The server answered in an unexpected way; retry, and report the server's software if it persists."
            }
            ImapError::InvalidInput { .. } => {
                "Line breaks and NUL characters cannot be sent to an IMAP server; correct the name."
            }
            ImapError::ResponseTooLong { .. } => {
                "Check the host name and port: the server there does not answer as a mail server should (or is broken). Ferry stopped reading to protect this computer's memory."
            }
            ImapError::PlaintextRefused { .. } => {
                "Connect with TLS (port 993) or STARTTLS (port 143). Unencrypted connections are only allowed to this computer itself (127.0.0.1, ::1 or localhost), for example through an SSH tunnel."
            }
            ImapError::OAuthRefused {
                provider, refusal, ..
            } => refusal.advice(*provider),
            ImapError::TokenUnavailable { error, .. } => error.kind.advice(),
        }
    }

    /// Whether trying the same thing again later can succeed without any change.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ImapError::TooManyConnections { .. }
                | ImapError::ServerUnavailable { .. }
                | ImapError::Unreachable { .. }
                | ImapError::Throttled { .. }
                | ImapError::Timeout { .. }
                | ImapError::ConnectionLost { .. }
        ) || matches!(self, ImapError::TokenUnavailable { error, .. } if error.kind.is_retryable())
    }

    /// Whether the connection is unusable after this error (the caller must reconnect).
    pub fn is_fatal_to_connection(&self) -> bool {
        matches!(
            self,
            ImapError::Timeout { .. }
                | ImapError::ConnectionLost { .. }
                | ImapError::Unreachable { .. }
                | ImapError::UntrustedCertificate { .. }
                | ImapError::Tls { .. }
                | ImapError::Protocol { .. }
                | ImapError::ResponseTooLong { .. }
                | ImapError::PlaintextRefused { .. }
        )
    }

    /// A `Throttled` error from the server's words: the back-off it names (Microsoft's
    /// `Suggested Backoff Time: N milliseconds`), capped at [`MAX_THROTTLE_WAIT`].
    pub fn throttled(server: String, server_text: String) -> ImapError {
        let asked = crate::response::throttle_wait(&server_text);
        ImapError::Throttled {
            server,
            wait: asked.map(|a| a.min(MAX_THROTTLE_WAIT)),
            asked,
            server_text,
        }
    }

    /// The serializable summary for the UI.
    pub fn report(&self) -> ErrorReport {
        ErrorReport {
            kind: self.kind().to_string(),
            message: self.to_string(),
            advice: self.advice().to_string(),
            retryable: self.is_retryable(),
            wait_ms: match self {
                ImapError::Throttled { wait, .. } => {
                    wait.map(|w| u64::try_from(w.as_millis()).unwrap_or(u64::MAX))
                }
                _ => None,
            },
            certificate: match self {
                ImapError::UntrustedCertificate { cert, .. } => Some((**cert).clone()),
                _ => None,
            },
        }
    }
}

/// The longest back-off Ferry waits when a server names one (`[THROTTLED]`, Microsoft's
/// `Suggested Backoff Time`): Microsoft's own hints stay below 5 minutes; anything far beyond is
/// a broken or hostile server, and a run must not stall for hours on its word.
pub const MAX_THROTTLE_WAIT: Duration = Duration::from_secs(15 * 60);

/// " (wait 30 s)", or " (the server asked for a wait of 10000 s; Ferry waits at most 900 s)".
fn throttle_note(wait: Option<Duration>, asked: Option<Duration>) -> String {
    match (wait, asked) {
        (Some(w), Some(a)) if a > w => format!(
            " (the server asked for a wait of {} s; Ferry waits at most {} s)",
            a.as_secs(),
            w.as_secs()
        ),
        (Some(w), _) => format!(" (wait {} s)", w.as_secs()),
        (None, _) => String::new(),
    }
}

/// The crate's result type.
pub type Result<T, E = ImapError> = std::result::Result<T, E>;
