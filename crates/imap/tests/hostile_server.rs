//! Servers that do not play by the rules: a raw TCP listener on this computer that sends a
//! greeting and then what a broken or hostile server could send. (Not an IMAP server: each test
//! writes the few bytes that make its case, and Dovecot cannot be made to send them.)

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ferry_imap::{AuthMethod, Client, Credentials, Endpoint, ImapError, Timeouts};
use secrecy::SecretString;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(5),
        tls: Duration::from_secs(5),
        greeting: Duration::from_secs(5),
        // Longer than the whole trickle below: only the line limit can end it early.
        idle: Duration::from_secs(20),
    }
}

/// Accepts one connection, sends `greeting`, reads one command line and hands the stream to
/// `then` with the command's tag.
async fn one_connection<F, Fut, T>(listener: TcpListener, greeting: &'static [u8], then: F) -> T
where
    F: FnOnce(TcpStream, String) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let (mut stream, _) = listener.accept().await.unwrap();
    stream.write_all(greeting).await.unwrap();
    let mut reader = BufReader::new(&mut stream);
    let mut line = String::new();
    reader.read_line(&mut line).await.unwrap();
    let tag = line.split(' ').next().unwrap_or("").to_string();
    then(stream, tag).await
}

#[tokio::test]
async fn a_line_trickled_without_end_is_cut_at_one_mib() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // The greeting names no capabilities, so Ferry asks for them; the answer never ends.
    let server = tokio::spawn(one_connection(
        listener,
        b"* OK hostile ready\r\n",
        |mut stream, _tag| async move {
            let mut sent = 0usize;
            let chunk = [b'x'; 16 * 1024];
            let _ = stream.write_all(b"* CAPABILITY IMAP4rev1 ").await;
            // Up to 64 MiB, 16 KiB a millisecond, no line feed; stops when Ferry hangs up.
            while sent < 64 * 1024 * 1024 {
                if stream.write_all(&chunk).await.is_err() {
                    break;
                }
                sent += chunk.len();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            sent
        },
    ));
    let started = Instant::now();
    let err = Client::connect(&Endpoint::plain("127.0.0.1", port), timeouts())
        .await
        .expect_err("an endless line must fail the connection");
    match &err {
        ImapError::ResponseTooLong { what, limit, .. } => {
            assert_eq!(what, "a line");
            assert_eq!(*limit, 1024 * 1024);
        }
        other => panic!("expected response_too_long, got {other:?}"),
    }
    assert_eq!(err.kind(), "response_too_long");
    assert_eq!(
        err.to_string(),
        format!("127.0.0.1:{port}: during CAPABILITY, the server sent a line longer than 1 MiB without ending it; Ferry closed the connection")
    );
    assert!(err.is_fatal_to_connection());
    assert!(!err.is_retryable());
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    // Ferry hung up long before the server's 64 MiB: it read about 1 MiB.
    let sent = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server sees the hang-up")
        .unwrap();
    assert!(sent < 8 * 1024 * 1024, "the server sent {sent} bytes");
}

#[tokio::test]
async fn a_named_back_off_is_capped_at_15_minutes_and_the_error_says_so() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    const REFUSAL: &str =
        "NO [THROTTLED] Request is throttled. Suggested Backoff Time: 86400000 milliseconds";
    tokio::spawn(one_connection(
        listener,
        b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n",
        |mut stream, tag| async move {
            let reply = format!("{tag} {REFUSAL}\r\n");
            stream.write_all(reply.as_bytes()).await.unwrap();
            let _ = tokio::time::timeout(Duration::from_secs(5), stream.readable()).await;
        },
    ));
    let client = Client::connect(&Endpoint::plain("127.0.0.1", port), timeouts())
        .await
        .expect("connect");
    let mut creds = Credentials::new("jdoe", SecretString::from("pw".to_string()));
    creds.method = AuthMethod::Login;
    let err = client.login(&creds).await.expect_err("throttled");
    match &err {
        ImapError::Throttled { wait, asked, .. } => {
            assert_eq!(*wait, Some(Duration::from_secs(15 * 60)));
            assert_eq!(*asked, Some(Duration::from_secs(24 * 3600)));
        }
        other => panic!("expected throttled, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!("127.0.0.1:{port}: throttled by the server (the server asked for a wait of 86400 s; Ferry waits at most 900 s): [THROTTLED] Request is throttled. Suggested Backoff Time: 86400000 milliseconds")
    );
    assert_eq!(err.report().wait_ms, Some(900_000));
}

/// This computer's address on its network (not loopback), if it has one: the address a UDP
/// socket would send from (no packet is sent).
fn own_network_address() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test]
async fn plain_tcp_is_refused_to_anything_but_this_computer() {
    // A real listener on every address of this computer: a plain connection to its network
    // address would work, and would carry the password in clear text across the network.
    let listener = TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = tokio::spawn(async move {
        tokio::time::timeout(Duration::from_secs(3), listener.accept())
            .await
            .is_ok()
    });
    let Some(ip) = own_network_address() else {
        panic!("this test needs a network address besides loopback (none found)");
    };
    for host in [ip.to_string(), "mail.example.com".to_string()] {
        let err = Client::connect(&Endpoint::plain(host.clone(), port), timeouts())
            .await
            .expect_err("plain TCP to another computer");
        assert_eq!(err.kind(), "plaintext_refused", "{host}: {err}");
        assert_eq!(
            err.to_string(),
            format!("{host}:{port}: refusing to connect without encryption: {host} is not this computer (a loopback address or localhost)")
        );
    }
    assert!(
        !accepted.await.unwrap(),
        "Ferry opened a connection before refusing"
    );
    // Loopback in every spelling still works (the listener is on 0.0.0.0, IPv4 only).
    for host in ["127.0.0.1", "localhost"] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(one_connection(
            listener,
            b"* OK [CAPABILITY IMAP4rev1] ready\r\n",
            |_s, _t| async {},
        ));
        Client::connect(&Endpoint::plain(host, addr.port()), timeouts())
            .await
            .unwrap_or_else(|e| panic!("{host}: {e}"));
    }
}
