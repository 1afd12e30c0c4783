//! Accounts read over the old server's IMAP service instead of the store on disk: the service's
//! settings (validated, the pin kept as lowercase hex), the old server's password stored where
//! the sync reads it, the login check of exactly those accounts on the old server, and an initial
//! sync that copies such an account's mail over IMAP exactly once.

mod common;

use std::sync::Arc;

use common::{digests, FileVaultHost};
use ferry_project::destination::Security;
use ferry_project::jobs::{JobControl, JobKind};
use ferry_project::phases;
use ferry_project::phases::sync::SourceImap;
use ferry_project::plan::{AccountChange, SourceMethod};
use ferry_project::project::{LoginSide, Project};
use ferry_testkit::{Dovecot, Preset};
use ferry_vault::check::{Side, Status};
use ferry_vault::Secret;

fn imap(host: &str, port: u16, security: Security, pin: Option<&str>) -> SourceImap {
    SourceImap {
        host: host.into(),
        port,
        security,
        pinned_sha256: pin.map(str::to_string),
    }
}

#[test]
fn the_old_servers_imap_settings_are_checked_before_they_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut project = Project::open(&dir.path().join("migration.ferry")).unwrap();
    assert_eq!(phases::destination::source_imap(&project).unwrap(), None);

    let err =
        phases::destination::set_source_imap(&mut project, &imap("  ", 993, Security::Tls, None))
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Enter the old server's host name (for example mail.example.com)."
    );
    let err = phases::destination::set_source_imap(
        &mut project,
        &imap("mail.example.com", 143, Security::Plain, None),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Ferry does not send passwords without encryption across the network, and mail.example.com is not this computer. Choose TLS (port 993) or STARTTLS (port 143)."
    );
    let err = phases::destination::set_source_imap(
        &mut project,
        &imap("mail.example.com", 0, Security::Tls, None),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "The port must be a number from 1 to 65535 (IMAP over TLS uses 993)."
    );
    let err = phases::destination::set_source_imap(
        &mut project,
        &imap("mail.example.com", 993, Security::Tls, Some("AB:CD")),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "The certificate fingerprint must be a SHA-256 digest: 64 hexadecimal digits."
    );
    // Nothing was kept by the refused attempts.
    assert_eq!(phases::destination::source_imap(&project).unwrap(), None);

    let colons = vec!["AB"; 32].join(":");
    let kept = phases::destination::set_source_imap(
        &mut project,
        &imap(" mail.example.com ", 993, Security::Tls, Some(&colons)),
    )
    .unwrap();
    let expected = imap(
        "mail.example.com",
        993,
        Security::Tls,
        Some(&"ab".repeat(32)),
    );
    assert_eq!(kept, expected);
    assert_eq!(
        phases::destination::source_imap(&project).unwrap(),
        Some(expected)
    );

    // Without encryption only to this computer (an SSH tunnel, a test server); no pin then.
    let kept = phases::destination::set_source_imap(
        &mut project,
        &imap("127.0.0.1", 1143, Security::Plain, Some(&colons)),
    )
    .unwrap();
    assert_eq!(kept, imap("127.0.0.1", 1143, Security::Plain, None));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_read_over_imap_is_checked_there_and_copied_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let old = Dovecot::start(Preset::OldMac);
    let new = Dovecot::builder(Preset::Modern)
        .user("jane.doe@example.com", "pw-jane-new")
        .user("arthur.smith@example.com", "pw-arthur-new")
        .start();
    let host = FileVaultHost {
        vault_file: dir.path().join("vault"),
    };
    let path = dir.path().join("migration.ferry");
    let mut project = common::project_to(
        &path,
        &host,
        &old,
        &new,
        &["jane.doe@example.com", "arthur.smith@example.com"],
    );
    // jdoe is read over IMAP, asmith from the store on disk.
    let plan = phases::destination::change_account(
        &mut project,
        "jane.doe@example.com",
        &AccountChange::Method(SourceMethod::Imap),
    )
    .unwrap();
    let jdoe = plan
        .iter()
        .find(|a| a.source_address == "jane.doe@example.com")
        .unwrap();
    assert_eq!(
        (jdoe.login.as_str(), jdoe.method),
        ("jdoe", SourceMethod::Imap)
    );
    // Destination is not done while that account has no IMAP service to be read from.
    let destination_line = |project: &Project| {
        let line = ferry_project::status::status(project)
            .unwrap()
            .phases
            .into_iter()
            .find(|p| p.phase == ferry_project::store::Phase::Destination)
            .unwrap();
        (line.state, line.note.unwrap_or_default())
    };
    assert_eq!(
        destination_line(&project),
        (
            ferry_project::store::PhaseState::NeedsAttention,
            "1 account read over IMAP: enter how Ferry reaches the old server (below the accounts)"
                .to_string()
        )
    );

    // The source password needs the service first.
    let err = phases::credentials::set_source_password(
        &project,
        &host,
        "jane.doe@example.com",
        &Secret::new("x".into()),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Set up how Ferry reaches the old server over IMAP first (in Destination, below the accounts)."
    );
    // Before it is set up, the check says where to set it up (and checks no store account there).
    for (account, password) in [
        ("jane.doe@example.com", "pw-jane-new"),
        ("arthur.smith@example.com", "pw-arthur-new"),
    ] {
        phases::credentials::set_destination_password(
            &project,
            &host,
            account,
            &Secret::new(password.into()),
        )
        .unwrap();
    }
    let report = phases::credentials::check_logins(&mut project, &host)
        .await
        .unwrap();
    let seen: Vec<(&str, Side, Status)> = report
        .results
        .iter()
        .map(|r| (r.account.as_str(), r.side, r.status))
        .collect();
    assert_eq!(
        seen,
        [
            ("jane.doe@example.com", Side::Destination, Status::Ok),
            ("jane.doe@example.com", Side::Source, Status::Failed),
            ("arthur.smith@example.com", Side::Destination, Status::Ok),
        ]
    );
    assert_eq!(
        report.results[1].advice,
        "Enter how Ferry reaches the old server over IMAP in Destination, below the accounts (or read this account from the store on disk)."
    );
    assert_eq!(
        (report.ok, report.problems, report.source_from_store),
        (2, 1, false)
    );

    phases::destination::set_source_imap(
        &mut project,
        &imap(
            old.host(),
            old.imaps_port(),
            Security::Tls,
            Some(&old.cert_sha256()),
        ),
    )
    .unwrap();
    assert_eq!(
        destination_line(&project).0,
        ferry_project::store::PhaseState::Done
    );
    // A wrong password first: the check names it, on the old server's side only.
    phases::credentials::set_source_password(
        &project,
        &host,
        "jane.doe@example.com",
        &Secret::new("not-the-password".into()),
    )
    .unwrap();
    let report = phases::credentials::check_logins(&mut project, &host)
        .await
        .unwrap();
    let seen: Vec<(&str, Side, Status)> = report
        .results
        .iter()
        .map(|r| (r.account.as_str(), r.side, r.status))
        .collect();
    assert_eq!(
        seen,
        [
            ("jane.doe@example.com", Side::Destination, Status::Ok),
            ("jane.doe@example.com", Side::Source, Status::WrongPassword),
            ("arthur.smith@example.com", Side::Destination, Status::Ok),
        ]
    );
    assert_eq!(
        report.results[1].server,
        format!("{}:{}", old.host(), old.imaps_port())
    );
    assert_eq!(report.results[1].login, "jdoe");

    // The right one, under the key the sync reads: (old server's host, login).
    phases::credentials::set_source_password(
        &project,
        &host,
        "jane.doe@example.com",
        &Secret::new(old.password("jdoe").into()),
    )
    .unwrap();
    let stored = common::open_vault(&host.vault_file)
        .unwrap()
        .get(old.host(), "jdoe")
        .unwrap()
        .unwrap();
    assert_eq!(stored.expose(), old.password("jdoe"));
    let report = phases::credentials::check_logins(&mut project, &host)
        .await
        .unwrap();
    assert!(
        report.results.iter().all(|r| r.status == Status::Ok),
        "{:?}",
        report.results
    );
    assert_eq!(
        (report.ok, report.problems, report.source_from_store),
        (3, 0, false)
    );
    let checks = project.login_checks().unwrap();
    let source_checks: Vec<(&str, &str)> = checks
        .iter()
        .filter(|c| c.side == LoginSide::Source)
        .map(|c| (c.account.as_str(), c.status.as_str()))
        .collect();
    assert_eq!(source_checks, [("jane.doe@example.com", "ok")]);
    let status = ferry_project::status::status(&project).unwrap();
    let credentials = status
        .phases
        .iter()
        .find(|p| p.phase == ferry_project::store::Phase::Credentials)
        .unwrap();
    assert_eq!(credentials.note.as_deref(), Some("3 logins work"));
    drop(project);

    // The initial sync reads jdoe over IMAP (Dovecot's log shows its login) and asmith from disk.
    let before = old.log().matches("user=<jdoe>").count();
    for _ in 0..2 {
        let control = JobControl::new(JobKind::InitialSync);
        let report = phases::sync::run(&path, &host, &control, Arc::new(|_| {}), None)
            .await
            .unwrap();
        assert!(report.not_started.is_empty(), "{:?}", report.not_started);
    }
    assert!(
        old.log().matches("user=<jdoe>").count() > before,
        "the old server saw no IMAP login of jdoe"
    );
    assert_eq!(old.log().matches("user=<asmith>").count(), 0);
    // Every message once, byte for byte, after two runs.
    assert_eq!(digests(&new, "jane.doe@example.com"), digests(&old, "jdoe"));
    assert_eq!(
        digests(&new, "arthur.smith@example.com"),
        digests(&old, "asmith")
    );
}

