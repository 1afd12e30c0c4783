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
        text.contains("1 message(s) arrived after the cut-over"),
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
