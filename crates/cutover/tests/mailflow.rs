//! Mail still arriving, read from a materialized copy of the fixture (its logs with the Dec 31 ->
//! Jan 1 roll-over and a bzip2 rotation, its store), then lines and files added while Ferry watches.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use ferry_cutover::logs::{AttemptOutcome, LogKind, LogZone, RejectedAttempt, YearSource};
use ferry_cutover::mailflow::{self, MailflowOptions, MailflowWatch};

/// The fixture's logs are in CET (the `Received:` headers say +0100).
const CET: LogZone = LogZone::Fixed(3600);

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn options(root: &Path, year: Option<i32>) -> MailflowOptions {
    let mut o = MailflowOptions::new(root);
    o.cutover = Some(utc("2019-01-01T12:00:00Z"));
    o.zone = CET;
    o.year_of_last_line = year;
    o
}

fn account<'a>(r: &'a mailflow::MailflowReport, name: &str) -> &'a mailflow::AccountFlow {
    r.accounts
        .iter()
        .find(|a| a.account == name)
        .unwrap_or_else(|| panic!("no account {name} in {:?}", r.accounts))
}

#[test]
fn fixture_logs_and_store() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(tmp.path());
    let mut watch = MailflowWatch::start(options(&root, Some(2019))).unwrap();
    let r = watch.poll(utc("2019-01-03T12:00:00Z"));

    // Last delivery: asmith, Jan 2 14:02:19 CET, in the log and in the store.
    assert_eq!(r.last_delivery, Some(utc("2019-01-02T13:02:19Z")));
    assert_eq!(
        account(&r, "asmith").last_delivery,
        Some(utc("2019-01-02T13:02:19Z"))
    );
    assert_eq!(
        account(&r, "jdoe").last_delivery,
        Some(utc("2019-01-01T08:14:04Z"))
    );
    // One message, logged by Postfix (pipe) and Dovecot (lda), and stored.
    assert_eq!(account(&r, "asmith").logged_since_cutover, 1);
    assert_eq!(account(&r, "asmith").stored_since_cutover, 1);
    assert_eq!(account(&r, "asmith").arrived_since_cutover, 1);
    assert_eq!(r.arrived_since_cutover, 1);
    assert!(r.late_arrivals[0].logged);
    assert_eq!(
        r.late_arrivals[0].message_id.as_deref(),
        Some("late-0102@sender.example")
    );
    assert_eq!(account(&r, "jdoe").logged_since_cutover, 0);
    // The store folders are named by the users/ links; the orphan keeps its GUID.
    assert!(r
        .accounts
        .iter()
        .any(|a| a.account == "D0E1F2A3-B4C5-4D6E-8F90-A1B2C3D4E5F6"));

    // The rotated, bzip2'd log is read and its Dec 30 lines belong to 2018 (year roll-over).
    assert!(
        r.logs_read.iter().any(|l| l.ends_with("mail.log.0.bz2")),
        "{:?}",
        r.logs_read
    );
    let dec30 = watch
        .deliveries()
        .iter()
        .find(|d| d.kind == LogKind::Postfix && d.at == utc("2018-12-30T03:33:36Z"))
        .expect("the Dec 30 delivery from mail.log.0.bz2");
    assert_eq!(dec30.account, "jdoe");
    assert_eq!(dec30.address.as_deref(), Some("jane.doe@example.com"));
    // Dovecot's "Jan 01" format.
    assert!(watch.deliveries().iter().any(|d| d.kind == LogKind::Dovecot
        && d.account == "jdoe"
        && d.at == utc("2019-01-01T08:14:04Z")));
    // The amavis hop and the virus discard are not deliveries into the store.
    let postfix_jan1: Vec<_> = watch
        .deliveries()
        .iter()
        .filter(|d| {
            d.kind == LogKind::Postfix
                && d.at.date_naive() == utc("2019-01-01T10:00:00Z").date_naive()
        })
        .collect();
    assert_eq!(postfix_jan1.len(), 1);

    // Late arrival in the store after the cut-over: asmith's INBOX message of Jan 2.
    assert_eq!(r.late_arrivals.len(), 1);
    assert_eq!(r.late_arrivals[0].account, "asmith");
    assert_eq!(r.late_arrivals[0].folder, "INBOX");
    // One outside connection after the cut-over (mx.sender.example, Jan 2).
    assert_eq!(r.inbound_since_cutover, 1);
    // The fixture's refusals (Dec 31: two unknown users, a virus) are before the cut-over.
    assert_eq!(r.rejected_since_cutover, Vec::new());
    let last = r.last_rejected.as_ref().expect("the Dec 31 refusals");
    assert_eq!(last.at, utc("2018-12-31T14:01:45Z"));
    assert_eq!(last.recipient.as_deref(), Some("ghost@example.org"));
    assert_eq!(r.warnings, Vec::<String>::new());
    assert_eq!(r.log_years.len(), 2);
    assert!(r
        .log_years
        .iter()
        .all(|y| y.year_of_last_line == 2019 && y.source == YearSource::Given));

    // Quiet: 23 h since the last delivery is not 72 h.
    assert_eq!(r.quiet_for_secs, Some(23 * 3600 - 139));
    assert!(!r.quiet);
    let later = watch.poll(utc("2019-01-06T00:00:00Z"));
    assert!(later.quiet);

    // Secrets from the fixture never show up.
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("FAKE"), "{json}");
}

