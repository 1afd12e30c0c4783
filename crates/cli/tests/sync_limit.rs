//! `ferry sync --daily-upload-limit`: at the limit the run stops with exit status 3 and says when
//! to run again; the newest mail went first; a run right after sends nothing more.

mod common;

use common::*;
use ferry_testkit::{Dovecot, Preset};

fn message(i: usize, date: &str) -> Vec<u8> {
    let mut m = format!(
        "From: s{i}@example.com\r\nTo: alice@example.net\r\nSubject: limit {i}\r\nDate: {date}\r\n\
         Message-ID: <limit{i}@test.example>\r\n\r\n"
    )
    .into_bytes();
    while m.len() < 200_000 {
        m.extend_from_slice(b"a line of the body to make the message two hundred kilobytes\r\n");
    }
    m
}

#[test]
fn the_daily_limit_stops_the_run_with_status_3_and_the_time_to_run_again() {
    let src = Dovecot::start(Preset::Modern);
    let dst = Dovecot::start(Preset::Modern);
    // Five messages of ~200 kB, each a day newer than the one before.
    for i in 0..5 {
        let date = format!("{:02}-Jan-2024 10:00:00 +0000", i + 1);
        src.append("alice", "INBOX", &[], Some(&date), &message(i, &date));
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite");
    // 1 MB a day: four messages fit, the fifth does not.
    let out = ferry_between(src.imaps_port(), &src, &dst, &state, "sync")
        .args(["--daily-upload-limit", "1", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", shown(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let account = &report["accounts"][0];
    assert_eq!(account["copied"], 4, "{}", shown(&out));
    assert_eq!(account["deferred"], 1, "{}", shown(&out));
    assert!(
        account["budget_exhausted_until"].is_string(),
        "{}",
        shown(&out)
    );
    // The four newest arrived; the oldest (1 Jan) waits.
    let subjects: Vec<String> = dst
        .messages("bob", "INBOX")
        .iter()
        .map(|m| {
            let text = String::from_utf8_lossy(&m.bytes).to_string();
            text.lines()
                .find_map(|l| l.strip_prefix("Subject: ").map(str::to_string))
                .unwrap()
        })
        .collect();
    let mut subjects = subjects;
    subjects.sort();
    assert_eq!(subjects, ["limit 1", "limit 2", "limit 3", "limit 4"]);

    // Right after: the window is full, nothing more is sent; the text says when to run again.
    let again = ferry_between(src.imaps_port(), &src, &dst, &state, "sync")
        .args(["--daily-upload-limit", "1"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(3), "{}", shown(&again));
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(
        text.contains("daily upload limit reached: the newest mail is there; run again after "),
        "{}",
        shown(&again)
    );
    assert_eq!(dst.messages("bob", "INBOX").len(), 4);

    let help = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["sync", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("3 the daily upload limit was reached"),
        "{help}"
    );
}
