//! Review (phase 5) against real Dovecot: the fixture's Maildir store synced to the Modern preset,
//! with messages the new host refuses for good. A zero-byte message (Dovecot: "could not append")
//! is delivered wrapped and read back; a message over the host's size limit is exported to an
//! mbox file; a retry visits only the folders with failures. After each resolution the next sync
//! copies nothing and reports nothing failed, and the review counts the message apart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ferry_project::cutover::ImapEndpoint;
use ferry_project::review::{self, MessageRef, ResolutionKind, ResolveChoice, ReviewError};
use ferry_project::sync::{self, AccountPair, ImapAccount, RunOptions, SourceSpec};
use ferry_sync::ErrorClass;
use ferry_testkit::{Dovecot, Preset};
use mail_parser::MimeHeaders;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

const JDOE_STORE: &str = "Library/Server/Mail/Data/mail/3F2A6C1E-8B4D-4E7A-9C21-5D0B7E6F1A23";
/// 2019-01-01 00:00:00 UTC.
const JAN_2019: i64 = 1_546_300_800;

struct Setup {
    tmp: tempfile::TempDir,
    store: PathBuf,
    server: Dovecot,
}

impl Setup {
    fn new(server: Dovecot) -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let root = ferry_testkit::materialize_fixture(tmp.path());
        Setup {
            store: root.join(JDOE_STORE),
            tmp,
            server,
        }
    }

    fn pair(&self) -> AccountPair {
        AccountPair {
            source: SourceSpec::Maildir(self.store.clone()),
            dest: ImapAccount {
                endpoint: ImapEndpoint::tls(self.server.host(), self.server.imaps_port())
                    .pinned(self.server.cert_sha256()),
                user: "jdoe".into(),
                password: SecretString::from("pw-jdoe".to_string()),
                oauth: None,
            },
        }
    }

    fn opts(&self) -> RunOptions {
        RunOptions {
            state: Some(self.tmp.path().join("state.sqlite")),
            ..RunOptions::default()
        }
    }

    async fn sync(&self) -> sync::SyncReport {
        sync::run_sync(vec![self.pair()], self.opts(), Arc::new(|_: &_| ()))
            .await
            .unwrap()
    }

    async fn review(&self) -> review::Review {
        review::run_review(vec![self.pair()], self.opts())
            .await
            .unwrap()
    }
}

/// Writes a message file into a Maildir folder (`cur`, with flags) dated `at` (name and mtime).
fn put_message(folder: &Path, unique: &str, flags: &str, at: i64, bytes: &[u8]) -> String {
    let name = format!("{at}.{unique}.ferry-test:2,{flags}");
    let path = folder.join("cur").join(&name);
    std::fs::write(&path, bytes).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(at as u64))
        .unwrap();
    name
}