#[test]
fn year_from_the_log_file_time() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(tmp.path());
    let log = root.join(mailflow::POSTFIX_LOG);
    let written = std::time::SystemTime::from(utc("2019-01-02T15:00:00Z"));
    std::fs::File::options()
        .write(true)
        .open(&log)
        .unwrap()
        .set_modified(written)
        .unwrap();
    let info = root.join(mailflow::DOVECOT_LOG);
    std::fs::File::options()
        .write(true)
        .open(&info)
        .unwrap()
        .set_modified(written)
        .unwrap();
    let r = mailflow::check(options(&root, None), utc("2019-01-03T12:00:00Z")).unwrap();
    assert_eq!(r.last_delivery, Some(utc("2019-01-02T13:02:19Z")));

    // Last written on Jan 1 2020: a last line of "Jan 2" cannot be from 2020, so it is 2019.
    let spring = std::time::SystemTime::from(utc("2020-01-01T12:00:00Z"));
    std::fs::File::options()
        .write(true)
        .open(&log)
        .unwrap()
        .set_modified(spring)
        .unwrap();
    let w = MailflowWatch::start(options(&root, None)).unwrap();
    assert!(w
        .deliveries()
        .iter()
        .any(|d| d.at == utc("2018-12-30T03:33:36Z")));
}

