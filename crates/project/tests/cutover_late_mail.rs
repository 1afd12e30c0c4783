//! Mail that reaches the old store after the cut-over: the mail-flow check reports it, and the
//! next sync run copies it (and only it) to the destination. Real Dovecot (Modern preset).

use std::sync::Arc;

use chrono::Utc;
use ferry_project::cutover::{self, LogZone, MailflowRequest};
use ferry_project::sync::{self, AccountPair, ImapAccount, RunOptions, SourceSpec};
use ferry_testkit::{Dovecot, Preset};
use secrecy::SecretString;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_arrival_is_reported_then_synced() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(tmp.path());
    let server = Dovecot::builder(Preset::Modern)
        .user("jdoe", "pw-jdoe")
        .start();
    let store = root.join("Library/Server/Mail/Data/mail/3F2A6C1E-8B4D-4E7A-9C21-5D0B7E6F1A23");
    let pair = || AccountPair {
        source: SourceSpec::Maildir(store.clone()),
        dest: ImapAccount {
            endpoint: ferry_project::cutover::ImapEndpoint::tls(server.host(), server.imaps_port())
                .pinned(server.cert_sha256()),
            user: "jdoe".into(),
            password: SecretString::from("pw-jdoe".to_string()),
            oauth: None,
        },
    };
    let opts = || RunOptions {
        state: Some(tmp.path().join("state.sqlite")),
        ..RunOptions::default()
    };
    let first = sync::run_sync(vec![pair()], opts(), Arc::new(|_: &_| ()))
        .await
        .unwrap();
    assert!(first.copied > 0, "{first:?}");
    let inbox_before = server.messages("jdoe", "INBOX").len();

    // The MX is switched; then a sender with a cached MX still delivers to the old server.
    let cutover_at = Utc::now() - chrono::Duration::seconds(5);
    let late = b"From: late@sender.example\nTo: jane.doe@example.com\nSubject: after the switch\nMessage-ID: <late-after-cutover@sender.example>\n\nstill here\n";
    let name = format!(
        "{}.M1P4242.mail.example.com,S={}",
        Utc::now().timestamp(),
        late.len()
    );
    std::fs::write(store.join("new").join(&name), late).unwrap();

    let req = MailflowRequest {
        cutover: Some(cutover_at),
        zone: LogZone::Fixed(3600),
        year_of_last_line: Some(2019),
        ..MailflowRequest::default()
    };
    let report = cutover::mailflow(&root, &req, Utc::now()).unwrap();
    assert_eq!(report.late_arrivals.len(), 1, "{:?}", report.late_arrivals);
    assert_eq!(report.late_arrivals[0].account, "jdoe");
    assert_eq!(report.late_arrivals[0].file, name);
    assert!(!report.quiet);

    // The delta sync copies exactly the late message.
    let delta = sync::run_sync(vec![pair()], opts(), Arc::new(|_: &_| ()))
        .await
        .unwrap();
    assert_eq!(delta.copied, 1, "{delta:?}");
    let inbox = server.messages("jdoe", "INBOX");
    assert_eq!(inbox.len(), inbox_before + 1);
    assert!(inbox
        .iter()
        .any(|m| m.bytes.windows(10).any(|w| w == b"still here")));
}
