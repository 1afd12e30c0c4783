//! Prints how long a scan of a 20,000-message folder takes, and what part of it the one stat per
//! file (for the mtime) costs. Run: cargo run --release -p ferry-maildir --example scan_speed

use std::time::Instant;

use ferry_maildir::{ScanOptions, Store};

#[path = "../tests/support/bench_store.rs"]
mod bench_store;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = bench_store::build(tmp.path(), n);
    let store = Store::open(&root).expect("store");
    let inbox = store.folder("INBOX").expect("INBOX");
    for round in 0..3 {
        let t = Instant::now();
        let scan = store
            .messages(&inbox, &ScanOptions::default())
            .expect("scan");
        let full = t.elapsed();
        // The same directory reads without any stat, to show what the mtimes cost.
        let t = Instant::now();
        let mut names = 0;
        for sub in ["cur", "new"] {
            for e in std::fs::read_dir(root.join(sub)).expect("readdir") {
                let e = e.expect("entry");
                names += usize::from(e.file_type().is_ok_and(|t| t.is_file()));
            }
        }
        let readdir = t.elapsed();
        let t = Instant::now();
        for e in std::fs::read_dir(root.join("cur")).expect("readdir") {
            std::fs::metadata(e.expect("entry").path()).expect("stat");
        }
        let stats = t.elapsed();
        println!(
            "round {round}: {n} files: scan {full:?} ({} messages, {} provisional); readdir alone {readdir:?} ({names} names); stat of every file {stats:?}",
            scan.messages.len(),
            scan.provisional().count()
        );
    }
}