#[test]
fn lines_and_files_appended_while_watching() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(tmp.path());
    let mut watch = MailflowWatch::start(options(&root, Some(2019))).unwrap();
    let first = watch.poll(utc("2019-01-03T12:00:00Z"));
    assert!(first
        .accounts
        .iter()
        .all(|a| a.account != "bmueller" || a.logged_since_cutover == 0));

    let log = root.join(mailflow::POSTFIX_LOG);
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    // A whole delivery, then half a line (the writer is still writing it).
    writeln!(
        f,
        "Jan  3 10:00:01 mail postfix/pipe[10501]: 5A6B7C8D9E0: to=<bmueller@mail.example.com>, orig_to=<bjoern.mueller@example.org>, relay=dovecot, delay=0.04, delays=0/0/0/0.04, dsn=2.0.0, status=sent (delivered via dovecot service)"
    )
    .unwrap();
    write!(f, "Jan  3 11:00:00 mail postfix/pipe[10502]: 6B7C8D9E0F1: to=<jdoe@mail.example.com>, relay=dov").unwrap();
    f.flush().unwrap();
    // A message file delivered into bmueller's store at the same time.
    let store = root.join("Library/Server/Mail/Data/mail/C41D09F8-6E2B-4A3C-8D7F-2B9E5A0C6D18/new");
    let t = Utc
        .with_ymd_and_hms(2019, 1, 3, 9, 0, 1)
        .unwrap()
        .timestamp();
    std::fs::write(
        store.join(format!("{t}.M1P10501.mail.example.com,S=20")),
        "Subject: late\n\nhi\n",
    )
    .unwrap();

    let r = watch.poll(utc("2019-01-03T12:00:00Z"));
    let b = account(&r, "bmueller");
    assert_eq!(b.logged_since_cutover, 1);
    assert_eq!(b.stored_since_cutover, 1);
    assert_eq!(
        b.arrived_since_cutover, 1,
        "the log line and the file are one message"
    );
    assert_eq!(b.last_delivery, Some(utc("2019-01-03T09:00:01Z")));
    assert_eq!(r.last_delivery, Some(utc("2019-01-03T09:00:01Z")));
    assert_eq!(r.late_arrivals.len(), 2);
    assert_eq!(r.arrived_since_cutover, 2);
    assert_eq!(
        account(&r, "jdoe").logged_since_cutover,
        0,
        "half a line is not read yet"
    );

    // The rest of the line arrives.
    writeln!(f, "ecot, delay=0.04, delays=0/0/0/0.04, dsn=2.0.0, status=sent (delivered via dovecot service)").unwrap();
    let r = watch.poll(utc("2019-01-03T12:00:00Z"));
    assert_eq!(account(&r, "jdoe").logged_since_cutover, 1);
    assert_eq!(
        account(&r, "jdoe").last_delivery,
        Some(utc("2019-01-03T10:00:00Z"))
    );

    // The log is rotated: the new file is read from its start.
    drop(f);
    std::fs::rename(&log, root.join("var/log/mail.log.0")).unwrap();
    std::fs::write(
        &log,
        "Jan  3 11:30:00 mail postfix/pipe[10600]: 7C8D9E0F1A2: to=<asmith@mail.example.com>, orig_to=<sales@example.com>, relay=dovecot, delay=0.04, delays=0/0/0/0.04, dsn=2.0.0, status=sent (delivered via dovecot service)\n",
    )
    .unwrap();
    let r = watch.poll(utc("2019-01-03T12:00:00Z"));
    // The fixture's Jan 2 message (both logs) and this one.
    assert_eq!(account(&r, "asmith").logged_since_cutover, 2);
    assert_eq!(r.last_delivery, Some(utc("2019-01-03T10:30:00Z")));
    assert!(!r.quiet);
}

fn append(path: &Path, lines: &[&str]) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

fn set_mtime(path: &Path, at: &str) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(std::time::SystemTime::from(utc(at)))
        .unwrap();
}

/// A Maildir file named by its delivery time, as Dovecot names them.
fn store_file(root: &Path, guid: &str, folder: &str, at: &str, message_id: &str) -> String {
    let dir = root
        .join("Library/Server/Mail/Data/mail")
        .join(guid)
        .join(folder);
    std::fs::create_dir_all(&dir).unwrap();
    let name = format!("{}.M7P7.mail.example.com,S=40", utc(at).timestamp());
    std::fs::write(
        dir.join(&name),
        format!("Subject: test\nMessage-ID: <{message_id}>\n\nhello\n"),
    )
    .unwrap();
    name
}

const JDOE: &str = "3F2A6C1E-8B4D-4E7A-9C21-5D0B7E6F1A23";
const ASMITH: &str = "9B7E4D52-1C3A-4F68-A2E9-0C5D8B1F7E46";

/// Postfix lines of one message from outside: smtpd, cleanup (Message-ID), qmgr, one pipe line
/// per recipient account, removed.
fn postfix_delivery(
    stamp: &str,
    queue: &str,
    message_id: Option<&str>,
    to: &[&str],
) -> Vec<String> {
    let mut out = vec![format!(
        "{stamp} mail postfix/smtpd[20001]: {queue}: client=mx.other.example[198.51.100.40]"
    )];
    if let Some(id) = message_id {
        out.push(format!(
            "{stamp} mail postfix/cleanup[20002]: {queue}: message-id=<{id}>"
        ));
    }
    out.push(format!(
        "{stamp} mail postfix/qmgr[211]: {queue}: from=<someone@other.example>, size=600, nrcpt={} (queue active)",
        to.len()
    ));
    for account in to {
        out.push(format!("{stamp} mail postfix/pipe[20003]: {queue}: to=<{account}@mail.example.com>, orig_to=<info@example.com>, relay=dovecot, delay=0.04, delays=0/0/0/0.04, dsn=2.0.0, status=sent (delivered via dovecot service)"));
    }
    out.push(format!("{stamp} mail postfix/qmgr[211]: {queue}: removed"));
    out
}

