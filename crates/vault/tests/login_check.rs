//! Login checks against real Dovecot servers from the test kit: every outcome the check reports.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferry_imap::{Credentials, Endpoint, Timeouts};
use ferry_testkit::{Dovecot, Preset};
use ferry_vault::check::{
    check_logins, AdminForm, CheckOptions, LoginCheck, LoginMethod, LoginTarget, Server, Side,
    Status,
};
use ferry_vault::{MemoryVault, Secret, Vault};
use secrecy::SecretString;

fn target(side: Side, user: &str) -> LoginTarget {
    LoginTarget {
        account: format!("{user}@example.com"),
        side,
        user: user.into(),
    }
}

fn pinned(server: &Dovecot) -> Endpoint {
    Endpoint::tls(server.host(), server.imaps_port()).pinned(server.cert_sha256())
}

fn options() -> CheckOptions {
    CheckOptions {
        parallel: 3,
        timeouts: Timeouts::all(Duration::from_secs(10)),
    }
}

async fn check(
    vault: &MemoryVault,
    side: Side,
    server: Server,
    targets: &[LoginTarget],
) -> Vec<LoginCheck> {
    let servers = BTreeMap::from([(side, server)]);
    check_logins(vault, &servers, targets, options()).await
}

#[tokio::test]
async fn user_passwords_ok_wrong_missing() {
    let old = Dovecot::start(Preset::OldMac);
    let vault = MemoryVault::new();
    vault
        .set(
            old.host(),
            "jdoe",
            &Secret::new(old.password("jdoe").into()),
        )
        .unwrap();
    vault
        .set(
            old.host(),
            "asmith",
            &Secret::new("not-the-password".into()),
        )
        .unwrap();
    let server = Server {
        endpoint: pinned(&old),
        login: LoginMethod::UserPassword,
    };
    let targets = [
        target(Side::Source, "jdoe"),
        target(Side::Source, "asmith"),
        target(Side::Source, "bmueller"),
    ];
    let results = check(&vault, Side::Source, server, &targets).await;
    let statuses: Vec<Status> = results.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [Status::Ok, Status::WrongPassword, Status::MissingPassword],
        "{results:#?}"
    );
    assert_eq!(results[0].account, "jdoe@example.com");
    assert!(
        results[1].message.contains("wrong password"),
        "{}",
        results[1].message
    );
    assert_eq!(
        results[1].advice,
        "Check the password and enter it again, and check that the user name is right for this server."
    );
    assert!(!results[1].message.contains("not-the-password"));
}

#[tokio::test]
async fn master_logins_tell_unknown_users_apart() {
    let old = Dovecot::start(Preset::OldMac);
    let master = old.master_user().clone();
    for form in [AdminForm::DovecotMaster, AdminForm::PlainAuthzid] {
        let vault = MemoryVault::new();
        vault
            .set(
                old.host(),
                &master.name,
                &Secret::new(master.password.clone()),
            )
            .unwrap();
        let server = Server {
            endpoint: pinned(&old),
            login: LoginMethod::Admin {
                admin_user: master.name.clone(),
                form,
            },
        };
        let targets = [
            target(Side::Source, "jdoe"),
            target(Side::Source, "nosuchuser"),
            target(Side::Source, "asmith"),
        ];
        let results = check(&vault, Side::Source, server.clone(), &targets).await;
        let statuses: Vec<Status> = results.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [Status::Ok, Status::NoSuchUser, Status::Ok],
            "{form:?}: {results:#?}"
        );
        assert_eq!(results[1].login_as.as_deref(), Some("nosuchuser"));
        assert!(results[1].message.contains("has no user nosuchuser"));

        // A wrong admin password: every account fails, and the advice points at the admin.
        vault
            .set(
                old.host(),
                &master.name,
                &Secret::new("wrong-master".into()),
            )
            .unwrap();
        let results = check(&vault, Side::Source, server, &targets).await;
        assert!(
            results.iter().all(|r| r.status == Status::WrongPassword),
            "{form:?}: {results:#?}"
        );
        assert!(results[0].advice.contains("admin password"));
    }
}

#[tokio::test]
async fn certificates_unpinned_pinned_and_changed() {
    let new = Dovecot::builder(Preset::Modern)
        .user("carol", "Carol-pw-4242")
        .start();
    let vault = MemoryVault::new();
    vault
        .set(new.host(), "carol", &Secret::new("Carol-pw-4242".into()))
        .unwrap();
    let targets = [target(Side::Destination, "carol")];

    // The test kit's certificate is signed by a per-run CA that no system trusts.
    let unpinned = Server {
        endpoint: Endpoint::tls(new.host(), new.imaps_port()),
        login: LoginMethod::UserPassword,
    };
    let results = check(&vault, Side::Destination, unpinned, &targets).await;
    assert_eq!(
        results[0].status,
        Status::CertificateProblem,
        "{results:#?}"
    );
    let cert = results[0]
        .certificate
        .as_ref()
        .expect("the certificate is shown");
    assert_eq!(cert.sha256, new.cert_sha256());
    assert!(results[0].advice.contains(&new.cert_sha256()));
    assert!(results[0].advice.contains("pin it for the destination"));

    // Pinned: accepted.
    let pinned_server = Server {
        endpoint: pinned(&new),
        login: LoginMethod::UserPassword,
    };
    let results = check(&vault, Side::Destination, pinned_server, &targets).await;
    assert_eq!(results[0].status, Status::Ok, "{results:#?}");

    // Pinned to another certificate (the server's was replaced): refused again.
    let other = Server {
        endpoint: Endpoint::tls(new.host(), new.imaps_port()).pinned("ab".repeat(32)),
        login: LoginMethod::UserPassword,
    };
    let results = check(&vault, Side::Destination, other, &targets).await;
    assert_eq!(
        results[0].status,
        Status::CertificateProblem,
        "{results:#?}"
    );
    assert_eq!(
        results[0].certificate.as_ref().unwrap().sha256,
        new.cert_sha256()
    );

    // STARTTLS on the other port, pinned the same way.
    let starttls = Server {
        endpoint: Endpoint::starttls(new.host(), new.imap_port()).pinned(new.cert_sha256()),
        login: LoginMethod::UserPassword,
    };
    let results = check(&vault, Side::Destination, starttls, &targets).await;
    assert_eq!(results[0].status, Status::Ok, "{results:#?}");
}

