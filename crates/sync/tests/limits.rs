//! The engine under the limits of real hosts, against real Dovecot servers: a run cancelled
//! mid-copy, a daily upload budget with a clock the test moves, a server that throttles (a
//! fault injector speaking IMAP in front of a real Dovecot), and messages above a preset's size
//! limit.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use ferry_imap::{Credentials, Endpoint};
use ferry_sync::imap::ImapSide;
use ferry_sync::{
    days_needed, AccountSummary, DailyBudget, ErrorClass, ManualClock, Progress, SyncOptions,
};
use ferry_testkit::{Dovecot, Preset, Refusal, ThrottleProxy};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// A message of exactly `size` bytes (CRLF line ends), unique by `i`.
fn message_of_size(i: usize, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Sender {i} <s{i}@example.com>\r\nTo: alice@example.net\r\nSubject: limits {i}\r\n\
         Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <limits{i}@test.example>\r\n\r\n"
    )
    .into_bytes();
    let mut column = 0;
    while m.len() < size - 2 {
        if column == 76 && m.len() + 2 < size - 2 {
            m.extend_from_slice(b"\r\n");
            column = 0;
        } else {
            m.push(b'a' + (i % 26) as u8);
            column += 1;
        }
    }
    m.extend_from_slice(b"\r\n");
    assert_eq!(m.len(), size);
    m
}