fn lda(stamp: &str, account: &str, message_id: Option<&str>, mailbox: &str) -> String {
    let id = message_id.map_or("unspecified".to_string(), |i| format!("<{i}>"));
    format!("{stamp} lda(pid 30001 user {account}): Info: sieve: msgid={id}: stored mail into mailbox '{mailbox}'")
}

fn strings(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn a_message_logged_by_postfix_and_dovecot_is_one_delivery() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(tmp.path());
    let postfix = root.join(mailflow::POSTFIX_LOG);
    let dovecot = root.join(mailflow::DOVECOT_LOG);
    // Two messages to bmueller in the same second, told apart by their Message-IDs.
    append(
        &postfix,
        &strings(&postfix_delivery(
            "Jan  3 10:00:01",
            "A1A1A1A1A1",
            Some("m1@other.example"),
            &["bmueller"],
        )),
    );
    append(
        &postfix,
        &strings(&postfix_delivery(
            "Jan  3 10:00:01",
            "B2B2B2B2B2",
            Some("m2@other.example"),
            &["bmueller"],
        )),
    );
    // One message to the info@ alias: one queue, two accounts.
    append(
        &postfix,
        &strings(&postfix_delivery(
            "Jan  3 10:05:00",
            "C3C3C3C3C3",
            Some("info-1@other.example"),
            &["jdoe", "asmith"],
        )),
    );
    // A queue whose cleanup line is not in the logs, and a Dovecot line without Message-ID:
    // paired by account and time.
    append(
        &postfix,
        &strings(&postfix_delivery(
            "Jan  3 10:10:00",
            "D4D4D4D4D4",
            None,
            &["jdoe"],
        )),
    );
    append(
        &dovecot,
        &[
            &lda(
                "Jan 03 10:00:01",
                "bmueller",
                Some("m2@other.example"),
                "INBOX",
            ),
            &lda(
                "Jan 03 10:00:01",
                "bmueller",
                Some("m1@other.example"),
                "INBOX",
            ),
            &lda(
                "Jan 03 10:05:00",
                "jdoe",
                Some("info-1@other.example"),
                "INBOX",
            ),
            &lda(
                "Jan 03 10:05:00",
                "asmith",
                Some("info-1@other.example"),
                "INBOX",
            ),
            &lda("Jan 03 10:09:59", "jdoe", None, "INBOX"),
            // Delivered by Dovecot alone (no Postfix line): still one delivery.
            &lda(
                "Jan 03 10:20:00",
                "junkmail",
                Some("fwd-junk-2@example.com"),
                "INBOX",
            ),
        ],
    );
    let mut watch = MailflowWatch::start(options(&root, Some(2019))).unwrap();
    let r = watch.poll(utc("2019-01-03T12:00:00Z"));
    assert_eq!(account(&r, "bmueller").logged_since_cutover, 2);
    assert_eq!(account(&r, "jdoe").logged_since_cutover, 2);
    // The fixture's Jan 2 message (Postfix and Dovecot) plus the info@ one.
    assert_eq!(account(&r, "asmith").logged_since_cutover, 2);
    assert_eq!(account(&r, "junkmail").logged_since_cutover, 1);

    // The Postfix line is read in one poll, Dovecot's in the next: still one delivery.
    append(
        &postfix,
        &strings(&postfix_delivery(
            "Jan  3 11:00:00",
            "E5E5E5E5E5",
            Some("m3@other.example"),
            &["bmueller"],
        )),
    );
    let r = watch.poll(utc("2019-01-03T12:00:00Z"));
    assert_eq!(account(&r, "bmueller").logged_since_cutover, 3);
    append(
        &dovecot,
        &[&lda(
            "Jan 03 11:00:00",
            "bmueller",
            Some("m3@other.example"),
            "INBOX",
        )],
    );
    let r = watch.poll(utc("2019-01-03T12:00:00Z"));
    assert_eq!(account(&r, "bmueller").logged_since_cutover, 3);
    assert_eq!(
        account(&r, "bmueller").last_delivery,
        Some(utc("2019-01-03T10:00:00Z"))
    );
}

