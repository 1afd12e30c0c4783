//! Mail still arriving, read from a materialized copy of the fixture (its logs with the Dec 31 ->
//! Jan 1 roll-over and a bzip2 rotation, its store), then lines and files added while Ferry watches.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use ferry_cutover::logs::{LogKind, LogZone};
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
    assert_eq!(
        account(&r, "asmith").logged_since_cutover,
        2,
        "postfix + dovecot lines"
    );
    assert_eq!(account(&r, "asmith").stored_since_cutover, 1);
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
    assert_eq!(b.last_delivery, Some(utc("2019-01-03T09:00:01Z")));
    assert_eq!(r.last_delivery, Some(utc("2019-01-03T09:00:01Z")));
    assert_eq!(r.late_arrivals.len(), 2);
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
    assert_eq!(account(&r, "asmith").logged_since_cutover, 3);
    assert_eq!(r.last_delivery, Some(utc("2019-01-03T10:30:00Z")));
    assert!(!r.quiet);
}
