//! The engine against real Dovecot servers: the fixture's old Mac as source, modern and prefixed
//! hosts as destinations.

mod common;

use std::time::Duration;

use common::*;
use ferry_sync::{ErrorClass, SyncOptions};
use ferry_testkit::{Dovecot, FaultProxy, Preset};

/// Every message of every mapped source folder is in its destination folder with the same bytes,
/// flags and date, exactly as many times as on the source.
fn assert_faithful(
    src: &Dovecot,
    src_user: &str,
    dst: &Dovecot,
    dst_user: &str,
    summary: &ferry_sync::AccountSummary,
) {
    let expected = expected_by_dest(src, src_user, summary);
    for (dest, want) in &expected {
        let got = fingerprints(dst, dst_user, dest);
        assert_eq!(
            &got, want,
            "destination folder {dest:?} differs from its source folders"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_to_modern_arrives_faithfully_and_a_second_run_copies_nothing() {
    let src = Dovecot::start(Preset::OldMac);
    let dst = Dovecot::start(Preset::Modern);
    let dir = tempfile::tempdir().unwrap();
    let st = state(&dir);
    let (s, d) = (side(&src, "jdoe", 3), side(&dst, "alice", 3));
    let first = sync(&s, &d, &st, SyncOptions::default()).await;
    assert!(first.complete(), "first run not complete: {first:#?}");
    let expected = expected_by_dest(&src, "jdoe", &first);
    assert!(
        total(&expected) >= 12,
        "the fixture's jdoe has at least 12 messages"
    );
    assert_eq!(first.copied, total(&expected));
    assert_faithful(&src, "jdoe", &dst, "alice", &first);
    // Apple names landed in the destination's special folders.
    let dest_of = |name: &str| first.plan.dest_for(name).map(|m| m.dest.clone());
    assert_eq!(dest_of("Sent Messages").as_deref(), Some("Sent"));
    assert_eq!(dest_of("Deleted Messages").as_deref(), Some("Trash"));
    assert_eq!(dest_of("Archive.2018").as_deref(), Some("Archive/2018"));
    // The source was only read: its messages and flags are unchanged.
    for m in &first.plan.folders {
        let before = fingerprints(&src, "jdoe", &m.source);
        assert_eq!(
            before.len() as u32,
            first
                .folders
                .iter()
                .find(|f| f.source == m.source)
                .unwrap()
                .source_messages
        );
    }

    // Second run, fresh connections: nothing copied, no message fetched on either side.
    let (s2, d2) = (side(&src, "jdoe", 3), side(&dst, "alice", 3));
    let second = sync(&s2, &d2, &st, SyncOptions::default()).await;
    assert!(second.complete(), "{second:#?}");
    assert_eq!(second.copied, 0);
    assert!(
        second.folders.iter().all(|f| f.unchanged),
        "{:#?}",
        second.folders
    );
    let sc = s2.command_counts();
    let dc = d2.command_counts();
    assert_eq!(sc.get("UID FETCH"), None, "source commands: {sc:?}");
    assert_eq!(sc.get("EXAMINE"), None, "source commands: {sc:?}");
    // Both Dovecots offer LIST-STATUS: each side's statuses come with its one LIST, so an
    // unchanged account costs no STATUS at all (the destination's are read for a recreated
    // folder's new UIDVALIDITY).
    assert_eq!(sc.get("STATUS"), None, "source commands: {sc:?}");
    assert_eq!(sc.get("LIST"), Some(&1), "source commands: {sc:?}");
    assert_eq!(dc.get("STATUS"), None, "destination commands: {dc:?}");
    assert_eq!(dc.get("LIST"), Some(&1), "destination commands: {dc:?}");
    assert_eq!(dc.get("APPEND"), None, "destination commands: {dc:?}");
    assert_eq!(dc.get("UID FETCH"), None, "destination commands: {dc:?}");
    assert_faithful(&src, "jdoe", &dst, "alice", &first);

    // A new message on the source: the delta copies exactly that one.
    src.deliver("jdoe", "INBOX", &raw_message(1, 500));
    let (s3, d3) = (side(&src, "jdoe", 2), side(&dst, "alice", 2));
    let third = sync(&s3, &d3, &st, SyncOptions::default()).await;
    assert_eq!(third.copied, 1, "{third:#?}");
    assert_faithful(&src, "jdoe", &dst, "alice", &first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_source_folders_with_one_role_land_in_one_prefixed_folder() {
    let src = Dovecot::start(Preset::OldMac);
    let dst = Dovecot::start(Preset::Prefixed);
    let dir = tempfile::tempdir().unwrap();
    let st = state(&dir);
    let (s, d) = (side(&src, "asmith", 2), side(&dst, "bob", 2));
    let summary = sync(&s, &d, &st, SyncOptions::default()).await;
    assert!(summary.complete(), "{summary:#?}");
    let sent_items = summary.plan.dest_for("Sent Items").unwrap().dest.clone();
    let sent_messages = summary.plan.dest_for("Sent Messages").unwrap().dest.clone();
    assert_eq!(sent_items, sent_messages);
    assert!(sent_items.starts_with("INBOX."), "{sent_items}");
    assert_eq!(
        summary.plan.dest_for("Deleted Items").unwrap().dest,
        "INBOX.Trash"
    );
    assert_faithful(&src, "asmith", &dst, "bob", &summary);
    let again = sync(
        &side(&src, "asmith", 2),
        &side(&dst, "bob", 2),
        &st,
        SyncOptions::default(),
    )
    .await;
    assert_eq!(again.copied, 0, "{again:#?}");
    assert_faithful(&src, "asmith", &dst, "bob", &summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bmueller_unicode_folders_go_to_prefixed_destination() {
    let src = Dovecot::start(Preset::OldMac);
    let dst = Dovecot::start(Preset::Prefixed);
    let dir = tempfile::tempdir().unwrap();
    let st = state(&dir);
    let summary = sync(
        &side(&src, "bmueller", 2),
        &side(&dst, "bob", 2),
        &st,
        SyncOptions::default(),
    )
    .await;
    assert!(summary.complete(), "{summary:#?}");
    assert!(
        summary
            .plan
            .folders
            .iter()
            .any(|m| m.dest == "INBOX.Entwürfe Kunden"),
        "{:#?}",
        summary.plan
    );
    assert!(
        summary
            .plan
            .folders
            .iter()
            .any(|m| m.dest == "INBOX.Rechnungen.2018"),
        "{:#?}",
        summary.plan
    );
    assert_faithful(&src, "bmueller", &dst, "bob", &summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_that_already_holds_some_mail_gets_only_the_rest() {
    let src = Dovecot::start(Preset::Modern);
    let dst = Dovecot::start(Preset::Modern);
    for i in 0..10 {
        src.deliver("alice", "INBOX", &raw_message(i, 300));
    }
    // The same message twice on the source: both copies must arrive.
    src.deliver("alice", "INBOX", &raw_message(3, 300));
    // The user started early on the new host: three of them are there already, plus other mail.
    for i in [0, 3, 7] {
        dst.deliver("bob", "INBOX", &raw_message(i, 300));
    }
    dst.deliver("bob", "INBOX", &raw_message(100, 300));
    let dir = tempfile::tempdir().unwrap();
    let st = state(&dir);
    let summary = sync(
        &side(&src, "alice", 2),
        &side(&dst, "bob", 2),
        &st,
        SyncOptions::default(),
    )
    .await;
    assert!(summary.complete(), "{summary:#?}");
    assert_eq!(summary.already_there, 3);
    assert_eq!(summary.copied, 8);
    let got = dst.messages("bob", "INBOX");
    assert_eq!(got.len(), 12);
    let count = |i: usize| {
        got.iter()
            .filter(|m| m.bytes == raw_message(i, 300))
            .count()
    };
    assert_eq!(count(3), 2, "the source holds message 3 twice");
    assert_eq!(count(0), 1);
    assert_eq!(count(100), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_uidvalidity_change_re_identifies_instead_of_re_copying() {
    let src = Dovecot::start(Preset::Modern);
    let dst = Dovecot::start(Preset::Modern);
    src.deliver("alice", "Projects", &raw_message(1, 300));
    src.deliver("alice", "Projects", &raw_message(2, 300));
    let dir = tempfile::tempdir().unwrap();
    let st = state(&dir);
    let first = sync(
        &side(&src, "alice", 2),
        &side(&dst, "bob", 2),
        &st,
        SyncOptions::default(),
    )
    .await;
    assert_eq!(first.copied, 2, "{first:#?}");
    let uv = |s: &Dovecot| {
        s.doveadm(&[
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
    let before = uv(&src);
    // The folder is rebuilt (as a restore or a server move does): same mail, new UIDVALIDITY.
    src.doveadm(&["mailbox", "delete", "-u", "alice", "Projects"]);
    std::thread::sleep(Duration::from_millis(1100));
    src.deliver("alice", "Projects", &raw_message(1, 300));
    src.deliver("alice", "Projects", &raw_message(2, 300));
    src.deliver("alice", "Projects", &raw_message(3, 300));
    assert_ne!(before, uv(&src), "the test needs a new UIDVALIDITY");
    let second = sync(
        &side(&src, "alice", 2),
        &side(&dst, "bob", 2),
        &st,
        SyncOptions::default(),
    )
    .await;
    assert_eq!(second.copied, 1, "only the new message: {second:#?}");
    assert_eq!(dst.messages("bob", "Projects").len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_quota_gives_per_message_errors_and_nothing_is_lost() {
    let src = Dovecot::start(Preset::Modern);
    let dst = Dovecot::builder(Preset::Modern)
        .quota_bytes("bob", 20_000)
        .start();
    for i in 0..12 {
        src.deliver("alice", "INBOX", &raw_message(i, 3_000));
    }
    let dir = tempfile::tempdir().unwrap();
    let st = state(&dir);
    let summary = sync(
        &side(&src, "alice", 2),
        &side(&dst, "bob", 2),
        &st,
        SyncOptions::default(),
    )
    .await;
    assert!(!summary.complete(), "a full mailbox cannot be complete");
    assert!(summary.fatal.is_none(), "{summary:#?}");
    let on_dest = dst.messages("bob", "INBOX").len() as u64;
    assert!(on_dest > 0 && on_dest < 12, "{on_dest}");
    assert_eq!(summary.copied, on_dest);
    let over: Vec<_> = summary
        .failures
        .iter()
        .filter(|f| f.class == ErrorClass::OverQuota)
        .collect();
    assert_eq!(over.len() as u64 + on_dest, 12, "{:#?}", summary.failures);
    assert!(over.iter().all(|f| f.uid.is_some()
        && f.size > 0
        && f.subject.is_some()
        && !f.server_text.is_empty()));
    // Run again: still full, the same ones fail, nothing doubles.
    let again = sync(
        &side(&src, "alice", 2),
        &side(&dst, "bob", 2),
        &st,
        SyncOptions::default(),
    )
    .await;
    assert_eq!(again.copied, 0);
    assert_eq!(dst.messages("bob", "INBOX").len() as u64, on_dest);
    assert_eq!(again.failed, over.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_big_messages_are_skipped_and_listed() {
    let src = Dovecot::start(Preset::Modern);
    let dst = Dovecot::builder(Preset::Modern)
        .max_message_size(20_000)
        .start();
    src.deliver("alice", "INBOX", &raw_message(1, 1_000));
    src.deliver("alice", "INBOX", &raw_message(2, 50_000));
    src.deliver("alice", "INBOX", &raw_message(3, 1_000));
    let dir = tempfile::tempdir().unwrap();
    let st = state(&dir);
    let summary = sync(
        &side(&src, "alice", 2),
        &side(&dst, "bob", 2),
        &st,
        SyncOptions::default(),
    )
    .await;
    assert_eq!(summary.copied, 2, "{summary:#?}");
    assert_eq!(summary.skipped, 1, "{summary:#?}");
    let skipped: Vec<_> = summary
        .failures
        .iter()
        .filter(|f| f.class == ErrorClass::TooBig)
        .collect();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].subject.as_deref(), Some("message 2"));
    assert!(skipped[0].size >= 50_000);
    assert!(skipped[0].date.is_some());
    assert!(
        summary.complete(),
        "a too-big skip is listed, not a failure: {summary:#?}"
    );
    assert_eq!(dst.messages("bob", "INBOX").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_mid_append_is_survived_exactly_once() {
    let src = Dovecot::start(Preset::Modern);
    let dst = Dovecot::start(Preset::Modern);
    for i in 0..40 {
        src.deliver("alice", "INBOX", &raw_message(i, 20_000));
    }
    let proxy = std::sync::Arc::new(FaultProxy::start(dst.imaps_port()));
    // Cut in the middle of the uploads (~800 kB go up), then let the retry reconnect.
    proxy.cut_after_bytes(300_000);
    let watcher = {
        let proxy = proxy.clone();
        std::thread::spawn(move || {
            let start = std::time::Instant::now();
            while proxy.bytes_forwarded() < 300_000 && start.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(200));
            proxy.resume();
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let st = state(&dir);
    let d = side_on_port(&dst, proxy.port(), "bob", 2);
    let opts = SyncOptions {
        batch_messages: 8,
        backoff: Duration::from_millis(300),
        ..SyncOptions::default()
    };
    let summary = sync(&side(&src, "alice", 2), &d, &st, opts).await;
    watcher.join().unwrap();
    assert!(summary.complete(), "{summary:#?}");
    assert!(
        proxy.connections() > 2,
        "the cut must have forced new connections"
    );
    let got = dst.messages("bob", "INBOX");
    assert_eq!(got.len(), 40, "exactly once after the cut");
    for i in 0..40 {
        assert_eq!(
            got.iter()
                .filter(|m| m.bytes == raw_message(i, 20_000))
                .count(),
            1,
            "message {i}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_exactly_the_missing_message() {
    let src = Dovecot::start(Preset::Modern);
    let dst = Dovecot::start(Preset::Modern);
    for i in 0..5 {
        src.deliver("alice", "INBOX", &raw_message(i, 400));
    }
    src.deliver("alice", "INBOX", &raw_message(2, 400));
    src.deliver("alice", "Sent", &raw_message(9, 400));
    let dir = tempfile::tempdir().unwrap();
    let st = state(&dir);
    let summary = sync(
        &side(&src, "alice", 2),
        &side(&dst, "bob", 2),
        &st,
        SyncOptions::default(),
    )
    .await;
    assert!(summary.complete());
    let rules = ferry_sync::mapping::MappingRules::default();
    let v = ferry_sync::verify_account(
        side(&src, "alice", 1),
        side(&dst, "bob", 1),
        Some(st.clone()),
        &rules,
    )
    .await
    .unwrap();
    assert!(v.ok(), "{v:#?}");
    assert_eq!(v.source_messages, 7);
    // One of the two copies of message 2 disappears on the destination.
    let uid = dst
        .messages("bob", "INBOX")
        .into_iter()
        .find(|m| m.bytes == raw_message(2, 400))
        .unwrap()
        .uid;
    dst.doveadm(&[
        "expunge",
        "-u",
        "bob",
        "mailbox",
        "INBOX",
        "uid",
        &uid.to_string(),
    ]);
    let v = ferry_sync::verify_account(
        side(&src, "alice", 1),
        side(&dst, "bob", 1),
        Some(st.clone()),
        &rules,
    )
    .await
    .unwrap();
    assert_eq!(v.missing, 1, "{v:#?}");
    let inbox = v.folders.iter().find(|f| f.dest == "INBOX").unwrap();
    assert_eq!(inbox.missing[0].folder, "INBOX");
    assert_eq!(inbox.source_messages, 6);
    assert_eq!(inbox.dest_matching, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maildir_source_gives_the_same_bytes_as_the_old_server_over_imap() {
    let src = Dovecot::start(Preset::OldMac);
    let dst = Dovecot::start(Preset::Modern);
    let dir = tempfile::tempdir().unwrap();
    let st = state(&dir);
    let store =
        ferry_sync::maildir::MaildirSource::open(src.mail_dir("jdoe"), Default::default()).unwrap();
    let s = std::sync::Arc::new(store);
    let d = side(&dst, "alice", 3);
    let first = ferry_sync::sync_account(
        s.clone(),
        d.clone(),
        st.clone(),
        SyncOptions::default(),
        quiet(),
    )
    .await;
    assert!(first.complete(), "{first:#?}");
    assert!(first.copied >= 12, "{first:#?}");
    // What the old server serves over IMAP for each folder is what arrived (names: '/' from the
    // store reader, '.' on the old server).
    for m in &first.plan.folders {
        let imap_name = m.source.replace('/', ".");
        let want = fingerprints(&src, "jdoe", &imap_name);
        let got: Vec<_> = fingerprints(&dst, "alice", &m.dest);
        for f in &want {
            // Messages flagged \Deleted are left out by the store reader on purpose.
            if f.1.iter().any(|x| x == "\\Deleted") {
                continue;
            }
            assert!(
                got.iter().any(|g| g == f),
                "{} missing in {}: {f:?}",
                m.source,
                m.dest
            );
        }
    }
    let again = ferry_sync::sync_account(s, d, st, SyncOptions::default(), quiet()).await;
    assert_eq!(again.copied, 0, "{again:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flag_changes_on_the_source_reach_the_destination_without_copying_again() {
    let src = Dovecot::start(Preset::OldMac);
    let dst = Dovecot::start(Preset::Modern);
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
    assert_faithful(&src, "jdoe", &dst, "alice", &first);

    // Change flags on the source: flag one message, mark another unread, add a keyword.
    let inbox = src.messages("jdoe", "INBOX");
    assert!(inbox.len() >= 2, "jdoe's INBOX has at least two messages");
    change_flags(
        &src,
        "jdoe",
        "INBOX",
        inbox[0].uid,
        "add",
        "\\Flagged $Label1",
    );
    change_flags(&src, "jdoe", "INBOX", inbox[1].uid, "replace", "\\Answered");
    let changed = src.messages("jdoe", "INBOX");
    assert!(
        changed[0].flags.iter().any(|f| f == "\\Flagged"),
        "{changed:?}"
    );
    assert_ne!(
        fingerprints(&src, "jdoe", "INBOX"),
        fingerprints(&dst, "alice", "INBOX"),
        "the change must be visible before the re-run"
    );

    let (s2, d2) = (side(&src, "jdoe", 2), side(&dst, "alice", 2));
    let second = sync(&s2, &d2, &st, SyncOptions::default()).await;
    assert!(second.complete(), "{second:#?}");
    assert_eq!(second.copied, 0, "{second:#?}");
    let inbox_summary = second.folders.iter().find(|f| f.source == "INBOX").unwrap();
    assert_eq!(inbox_summary.flags_updated, 2, "{second:#?}");
    assert_eq!(d2.command_counts().get("APPEND"), None);
    // Bytes, dates and now flags match everywhere again.
    assert_faithful(&src, "jdoe", &dst, "alice", &first);

    // Nothing changed since: every folder unchanged, no FETCH or STORE anywhere.
    let (s3, d3) = (side(&src, "jdoe", 2), side(&dst, "alice", 2));
    let third = sync(&s3, &d3, &st, SyncOptions::default()).await;
    assert!(third.folders.iter().all(|f| f.unchanged), "{third:#?}");
    let (sc, dc) = (s3.command_counts(), d3.command_counts());
    assert_eq!(sc.get("UID FETCH"), None, "source commands: {sc:?}");
    assert_eq!(dc.get("UID STORE"), None, "destination commands: {dc:?}");
    assert_eq!(dc.get("UID FETCH"), None, "destination commands: {dc:?}");
}