#[test]
fn drafts_sent_and_trash_are_not_deliveries() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(tmp.path());
    store_file(
        &root,
        JDOE,
        ".Drafts/cur",
        "2019-01-02T20:00:00Z",
        "draft-1@example.com",
    );
    store_file(
        &root,
        JDOE,
        ".Sent Messages/cur",
        "2019-01-02T20:05:00Z",
        "sent-1@example.com",
    );
    store_file(
        &root,
        JDOE,
        ".Deleted Messages/cur",
        "2019-01-02T20:10:00Z",
        "moved-1@example.com",
    );
    // A user folder no log line names as a delivery target: a message moved there.
    store_file(
        &root,
        ASMITH,
        ".Clients/cur",
        "2019-01-02T20:15:00Z",
        "moved-2@example.com",
    );
    let r = mailflow::check(options(&root, Some(2019)), utc("2019-01-03T12:00:00Z")).unwrap();
    assert_eq!(
        account(&r, "jdoe").last_delivery,
        Some(utc("2019-01-01T08:14:04Z"))
    );
    assert_eq!(account(&r, "jdoe").stored_since_cutover, 0);
    assert_eq!(
        account(&r, "asmith").last_delivery,
        Some(utc("2019-01-02T13:02:19Z"))
    );
    assert_eq!(r.last_delivery, Some(utc("2019-01-02T13:02:19Z")));
    assert_eq!(r.late_arrivals.len(), 1, "{:?}", r.late_arrivals);
    // Not deliveries, but not lost either: someone still uses the old server.
    let written: Vec<(&str, &str)> = r
        .written_since_cutover
        .iter()
        .map(|w| (w.account.as_str(), w.folder.as_str()))
        .collect();
    assert_eq!(
        written,
        vec![
            ("jdoe", "Drafts"),
            ("jdoe", "Sent Messages"),
            ("jdoe", "Deleted Messages"),
            ("asmith", "Clients")
        ]
    );
    assert_eq!(account(&r, "jdoe").written_since_cutover, 3);

    // Junk is where sieve delivers spam; a user folder the log shows a delivery into counts too.
    let junk = store_file(
        &root,
        JDOE,
        ".Junk/new",
        "2019-01-02T21:00:00Z",
        "spam-9@bad.example",
    );
    append(
        &root.join(mailflow::DOVECOT_LOG),
        &[&lda(
            "Jan 02 23:00:00",
            "asmith",
            Some("filed-1@other.example"),
            "Projects",
        )],
    );
    let filed = store_file(
        &root,
        ASMITH,
        ".Projects/new",
        "2019-01-02T22:00:00Z",
        "filed-1@other.example",
    );
    let r = mailflow::check(options(&root, Some(2019)), utc("2019-01-03T12:00:00Z")).unwrap();
    assert_eq!(
        account(&r, "jdoe").last_delivery,
        Some(utc("2019-01-02T21:00:00Z"))
    );
    assert_eq!(account(&r, "jdoe").stored_since_cutover, 1);
    assert_eq!(
        account(&r, "asmith").last_delivery,
        Some(utc("2019-01-02T22:00:00Z"))
    );
    assert_eq!(account(&r, "asmith").stored_since_cutover, 2);
    let late: Vec<(&str, &str)> = r
        .late_arrivals
        .iter()
        .map(|l| (l.folder.as_str(), l.file.as_str()))
        .collect();
    assert_eq!(late.len(), 3, "{late:?}");
    assert!(late.contains(&("Junk", junk.as_str())), "{late:?}");
    assert!(late.contains(&("Projects", filed.as_str())), "{late:?}");
}