/// The ledger as a crash after the delivery (APPEND, or the mbox write) and before its
/// confirmation leaves it: the resolution started, the message still failed, not settled.
fn undo_confirmation(state: &Path, folder: &str, key: &str) {
    let conn = rusqlite::Connection::open(state).unwrap();
    let changed = conn
        .execute(
            "UPDATE resolution SET state = 'intent', dest_uid = NULL, dest_uidvalidity = NULL
             WHERE source_folder = ?1 AND source_key = ?2",
            [folder, key],
        )
        .unwrap();
    assert_eq!(changed, 1);
    conn.execute(
        "DELETE FROM message WHERE source_folder = ?1 AND source_key = ?2",
        [folder, key],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO failure (account, source_folder, source_uidvalidity, source_key, source_uid, size,
            class, subject, date, server_text, at)
         SELECT account, source_folder, source_uidvalidity, source_key, source_uid, size, class, subject,
            date, server_text, at FROM resolution WHERE source_folder = ?1 AND source_key = ?2",
        [folder, key],
    )
    .unwrap();
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_message_delivered_wrapped_is_kept_once() {
    let s = Setup::new(
        Dovecot::builder(Preset::Modern)
            .user("jdoe", "pw-jdoe")
            .start(),
    );
    // A zero-byte message file (a write that never finished on the old server): Dovecot refuses
    // to store an empty message, whoever asks.
    put_message(&s.store, "M1P1", "FS", JAN_2019, b"");

    let first = s.sync().await;
    assert_eq!(first.failed, 1, "{first:#?}");
    assert_eq!(first.fatal, 0, "{first:#?}");
    let copied_first = first.copied;
    assert!(copied_first > 0);
    let failure = &first.accounts[0].failures[0];
    assert_eq!(failure.folder, "INBOX");
    assert_eq!(failure.class, ErrorClass::Rejected);

    // The review: the refused message with its reason and advice; counts and sizes per folder.
    let before = s.review().await;
    assert!(!before.ok);
    assert_eq!(before.missing, 1);
    assert_eq!(before.failed, 1);
    let account = &before.accounts[0];
    assert_eq!(account.error, None);
    assert_eq!(account.failures.len(), 1, "{:#?}", account.failures);
    let failed = &account.failures[0];
    assert_eq!((failed.folder.as_str(), failed.size), ("INBOX", 0));
    assert_eq!(failed.class, Some(ErrorClass::Rejected));
    assert_eq!(failed.reason, failure.server_text);
    assert_eq!(failed.advice, ErrorClass::Rejected.advice());
    assert_eq!(
        failed.can_resolve,
        vec![ResolutionKind::Wrapped, ResolutionKind::Mbox]
    );
    let inbox = account.folders.iter().find(|f| f.dest == "INBOX").unwrap();
    let on_server = s.server.messages("jdoe", "INBOX");
    assert_eq!(inbox.dest_messages, on_server.len() as u64);
    assert_eq!(inbox.source_messages, inbox.dest_messages + 1);
    assert_eq!(inbox.missing, 1);
    let server_bytes: u64 = on_server.iter().map(|m| m.bytes.len() as u64).sum();
    assert_eq!(inbox.dest_bytes, server_bytes);
    // Copies are byte for byte: the source holds the same bytes plus the empty message.
    assert_eq!(inbox.source_bytes, server_bytes);
    let mut all_dest = 0;
    for f in &account.folders {
        let msgs = s.server.messages("jdoe", &f.dest);
        assert_eq!(f.dest_messages, msgs.len() as u64, "{}", f.dest);
        assert_eq!(f.missing, u64::from(f.dest == "INBOX"), "{}", f.dest);
        all_dest += msgs.len() as u64;
    }
    assert_eq!(account.dest_messages, all_dest);
    assert_eq!(account.source_messages, all_dest + 1);

    // Delivered wrapped.
    let target = MessageRef {
        folder: failed.folder.clone(),
        key: failed.key.clone(),
    };
    // Had it failed for a passing reason (a cut connection), keeping it another way is refused:
    // a re-run copies it.
    let state = s.tmp.path().join("state.sqlite");
    let set_class = |class: &str| {
        let conn = rusqlite::Connection::open(&state).unwrap();
        let n = conn
            .execute("UPDATE failure SET class = ?1", [class])
            .unwrap();
        assert_eq!(n, 1);
    };
    set_class("connection");
    let err = review::resolve(&s.pair(), &s.opts(), &target, &ResolveChoice::Wrapped)
        .await
        .unwrap_err();
    assert!(matches!(err, ReviewError::NotRefused { .. }), "{err:?}");
    assert!(err.to_string().contains("run the sync again"), "{err}");
    set_class("rejected");
    let resolved = review::resolve(&s.pair(), &s.opts(), &target, &ResolveChoice::Wrapped)
        .await
        .unwrap();
    assert_eq!(resolved.how, ResolutionKind::Wrapped);
    assert_eq!(resolved.dest_folder.as_deref(), Some("INBOX"));
    let uid = resolved.dest_uid.expect("Dovecot names the UID (UIDPLUS)");
    let after = s.server.messages("jdoe", "INBOX");
    assert_eq!(after.len(), on_server.len() + 1);
    let wrapped = after.iter().find(|m| m.uid == uid).unwrap();
    assert_eq!(sorted(wrapped.flags.clone()), ["\\Flagged", "\\Seen"]);
    assert_eq!(wrapped.internal_date, JAN_2019);
    let parsed = mail_parser::MessageParser::default()
        .parse(&wrapped.bytes)
        .expect("the wrapped message parses");
    assert_eq!(
        parsed.content_type().map(|c| (c.ctype(), c.subtype())),
        Some(("multipart", Some("mixed")))
    );
    let note = parsed.body_text(0).expect("a text note").into_owned();
    assert!(note.contains("refused to store this message"), "{note}");
    assert!(note.contains(&failure.server_text), "{note}");
    assert!(note.contains("Folder:  INBOX"), "{note}");
    let attachment = parsed.attachment(0).expect("the original attached");
    assert_eq!(
        attachment.content_type().map(|c| (c.ctype(), c.subtype())),
        Some(("message", Some("rfc822")))
    );
    assert_eq!(sha256(attachment.contents()), sha256(b""));

    // The next sync copies nothing and reports nothing failed; the review counts it apart.
    let again = s.sync().await;
    assert_eq!(
        (again.copied, again.failed, again.skipped),
        (0, 0, 0),
        "{again:#?}"
    );
    assert!(again.accounts[0].failures.is_empty(), "{again:#?}");
    assert!(again.complete);
    let review = s.review().await;
    assert!(review.ok, "{review:#?}");
    assert_eq!((review.missing, review.failed), (0, 0));
    assert_eq!(review.resolved.wrapped, 1);
    assert_eq!(review.resolved_text, "1 delivered wrapped");
    let account = &review.accounts[0];
    assert!(account.failures.is_empty());
    assert_eq!(account.resolved.len(), 1);
    assert_eq!(account.resolved[0].key, target.key);
    assert_eq!(account.resolved[0].reason, failure.server_text);
    let inbox = account.folders.iter().find(|f| f.dest == "INBOX").unwrap();
    assert_eq!((inbox.missing, inbox.resolved), (0, 1));
    // The wrapped note is the one destination message that is not a copy.
    assert_eq!(inbox.dest_other, 1);

    // Asking again delivers nothing more.
    let twice = review::resolve(&s.pair(), &s.opts(), &target, &ResolveChoice::Wrapped)
        .await
        .unwrap();
    assert_eq!(twice.dest_uid, Some(uid));
    assert_eq!(s.server.messages("jdoe", "INBOX").len(), after.len());

    // A crash right after the APPEND: the next attempt finds the wrapped message by its
    // identity on the new host and records it, without delivering it again.
    undo_confirmation(&state, &target.folder, &target.key);
    let reverted = s.review().await;
    assert_eq!(reverted.failed, 1, "{reverted:#?}");
    assert_eq!(reverted.resolved.wrapped, 0);
    let found = review::resolve(&s.pair(), &s.opts(), &target, &ResolveChoice::Wrapped)
        .await
        .unwrap();
    assert_eq!(found.dest_uid, Some(uid));
    assert_eq!(s.server.messages("jdoe", "INBOX").len(), after.len());
    let last = s.sync().await;
    assert_eq!((last.copied, last.failed), (0, 0), "{last:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_over_the_size_limit_is_exported_to_mbox() {
    const LIMIT: u64 = 200_000;
    let s = Setup::new(
        Dovecot::builder(Preset::Modern)
            .user("jdoe", "pw-jdoe")
            .max_message_size(LIMIT)
            .start(),
    );
    let mut big = b"From: Jane Doe <jane.doe@example.com>\r\nTo: jdoe@example.com\r\nSubject: <script>alert(\"x\")</script> scans\r\nDate: Tue, 1 Jan 2019 10:00:00 +0000\r\nMessage-ID: <big-scan@example.com>\r\n\r\n".to_vec();
    for i in 0..4000 {
        big.extend_from_slice(
            format!("line {i:05} of a large scan, base64-ish payload ABCDEFGHIJ\r\n").as_bytes(),
        );
    }
    big.extend_from_slice(b"From the archive\r\n");
    assert!(big.len() as u64 > LIMIT);
    let archive = s.store.join(".Archive");
    put_message(&archive, "M2P2", "S", JAN_2019 + 36_000, &big);

    let first = s.sync().await;
    assert_eq!((first.skipped, first.failed), (1, 0), "{first:#?}");
    let before = s.review().await;
    let failed = &before.accounts[0].failures[0];
    assert_eq!(failed.class, Some(ErrorClass::TooBig));
    assert_eq!(failed.size, big.len() as u64);
    assert_eq!(failed.can_resolve, vec![ResolutionKind::Mbox]);
    let target = MessageRef {
        folder: failed.folder.clone(),
        key: failed.key.clone(),
    };

    // Wrapped, it would be larger still: refused before anything is sent, naming the way out.
    let err = review::resolve(&s.pair(), &s.opts(), &target, &ResolveChoice::Wrapped)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ReviewError::WrappedTooBig { limit: LIMIT, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("export it to an mbox file"),
        "{err}"
    );

    let mbox = s.tmp.path().join("kept/refused.mbox");
    let choice = ResolveChoice::Mbox {
        path: mbox.display().to_string(),
    };
    let resolved = review::resolve(&s.pair(), &s.opts(), &target, &choice)
        .await
        .unwrap();
    assert_eq!(resolved.how, ResolutionKind::Mbox);
    assert_eq!(resolved.mbox_path.as_deref(), Some(mbox.to_str().unwrap()));
    let data = std::fs::read(&mbox).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&mbox), 0o600);
        assert_eq!(mode(mbox.parent().unwrap()), 0o700);
    }
    let messages = ferry_cutover::mbox::parse(&data).unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(sha256(&messages[0].bytes), sha256(&big));
    assert_eq!(
        messages[0].from_line,
        "From jane.doe@example.com Tue Jan  1 10:00:00 2019"
    );
    // Asked again: the file is not written twice.
    review::resolve(&s.pair(), &s.opts(), &target, &choice)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&mbox).unwrap(), data);
    // A crash after the write, before the ledger recorded it: the file is not written twice.
    undo_confirmation(
        &s.tmp.path().join("state.sqlite"),
        &target.folder,
        &target.key,
    );
    review::resolve(&s.pair(), &s.opts(), &target, &choice)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&mbox).unwrap(), data);

    let again = s.sync().await;
    assert_eq!(
        (again.copied, again.failed, again.skipped),
        (0, 0, 0),
        "{again:#?}"
    );
    let review = s.review().await;
    assert!(review.ok, "{review:#?}");
    assert_eq!(review.resolved_text, "1 exported to mbox");
    let resolved = &review.accounts[0].resolved[0];
    assert_eq!(
        resolved.subject.as_deref(),
        Some("<script>alert(\"x\")</script> scans")
    );

    // The final report from this review: the subject comes out inert.
    let input = ferry_project::report::ReportInput {
        title: "Mail migration of example.com".into(),
        customer: Some("Example & Co".into()),
        prepared_by: None,
        generated_at: chrono::Utc::now(),
        old_server: "mail.example.com".into(),
        destination: "Generic IMAP (127.0.0.1)".into(),
        domains: vec!["example.com".into()],
        accounts: ferry_project::report::accounts_from_review(&review),
        phases: vec![],
        cutover: Default::default(),
        checklist: None,
        notes: vec![],
    };
    let report = ferry_project::report::final_report(input);
    assert_eq!(report.totals.resolved_text, "1 exported to mbox");
    assert_eq!(report.totals.missing, 0);
    let html = report.html();
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; scans"));
    assert!(html.contains("Example &amp; Co"));
    let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
    assert_eq!(
        json["accounts"][0]["resolved"][0]["subject"],
        "<script>alert(\"x\")</script> scans"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_visits_only_the_folders_with_failures() {
    let s = Setup::new(
        Dovecot::builder(Preset::Modern)
            .user("jdoe", "pw-jdoe")
            .start(),
    );
    let archive = s.store.join(".Archive");
    let name = put_message(&archive, "M3P3", "S", JAN_2019, b"");
    let first = s.sync().await;
    assert_eq!(first.failed, 1, "{first:#?}");
    let archive_dest = first.accounts[0]
        .folders
        .iter()
        .find(|f| f.source == "Archive")
        .map(|f| f.dest.clone())
        .expect("the Archive folder is mapped");
    let archived_before = s.server.messages("jdoe", &archive_dest).len();
    let inbox_before = s.server.messages("jdoe", "INBOX").len();

    // The empty file is repaired on the old server (same file, now with its content); meanwhile
    // new mail arrives in INBOX, a folder without failures.
    let repaired = b"From: a@example.com\r\nSubject: repaired\r\nMessage-ID: <repaired@example.com>\r\n\r\nback\r\n";
    std::fs::write(archive.join("cur").join(&name), repaired).unwrap();
    put_message(
        &s.store,
        "M4P4",
        "",
        JAN_2019 + 60,
        b"From: b@example.com\r\nSubject: new in inbox\r\nMessage-ID: <new-inbox@example.com>\r\n\r\nhi\r\n",
    );

    let retry = review::retry(vec![s.pair()], s.opts(), Arc::new(|_: &_| ()))
        .await
        .unwrap();
    assert_eq!(retry.folders.len(), 1, "{retry:#?}");
    assert_eq!(retry.folders[0].1, "Archive");
    assert_eq!((retry.now_copied, retry.still_failing), (1, 0));
    assert_eq!(retry.summary, "the failed message is copied now");
    assert!(retry.messages[0].copied && retry.messages[0].now.is_none());
    let visited: Vec<&str> = retry.runs[0].accounts[0]
        .folders
        .iter()
        .map(|f| f.source.as_str())
        .collect();
    assert_eq!(visited, ["Archive"]);
    assert_eq!(retry.runs[0].copied, 1);
    let archived = s.server.messages("jdoe", &archive_dest);
    assert_eq!(archived.len(), archived_before + 1);
    assert!(archived.iter().any(|m| m.bytes == repaired));
    assert_eq!(s.server.messages("jdoe", "INBOX").len(), inbox_before);

    // Nothing left to retry.
    let idle = review::retry(vec![s.pair()], s.opts(), Arc::new(|_: &_| ()))
        .await
        .unwrap();
    assert!(idle.runs.is_empty() && idle.folders.is_empty());
    assert_eq!(
        idle.summary,
        "nothing to retry: no failed message is on record"
    );
}

/// The wrapped form carries any bytes past the new host unchanged: a real message of the fixture
/// with a raw ISO-8859-1 subject (what Cyrus refuses), with a NUL, a bare CR and a bare LF added.
#[test]
fn wrapped_bytes_come_back_identical_from_the_new_host() {
    let server = Dovecot::builder(Preset::Modern)
        .user("jdoe", "pw-jdoe")
        .start();
    let fixture = ferry_testkit::fixture_root().join(
        "Library/Server/Mail/Data/mail/C41D09F8-6E2B-4A3C-8D7F-2B9E5A0C6D18/cur/1546110002.M2002P9001.mail.example.com,S=1228,W=1257:2,S",
    );
    let mut original = std::fs::read(&fixture).unwrap();
    assert!(
        original.iter().any(|b| *b >= 0x80),
        "8-bit bytes in the fixture message"
    );
    original.extend_from_slice(b"NUL\0 bare CR\r bare LF\n end\r\n");
    let facts = review::WrapFacts {
        subject: Some("Rechnung für März".into()),
        sender_name: Some("Börse".into()),
        sender_address: Some("boerse@example.de".into()),
        date: Some("Sun, 30 Dec 2018 10:00:02 +0100".into()),
        folder: "INBOX".into(),
        why: review::why_refused(ErrorClass::Rejected, "NO Invalid header line", 1257),
    };
    let wrapped = review::wrap_message(&original, &facts, None, "seed");
    assert_eq!(
        wrapped,
        review::wrap_message(&original, &facts, None, "seed")
    );
    assert!(wrapped.is_ascii(), "the wrapped message is plain ASCII");
    server.append(
        "jdoe",
        "INBOX",
        &["\\Seen"],
        Some("30-Dec-2018 10:00:02 +0100"),
        &wrapped,
    );
    let stored = server.messages("jdoe", "INBOX");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].bytes, wrapped);
    let parsed = mail_parser::MessageParser::default()
        .parse(&stored[0].bytes)
        .unwrap();
    assert_eq!(
        parsed.subject(),
        Some("[original attached] Rechnung für März")
    );
    let from = parsed.from().and_then(|a| a.first()).unwrap();
    assert_eq!(
        (from.name(), from.address()),
        (Some("Börse"), Some("boerse@example.de"))
    );
    let note = parsed.body_text(0).unwrap();
    assert!(note.contains("Subject: Rechnung für März"), "{note}");
    assert!(
        note.contains("From:    Börse <boerse@example.de>"),
        "{note}"
    );
    assert!(
        note.contains("Why it was refused: The new server refused to store it as it was. The server said: \"NO Invalid header line\""),
        "{note}"
    );
    let attachment = parsed.attachment(0).unwrap();
    assert_eq!(attachment.attachment_name(), Some("original.eml"));
    assert_eq!(sha256(attachment.contents()), sha256(&original));
}

