//! Builds a Maildir folder of `n` messages like Dovecot leaves them (shared by the speed test and
//! the scan_speed example).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// INBOX with `n` files in cur/ (every 10th `T`, every 7th with keyword `a`), 1% of them not in
/// the uidlist (as new mail), and a stale uidlist line every 50 UIDs.
pub fn build(dir: &Path, n: usize) -> PathBuf {
    let root = dir.join("store");
    let cur = root.join("cur");
    std::fs::create_dir_all(&cur).unwrap();
    std::fs::create_dir_all(root.join("new")).unwrap();
    let mut list = format!(
        "3 V1600000000 N{} G0123456789abcdef0123456789abcdef\n",
        n * 2 + 1
    );
    let body = b"From: a@example.org\nSubject: x\n\nhello\n";
    for i in 0..n {
        let base = format!(
            "{}.M{}P{}.bench.example.com,S={},W={}",
            1_500_000_000 + i,
            i % 1_000_000,
            4000 + i % 97,
            body.len(),
            body.len() + 4
        );
        let mut flags = String::from("S");
        if i.is_multiple_of(10) {
            flags.push('T');
        }
        if i.is_multiple_of(7) {
            flags.push('a');
        }
        std::fs::write(cur.join(format!("{base}:2,{flags}")), body).unwrap();
        // Odd UIDs for stale lines, even ones for the files (ascending either way).
        if i.is_multiple_of(50) {
            list.push_str(&format!("{} :{i}.gone.example.com:2,S\n", 2 * i + 1));
        }
        if i % 100 != 99 {
            list.push_str(&format!("{} :{base}:2,S\n", 2 * i + 2));
        }
    }
    std::fs::write(root.join("dovecot-uidlist"), list).unwrap();
    std::fs::write(root.join("dovecot-keywords"), "0 $Forwarded\n").unwrap();
    root
}
