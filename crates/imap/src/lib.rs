//! # ferry-imap: one IMAP connection, done right
//!
//! A thin, typed layer over [`async_imap`] (tokio) that the sync engine and the credential
//! checks stand on.
//!
//! - **Connect** ([`Client::connect`]): implicit TLS, STARTTLS or (only when asked) plain TCP.
//!   Certificates are checked against the system roots, or against exactly one pinned SHA-256
//!   fingerprint ([`Endpoint::pinned_sha256`]); there is no "accept any certificate" mode. A
//!   refused certificate comes back as [`ImapError::UntrustedCertificate`] with its fingerprint,
//!   subject, issuer and dates, so the admin can compare and pin it ([`probe_certificate`]).
//! - **Log in** ([`Client::login`]): LOGIN, AUTHENTICATE PLAIN (with SASL-IR where offered),
//!   PLAIN with an authorization identity (RFC 4616) for admin logins, and Dovecot's
//!   `user*master` form — see [`AuthMethod`]. Every refusal is its own [`ImapError`] kind with
//!   [`ImapError::advice`].
//! - **OAuth 2.0** ([`Credentials::oauth`]): OAUTHBEARER (RFC 7628, preferred) or XOAUTH2 with a
//!   token from an [`AccessTokenSource`] per login; a refused token is retried once with a new
//!   one; the server's error challenge becomes [`ImapError::OAuthRefused`] ([`oauth`]).
//! - **Timeouts** ([`Timeouts`]) on connect, TLS, greeting, and an idle limit on every read and
//!   write of every command: a silent server is [`ImapError::Timeout`], never a hang.
//! - **Folders**: [`Session::namespaces`], [`Session::list`] (SPECIAL-USE),
//!   [`Session::list_with_status`] (LIST-STATUS in one round trip, else pipelined STATUS),
//!   names in UTF-8 (modified UTF-7 on the wire: [`utf7`]).
//! - **Messages**: [`Session::status`], [`Session::select`] / [`Session::examine`],
//!   [`Session::uid_fetch_stream`] (one command per UID set, streamed), [`Session::append`] with
//!   flags, INTERNALDATE and APPENDUID, [`Session::append_many`] (MULTIAPPEND or LITERAL+
//!   pipelining), [`Session::uid_search_header`].
//!
//! ## Why not async-imap's `Session`
//! async-imap frames the stream and parses responses (imap-proto); this crate uses exactly that
//! ([`async_imap::Client`] as transport, `read_response`). Its `Session` methods, though, flatten
//! a NO into a string and cannot express literals, LITERAL+, SASL-IR, an authorization identity,
//! APPENDUID, MULTIAPPEND, pipelining or NAMESPACE — so commands are written here. A small filter
//! under the parser sets aside responses imap-proto cannot parse (such as `* NAMESPACE`), which
//! would otherwise end the connection.
//!
//! ## Example
//! ```no_run
//! use ferry_imap::{Client, Credentials, Endpoint, FetchItems, Timeouts, UidSet};
//! use secrecy::SecretString;
//!
//! # async fn demo() -> Result<(), ferry_imap::ImapError> {
//! // The old server's self-signed certificate, pinned after the admin compared it.
//! let endpoint = Endpoint::tls("mail.example.com", 993)
//!     .pinned("3f1c…the 64 hex digits…");
//! let creds = Credentials::new("jdoe", SecretString::from("secret"));
//! let mut session = Client::connect(&endpoint, Timeouts::default())
//!     .await?
//!     .login(&creds)
//!     .await
//!     .map_err(|e| {
//!         eprintln!("{e}\n{}", e.advice());
//!         e
//!     })?;
//! for f in session.list_with_status().await? {
//!     println!("{} {:?} {:?}", f.folder.name, f.folder.special_use, f.status);
//! }
//! session.examine("INBOX").await?;
//! let mut stream = session.uid_fetch_stream(&UidSet::from_uid(1), FetchItems::FULL)?;
//! while let Some(m) = stream.next().await? {
//!     println!("{} {} bytes {:?}", m.uid, m.body.map_or(0, |b| b.len()), m.flags);
//! }
//! drop(stream);
//! let uid = session
//!     .append("Archive", &["\\Seen".to_string()], None, b"Subject: hi\r\n\r\nbody\r\n")
//!     .await?;
//! println!("stored as {uid:?}");
//! session.logout().await;
//! # Ok(())
//! # }
//! ```

mod client;
mod conn;
pub mod error;
pub mod oauth;
pub mod response;
mod session;
pub mod tls;
mod transport;
pub mod types;
/// Modified UTF-7 mailbox names, shared with the Maildir store reader.
pub use ferry_utf7 as utf7;

pub use client::{connect_and_login, probe_certificate, Client};
pub use error::{CertificateInfo, ErrorReport, ImapError, Result};
pub use oauth::{
    AccessToken, AccessTokenSource, OAuthProvider, OAuthRefusal, RefusalKind, TokenError,
    TokenErrorKind, TokenFuture,
};
pub use session::{format_internal_date, parse_internal_date, FetchStream, Session};
pub use types::{
    AppendMessage, AppendUid, AuthMethod, Capabilities, Credentials, Endpoint, FetchItems,
    FetchedMessage, FlagChange, Folder, FolderStatus, FolderWithStatus, LoginSecret, Namespace,
    Namespaces, Security, SelectedFolder, SpecialUse, Timeouts, UidSet,
};