/// The old server over IMAP (the OldMac preset, `.` separator): after a clean sync the review
/// has nothing missing, and its counts and sizes are the two servers' own, folder by folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_of_an_imap_sync_matches_both_servers() {
    let old = Dovecot::start(Preset::OldMac);
    let new = Dovecot::start(Preset::Modern);
    let tmp = tempfile::tempdir().unwrap();
    let account = |server: &Dovecot, user: &str| ImapAccount {
        endpoint: ImapEndpoint::tls(server.host(), server.imaps_port())
            .pinned(server.cert_sha256()),
        user: user.into(),
        password: SecretString::from(server.password(user).to_string()),
        oauth: None,
    };
    let pair = AccountPair {
        source: SourceSpec::Imap(account(&old, "jdoe")),
        dest: account(&new, "alice"),
    };
    let opts = RunOptions {
        state: Some(tmp.path().join("state.sqlite")),
        ..RunOptions::default()
    };
    let synced = sync::run_sync(vec![pair.clone()], opts.clone(), Arc::new(|_: &_| ()))
        .await
        .unwrap();
    assert!(synced.complete, "{synced:#?}");
    let (pair_again, opts_again) = (pair.clone(), opts.clone());
    let review = review::run_review(vec![pair], opts).await.unwrap();
    assert!(review.ok, "{review:#?}");
    assert_eq!((review.missing, review.failed), (0, 0));
    assert_eq!(review.resolved_text, "");
    let account = &review.accounts[0];
    assert_eq!(account.folders.len(), synced.accounts[0].plan.folders.len());
    let mut source_total = 0;
    for f in &account.folders {
        assert_eq!(f.sources.len(), 1, "{f:?}");
        let on_old = old.messages("jdoe", &f.sources[0]);
        let on_new = new.messages("alice", &f.dest);
        let bytes = |v: &[ferry_testkit::StoredMessage]| -> u64 {
            v.iter().map(|m| m.bytes.len() as u64).sum()
        };
        assert_eq!(f.source_messages, on_old.len() as u64, "{f:?}");
        assert_eq!(f.source_bytes, bytes(&on_old), "{f:?}");
        assert_eq!(f.dest_messages, on_new.len() as u64, "{f:?}");
        assert_eq!(f.dest_bytes, bytes(&on_new), "{f:?}");
        assert_eq!(
            (f.dest_matching, f.dest_other, f.missing),
            (f.source_messages, 0, 0)
        );
        source_total += f.source_messages;
    }
    assert!(source_total >= 12);
    assert_eq!(account.source_messages, source_total);
    assert_eq!(review.dest_messages, source_total);
    assert_eq!(review.source_bytes, review.dest_bytes);
    // "Archive.2018" on the old server is "Archive/2018" on the new one.
    assert!(account
        .folders
        .iter()
        .any(|f| f.sources == ["Archive.2018"] && f.dest == "Archive/2018"));

    // New mail at the old server: missing, "not copied yet", nothing to keep another way.
    old.deliver(
        "jdoe",
        "INBOX",
        b"From: b@example.com\r\nSubject: just in\r\nMessage-ID: <just-in@example.com>\r\n\r\nhi\r\n",
    );
    let later = review::run_review(vec![pair_again], opts_again)
        .await
        .unwrap();
    assert!(!later.ok);
    assert_eq!((later.missing, later.failed), (1, 0));
    let pending = &later.accounts[0].failures;
    assert_eq!(pending.len(), 1, "{pending:#?}");
    assert_eq!(
        (
            pending[0].folder.as_str(),
            pending[0].class,
            pending[0].reason.as_str()
        ),
        ("INBOX", None, "not copied yet")
    );
    assert!(pending[0].can_resolve.is_empty());
}

