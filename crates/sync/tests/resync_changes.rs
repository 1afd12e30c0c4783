//! Re-syncs after changes made between runs, against real Dovecot: flags changed on the old
//! server after a Maildir copy, and a destination folder deleted and recreated.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use ferry_sync::maildir::MaildirSource;
use ferry_sync::SyncOptions;
use ferry_testkit::{Dovecot, Preset};
use sha2::{Digest, Sha256};

fn maildir(src: &Dovecot, user: &str) -> Arc<MaildirSource> {
    Arc::new(MaildirSource::open(src.mail_dir(user), Default::default()).expect("store opens"))
}

async fn sync_maildir(
    s: &Arc<MaildirSource>,
    d: &Arc<ferry_sync::imap::ImapSide>,
    st: &ferry_sync::SharedState,
) -> ferry_sync::AccountSummary {
    ferry_sync::sync_account(
        s.clone(),
        d.clone(),
        st.clone(),
        SyncOptions::default(),
        quiet(),
    )
    .await
}

/// The old server's messages of a folder as the store reader yields them (without those flagged
/// `\Deleted`, which it leaves out on purpose).
fn live_fingerprints(src: &Dovecot, user: &str, folder: &str) -> Vec<Fingerprint> {
    fingerprints(src, user, folder)
        .into_iter()
        .filter(|f| !f.1.iter().any(|x| x == "\\Deleted"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maildir_flag_changes_after_the_copy_reach_the_destination_and_an_untouched_store_is_not_scanned(
) {
    let src = Dovecot::start(Preset::OldMac);
    let dst = Dovecot::start(Preset::Modern);
    let dir = tempfile::tempdir().unwrap();
    let st = state(&dir);
    let first = sync_maildir(&maildir(&src, "jdoe"), &side(&dst, "alice", 2), &st).await;
    assert!(first.complete(), "{first:#?}");
    assert!(first.copied >= 12, "{first:#?}");
    assert_eq!(
        fingerprints(&dst, "alice", "INBOX"),
        live_fingerprints(&src, "jdoe", "INBOX")
    );

    // On the old server, after the copy: flag one message and give it a keyword, mark another
    // unread. Dovecot renames their files in the store the Maildir source reads.
    let inbox: Vec<_> = src
        .messages("jdoe", "INBOX")
        .into_iter()
        .filter(|m| !m.flags.iter().any(|f| f == "\\Deleted"))
        .collect();
    let flagged = inbox
        .iter()
        .find(|m| !m.flags.iter().any(|f| f == "\\Flagged"))
        .expect("an unflagged message in jdoe's INBOX");
    let read = inbox
        .iter()
        .find(|m| m.uid != flagged.uid && m.flags.iter().any(|f| f == "\\Seen"))
        .expect("another, read message in jdoe's INBOX");
    change_flags(
        &src,
        "jdoe",
        "INBOX",
        flagged.uid,
        "add",
        "\\Flagged $Label1",
    );
    change_flags(&src, "jdoe", "INBOX", read.uid, "remove", "\\Seen");
    let want = live_fingerprints(&src, "jdoe", "INBOX");
    assert_ne!(
        fingerprints(&dst, "alice", "INBOX"),
        want,
        "the change must be visible before the re-run"
    );
    // Past the change token's racy window (100 ms), so that this run's token can vouch for the
    // next; with margin, because the IMAP read above lets Dovecot touch the store (uidlist,
    // new/ -> cur/) a moment after the session ends, later still on a loaded machine.
    std::thread::sleep(Duration::from_millis(1000));

    let (s2, d2) = (maildir(&src, "jdoe"), side(&dst, "alice", 2));
    let second = sync_maildir(&s2, &d2, &st).await;
    assert!(second.complete(), "{second:#?}");
    assert_eq!(second.copied, 0, "nothing copied again: {second:#?}");
    let inbox_summary = second.folders.iter().find(|f| f.source == "INBOX").unwrap();
    assert_eq!(inbox_summary.flags_updated, 2, "{second:#?}");
    assert!(!inbox_summary.unchanged);
    let dc = d2.command_counts();
    assert_eq!(dc.get("APPEND"), None, "destination commands: {dc:?}");
    assert!(dc.contains_key("UID STORE"), "destination commands: {dc:?}");
    // Bytes, dates and now flags are the old server's again.
    assert_eq!(fingerprints(&dst, "alice", "INBOX"), want);
    let on_dest = dst.messages("alice", "INBOX");
    assert!(on_dest.iter().any(
        |m| m.flags.iter().any(|f| f == "$Label1") && m.flags.iter().any(|f| f == "\\Flagged")
    ));

    // Nothing changed since: every folder unchanged, known from its token without a scan.
    let (s3, d3) = (maildir(&src, "jdoe"), side(&dst, "alice", 2));
    let third = sync_maildir(&s3, &d3, &st).await;
    assert!(third.complete(), "{third:#?}");
    assert_eq!(third.copied, 0);
    assert!(third.folders.iter().all(|f| f.unchanged), "{third:#?}");
    assert_eq!(s3.scans(), 0, "an untouched store is not scanned");
    let dc = d3.command_counts();
    assert_eq!(dc.get("UID STORE"), None, "destination commands: {dc:?}");
    assert_eq!(dc.get("UID FETCH"), None, "destination commands: {dc:?}");
    assert_eq!(dc.get("APPEND"), None, "destination commands: {dc:?}");

    // A store copied off the Mac has no Dovecot to ask: a flag change there is a rename of the
    // file's `:2,` suffix. Mark a read message unread that way.
    let cur = src.mail_dir("jdoe").join("cur");
    let (from, to) = std::fs::read_dir(&cur)
        .unwrap()
        .filter_map(|e| e.ok())
        .find_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let (base, info) = name.rsplit_once(":2,")?;
            (info.contains('S') && !info.contains('T'))
                .then(|| (name.clone(), format!("{base}:2,{}", info.replace('S', ""))))
        })
        .expect("a read message in jdoe's INBOX");
    std::fs::rename(cur.join(&from), cur.join(&to)).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    let (s4, d4) = (maildir(&src, "jdoe"), side(&dst, "alice", 2));
    let fourth = sync_maildir(&s4, &d4, &st).await;
    assert!(fourth.complete(), "{fourth:#?}");
    assert_eq!(fourth.copied, 0, "{fourth:#?}");
    let changed: Vec<_> = fourth.folders.iter().filter(|f| !f.unchanged).collect();
    assert_eq!(changed.len(), 1, "only the INBOX was touched: {changed:#?}");
    assert_eq!(changed[0].source, "INBOX");
    assert_eq!(changed[0].flags_updated, 1, "{fourth:#?}");
    assert_eq!(s4.scans(), 1, "only the touched folder is scanned");
    assert_eq!(
        fingerprints(&dst, "alice", "INBOX"),
        live_fingerprints(&src, "jdoe", "INBOX")
    );

    // New mail on the old server: the delta copies exactly it.
    src.deliver("jdoe", "INBOX", &raw_message(7, 600));
    let fifth = sync_maildir(&maildir(&src, "jdoe"), &side(&dst, "alice", 2), &st).await;
    assert!(fifth.complete(), "{fifth:#?}");
    assert_eq!(fifth.copied, 1, "{fifth:#?}");
    assert_eq!(
        fingerprints(&dst, "alice", "INBOX"),
        live_fingerprints(&src, "jdoe", "INBOX")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recreated_destination_folder_gets_back_exactly_the_messages_it_lost() {
    let src = Dovecot::start(Preset::OldMac);
    let dst = Dovecot::start(Preset::Modern);
    for i in 0..5 {
        src.deliver("jdoe", "Projects", &raw_message(i, 400));
    }
    // The same message twice: the destination must end with it twice, not once or three times.
    src.deliver("jdoe", "Projects", &raw_message(2, 400));
    for i in 10..12 {
        src.deliver("jdoe", "Clients", &raw_message(i, 400));
    }
    let dir = tempfile::tempdir().unwrap();
    let st = state(&dir);
    let first = sync(
        &side(&src, "jdoe", 2),
        &side(&dst, "alice", 2),
        &st,
        SyncOptions::default(),
    )
    .await;
    assert!(first.complete(), "{first:#?}");
    assert_eq!(first.plan.dest_for("Projects").unwrap().dest, "Projects");
    assert_eq!(dst.messages("alice", "Projects").len(), 6);

    let uidvalidity = || {
        dst.doveadm(&[
            "-f",
            "flow",
            "mailbox",
            "status",
            "-u",
            "alice",
            "uidvalidity",
            "Projects",
        ])
    };
    let before = uidvalidity();
    // The admin deletes and recreates the folder on the new host and puts a few messages back
    // (one of the two copies of message 2), plus one of the user's own.
    dst.doveadm(&["mailbox", "delete", "-u", "alice", "Projects"]);
    // Another folder is deleted and not recreated: the next run creates it and fills it again.
    dst.doveadm(&["mailbox", "delete", "-u", "alice", "Clients"]);
    std::thread::sleep(Duration::from_millis(1100));
    for i in [0, 2, 3] {
        dst.deliver("alice", "Projects", &raw_message(i, 400));
    }
    dst.deliver("alice", "Projects", &raw_message(900, 400));
    assert_ne!(before, uidvalidity(), "the test needs a new UIDVALIDITY");

    // A dry run tells what would be copied again, and changes nothing anywhere.
    let dry = sync(
        &side(&src, "jdoe", 2),
        &side(&dst, "alice", 2),
        &st,
        SyncOptions {
            dry_run: true,
            ..SyncOptions::default()
        },
    )
    .await;
    assert_eq!(dry.recopied_after_dest_reset, 5, "{dry:#?}");
    assert_eq!(dst.messages("alice", "Projects").len(), 4);
    assert!(!dst.mailboxes("alice").iter().any(|m| m == "Clients"));

    let (s2, d2) = (side(&src, "jdoe", 2), side(&dst, "alice", 2));
    let second = sync(&s2, &d2, &st, SyncOptions::default()).await;
    assert!(second.complete(), "{second:#?}");
    assert_eq!(
        second.copied, 5,
        "Projects' 1, 4 and second 2, Clients' two: {second:#?}"
    );
    assert_eq!(second.recopied_after_dest_reset, 5, "{second:#?}");
    let folder = |name: &str| second.folders.iter().find(|f| f.source == name).unwrap();
    assert_eq!(folder("Projects").recopied_after_dest_reset, 3);
    assert_eq!(folder("Projects").copied, 3);
    assert_eq!(folder("Clients").recopied_after_dest_reset, 2);
    assert!(second
        .folders
        .iter()
        .filter(|f| f.source != "Projects" && f.source != "Clients")
        .all(|f| f.copied == 0 && f.recopied_after_dest_reset == 0));

    // Every source message exactly once (by bytes), and the user's own message kept.
    let digest = |b: &[u8]| hex::encode(Sha256::digest(b));
    let mut want: BTreeMap<String, usize> = BTreeMap::new();
    for m in src.messages("jdoe", "Projects") {
        *want.entry(digest(&m.bytes)).or_default() += 1;
    }
    *want.entry(digest(&raw_message(900, 400))).or_default() += 1;
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    for m in dst.messages("alice", "Projects") {
        *got.entry(digest(&m.bytes)).or_default() += 1;
    }
    assert_eq!(got, want);
    assert_eq!(
        fingerprints(&dst, "alice", "Clients"),
        fingerprints(&src, "jdoe", "Clients")
    );

    // The ledger is whole again: a further run copies nothing and finds nothing to redo.
    let third = sync(
        &side(&src, "jdoe", 2),
        &side(&dst, "alice", 2),
        &st,
        SyncOptions::default(),
    )
    .await;
    assert!(third.complete(), "{third:#?}");
    assert_eq!(third.copied, 0, "{third:#?}");
    assert_eq!(third.recopied_after_dest_reset, 0, "{third:#?}");
    assert_eq!(dst.messages("alice", "Projects").len(), 7);
}
