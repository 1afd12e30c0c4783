//! Helpers shared by the integration tests (real Dovecot servers from ferry-testkit).
#![allow(dead_code)]

use std::time::Duration;

use ferry_imap::{AuthMethod, Client, Credentials, Endpoint, Session, Timeouts};
use ferry_testkit::Dovecot;
use secrecy::SecretString;

/// Short limits: a test of a stalled server must not take long.
pub fn quick() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(5),
        tls: Duration::from_secs(3),
        greeting: Duration::from_secs(3),
        idle: Duration::from_secs(3),
    }
}

/// Implicit TLS, trusting exactly the server's certificate.
/// Dovecot delays logins from an address after failures (auth penalty, up to 15 s): tests of
/// failed logins wait longer.
pub fn patient() -> Timeouts {
    Timeouts {
        idle: Duration::from_secs(30),
        ..quick()
    }
}

pub fn tls(server: &Dovecot) -> Endpoint {
    Endpoint::tls(server.host(), server.imaps_port()).pinned(server.cert_sha256())
}

pub fn starttls(server: &Dovecot) -> Endpoint {
    Endpoint::starttls(server.host(), server.imap_port()).pinned(server.cert_sha256())
}

pub fn creds(server: &Dovecot, user: &str) -> Credentials {
    Credentials::new(user, SecretString::from(server.password(user).to_string()))
}

pub fn master(server: &Dovecot, target: &str, method: AuthMethod) -> Credentials {
    let m = server.master_user();
    Credentials::admin(
        m.name.clone(),
        SecretString::from(m.password.clone()),
        target,
        method,
    )
}

pub async fn login(server: &Dovecot, user: &str) -> Session {
    Client::connect(&tls(server), quick())
        .await
        .expect("connect")
        .login(&creds(server, user))
        .await
        .expect("login")
}

/// A message with CRLF lines, 8-bit text and a long line, `n` making it unique.
pub fn message(n: usize, body_len: usize) -> Vec<u8> {
    let mut m = format!(
        "Message-ID: <ferry-{n}@test.example>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0100\r\n\
         From: J\u{f6}rg <joerg@example.com>\r\nSubject: Gr\u{fc}\u{df}e {n}\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    .into_bytes();
    let line = "Zoë — naïve façade ".repeat(4);
    while m.len() < body_len {
        m.extend_from_slice(line.as_bytes());
        m.extend_from_slice(b"\r\n");
    }
    m
}

/// Forwards a loopback port to the server from source address 127.0.0.2, so that Dovecot sees a
/// remote client (it treats a client on its own address as secure and allows plaintext login).
pub async fn remote_relay(target_port: u16) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let socket = tokio::net::TcpSocket::new_v4().unwrap();
                socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
                let Ok(mut server) = socket.connect(([127, 0, 0, 1], target_port).into()).await
                else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    port
}
