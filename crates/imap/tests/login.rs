//! Every login path against real Dovecot presets, and every failure with its own error.

mod common;

use common::*;
use ferry_imap::{AuthMethod, Client, Credentials, Endpoint, ImapError, Security};
use ferry_testkit::{Dovecot, Preset};
use secrecy::SecretString;

async fn check_session(server: &Dovecot, endpoint: &Endpoint, c: &Credentials, owner: &str) {
    let client = Client::connect(endpoint, quick()).await.expect("connect");
    assert!(client.is_encrypted() || endpoint.security == Security::Plain);
    let mut session = client
        .login(c)
        .await
        .unwrap_or_else(|e| panic!("{:?} {:?}: {e}", endpoint.security, c.method));
    assert_eq!(session.user(), owner);
    assert!(session.capabilities().has("IMAP4rev1"));
    // The session really is the owner's: its INBOX holds what was delivered to the owner.
    let st = session.status("INBOX").await.expect("status");
    let expected = server.messages(owner, "INBOX").len() as u32;
    assert_eq!(st.messages, expected, "{owner} via {:?}", c.method);
    session.logout().await;
}

#[tokio::test]
async fn every_login_path_works_on_every_preset() {
    for (preset, user) in [
        (Preset::OldMac, "jdoe"),
        (Preset::Modern, "alice"),
        (Preset::Prefixed, "bob"),
    ] {
        let server = Dovecot::start(preset);
        server.deliver(user, "INBOX", &message(1, 200));
        for endpoint in [tls(&server), starttls(&server)] {
            for method in [AuthMethod::Auto, AuthMethod::Login, AuthMethod::Plain] {
                let mut c = creds(&server, user);
                c.method = method;
                check_session(&server, &endpoint, &c, user).await;
            }
            // Admin logins: SASL PLAIN with authorization identity, and Dovecot's user*master.
            for method in [
                AuthMethod::Auto,
                AuthMethod::Plain,
                AuthMethod::DovecotMaster,
            ] {
                let c = master(&server, user, method);
                check_session(&server, &endpoint, &c, user).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_only_when_allowed() {
    let server = Dovecot::start(Preset::Modern);
    let relay = remote_relay(server.imap_port()).await;
    let plain = Endpoint::plain(server.host(), relay);
    let client = Client::connect(&plain, quick()).await.expect("connect");
    assert!(!client.is_encrypted());
    match client.login(&creds(&server, "alice")).await {
        Err(e @ ImapError::TlsRequired { .. }) => {
            assert!(e.advice().contains("TLS"), "{}", e.advice())
        }
        other => panic!("expected TlsRequired, got {other:?}"),
    }
    // Forcing LOGIN anyway is refused the same way, before the password is sent.
    let mut c = creds(&server, "alice");
    c.method = AuthMethod::Login;
    let client = Client::connect(&plain, quick()).await.expect("connect");
    assert!(matches!(
        client.login(&c).await,
        Err(ImapError::TlsRequired { .. })
    ));

    let open = Dovecot::builder(Preset::Modern).plaintext(true).start();
    let relay = remote_relay(open.imap_port()).await;
    let plain = Endpoint::plain(open.host(), relay);
    let session = Client::connect(&plain, quick())
        .await
        .expect("connect")
        .login(&creds(&open, "alice"))
        .await
        .expect("plaintext login where allowed");
    assert_eq!(session.user(), "alice");
}

async fn refused(server: &Dovecot, c: &Credentials) -> ImapError {
    Client::connect(&tls(server), patient())
        .await
        .expect("connect")
        .login(c)
        .await
        .expect_err("login must fail")
}

// Each failure gets its own server: Dovecot delays every login from an address after a failure.
#[tokio::test]
async fn wrong_password_is_auth_failed() {
    let server = Dovecot::start(Preset::Modern);
    for method in [AuthMethod::Login, AuthMethod::Plain] {
        let c = Credentials {
            method,
            ..Credentials::new("alice", SecretString::from("Bad-Secret-42".to_string()))
        };
        let e = refused(&server, &c).await;
        assert!(
            matches!(e, ImapError::AuthFailed { .. }),
            "{method:?}: {e:?}"
        );
        assert!(!e.is_retryable());
        assert!(
            !e.to_string().contains("Bad-Secret-42"),
            "password in message: {e}"
        );
        assert!(e.advice().contains("password"));
        assert_eq!(e.report().kind, "auth_failed");
    }
}

#[tokio::test]
async fn wrong_master_password_is_auth_failed() {
    let server = Dovecot::start(Preset::OldMac);
    let m = server.master_user();
    for method in [AuthMethod::Plain, AuthMethod::DovecotMaster] {
        let c = Credentials::admin(
            m.name.clone(),
            SecretString::from("Bad-Secret-43".to_string()),
            "jdoe",
            method,
        );
        let e = refused(&server, &c).await;
        assert!(
            matches!(e, ImapError::AuthFailed { .. }),
            "{method:?}: {e:?}"
        );
    }
}

#[tokio::test]
async fn a_plain_user_may_not_act_for_another() {
    let server = Dovecot::start(Preset::Modern);
    let c = Credentials::admin(
        "bob",
        SecretString::from(server.password("bob").to_string()),
        "alice",
        AuthMethod::Plain,
    );
    let e = refused(&server, &c).await;
    // Dovecot answers AUTHENTICATIONFAILED here (not AUTHORIZATIONFAILED): the message says
    // whom the login tried to act for, and the advice covers both causes.
    match &e {
        ImapError::AuthFailed { login_as, .. } => assert_eq!(login_as.as_deref(), Some("alice")),
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("acting for \"alice\""), "{e}");
    assert!(e.advice().contains("act for other users"));
}

#[tokio::test]
async fn too_many_connections() {
    let server = Dovecot::builder(Preset::Modern)
        .max_connections_per_user(1)
        .start();
    let mut first = login(&server, "alice").await;
    first.noop().await.expect("first session works");
    let e = Client::connect(&tls(&server), quick())
        .await
        .unwrap()
        .login(&creds(&server, "alice"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ImapError::TooManyConnections { .. }),
        "second connection: {e:?}"
    );
    assert!(e.is_retryable());
    first.noop().await.expect("first session still works");
}

#[tokio::test]
async fn unreachable_servers() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = Client::connect(&Endpoint::tls("127.0.0.1", closed), quick())
        .await
        .unwrap_err();
    assert!(matches!(e, ImapError::Unreachable { .. }), "{e:?}");
    assert!(e.is_retryable());
    let e = Client::connect(&Endpoint::tls("no-such-host.invalid", 993), quick())
        .await
        .unwrap_err();
    assert!(matches!(e, ImapError::Unreachable { .. }), "{e:?}");
    assert_eq!(e.report().kind, "unreachable");
}

#[tokio::test]
async fn starttls_is_required_to_exist() {
    // The implicit-TLS port does not speak STARTTLS: a plain client sees garbage, not IMAP.
    let server = Dovecot::start(Preset::Modern);
    let wrong = Endpoint::starttls(server.host(), server.imaps_port()).pinned(server.cert_sha256());
    let e = Client::connect(&wrong, quick()).await.unwrap_err();
    assert!(
        matches!(
            e,
            ImapError::Timeout { .. }
                | ImapError::Protocol { .. }
                | ImapError::ConnectionLost { .. }
        ),
        "{e:?}"
    );
    // TLS against the STARTTLS port: the server answers in plain text, the handshake fails.
    let wrong = Endpoint::tls(server.host(), server.imap_port()).pinned(server.cert_sha256());
    let e = Client::connect(&wrong, quick()).await.unwrap_err();
    assert!(
        matches!(e, ImapError::Tls { .. } | ImapError::Timeout { .. }),
        "{e:?}"
    );
}
