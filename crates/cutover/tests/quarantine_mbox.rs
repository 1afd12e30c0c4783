//! Quarantine archive as mbox files, from a materialized copy of the fixture: every message read
//! back byte-identical, re-runs add nothing twice, a source emptied by learn_junk_mail loses
//! nothing already archived.

use std::io::Write;
use std::path::Path;

use ferry_cutover::mailflow;
use ferry_cutover::mbox;
use ferry_cutover::quarantine::{self, MailboxKind, QuarantineMailbox};

fn mailboxes(root: &Path) -> Vec<QuarantineMailbox> {
    let accounts = mailflow::default_accounts(root);
    let training = quarantine::training_accounts(&accounts, &quarantine::TRAINING_ACCOUNTS);
    assert_eq!(training.len(), 2, "{accounts:?}");
    quarantine::find(root, &training).unwrap()
}

fn by_label<'a>(m: &'a [QuarantineMailbox], label: &str) -> &'a QuarantineMailbox {
    m.iter()
        .find(|m| m.label == label)
        .unwrap_or_else(|| panic!("no {label}"))
}

/// Every message of each mailbox, in order, as the source has it.
fn source_bytes(m: &QuarantineMailbox) -> Vec<Vec<u8>> {
    m.items
        .iter()
        .map(|i| quarantine::read_item(i).unwrap())
        .collect()
}

fn mbox_bytes(path: &Path) -> Vec<Vec<u8>> {
    mbox::parse(&std::fs::read(path).unwrap())
        .expect("an mbox")
        .into_iter()
        .map(|m| m.bytes)
        .collect()
}

#[test]
fn archives_round_trip_and_rerun() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(tmp.path());
    // A quarantined message whose body has lines mbox must escape.
    let virus_dir = root.join(quarantine::QUARANTINE_DIRS[0]);
    std::fs::write(
        virus_dir.join("virus-Zz9From0000"),
        b"X-Envelope-From: <x@bad.example>\nSubject: escapes\n\nFrom the start\n>From quoted\n>>From twice\nFrom\n",
    )
    .unwrap();

    let found = mailboxes(&root);
    assert_eq!(by_label(&found, "junkmail").items.len(), 2);
    assert_eq!(by_label(&found, "notjunkmail").items.len(), 0);
    assert_eq!(by_label(&found, "virus").items.len(), 2);
    assert_eq!(by_label(&found, "spam").items.len(), 1);
    assert!(by_label(&found, "spam").items[0].gzip);
    assert_eq!(by_label(&found, "virus").kind, MailboxKind::Virus);

    let out = tmp.path().join("archive");
    let first = quarantine::archive_to_mbox(&found, &out).unwrap();
    assert!(first.complete());
    for m in &found {
        let file = out.join(format!("{}.mbox", m.label));
        assert!(file.exists(), "{file:?}");
        let report = first.mailboxes.iter().find(|r| r.label == m.label).unwrap();
        assert_eq!(report.added as usize, m.items.len());
        // Round trip: what mbox gives back is exactly what the quarantine held.
        assert_eq!(mbox_bytes(&file), source_bytes(m), "{}", m.label);
    }
    // The gzip'd spam comes out as the plain message.
    let spam = mbox_bytes(&out.join("spam.mbox"));
    assert!(spam[0].starts_with(b"X-Envelope-From: <promo@bad.example>"));
    let raw = std::fs::read_to_string(out.join("virus.mbox")).unwrap();
    assert!(raw.contains("\n>From the start\n>>From quoted\n>>>From twice\nFrom\n"));
    assert!(
        raw.starts_with("From billing@invoice-fraud.example ")
            || raw.starts_with("From x@bad.example ")
    );

    // Again: nothing doubled.
    let again = quarantine::archive_to_mbox(&mailboxes(&root), &out).unwrap();
    for r in &again.mailboxes {
        assert_eq!(r.added, 0, "{}", r.label);
        assert_eq!(r.already_there, r.found);
    }
    assert_eq!(mbox_bytes(&out.join("junkmail.mbox")).len(), 2);

    // learn_junk_mail empties junkmail; a new spam arrives; archive once more.
    let junk = by_label(&found, "junkmail");
    let before = source_bytes(junk);
    for i in &junk.items {
        std::fs::remove_file(&i.path).unwrap();
    }
    let spam_dir = root.join(quarantine::QUARANTINE_DIRS[1]);
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(spam_dir.join("spam-NewOne00001.gz")).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(b"Subject: new spam\r\n\r\nbuy\r\n").unwrap();
    gz.finish().unwrap();
    let third = quarantine::archive_to_mbox(&mailboxes(&root), &out).unwrap();
    let spam_report = third.mailboxes.iter().find(|r| r.label == "spam").unwrap();
    assert_eq!((spam_report.added, spam_report.already_there), (1, 1));
    assert_eq!(mbox_bytes(&out.join("junkmail.mbox")), before);
    let spam = mbox_bytes(&out.join("spam.mbox"));
    assert_eq!(spam.len(), 2);
    assert_eq!(spam[1], b"Subject: new spam\r\n\r\nbuy\r\n");

    let json = serde_json::to_string(&third).unwrap();
    assert!(!json.contains("FAKE"));
}

#[test]
fn refuses_to_append_to_a_non_mbox() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(tmp.path());
    let out = tmp.path().join("archive");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("virus.mbox"), "not an mbox\n").unwrap();
    let err = quarantine::archive_to_mbox(&mailboxes(&root), &out).unwrap_err();
    assert!(
        err.to_string().contains("does not start with an mbox"),
        "{err}"
    );
}