#[test]
fn feb_29_and_an_assumed_year_are_warned_about() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(tmp.path());
    let postfix = root.join(mailflow::POSTFIX_LOG);
    let dovecot = root.join(mailflow::DOVECOT_LOG);
    append(
        &postfix,
        &strings(&postfix_delivery(
            "Feb 29 10:00:00",
            "F6F6F6F6F6",
            Some("leap@other.example"),
            &["jdoe"],
        )),
    );
    // Copied off the server on Mar 1 2019: the file time says 2019, which has no Feb 29.
    set_mtime(&postfix, "2019-03-01T12:00:00Z");
    set_mtime(&dovecot, "2019-01-02T15:00:00Z");
    let r = mailflow::check(options(&root, None), utc("2019-03-02T12:00:00Z")).unwrap();
    assert_eq!(
        r.warnings,
        vec![
            "var/log/mail.log has no year in its lines: they were dated as if its last line were from 2019, the year the file was last changed (2019-03-01). If the log was copied from the old server, that time may be the copy's: name the year of the log's last line.".to_string(),
            "var/log/mail.log: 5 lines dated 29 February cannot be in 2019, which is not a leap year, and were left out (1 of them a delivery or refused attempt). The year is wrong: name the year of the log's last line.".to_string(),
            "Library/Logs/Mail/mail-info.log has no year in its lines: they were dated as if its last line were from 2019, the year the file was last changed (2019-01-02). If the log was copied from the old server, that time may be the copy's: name the year of the log's last line.".to_string(),
        ]
    );
    assert_eq!(
        account(&r, "jdoe").last_delivery,
        Some(utc("2019-01-01T08:14:04Z"))
    );

    // Anchored on 2020 (a leap year): the Feb 29 delivery counts, no warning.
    let r = mailflow::check(options(&root, Some(2020)), utc("2020-03-02T12:00:00Z")).unwrap();
    assert_eq!(r.warnings, Vec::<String>::new());
    assert_eq!(
        account(&r, "jdoe").last_delivery,
        Some(utc("2020-02-29T09:00:00Z"))
    );
}

#[test]
fn the_fixture_refusals_are_read_with_client_sender_recipient_and_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(tmp.path());
    let mut o = options(&root, Some(2019));
    o.cutover = Some(utc("2018-12-31T00:00:00Z"));
    let r = mailflow::check(o, utc("2019-01-03T12:00:00Z")).unwrap();
    let attempt =
        |at: &str, outcome, address: &str, sender: &str, recipient: &str, reason: &str| {
            RejectedAttempt {
                at: utc(at),
                outcome,
                client_host: None,
                client_address: Some(address.into()),
                sender: Some(sender.into()),
                recipient: Some(recipient.into()),
                reason: reason.into(),
            }
        };
    assert_eq!(
        r.rejected_since_cutover,
        vec![
            // amavis discarded a virus the old MX had accepted.
            attempt("2018-12-31T13:22:12Z", AttemptOutcome::Discarded, "203.0.113.66", "billing@invoice-fraud.example", "asmith@example.com", "INFECTED: Win.Trojan.FakeFixture-0000001-0"),
            attempt("2018-12-31T14:01:45Z", AttemptOutcome::Rejected, "203.0.113.120", "list@bulk.example", "nobody@example.com", "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table"),
            attempt("2018-12-31T14:01:45Z", AttemptOutcome::Rejected, "203.0.113.120", "list@bulk.example", "ghost@example.org", "550 5.1.1 <ghost@example.org>: Recipient address rejected: User unknown in virtual alias table"),
        ]
    );
    // The SASL submission relayed to the ISP and the deferral are not refusals.
}

