//! Quarantine archive into an IMAP folder on a real Dovecot (the test kit's Modern preset): every
//! message read back byte-identical from the server, re-runs append nothing twice.

use std::io::Write;
use std::path::Path;

use ferry_cutover::imap_archive;
use ferry_cutover::mailflow;
use ferry_cutover::quarantine::{self, QuarantineMailbox};
use ferry_imap::types::{Credentials, Endpoint, Timeouts};
use ferry_imap::{Client, Session};
use ferry_testkit::{Dovecot, Preset};
use secrecy::SecretString;

fn mailboxes(root: &Path) -> Vec<QuarantineMailbox> {
    let accounts = mailflow::default_accounts(root);
    let training = quarantine::training_accounts(&accounts, &quarantine::TRAINING_ACCOUNTS);
    quarantine::find(root, &training).unwrap()
}

async fn login(server: &Dovecot, user: &str) -> Session {
    let endpoint = Endpoint::tls(server.host(), server.imaps_port()).pinned(server.cert_sha256());
    let creds = Credentials::new(user, SecretString::from(server.password(user).to_string()));
    Client::connect(&endpoint, Timeouts::default())
        .await
        .unwrap()
        .login(&creds)
        .await
        .unwrap()
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_into_a_destination_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(tmp.path());
    let server = Dovecot::start(Preset::Modern);
    let found = mailboxes(&root);

    let mut session = login(&server, "alice").await;
    let first = imap_archive::archive_to_imap(&mut session, "Quarantine", &found)
        .await
        .unwrap();
    assert!(first.complete(), "{first:?}");
    let folders = server.mailboxes("alice");
    for m in &found {
        let folder = format!("Quarantine/{}", m.label);
        assert!(folders.contains(&folder), "{folder} in {folders:?}");
        let report = first.mailboxes.iter().find(|r| r.label == m.label).unwrap();
        assert_eq!(report.destination, folder);
        assert_eq!(report.added as usize, m.items.len());
        let stored: Vec<Vec<u8>> = server
            .messages("alice", &folder)
            .into_iter()
            .map(|s| s.bytes)
            .collect();
        // Byte-identical to what the quarantine holds, in IMAP's CRLF form.
        let source: Vec<Vec<u8>> = m
            .items
            .iter()
            .map(|i| imap_archive::to_crlf(&quarantine::read_item(i).unwrap()))
            .collect();
        assert_eq!(sorted(stored), sorted(source), "{folder}");
    }
    // INTERNALDATE is the time the message reached the quarantine.
    let junk = found.iter().find(|m| m.label == "junkmail").unwrap();
    let stored = server.messages("alice", "Quarantine/junkmail");
    let mut dates: Vec<i64> = stored.iter().map(|s| s.internal_date).collect();
    dates.sort();
    let mut want: Vec<i64> = junk.items.iter().map(|i| i.at.timestamp()).collect();
    want.sort();
    assert_eq!(dates, want);

    // Again: nothing doubled.
    let again = imap_archive::archive_to_imap(&mut session, "Quarantine", &found)
        .await
        .unwrap();
    for r in &again.mailboxes {
        assert_eq!((r.added, r.already_there), (0, r.found), "{}", r.label);
    }
    assert_eq!(server.messages("alice", "Quarantine/virus").len(), 1);

    // A new spam arrives; only it is added.
    let spam_dir = root.join(quarantine::QUARANTINE_DIRS[1]);
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(spam_dir.join("spam-NewOne00001.gz")).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(b"Subject: new spam\r\n\r\nbuy\r\n").unwrap();
    gz.finish().unwrap();
    let third = imap_archive::archive_to_imap(&mut session, "Quarantine", &mailboxes(&root))
        .await
        .unwrap();
    let spam = third.mailboxes.iter().find(|r| r.label == "spam").unwrap();
    assert_eq!((spam.added, spam.already_there), (1, 1));
    let stored = server.messages("alice", "Quarantine/spam");
    assert_eq!(stored.len(), 2);
    assert!(stored
        .iter()
        .any(|s| s.bytes == b"Subject: new spam\r\n\r\nbuy\r\n"));
    session.logout().await;
}