#[tokio::test]
async fn unreachable_port() {
    // A port that was just free: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let vault = MemoryVault::new();
    vault
        .set("127.0.0.1", "jdoe", &Secret::new("whatever-pw".into()))
        .unwrap();
    let server = Server {
        endpoint: Endpoint::tls("127.0.0.1", port),
        login: LoginMethod::UserPassword,
    };
    let started = Instant::now();
    let results = check(
        &vault,
        Side::Destination,
        server,
        &[target(Side::Destination, "jdoe")],
    )
    .await;
    assert_eq!(results[0].status, Status::Unreachable, "{results:#?}");
    assert!(
        results[0].advice.contains("firewall"),
        "{}",
        results[0].advice
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn too_many_connections() {
    let new = Dovecot::builder(Preset::Modern)
        .max_connections_per_user(1)
        .user("dave", "Dave-pw-1717")
        .start();
    let endpoint = pinned(&new);
    // dave's one allowed connection is taken by another client.
    let held = ferry_imap::connect_and_login(
        &endpoint,
        &Credentials::new("dave", SecretString::from("Dave-pw-1717".to_owned())),
        Timeouts::all(Duration::from_secs(10)),
    )
    .await
    .expect("first login");
    let vault = MemoryVault::new();
    vault
        .set(new.host(), "dave", &Secret::new("Dave-pw-1717".into()))
        .unwrap();
    let server = Server {
        endpoint,
        login: LoginMethod::UserPassword,
    };
    let results = check(
        &vault,
        Side::Destination,
        server.clone(),
        &[target(Side::Destination, "dave")],
    )
    .await;
    assert_eq!(
        results[0].status,
        Status::TooManyConnections,
        "{results:#?}"
    );
    assert!(!results[0].advice.is_empty());
    held.logout().await;
    // Once the other client is gone the same check passes.
    let start = Instant::now();
    loop {
        let results = check(
            &vault,
            Side::Destination,
            server.clone(),
            &[target(Side::Destination, "dave")],
        )
        .await;
        if results[0].status == Status::Ok {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{results:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn many_accounts_both_sides_in_parallel() {
    let old = Dovecot::start(Preset::OldMac);
    let mut builder = Dovecot::builder(Preset::Modern);
    let names: Vec<String> = (0..8).map(|i| format!("user{i}")).collect();
    for name in &names {
        builder = builder.user(name, &format!("Pw-{name}-x"));
    }
    let new = builder.start();
    let vault = MemoryVault::new();
    let master = old.master_user().clone();
    vault
        .set(
            old.host(),
            &master.name,
            &Secret::new(master.password.clone()),
        )
        .unwrap();
    let mut targets = Vec::new();
    for (i, name) in names.iter().enumerate() {
        // Every third destination password is wrong.
        let password = if i % 3 == 2 {
            "wrong".to_owned()
        } else {
            format!("Pw-{name}-x")
        };
        vault.set(new.host(), name, &Secret::new(password)).unwrap();
        targets.push(LoginTarget {
            account: format!("{name}@example.com"),
            side: Side::Destination,
            user: name.clone(),
        });
        targets.push(LoginTarget {
            account: format!("{name}@example.com"),
            side: Side::Source,
            user: if i == 0 {
                "jdoe".into()
            } else {
                "asmith".into()
            },
        });
    }
    let servers = BTreeMap::from([
        (
            Side::Source,
            Server {
                endpoint: pinned(&old),
                login: LoginMethod::Admin {
                    admin_user: master.name.clone(),
                    form: AdminForm::DovecotMaster,
                },
            },
        ),
        (
            Side::Destination,
            Server {
                endpoint: pinned(&new),
                login: LoginMethod::UserPassword,
            },
        ),
    ]);
    let results = check_logins(
        &vault,
        &servers,
        &targets,
        CheckOptions {
            parallel: 2,
            timeouts: Timeouts::all(Duration::from_secs(10)),
        },
    )
    .await;
    assert_eq!(results.len(), targets.len());
    for (i, (result, target)) in results.iter().zip(&targets).enumerate() {
        assert_eq!(result.account, target.account);
        assert_eq!(result.side, target.side);
        let expected = if target.side == Side::Destination && (i / 2) % 3 == 2 {
            Status::WrongPassword
        } else {
            Status::Ok
        };
        assert_eq!(result.status, expected, "{result:#?}");
    }
}