#[test]
fn deliveries_only_in_the_log_and_refusals_after_the_cutover() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(tmp.path());
    let postfix = root.join(mailflow::POSTFIX_LOG);
    let dovecot = root.join(mailflow::DOVECOT_LOG);
    // Delivered to bmueller (both logs), no file in the store yet.
    append(
        &postfix,
        &strings(&postfix_delivery(
            "Jan  3 10:00:01",
            "A1A1A1A1A1",
            Some("m1@other.example"),
            &["bmueller"],
        )),
    );
    append(
        &dovecot,
        &[&lda(
            "Jan 03 10:00:01",
            "bmueller",
            Some("m1@other.example"),
            "INBOX",
        )],
    );
    // A sender that still reaches the old MX, refused twice; later, a postscreen refusal.
    append(&postfix, &[
        "Jan  3 11:30:00 mail postfix/smtpd[20100]: connect from mx.partner.example[198.51.100.80]",
        "Jan  3 11:30:01 mail postfix/smtpd[20100]: NOQUEUE: reject: RCPT from mx.partner.example[198.51.100.80]: 450 4.2.0 <jane.doe@example.com>: Recipient address rejected: Greylisted; from=<orders@partner.example> to=<jane.doe@example.com> proto=ESMTP helo=<mx.partner.example>",
        "Jan  3 11:30:01 mail postfix/smtpd[20100]: NOQUEUE: reject: RCPT from mx.partner.example[198.51.100.80]: 550 5.1.1 <old@example.com>: Recipient address rejected: User unknown in local recipient table; from=<orders@partner.example> to=<old@example.com> proto=ESMTP helo=<mx.partner.example>",
        "Jan  3 11:30:02 mail postfix/smtpd[20100]: disconnect from mx.partner.example[198.51.100.80] ehlo=1 mail=1 rcpt=0/2 quit=1 commands=3/5",
        "Jan  4 08:00:00 mail postfix/postscreen[20200]: NOQUEUE: reject: RCPT from [203.0.113.5]:48210: 550 5.7.1 Service unavailable; client [203.0.113.5] blocked using zen.spamhaus.org; from=<a@spam.example>, to=<jdoe@example.com>, proto=ESMTP, helo=<spam.example>",
    ]);
    let r = mailflow::check(options(&root, Some(2019)), utc("2019-01-05T12:00:00Z")).unwrap();
    let b = account(&r, "bmueller");
    assert_eq!(
        (
            b.logged_since_cutover,
            b.stored_since_cutover,
            b.arrived_since_cutover
        ),
        (1, 0, 1)
    );
    // asmith's Jan 2 message (store and logs) and bmueller's (logs only).
    assert_eq!(r.arrived_since_cutover, 2);
    assert_eq!(
        r.arrived_since_cutover,
        r.accounts
            .iter()
            .map(|a| a.arrived_since_cutover)
            .sum::<u32>()
    );
    assert_eq!(r.late_arrivals.len(), 1);
    assert_eq!(r.logged_not_stored.len(), 1);
    let only = &r.logged_not_stored[0];
    assert_eq!(only.account, "bmueller");
    assert_eq!(only.at, utc("2019-01-03T09:00:01Z"));
    assert_eq!(only.message_id.as_deref(), Some("m1@other.example"));
    assert_eq!(only.queue_id.as_deref(), Some("A1A1A1A1A1"));
    assert_eq!(only.address.as_deref(), Some("info@example.com"));
    assert_eq!(only.mailbox.as_deref(), Some("INBOX"));
    assert!(only.in_postfix_log && only.in_dovecot_log);

    let partner = |at: &str, to: &str, reason: &str| RejectedAttempt {
        at: utc(at),
        outcome: AttemptOutcome::Rejected,
        client_host: Some("mx.partner.example".into()),
        client_address: Some("198.51.100.80".into()),
        sender: Some("orders@partner.example".into()),
        recipient: Some(to.into()),
        reason: reason.into(),
    };
    let spam = RejectedAttempt {
        at: utc("2019-01-04T07:00:00Z"),
        outcome: AttemptOutcome::Rejected,
        client_host: None,
        client_address: Some("203.0.113.5".into()),
        sender: Some("a@spam.example".into()),
        recipient: Some("jdoe@example.com".into()),
        reason:
            "550 5.7.1 Service unavailable; client [203.0.113.5] blocked using zen.spamhaus.org"
                .into(),
    };
    assert_eq!(
        r.rejected_since_cutover,
        vec![
            partner("2019-01-03T10:30:01Z", "jane.doe@example.com", "450 4.2.0 <jane.doe@example.com>: Recipient address rejected: Greylisted"),
            partner("2019-01-03T10:30:01Z", "old@example.com", "550 5.1.1 <old@example.com>: Recipient address rejected: User unknown in local recipient table"),
            spam.clone(),
        ]
    );
    assert_eq!(r.last_rejected, Some(spam));
    assert_eq!(
        r.inbound_since_cutover, 2,
        "mx.sender.example and mx.partner.example"
    );

    // Quiet counts from the refused attempt (Jan 4 07:00), not the last delivery (Jan 3 09:00).
    assert_eq!(r.last_delivery, Some(utc("2019-01-03T09:00:01Z")));
    assert_eq!(r.quiet_for_secs, Some(29 * 3600));
    assert_eq!(r.quiet_rule, mailflow::QUIET_RULE);
    let r = mailflow::check(options(&root, Some(2019)), utc("2019-01-06T10:00:00Z")).unwrap();
    assert!(
        !r.quiet,
        "72 h after the delivery but 51 h after the refusal"
    );
    let r = mailflow::check(options(&root, Some(2019)), utc("2019-01-07T07:00:00Z")).unwrap();
    assert!(r.quiet);
}

