//! A message flagged `\Deleted` but not expunged in the old server's store: the store reader
//! leaves it out on purpose, and the summary says so ("copied 3, skipped 1" for a folder of 4).
//! Real Dovecot on both sides.

mod common;

use std::sync::Arc;

use common::*;
use ferry_sync::maildir::MaildirSource;
use ferry_sync::SyncOptions;
use ferry_testkit::{Dovecot, Preset};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_not_expunged_message_is_counted_as_skipped() {
    let src = Dovecot::start(Preset::OldMac);
    let dst = Dovecot::start(Preset::Modern);
    let messages: Vec<(Vec<u8>, i64)> = (0..4)
        .map(|i| (raw_message(9000 + i, 2_000), 1_700_000_000 + i as i64 * 60))
        .collect();
    seed_maildir(&src, "jdoe", "Four", &messages);
    let second = src.messages("jdoe", "Four")[1].uid;
    change_flags(&src, "jdoe", "Four", second, "add", "\\Deleted");

    let dir = tempfile::tempdir().unwrap();
    let st = state(&dir);
    let source =
        Arc::new(MaildirSource::open(src.mail_dir("jdoe"), Default::default()).expect("store"));
    let summary = ferry_sync::sync_account(
        source,
        side(&dst, "alice", 2),
        st.clone(),
        SyncOptions::default(),
        quiet(),
    )
    .await;
    assert!(summary.complete(), "{summary:#?}");
    let four = summary
        .folders
        .iter()
        .find(|f| f.source == "Four")
        .expect("the folder Four in the summary");
    assert_eq!(
        (four.copied, four.skipped, four.failed),
        (3, 1, 0),
        "{four:#?}"
    );
    assert_eq!(dst.messages("alice", "Four").len(), 3);
    // The account's total is the folders' sum (jdoe's fixture INBOX has deleted ones too).
    assert_eq!(
        summary.skipped,
        summary.folders.iter().map(|f| f.skipped).sum::<u64>()
    );
    let deleted_in_store: u64 = src
        .mailboxes("jdoe")
        .iter()
        .map(|m| {
            src.messages("jdoe", m)
                .iter()
                .filter(|x| x.flags.iter().any(|f| f == "\\Deleted"))
                .count() as u64
        })
        .sum();
    assert_eq!(summary.skipped, deleted_in_store);
}
