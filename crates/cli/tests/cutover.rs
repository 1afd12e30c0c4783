//! `ferry mailflow`, `ferry quarantine archive` and `ferry dns` on a materialized copy of the
//! fixture: JSON shapes, exit codes, and no fixture secret in any output.

use std::process::Command;

fn ferry(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .env_remove("FERRY_IMAP_PASSWORD")
        .output()
        .expect("run ferry")
}

fn no_secrets(out: &std::process::Output) {
    for text in [&out.stdout, &out.stderr] {
        assert!(
            !String::from_utf8_lossy(text).contains("FAKE"),
            "a fixture secret leaked"
        );
    }
}

#[test]
fn mailflow_json_and_text() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(tmp.path());
    let root = root.to_str().unwrap();
    let common = [
        "mailflow",
        "--root",
        root,
        "--since",
        "2019-01-01T12:00:00Z",
        "--utc-offset",
        "3600",
        "--log-year",
        "2019",
    ];
    let out = ferry(&[&common[..], &["--json"]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    no_secrets(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["last_delivery"], "2019-01-02T13:02:19Z");
    assert_eq!(v["late_arrivals"].as_array().unwrap().len(), 1);
    assert_eq!(v["quiet_hours"], 72);
    let text = ferry(&common);
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("Last delivery: 2019-01-02 13:02:19 UTC"),
        "{text}"
    );
    assert!(
        text.contains("1 message arrived after the cut-over"),
        "{text}"
    );

    let bad = ferry(&["mailflow", "--root", root, "--since", "yesterday"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--since"));
}

#[test]
fn quarantine_archive_to_mbox_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(tmp.path());
    let dest = tmp.path().join("archive");
    let args = [
        "quarantine",
        "archive",
        "--root",
        root.to_str().unwrap(),
        "--mbox",
        dest.to_str().unwrap(),
        "--json",
    ];
    let first = ferry(&args);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    no_secrets(&first);
    let v: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    let added: u64 = v[0]["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["added"].as_u64().unwrap())
        .sum();
    assert_eq!(added, 4, "2 junk + 1 virus + 1 spam");
    let second = ferry(&args);
    let v: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    let added: u64 = v[0]["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["added"].as_u64().unwrap())
        .sum();
    assert_eq!(added, 0);
    assert!(dest.join("virus.mbox").exists() && dest.join("spam.mbox").exists());

    let nowhere = ferry(&["quarantine", "archive", "--root", root.to_str().unwrap()]);
    assert!(!nowhere.status.success());
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("--mbox"));
}

#[test]
fn dns_watch_gives_up_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(tmp.path());
    // A resolver that never answers: a bound UDP port nobody reads.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let resolver = silent.local_addr().unwrap().to_string();
    let out = ferry(&[
        "dns",
        "--root",
        root.to_str().unwrap(),
        "--resolver",
        &resolver,
        "--timeout",
        "1",
        "--new-host",
        "mx.newhost.test",
        "--watch",
        "--interval",
        "1",
        "--max-wait",
        "1",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let domains: Vec<&str> = v["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["domain"].as_str().unwrap())
        .collect();
    assert_eq!(
        domains,
        ["example.com", "example.org"],
        "the domains discovery found"
    );
    assert_eq!(v["domains"][0]["points"], "failed");
    assert_eq!(v["all_new"], false);
}

fn append_lines(path: &std::path::Path, lines: &[&str]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

fn set_mtime(path: &std::path::Path, rfc3339: &str) {
    let at = chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(std::time::SystemTime::from(at))
        .unwrap();
}

#[test]
fn mailflow_counts_log_only_deliveries_lists_refusals_and_asks_for_the_year() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(tmp.path());
    let postfix = root.join("var/log/mail.log");
    let dovecot = root.join("Library/Logs/Mail/mail-info.log");
    // Delivered to bmueller after the cut-over (Postfix and Dovecot), no file in the store yet;
    // then a sender that still reaches the old MX is refused.
    append_lines(&postfix, &[
        "Jan  3 10:00:01 mail postfix/smtpd[20001]: A1A1A1A1A1: client=mx.other.example[198.51.100.40]",
        "Jan  3 10:00:01 mail postfix/cleanup[20002]: A1A1A1A1A1: message-id=<m1@other.example>",
        "Jan  3 10:00:01 mail postfix/pipe[20003]: A1A1A1A1A1: to=<bmueller@mail.example.com>, orig_to=<bjoern.mueller@example.org>, relay=dovecot, delay=0.04, delays=0/0/0/0.04, dsn=2.0.0, status=sent (delivered via dovecot service)",
        "Jan  3 10:00:01 mail postfix/qmgr[211]: A1A1A1A1A1: removed",
        "Jan  3 11:30:00 mail postfix/smtpd[20100]: connect from mx.partner.example[198.51.100.80]",
        "Jan  3 11:30:01 mail postfix/smtpd[20100]: NOQUEUE: reject: RCPT from mx.partner.example[198.51.100.80]: 550 5.1.1 <old@example.com>: Recipient address rejected: User unknown in local recipient table; from=<orders@partner.example> to=<old@example.com> proto=ESMTP helo=<mx.partner.example>",
    ]);
    append_lines(&dovecot, &["Jan 03 10:00:01 lda(pid 30001 user bmueller): Info: sieve: msgid=<m1@other.example>: stored mail into mailbox 'INBOX'"]);
    // Copied off the server on Jan 4 2019: no --log-year, so the file times give the year.
    set_mtime(&postfix, "2019-01-04T12:00:00Z");
    set_mtime(&dovecot, "2019-01-04T12:00:00Z");
    let root = root.to_str().unwrap();
    let common = [
        "mailflow",
        "--root",
        root,
        "--since",
        "2019-01-01T12:00:00Z",
        "--utc-offset",
        "3600",
    ];
    let out = ferry(&common);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    no_secrets(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    for expected in [
        "Last refused SMTP attempt: 2019-01-03 10:30:01 UTC rejected from mx.partner.example[198.51.100.80], <orders@partner.example> to <old@example.com>: 550 5.1.1 <old@example.com>: Recipient address rejected: User unknown in local recipient table",
        "2 messages arrived after the cut-over (the next delta or final sync copies those in the store); 2 SMTP connections from outside",
        "  2019-01-03 09:00:01 UTC bmueller: in the log only, no file in the store (Message-ID <m1@other.example>)",
        "1 SMTP attempt refused after the cut-over (senders that still reach the old server)",
        "  2019-01-03 10:30:01 UTC rejected from mx.partner.example[198.51.100.80], <orders@partner.example> to <old@example.com>: 550 5.1.1 <old@example.com>: Recipient address rejected: User unknown in local recipient table",
        "warning: var/log/mail.log has no year in its lines: they were dated as if its last line were from 2019, the year the file was last changed (2019-01-04). If the log was copied from the old server, that time may be the copy's: name the year of the log's last line.",
        "To date the logs for certain, give the year of their last line: --log-year YEAR.",
    ] {
        assert!(lines.contains(&expected), "no line {expected:?} in:\n{text}");
    }
    let bmueller = lines
        .iter()
        .find(|l| l.trim_start().starts_with("bmueller "))
        .unwrap_or_else(|| panic!("no bmueller line in:\n{text}"));
    assert!(
        bmueller.ends_with("since cut-over: 1 arrived (1 logged, 0 in the store)"),
        "{bmueller}"
    );

    // Anchored: no year warning, no hint; the JSON carries the same figures.
    let out = ferry(&[&common[..], &["--log-year", "2019", "--json"]].concat());
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["arrived_since_cutover"], 2);
    assert_eq!(v["logged_not_stored"][0]["account"], "bmueller");
    assert_eq!(
        v["rejected_since_cutover"][0]["recipient"],
        "old@example.com"
    );
    assert_eq!(v["rejected_since_cutover"][0]["outcome"], "rejected");
    assert_eq!(v["warnings"], serde_json::json!([]));
    let text = ferry(&[&common[..], &["--log-year", "2019"]].concat());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(!text.contains("--log-year"), "{text}");
    assert!(!text.contains("warning:"), "{text}");
}