#[test]
fn lines_written_just_before_a_rotation_are_read_once() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(tmp.path());
    let log = root.join(mailflow::POSTFIX_LOG);
    // Half a line when Ferry starts: read once the writer finishes it, not twice.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(b"Jan  3 09:00:00 mail postfix/pipe[1]: 1A2B3C4D5E: to=<jdoe@mail.example.com>, relay=dove")
        .unwrap();
    let mut watch = MailflowWatch::start(options(&root, Some(2019))).unwrap();
    append(
        &log,
        &["cot, delay=0.04, dsn=2.0.0, status=sent (delivered via dovecot service)"],
    );
    // Written after the last poll, then the log is rotated and compressed (newsyslog).
    append(&log, &["Jan  3 09:30:00 mail postfix/pipe[2]: 2B3C4D5E6F: to=<bmueller@mail.example.com>, relay=dovecot, delay=0.04, dsn=2.0.0, status=sent (delivered via dovecot service)"]);
    // The older rotation moves up a number first, as newsyslog does.
    std::fs::rename(
        root.join("var/log/mail.log.0.bz2"),
        root.join("var/log/mail.log.1.bz2"),
    )
    .unwrap();
    let rotated = root.join("var/log/mail.log.0");
    std::fs::rename(&log, &rotated).unwrap();
    let bzip2 = std::process::Command::new("bzip2")
        .arg(&rotated)
        .status()
        .unwrap();
    assert!(bzip2.success());
    std::fs::write(&log, "Jan  3 10:00:00 mail postfix/pipe[3]: 3C4D5E6F7A: to=<asmith@mail.example.com>, relay=dovecot, delay=0.04, dsn=2.0.0, status=sent (delivered via dovecot service)\n").unwrap();
    let r = watch.poll(utc("2019-01-03T12:00:00Z"));
    assert_eq!(account(&r, "jdoe").logged_since_cutover, 1);
    assert_eq!(account(&r, "bmueller").logged_since_cutover, 1);
    assert_eq!(account(&r, "asmith").logged_since_cutover, 2);
    let lines: Vec<_> = watch
        .deliveries()
        .iter()
        .filter(|d| d.at > utc("2019-01-03T00:00:00Z"))
        .map(|d| (d.account.as_str(), d.at))
        .collect();
    assert_eq!(
        lines,
        vec![
            ("jdoe", utc("2019-01-03T08:00:00Z")),
            ("bmueller", utc("2019-01-03T08:30:00Z")),
            ("asmith", utc("2019-01-03T09:00:00Z")),
        ]
    );
}