/// An old-Mac server (Maildir++ store, like macOS Server) with an extra user `alice` whose store
/// the test fills directly.
fn maildir_source() -> Dovecot {
    Dovecot::builder(Preset::OldMac)
        .user("alice", "alice-source-pw")
        .start()
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn run_with(
    src: &Arc<ImapSide>,
    dst: &Arc<ImapSide>,
    st: &ferry_sync::SharedState,
    opts: SyncOptions,
    progress: ferry_sync::ProgressFn,
) -> impl std::future::Future<Output = AccountSummary> {
    ferry_sync::sync_account(src.clone(), dst.clone(), st.clone(), opts, progress)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_copy_stops_early_and_the_next_run_finishes_it_exactly_once() {
    let src = maildir_source();
    let dst = Dovecot::start(Preset::Modern);
    let inbox: Vec<(Vec<u8>, i64)> = (0..2500)
        .map(|i| {
            (
                raw_message(i, 2_000 + (i % 7) * 300),
                1_600_000_000 + i as i64,
            )
        })
        .collect();
    let archive: Vec<(Vec<u8>, i64)> = (2500..3000)
        .map(|i| (raw_message(i, 3_000), 1_500_000_000 + i as i64))
        .collect();
    seed_maildir(&src, "alice", "INBOX", &inbox);
    seed_maildir(&src, "alice", "Archive", &archive);
    let dir = tempfile::tempdir().unwrap();
    let st = state(&dir);
    let cancel = CancellationToken::new();
    // The account's totals come before the first batch lands (an ETA from the start).
    let seen: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let progress: ferry_sync::ProgressFn = {
        let (cancel, seen) = (cancel.clone(), seen.clone());
        Arc::new(move |p: &Progress| match p {
            Progress::Totals {
                messages, bytes, ..
            } => {
                assert_eq!(*messages, 3000);
                assert!(*bytes > 3000 * 2000);
                seen.lock().unwrap().push("totals");
            }
            Progress::Copied { messages_done, .. } => {
                seen.lock().unwrap().push("copied");
                if *messages_done >= 500 {
                    cancel.cancel();
                }
            }
            _ => {}
        })
    };
    let opts = SyncOptions {
        batch_messages: 50,
        cancel: cancel.clone(),
        ..SyncOptions::default()
    };
    let (s, d) = (side(&src, "alice", 4), side(&dst, "bob", 4));
    let first = run_with(&s, &d, &st, opts, progress).await;
    assert!(first.cancelled, "{first:#?}");
    assert_eq!(seen.lock().unwrap().first(), Some(&"totals"));
    assert!(!first.complete());
    assert!(first.fatal.is_none(), "{first:#?}");
    assert!(
        first.copied >= 500 && first.copied < 3000,
        "stopped after the batches in flight: {}",
        first.copied
    );
    assert_eq!(first.deferred + first.copied, 3000, "{first:#?}");
    let on_dest: usize = ["INBOX", "Archive"]
        .iter()
        .filter(|f| dst.mailboxes("bob").iter().any(|m| m == *f))
        .map(|f| dst.messages("bob", f).len())
        .sum();
    assert_eq!(
        on_dest as u64, first.copied,
        "what was reported copied is there"
    );

    let (s2, d2) = (side(&src, "alice", 4), side(&dst, "bob", 4));
    let second = sync(&s2, &d2, &st, SyncOptions::default()).await;
    assert!(second.complete(), "{second:#?}");
    assert!(!second.cancelled);
    assert_eq!(first.copied + second.copied, 3000, "{second:#?}");
    for folder in ["INBOX", "Archive"] {
        assert_eq!(
            digests(&dst, "bob", folder),
            digests(&src, "alice", folder),
            "{folder}: every message exactly once, bytes unchanged"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_budget_sends_the_newest_first_and_later_windows_finish_exactly_once() {
    let src = maildir_source();
    let dst = Dovecot::start(Preset::Modern);
    const SIZE: usize = 10_000;
    // 30 messages, one an hour, alternating between two folders: k = 29 is the newest.
    let base = 1_700_000_000i64;
    let all: Vec<(usize, &str, Vec<u8>, i64)> = (0..30)
        .map(|k| {
            let folder = if k % 2 == 0 { "INBOX" } else { "Archive" };
            (k, folder, message_of_size(k, SIZE), base + k as i64 * 3600)
        })
        .collect();
    for folder in ["INBOX", "Archive"] {
        let msgs: Vec<(Vec<u8>, i64)> = all
            .iter()
            .filter(|m| m.1 == folder)
            .map(|m| (m.2.clone(), m.3))
            .collect();
        seed_maildir(&src, "alice", folder, &msgs);
    }
    // Ten messages fit a day, not eleven.
    let budget = DailyBudget {
        bytes_per_day: 10 * SIZE as u64 + SIZE as u64 / 2,
    };
    assert_eq!(days_needed(&[SIZE as u64; 30], &budget), 3);
    let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let clock = ManualClock::new(t0);
    let dir = tempfile::tempdir().unwrap();
    let st = state(&dir);
    let opts = || SyncOptions {
        budget: Some(budget),
        clock: Arc::new(clock.clone()),
        batch_messages: 4,
        ..SyncOptions::default()
    };
    let on_dest = || -> Vec<String> {
        let mut v: Vec<String> = ["INBOX", "Archive"]
            .iter()
            .filter(|f| dst.mailboxes("bob").iter().any(|m| m == *f))
            .flat_map(|f| dst.messages("bob", f))
            .map(|m| sha(&m.bytes))
            .collect();
        v.sort();
        v
    };
    let newest = |range: std::ops::Range<usize>| -> Vec<String> {
        let mut v: Vec<String> = all
            .iter()
            .filter(|m| range.contains(&m.0))
            .map(|m| sha(&m.2))
            .collect();
        v.sort();
        v
    };
    let totals: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let progress: ferry_sync::ProgressFn = {
        let totals = totals.clone();
        Arc::new(move |p: &Progress| {
            if matches!(p, Progress::Totals { .. }) {
                totals.lock().unwrap().push(p.clone());
            }
        })
    };

    // Day 1: the ten newest (k = 20..30) of both folders, then a stop until t0 + 24 h.
    let first = run_with(
        &side(&src, "alice", 2),
        &side(&dst, "bob", 2),
        &st,
        opts(),
        progress,
    )
    .await;
    assert_eq!(first.copied, 10, "{first:#?}");
    assert_eq!(first.deferred, 20);
    assert_eq!(
        first.budget_exhausted_until,
        Some(t0 + chrono::Duration::hours(24))
    );
    assert!(!first.complete() && first.fatal.is_none());
    assert_eq!(on_dest(), newest(20..30), "the newest ten arrived first");
    match totals.lock().unwrap().first() {
        Some(Progress::Totals {
            messages,
            bytes,
            messages_now,
            bytes_now,
            resumes_at,
            ..
        }) => {
            assert_eq!((*messages, *bytes), (30, 30 * SIZE as u64));
            assert_eq!((*messages_now, *bytes_now), (10, 10 * SIZE as u64));
            assert_eq!(*resumes_at, Some(t0 + chrono::Duration::hours(24)));
        }
        other => panic!("totals before the first batch, got {other:?}"),
    }

    // An hour later the window is still full: nothing is sent.
    clock.set(t0 + chrono::Duration::hours(1));
    let early = sync(&side(&src, "alice", 2), &side(&dst, "bob", 2), &st, opts()).await;
    assert_eq!(early.copied, 0, "{early:#?}");
    assert_eq!(
        early.budget_exhausted_until,
        Some(t0 + chrono::Duration::hours(24))
    );

    // Day 2 and day 3 finish the account, exactly once.
    clock.set(t0 + chrono::Duration::hours(24) + chrono::Duration::seconds(1));
    let second = sync(&side(&src, "alice", 2), &side(&dst, "bob", 2), &st, opts()).await;
    assert_eq!(second.copied, 10, "{second:#?}");
    assert_eq!(on_dest(), newest(10..30));
    assert_eq!(
        second.budget_exhausted_until,
        Some(t0 + chrono::Duration::hours(48) + chrono::Duration::seconds(1))
    );
    clock.set(t0 + chrono::Duration::hours(49));
    let third = sync(&side(&src, "alice", 2), &side(&dst, "bob", 2), &st, opts()).await;
    assert_eq!(third.copied, 10, "{third:#?}");
    assert!(third.complete(), "{third:#?}");
    assert_eq!(third.budget_exhausted_until, None);
    for folder in ["INBOX", "Archive"] {
        assert_eq!(digests(&dst, "bob", folder), digests(&src, "alice", folder));
    }
    // Nothing left: a fourth run copies nothing and is complete.
    let fourth = sync(&side(&src, "alice", 2), &side(&dst, "bob", 2), &st, opts()).await;
    assert_eq!(fourth.copied, 0);
    assert!(fourth.complete(), "{fourth:#?}");
}

fn plain_side(port: u16, server: &Dovecot, user: &str, connections: usize) -> Arc<ImapSide> {
    let ep = Endpoint::plain("127.0.0.1", port);
    let creds = Credentials::new(user, SecretString::from(server.password(user).to_string()));
    Arc::new(ImapSide::new(ep, creds, connections))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttling_server_gets_the_wait_it_asked_for_and_nothing_is_lost_or_doubled() {
    let src = maildir_source();
    let dst = Dovecot::builder(Preset::Modern).plaintext(true).start();
    let msgs: Vec<(Vec<u8>, i64)> = (0..120)
        .map(|i| (raw_message(i, 4_000), 1_600_000_000 + i as i64))
        .collect();
    seed_maildir(&src, "alice", "INBOX", &msgs);
    let proxy = ThrottleProxy::start(dst.imap_port());
    // The 3rd APPEND: Microsoft's words with a wait of 1.5 s; the 6th: BYE, overloaded.
    let asked = Duration::from_millis(1500);
    proxy.refuse(
        "APPEND",
        3,
        Refusal::No(
            "[THROTTLED] Request is throttled. Suggested Backoff Time: 1500 milliseconds".into(),
        ),
    );
    proxy.refuse(
        "APPEND",
        6,
        Refusal::Bye("[UNAVAILABLE] Server overloaded, try again later".into()),
    );
    let dir = tempfile::tempdir().unwrap();
    let st = state(&dir);
    let events: Arc<Mutex<Vec<(Instant, Progress)>>> = Arc::default();
    let progress: ferry_sync::ProgressFn = {
        let events = events.clone();
        Arc::new(move |p: &Progress| {
            if matches!(p, Progress::Throttled { .. }) {
                events.lock().unwrap().push((Instant::now(), p.clone()));
            }
        })
    };
    let opts = SyncOptions {
        batch_messages: 10,
        parallel: 4,
        backoff: Duration::from_millis(400),
        ..SyncOptions::default()
    };
    let summary = run_with(
        &side(&src, "alice", 4),
        &plain_side(proxy.port(), &dst, "bob", 4),
        &st,
        opts,
        progress,
    )
    .await;
    assert!(summary.complete(), "{summary:#?}");
    assert_eq!(summary.throttled, 2, "{summary:#?}");
    assert_eq!(
        digests(&dst, "bob", "INBOX"),
        digests(&src, "alice", "INBOX")
    );

    // After each refusal, no new APPEND reached the server before the wait asked for was over
    // (APPENDs already on their way when the refusal came may land in the first moments).
    let log = proxy.log();
    let appends: Vec<_> = log.iter().filter(|c| c.command == "APPEND").collect();
    let refused: Vec<usize> = appends
        .iter()
        .enumerate()
        .filter(|(_, c)| c.refused.is_some())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(refused.len(), 2, "{appends:#?}");
    let in_flight = Duration::from_millis(250);
    let check_wait = |i: usize, wait: Duration| {
        let at = appends[i].at;
        let too_early: Vec<Duration> = appends
            .iter()
            .map(|c| c.at.saturating_duration_since(at))
            .filter(|d| *d > in_flight && *d < wait)
            .collect();
        assert!(
            too_early.is_empty(),
            "APPENDs {too_early:?} after a refusal that asked for {wait:?}"
        );
        assert!(
            appends
                .iter()
                .any(|c| c.at.saturating_duration_since(at) >= wait),
            "the copy went on after the wait"
        );
    };
    check_wait(refused[0], asked);
    // The BYE named no time: the back-off, doubled for the second episode.
    check_wait(refused[1], Duration::from_millis(800));
    let throttles: Vec<(Instant, Progress)> = events.lock().unwrap().clone();
    match throttles.first() {
        Some((
            _,
            Progress::Throttled {
                wait_ms,
                connections,
                ..
            },
        )) => {
            assert_eq!(*wait_ms, 1500);
            assert_eq!(*connections, 2, "half as many batches at once");
        }
        other => panic!("a Throttled event, got {other:?}"),
    }
    match throttles.last() {
        Some((
            _,
            Progress::Throttled {
                wait_ms,
                connections,
                ..
            },
        )) => {
            assert_eq!((*wait_ms, *connections), (800, 1));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_above_a_preset_s_limit_are_listed_with_the_limit_never_skipped_silently() {
    let src = Dovecot::start(Preset::Modern);
    let dst = Dovecot::start(Preset::Modern);
    src.deliver("alice", "INBOX", &raw_message(1, 1_000));
    src.deliver("alice", "INBOX", &raw_message(2, 30_000));
    src.deliver("alice", "INBOX", &raw_message(3, 1_000));
    let dir = tempfile::tempdir().unwrap();
    let st = state(&dir);
    // The server itself takes anything; the preset's limit is 20 kB.
    let opts = || SyncOptions {
        max_message_size: Some(20_000),
        ..SyncOptions::default()
    };
    let first = sync(&side(&src, "alice", 2), &side(&dst, "bob", 2), &st, opts()).await;
    assert_eq!(
        (first.copied, first.skipped, first.failed),
        (2, 1, 0),
        "{first:#?}"
    );
    let big: Vec<_> = first
        .failures
        .iter()
        .filter(|f| f.class == ErrorClass::TooBig)
        .collect();
    assert_eq!(big.len(), 1, "{first:#?}");
    let size = raw_message(2, 30_000).len();
    assert_eq!(big[0].subject.as_deref(), Some("message 2"));
    assert_eq!(big[0].size, size as u64);
    assert_eq!(
        big[0].server_text,
        format!("{size} bytes; the destination accepts at most 20000 bytes")
    );
    assert_eq!(big[0].advice, ErrorClass::TooBig.advice());
    assert_eq!(dst.messages("bob", "INBOX").len(), 2);
    // A re-run lists it again (still open) and sends nothing.
    let again = sync(&side(&src, "alice", 2), &side(&dst, "bob", 2), &st, opts()).await;
    assert_eq!(again.copied, 0);
    assert_eq!(
        again
            .failures
            .iter()
            .filter(|f| f.class == ErrorClass::TooBig)
            .count(),
        1
    );
    assert_eq!(dst.messages("bob", "INBOX").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_counts_a_message_the_review_resolved_apart_not_as_missing() {
    let src = Dovecot::start(Preset::Modern);
    let dst = Dovecot::start(Preset::Modern);
    src.deliver("alice", "INBOX", &raw_message(1, 1_000));
    src.deliver("alice", "INBOX", &raw_message(2, 30_000));
    let dir = tempfile::tempdir().unwrap();
    let st = state(&dir);
    let opts = SyncOptions {
        max_message_size: Some(20_000),
        ..SyncOptions::default()
    };
    let (s, d) = (side(&src, "alice", 2), side(&dst, "bob", 2));
    let summary = sync(&s, &d, &st, opts.clone()).await;
    assert_eq!((summary.copied, summary.skipped), (1, 1), "{summary:#?}");
    let rules = opts.rules.clone();
    let before = ferry_sync::verify_account(s.clone(), d.clone(), Some(st.clone()), &rules)
        .await
        .unwrap();
    assert_eq!(before.missing, 1);
    // The review phase exports the too-big message to an mbox file and records it as resolved.
    {
        let db = st.lock().unwrap();
        let failure = db.failures(&summary.account).unwrap().remove(0);
        db.begin_resolution(
            &summary.account,
            &failure,
            ferry_sync::state::ResolutionHow::Mbox,
            None,
            Some("/tmp/exported.mbox"),
            None,
        )
        .unwrap();
        db.finish_resolution(
            &summary.account,
            &failure.source_folder,
            failure.source_uidvalidity,
            &failure.source_key,
            &ferry_sync::state::ResolutionDone {
                identity: "exported".into(),
                flags: Vec::new(),
                dest_folder: "INBOX".into(),
                dest_uid: None,
            },
        )
        .unwrap();
    }
    let after = ferry_sync::verify_account(s, d, Some(st.clone()), &rules)
        .await
        .unwrap();
    assert_eq!(after.missing, 0, "{after:#?}");
    assert!(after.ok());
    let inbox = after.folders.iter().find(|f| f.dest == "INBOX").unwrap();
    assert_eq!(inbox.resolved, 1);
}