/// The README's way for a server Ferry cannot run on: the initial sync from the copy's store, then
/// the last delta over the old server's IMAP service (new mail arrived after the copy). The
/// messages the store already gave are not copied again; the new one arrives once.
#[tokio::test(flavor = "multi_thread")]
async fn the_last_delta_over_imap_after_an_initial_sync_from_the_store_copies_only_the_new_mail() {
    let dir = tempfile::tempdir().unwrap();
    let old = Dovecot::start(Preset::OldMac);
    let new = Dovecot::builder(Preset::Modern)
        .user("jane.doe@example.com", "pw-jane-new")
        .start();
    let host = FileVaultHost {
        vault_file: dir.path().join("vault"),
    };
    let path = dir.path().join("migration.ferry");
    let mut project = common::project_to(&path, &host, &old, &new, &["jane.doe@example.com"]);
    phases::credentials::set_destination_password(
        &project,
        &host,
        "jane.doe@example.com",
        &Secret::new("pw-jane-new".into()),
    )
    .unwrap();
    phases::destination::set_source_imap(
        &mut project,
        &imap(
            old.host(),
            old.imaps_port(),
            Security::Tls,
            Some(&old.cert_sha256()),
        ),
    )
    .unwrap();
    phases::credentials::set_source_password(
        &project,
        &host,
        "jane.doe@example.com",
        &Secret::new(old.password("jdoe").into()),
    )
    .unwrap();
    drop(project);

    // initial sync from the store on disk
    let control = JobControl::new(JobKind::InitialSync);
    phases::sync::run(&path, &host, &control, Arc::new(|_| {}), None)
        .await
        .unwrap();
    let first = digests(&new, "jane.doe@example.com");
    assert_eq!(first, digests(&old, "jdoe"));
    let imap_logins = old.log().matches("user=<jdoe>").count();

    // mail arrives after the copy; the delta reads the old server over IMAP
    old.deliver(
        "jdoe",
        "INBOX",
        b"From: late@sender.example\r\nTo: jane.doe@example.com\r\nSubject: after the copy\r\nMessage-ID: <after-the-copy@sender.example>\r\nDate: Fri, 04 Dec 2026 21:00:00 +0000\r\n\r\nnew mail\r\n",
    );
    let mut project = Project::open(&path).unwrap();
    phases::destination::change_account(
        &mut project,
        "jane.doe@example.com",
        &AccountChange::Method(SourceMethod::Imap),
    )
    .unwrap();
    drop(project);
    let control = JobControl::new(JobKind::DeltaSync);
    let report = phases::sync::run(&path, &host, &control, Arc::new(|_| {}), None)
        .await
        .unwrap();
    assert!(report.not_started.is_empty(), "{:?}", report.not_started);
    assert!(old.log().matches("user=<jdoe>").count() > imap_logins);
    let after = digests(&new, "jane.doe@example.com");
    assert_eq!(after, digests(&old, "jdoe"));
    assert_eq!(
        after.len(),
        first.len() + 1,
        "only the new message was added"
    );
}