/// A failed message deleted on the old server since is no longer listed: nothing is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_message_deleted_on_the_old_server_is_not_listed() {
    let s = Setup::new(
        Dovecot::builder(Preset::Modern)
            .user("jdoe", "pw-jdoe")
            .start(),
    );
    let name = put_message(&s.store.join(".Archive"), "M5P5", "", JAN_2019, b"");
    let first = s.sync().await;
    assert_eq!(first.failed, 1, "{first:#?}");
    assert_eq!(s.review().await.failed, 1);
    std::fs::remove_file(s.store.join(".Archive/cur").join(&name)).unwrap();
    let review = s.review().await;
    assert!(review.ok, "{review:#?}");
    assert_eq!((review.missing, review.failed), (0, 0));
    assert!(review.accounts[0].failures.is_empty());
}

/// The old server over IMAP: a zero-byte message in its store (Dovecot serves it, the new host
/// refuses it) is delivered wrapped with its flags and date; the next sync copies nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_source_refused_message_delivered_wrapped() {
    let old = Dovecot::start(Preset::OldMac);
    let new = Dovecot::start(Preset::Modern);
    let tmp = tempfile::tempdir().unwrap();
    let path = old.mail_dir("jdoe").join("cur");
    put_message(path.parent().unwrap(), "M6P6", "RS", JAN_2019, b"");
    old.give_to_mail_user(&path);
    let account = |server: &Dovecot, user: &str| ImapAccount {
        endpoint: ImapEndpoint::tls(server.host(), server.imaps_port())
            .pinned(server.cert_sha256()),
        user: user.into(),
        password: SecretString::from(server.password(user).to_string()),
        oauth: None,
    };
    let pair = AccountPair {
        source: SourceSpec::Imap(account(&old, "jdoe")),
        dest: account(&new, "alice"),
    };
    let opts = RunOptions {
        state: Some(tmp.path().join("state.sqlite")),
        ..RunOptions::default()
    };
    let run = || sync::run_sync(vec![pair.clone()], opts.clone(), Arc::new(|_: &_| ()));
    let first = run().await.unwrap();
    assert_eq!(first.failed, 1, "{first:#?}");
    let failure = &first.accounts[0].failures[0];
    assert_eq!(failure.folder, "INBOX");
    let uid = failure.uid.expect("an IMAP source names the UID");
    assert_eq!(failure.key, uid.to_string());
    let target = MessageRef {
        folder: "INBOX".into(),
        key: failure.key.clone(),
    };
    let kept = review::resolve(&pair, &opts, &target, &ResolveChoice::Wrapped)
        .await
        .unwrap();
    assert_eq!(kept.uid, Some(uid));
    let inbox = new.messages("alice", "INBOX");
    let wrapped = inbox
        .iter()
        .find(|m| Some(m.uid) == kept.dest_uid)
        .expect("the wrapped message is in INBOX");
    assert_eq!(sorted(wrapped.flags.clone()), ["\\Answered", "\\Seen"]);
    assert_eq!(wrapped.internal_date, JAN_2019);
    let parsed = mail_parser::MessageParser::default()
        .parse(&wrapped.bytes)
        .unwrap();
    assert_eq!(
        sha256(parsed.attachment(0).unwrap().contents()),
        sha256(b"")
    );
    let again = run().await.unwrap();
    assert_eq!((again.copied, again.failed), (0, 0), "{again:#?}");
    let review = review::run_review(vec![pair.clone()], opts.clone())
        .await
        .unwrap();
    assert!(review.ok, "{review:#?}");
    assert_eq!(review.resolved_text, "1 delivered wrapped");
}
