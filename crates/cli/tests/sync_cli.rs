//! `ferry sync` / `ferry verify` as scripts call them, against real Dovecot servers; killed with
//! SIGKILL from outside at several points, then re-run: every message ends up exactly once.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferry_testkit::{Dovecot, Preset};

mod common;

fn raw_message(i: usize, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Sender {i} <s{i}@example.com>\r\nTo: bob@example.net\r\nSubject: message {i}\r\n\
         Date: Tue, 2 Jan 2024 09:{:02}:{:02} +0000\r\nMessage-ID: <cli{i}@test.example>\r\n\r\n",
        (i / 60) % 60,
        i % 60
    )
    .into_bytes();
    while m.len() < size {
        m.extend_from_slice(
            format!("body line of message {i}, padding padding padding\r\n").as_bytes(),
        );
    }
    m
}

fn ferry(src: &Dovecot, dst: &Dovecot, state: &std::path::Path, verb: &str) -> Command {
    let mut c = common::ferry_between(src.imaps_port(), src, dst, state, verb);
    c.arg("--json");
    c
}

fn dest_count(dst: &Dovecot) -> usize {
    // The destination's own count (doveadm), whatever the line around the number looks like.
    let out = dst.doveadm(&["mailbox", "status", "-u", "bob", "messages", "INBOX"]);
    out.split(|c: char| !c.is_ascii_digit())
        .rfind(|t| !t.is_empty())
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
}

#[test]
fn killed_at_several_points_then_rerun_every_message_exactly_once() {
    let src = Dovecot::start(Preset::Modern);
    let dst = Dovecot::start(Preset::Modern);
    const N: usize = 120;
    for i in 0..N {
        src.deliver("alice", "INBOX", &raw_message(i, 200_000));
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite");
    let mut killed_mid_run = 0;
    for landed in [5, 40, 80] {
        let mut child = ferry(&src, &dst, &state, "sync")
            .args(["--connections", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while dest_count(&dst) < landed && start.elapsed() < Duration::from_secs(60) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed_mid_run += 1;
        }
        let out = child.wait_with_output().unwrap();
        eprintln!(
            "run to {landed}: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(killed_mid_run >= 2, "the runs must be killed while copying");
    let out = ferry(&src, &dst, &state, "sync").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["complete"], true);
    let got = dst.messages("bob", "INBOX");
    assert_eq!(got.len(), N, "every message exactly once after the kills");
    for i in 0..N {
        let n = got
            .iter()
            .filter(|m| m.bytes == raw_message(i, 200_000))
            .count();
        assert_eq!(n, 1, "message {i} is there {n} times");
    }
    // A second run copies nothing; verify agrees.
    let out = ferry(&src, &dst, &state, "sync").output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["copied"], 0, "{report}");
    let out = ferry(&src, &dst, &state, "verify").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["missing"], 0);
}

#[test]
fn passwords_only_from_the_environment_and_plaintext_only_to_loopback() {
    let vault_dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "sync",
            "--source",
            "imaps://a:secret@host",
            "--dest",
            "imaps://b@host2",
        ])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("FERRY_SOURCE_PASSWORD"), "{err}");
    assert!(!err.contains("secret"), "a password is never echoed: {err}");
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "sync",
            "--allow-plaintext",
            "--source",
            "imap://a@mail.example.com",
            "--dest",
            "imaps://b@host2",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "sync",
            "--source",
            "imaps://a@host",
            "--dest",
            "imaps://b@host2",
        ])
        .env_remove("FERRY_DEST_PASSWORD")
        // An empty encrypted-file vault (never the developer's own store, never a prompt).
        .env("FERRY_VAULT", "file")
        .env(
            "FERRY_VAULT_FILE",
            vault_dir.path().join("empty.ferry-vault"),
        )
        .env("FERRY_VAULT_PASSPHRASE", "pp")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(err.contains("FERRY_DEST_PASSWORD"), "{err}");
    assert!(
        err.contains("ferry credentials set"),
        "names both ways: {err}"
    );
}

#[test]
fn passwords_from_the_vault_when_the_environment_has_none() {
    let src = Dovecot::start(Preset::Modern);
    let dst = Dovecot::start(Preset::Modern);
    for i in 0..3 {
        src.deliver("alice", "INBOX", &raw_message(i, 2_000));
    }
    let dir = tempfile::tempdir().unwrap();
    let vault_file = dir.path().join("passwords.ferry-vault");
    let with_vault = |c: &mut Command| {
        c.env("FERRY_VAULT", "file")
            .env("FERRY_VAULT_FILE", &vault_file)
            .env("FERRY_VAULT_PASSPHRASE", "a long passphrase");
    };
    // Both passwords stored the way the admin does it (phase 3), from standard input.
    for (user, server) in [("alice", &src), ("bob", &dst)] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ferry"));
        c.args(["credentials", "set", user, "--host", "127.0.0.1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        with_vault(&mut c);
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        writeln!(child.stdin.take().unwrap(), "{}", server.password(user)).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut c = ferry(&src, &dst, &dir.path().join("state.sqlite"), "sync");
    c.env_remove("FERRY_SOURCE_PASSWORD")
        .env_remove("FERRY_DEST_PASSWORD");
    with_vault(&mut c);
    let out = c.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(dest_count(&dst), 3);
}
