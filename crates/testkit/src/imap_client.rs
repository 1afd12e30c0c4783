//! The test kit's own small IMAP client, for setting up and checking servers in tests. It is
//! independent of `ferry-imap` on purpose: a test of Ferry's IMAP layer must not check its results
//! with the same code.

use std::sync::Arc;

use futures::TryStreamExt;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::utf7;
use crate::StoredMessage;

type Session = async_imap::Session<TlsStream<TcpStream>>;

pub(crate) struct Login<'a> {
    pub host: &'a str,
    pub port: u16,
    pub ca_der: &'a [u8],
    pub user: &'a str,
    pub password: &'a str,
}

/// Runs `f` on a fresh current-thread runtime in its own thread, so that the blocking test kit can
/// be called from plain and from `#[tokio::test]` tests alike.
pub(crate) fn block_on<T: Send>(fut: impl std::future::Future<Output = T> + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio runtime")
                    .block_on(fut)
            })
            .join()
            .expect("test kit IMAP thread panicked")
    })
}

async fn login(l: &Login<'_>) -> Session {
    try_login(l).await.expect("test kit login")
}

async fn try_login(l: &Login<'_>) -> Result<Session, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(l.ca_der.to_vec()))
        .expect("test CA");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = TcpStream::connect((l.host, l.port))
        .await
        .expect("connect to test server");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("TLS handshake with test server");
    let mut client = async_imap::Client::new(tls);
    client
        .read_response()
        .await
        .expect("greeting")
        .expect("greeting");
    client
        .login(l.user, l.password)
        .await
        .map_err(|(err, _)| err.to_string())
}

pub(crate) fn check_login(l: &Login<'_>) -> Result<(), String> {
    block_on(async {
        let mut session = try_login(l).await?;
        session.logout().await.ok();
        Ok(())
    })
}

pub(crate) fn messages(l: &Login<'_>, mailbox: &str) -> Vec<StoredMessage> {
    block_on(async {
        let mut session = login(l).await;
        let mbox = session
            .examine(utf7::encode(mailbox))
            .await
            .unwrap_or_else(|err| panic!("EXAMINE {mailbox}: {err}"));
        let mut out = Vec::new();
        if mbox.exists > 0 {
            let fetches: Vec<_> = session
                .uid_fetch("1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
                .await
                .expect("UID FETCH")
                .try_collect()
                .await
                .expect("UID FETCH responses");
            for f in fetches {
                out.push(StoredMessage {
                    uid: f.uid.expect("UID in FETCH"),
                    flags: f
                        .flags()
                        .filter(|flag| !matches!(flag, async_imap::types::Flag::Recent))
                        .map(|flag| flag_name(&flag))
                        .collect(),
                    internal_date: f.internal_date().expect("INTERNALDATE").timestamp(),
                    bytes: f.body().expect("BODY[]").to_vec(),
                });
            }
        }
        out.sort_by_key(|m| m.uid);
        session.logout().await.ok();
        out
    })
}

pub(crate) fn append(
    l: &Login<'_>,
    mailbox: &str,
    flags: &[&str],
    internal_date: Option<&str>,
    bytes: &[u8],
) -> Result<(), String> {
    block_on(async {
        let mut session = login(l).await;
        let flags = format!("({})", flags.join(" "));
        let date = internal_date.map(|d| format!("\"{d}\""));
        let result = session
            .append(utf7::encode(mailbox), Some(&flags), date.as_deref(), bytes)
            .await
            .map_err(|err| err.to_string());
        session.logout().await.ok();
        result
    })
}

pub(crate) fn create(l: &Login<'_>, mailbox: &str) {
    block_on(async {
        let mut session = login(l).await;
        session
            .create(utf7::encode(mailbox))
            .await
            .unwrap_or_else(|err| panic!("CREATE {mailbox}: {err}"));
        session.logout().await.ok();
    })
}

fn flag_name(flag: &async_imap::types::Flag<'_>) -> String {
    use async_imap::types::Flag;
    match flag {
        Flag::Seen => "\\Seen".into(),
        Flag::Answered => "\\Answered".into(),
        Flag::Flagged => "\\Flagged".into(),
        Flag::Deleted => "\\Deleted".into(),
        Flag::Draft => "\\Draft".into(),
        Flag::Recent => "\\Recent".into(),
        Flag::MayCreate => "\\*".into(),
        Flag::Custom(name) => name.to_string(),
    }
}
