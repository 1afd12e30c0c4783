//! A silent, cut or stopped server gives a typed error within the timeout, never a hang.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ferry_imap::{Client, Endpoint, FetchItems, ImapError, UidSet};
use ferry_testkit::{Dovecot, FaultProxy, Preset};

fn via(proxy: &FaultProxy, server: &Dovecot) -> Endpoint {
    Endpoint::tls("127.0.0.1", proxy.port()).pinned(server.cert_sha256())
}

/// The proxy's pumps notice a stall within 50 ms (their read timeout).
async fn stall(proxy: &FaultProxy) {
    proxy.stall();
    tokio::time::sleep(Duration::from_millis(150)).await;
}

/// The limit plus slack for a loaded 2-core machine.
fn within(start: Instant, limit: Duration) {
    let took = start.elapsed();
    assert!(took < limit + Duration::from_secs(3), "took {took:?}");
}

#[tokio::test]
async fn stalled_server_times_out_at_every_step() {
    let server = Dovecot::start(Preset::Modern);
    let proxy = FaultProxy::start(server.imaps_port());
    let t = quick();

    // Stalled before the TLS handshake.
    proxy.stall();
    let start = Instant::now();
    let e = Client::connect(&via(&proxy, &server), t).await.unwrap_err();
    assert!(
        matches!(&e, ImapError::Timeout { step, .. } if step.contains("TLS")),
        "{e:?}"
    );
    assert!(e.is_retryable());
    within(start, t.tls);
    proxy.resume();

    // Stalled in the middle of a session: the next command times out, the session is marked
    // broken, and a fresh connection works once the network is back.
    let mut s = Client::connect(&via(&proxy, &server), t)
        .await
        .unwrap()
        .login(&creds(&server, "alice"))
        .await
        .unwrap();
    stall(&proxy).await;
    let start = Instant::now();
    let e = s.status("INBOX").await.unwrap_err();
    assert!(matches!(e, ImapError::Timeout { .. }), "{e:?}");
    within(start, t.idle);
    let e = s.noop().await.unwrap_err();
    assert!(matches!(e, ImapError::ConnectionLost { .. }), "{e:?}");
    proxy.resume();
    let mut again = Client::connect(&via(&proxy, &server), t)
        .await
        .unwrap()
        .login(&creds(&server, "alice"))
        .await
        .unwrap();
    again.noop().await.unwrap();
}

#[tokio::test]
async fn cut_connection_is_connection_lost() {
    let server = Dovecot::start(Preset::Modern);
    let proxy = FaultProxy::start(server.imaps_port());
    let mut s = Client::connect(&via(&proxy, &server), quick())
        .await
        .unwrap()
        .login(&creds(&server, "alice"))
        .await
        .unwrap();
    proxy.cut_now();
    let start = Instant::now();
    let e = s.list().await.unwrap_err();
    assert!(matches!(e, ImapError::ConnectionLost { .. }), "{e:?}");
    assert!(e.is_retryable() && e.is_fatal_to_connection());
    within(start, Duration::from_secs(1));
}

#[tokio::test]
async fn cut_in_the_middle_of_a_fetch() {
    let server = Dovecot::start(Preset::Modern);
    for n in 0..20 {
        server.deliver("alice", "INBOX", &message(n, 100_000));
    }
    let proxy = FaultProxy::start(server.imaps_port());
    let mut s = Client::connect(&via(&proxy, &server), quick())
        .await
        .unwrap()
        .login(&creds(&server, "alice"))
        .await
        .unwrap();
    s.examine("INBOX").await.unwrap();
    proxy.cut_after_bytes(600_000);
    let mut stream = s
        .uid_fetch_stream(&UidSet::all(), FetchItems::FULL)
        .unwrap();
    let mut got = 0;
    let err = loop {
        match stream.next().await {
            Ok(Some(m)) => {
                assert_eq!(m.body.unwrap().len(), message(got, 100_000).len());
                got += 1;
            }
            Ok(None) => panic!("the whole folder arrived through a cut connection"),
            Err(e) => break e,
        }
    };
    assert!((1..20).contains(&got), "{got} messages before the cut");
    assert!(matches!(err, ImapError::ConnectionLost { .. }), "{err:?}");
}

#[tokio::test]
async fn server_silent_mid_fetch_times_out() {
    let server = Dovecot::start(Preset::Modern);
    for n in 0..30 {
        server.deliver("alice", "INBOX", &message(n, 200_000));
    }
    let proxy = FaultProxy::start(server.imaps_port());
    let t = quick();
    let mut s = Client::connect(&via(&proxy, &server), t)
        .await
        .unwrap()
        .login(&creds(&server, "alice"))
        .await
        .unwrap();
    s.examine("INBOX").await.unwrap();
    let mut stream = s
        .uid_fetch_stream(&UidSet::all(), FetchItems::FULL)
        .unwrap();
    stream.next().await.unwrap().expect("first message");
    stall(&proxy).await;
    let start = Instant::now();
    let err = loop {
        match stream.next().await {
            // Whatever was already in flight still arrives.
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the whole folder arrived through a stalled connection"),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, ImapError::Timeout { .. }), "{err:?}");
    within(start, t.idle);
}

#[tokio::test]
async fn server_stopped_mid_fetch_ends_in_time() {
    let mut server = Dovecot::start(Preset::Modern);
    for n in 0..40 {
        server.deliver("alice", "INBOX", &message(n, 200_000));
    }
    let t = quick();
    let mut s = login(&server, "alice").await;
    s.examine("INBOX").await.unwrap();
    let mut stream = s
        .uid_fetch_stream(&UidSet::all(), FetchItems::FULL)
        .unwrap();
    stream.next().await.unwrap().expect("first message");
    let start = Instant::now();
    server.stop();
    // Dovecot's running imap process may finish the command after its master stopped; what
    // matters is that the stream ends, completely or in a typed error, without hanging.
    let mut got = 1;
    loop {
        match stream.next().await {
            Ok(Some(_)) => got += 1,
            Ok(None) => {
                assert_eq!(got, 40);
                break;
            }
            Err(e) => {
                assert!(
                    matches!(
                        e,
                        ImapError::ConnectionLost { .. } | ImapError::Timeout { .. }
                    ),
                    "{e:?}"
                );
                break;
            }
        }
    }
    within(start, t.idle + Duration::from_secs(5));
}
