//! The state file of `ferry sync` with the real binary against real Dovecot servers: one writing
//! run at a time (a second one stops at once, naming the first, and touches nothing), `ferry
//! verify` alongside a sync, and `--dry-run` writing nothing anywhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{ferry_between as ferry, shown};
use ferry_testkit::{Dovecot, FaultProxy, Preset};

mod common;

fn raw_message(i: usize) -> Vec<u8> {
    format!(
        "From: Sender {i} <s{i}@example.com>\r\nTo: bob@example.net\r\nSubject: state test {i}\r\n\
         Date: Wed, 3 Jan 2024 10:00:{:02} +0000\r\nMessage-ID: <state{i}@test.example>\r\n\r\n\
         body of message {i}\r\n",
        i % 60
    )
    .into_bytes()
}

/// Every file in `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

#[test]
fn a_second_sync_on_the_same_state_stops_at_once_and_verify_may_run() {
    let src = Dovecot::start(Preset::Modern);
    let dst = Dovecot::start(Preset::Modern);
    for i in 0..3 {
        src.deliver("alice", "INBOX", &raw_message(i));
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite");

    // 1. The ledger held open for writing by this process, through the library's own function
    //    (the app's way): `ferry sync` is refused before it touches anything.
    let held = ferry_sync::StateDb::open(&state).unwrap();
    let out = ferry(src.imaps_port(), &src, &dst, &state, "sync")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(
        err.contains(&state.display().to_string()),
        "names the state file: {err}"
    );
    assert!(err.contains("another Ferry run is using it"), "{err}");
    assert!(
        err.contains(&format!("process {}", std::process::id())),
        "names the process holding it: {err}"
    );
    assert!(
        err.contains("Wait for that run to finish"),
        "says what to do: {err}"
    );
    assert!(
        dst.messages("bob", "INBOX").is_empty(),
        "nothing was copied"
    );

    // 2. Verify reads only: allowed while the ledger is held, and it reports the truth.
    let out = ferry(src.imaps_port(), &src, &dst, &state, "verify")
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "3 missing: {}", shown(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["missing"], 3);
    drop(held);

    // 3. Two real runs: the first stuck on a stalled source connection holds the lock; the
    //    second stops at once, naming the first's process.
    let proxy = FaultProxy::start(src.imaps_port());
    proxy.stall();
    let mut first = ferry(proxy.port(), &src, &dst, &state, "sync")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock_file = dir.path().join("state.sqlite.lock");
    let holder = format!("process {} ", first.id());
    let start = Instant::now();
    while !std::fs::read_to_string(&lock_file).is_ok_and(|t| t.starts_with(&holder)) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the first run never took the lock"
        );
        assert!(
            first.try_wait().unwrap().is_none(),
            "the first run ended early"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    let out = ferry(src.imaps_port(), &src, &dst, &state, "sync")
        .output()
        .unwrap();
    let refused_in = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(err.contains(holder.trim()), "names the first run: {err}");
    assert!(err.contains(&format!("kill {}", first.id())), "{err}");
    assert!(
        refused_in < Duration::from_secs(5),
        "at once: {refused_in:?}"
    );
    assert!(dst.messages("bob", "INBOX").is_empty());
    // Killed: the system drops the lock with the process, nothing to clean up by hand.
    first.kill().unwrap();
    first.wait().unwrap();
    drop(proxy);
    let out = ferry(src.imaps_port(), &src, &dst, &state, "sync")
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["copied"], 3, "{report}");
    assert_eq!(dst.messages("bob", "INBOX").len(), 3);
}

#[test]
fn a_dry_run_writes_nothing_anywhere() {
    let src = Dovecot::start(Preset::Modern);
    let dst = Dovecot::start(Preset::Modern);
    for i in 0..4 {
        src.deliver("alice", "INBOX", &raw_message(i));
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("ferry").join("state.sqlite");

    // No state yet: an empty ledger in memory; no file, not even the folder, appears.
    let out = ferry(src.imaps_port(), &src, &dst, &state, "sync")
        .args(["--dry-run", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["copied"], 4, "would copy all four: {report}");
    // Nor does a verification (it reads only).
    let out = ferry(src.imaps_port(), &src, &dst, &state, "verify")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "4 missing: {}", shown(&out));
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "a dry run or verify created {:?}",
        snapshot(dir.path()).keys().collect::<Vec<_>>()
    );
    assert!(dst.messages("bob", "INBOX").is_empty());

    let out = ferry(src.imaps_port(), &src, &dst, &state, "sync")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    assert_eq!(dst.messages("bob", "INBOX").len(), 4);
    let before = snapshot(state.parent().unwrap());
    assert!(before.contains_key(&state), "{:?}", before.keys());

    // After a real run the dry run reads the ledger: nothing to copy, and not a byte changed.
    let out = ferry(src.imaps_port(), &src, &dst, &state, "sync")
        .arg("--dry-run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("nothing to copy"), "{}", shown(&out));
    assert_eq!(
        snapshot(state.parent().unwrap()),
        before,
        "the dry run changed files"
    );

    // New mail on the source: the dry run shows exactly it, still changing nothing.
    src.deliver("alice", "INBOX", &raw_message(4));
    let out = ferry(src.imaps_port(), &src, &dst, &state, "sync")
        .args(["--dry-run", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["copied"], 1, "{report}");
    assert_eq!(snapshot(state.parent().unwrap()), before);
    assert_eq!(dst.messages("bob", "INBOX").len(), 4);

    // While a sync holds the ledger (here: this process, through the library), a dry run still
    // works, read through SQLite's own snapshot, and leaves the files as the writer has them.
    let held = ferry_sync::StateDb::open(&state).unwrap();
    let out = ferry(src.imaps_port(), &src, &dst, &state, "sync")
        .args(["--dry-run", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["copied"], 1, "{report}");
    drop(held);

    let out = ferry(src.imaps_port(), &src, &dst, &state, "sync")
        .arg("--json")
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["copied"], 1, "{report}");
    assert_eq!(dst.messages("bob", "INBOX").len(), 5);
}

#[test]
fn one_writer_per_ledger_within_one_process_too() {
    // The app may start two syncs itself: the lock is per open file, not per process.
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite");
    let first = ferry_sync::StateDb::open(&state).unwrap();
    let err = match ferry_sync::StateDb::open(&state) {
        Ok(_) => panic!("a second writer on the same ledger was let in"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("another Ferry run is using it"), "{err}");
    // A reader is let in while the writer holds it.
    ferry_sync::StateDb::open_read_only(&state).unwrap();
    drop(first);
    ferry_sync::StateDb::open(&state).unwrap();
}
