//! Scanning a big folder stays quick: one readdir per directory and one stat per message (for the
//! mtime, Dovecot's INTERNALDATE). `cargo run --release -p ferry-maildir --example scan_speed`
//! prints the figures; this test only guards against anything worse than linear.

use std::time::Instant;

use ferry_maildir::{ScanOptions, Store};

#[test]
fn five_thousand_files() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 5_000;
    let folder = ferry_maildir_bench::build(tmp.path(), n);
    let store = Store::open(&folder).unwrap();
    let inbox = store.folder("INBOX").unwrap();
    let start = Instant::now();
    let scan = store.messages(&inbox, &ScanOptions::default()).unwrap();
    let took = start.elapsed();
    assert_eq!(scan.messages.len(), n - n / 10, "every 10th is \\Deleted");
    assert_eq!(scan.deleted_pending as usize, n / 10);
    assert_eq!(scan.provisional().count(), n / 100);
    eprintln!("scanned {n} files in {took:?} (debug build)");
    assert!(took.as_secs() < 10, "scan of {n} files took {took:?}");
}

#[path = "support/bench_store.rs"]
mod ferry_maildir_bench;
