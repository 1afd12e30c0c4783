//! What a run cost, whether the destination is right, and the table that compares the tools.

use std::collections::BTreeMap;

use ferry_testkit::Dovecot;
use sha2::{Digest, Sha256};

use crate::corpus::Expected;
use crate::tools::Cost;

pub struct Run {
    pub tool: String,
    pub phase: String,
    pub cost: Cost,
    /// Messages and bytes the phase had to move (from the corpus, the same for every tool).
    pub messages: usize,
    pub bytes: u64,
}

#[derive(Default)]
pub struct Check {
    /// Source messages with no byte-identical copy in their folder on the destination.
    pub missing: usize,
    /// Destination messages with no source message behind them (altered copies count here too).
    pub extra: usize,
    /// Byte-identical copies whose flags differ.
    pub flags_differ: usize,
    /// Byte-identical copies whose INTERNALDATE differs.
    pub dates_differ: usize,
}

impl Check {
    pub fn is_perfect(&self) -> bool {
        self.missing == 0 && self.extra == 0 && self.flags_differ == 0 && self.dates_differ == 0
    }
}

/// Compares every folder of the source with the destination, message by message, as multisets
/// (a folder may hold the same message twice).
pub fn check_destination(expected: &Expected, dest: &Dovecot, user: &str) -> Check {
    let mut check = Check::default();
    let dest_folders = dest.mailboxes(user);
    for (folder, source) in expected {
        let name = folder.replace('.', "/");
        let got = if dest_folders.contains(&name) {
            dest.messages(user, &name)
        } else {
            Vec::new()
        };
        let mut by_hash: BTreeMap<String, Vec<(Vec<String>, i64)>> = BTreeMap::new();
        for m in got {
            let mut flags = m.flags;
            flags.sort();
            by_hash
                .entry(hex::encode(Sha256::digest(&m.bytes)))
                .or_default()
                .push((flags, m.internal_date));
        }
        for (hash, flags, date, _size) in source {
            let Some(copies) = by_hash.get_mut(hash) else {
                check.missing += 1;
                continue;
            };
            // Prefer an exact copy; otherwise take any copy and count what differs.
            let pos = copies
                .iter()
                .position(|(f, d)| f == flags && d == date)
                .unwrap_or(0);
            if copies.is_empty() {
                check.missing += 1;
                continue;
            }
            let (f, d) = copies.remove(pos);
            check.flags_differ += usize::from(&f != flags);
            check.dates_differ += usize::from(d != *date);
        }
        check.extra += by_hash.values().map(Vec::len).sum::<usize>();
    }
    check
}

pub fn print_table(runs: &[Run], checks: &BTreeMap<String, Check>, expected: &Expected) {
    let total: usize = expected.values().map(Vec::len).sum();
    println!();
    println!("Same servers, same corpus ({total} messages at the end). Rates are messages and MB moved per second of wall time.");
    println!("CPU s: the tool's own user + system seconds; src/dst CPU: the source's and destination's Dovecot;");
    println!("all CPU s: the whole machine's meanwhile (tool, both Dovecots, kernel). dsync runs inside the destination's doveadm.");
    println!();
    println!(
        "| {:<18} | {:<14} | {:>8} | {:>9} | {:>7} | {:>6} | {:>8} | {:>8} | {:>10} | {:>12} | {:>4} |",
        "phase", "tool", "seconds", "msgs/s", "MB/s", "CPU s", "src CPU", "dst CPU", "all CPU s", "peak RSS MB", "ok"
    );
    println!(
        "|{:-<20}|{:-<16}|{:->10}|{:->11}|{:->9}|{:->8}|{:->10}|{:->10}|{:->12}|{:->14}|{:->6}|",
        "", "", "", "", "", "", "", "", "", "", ""
    );
    for r in runs {
        let c = &r.cost;
        println!(
            "| {:<18} | {:<14} | {:>8.2} | {:>9.0} | {:>7.1} | {:>6.2} | {:>8.2} | {:>8.2} | {:>10.2} | {:>12.1} | {:>4} |",
            r.phase,
            r.tool,
            c.seconds,
            r.messages as f64 / c.seconds,
            r.bytes as f64 / 1e6 / c.seconds,
            c.tool_cpu,
            c.source_cpu,
            c.dest_cpu,
            c.machine_cpu,
            c.peak_rss_kb as f64 / 1024.0,
            if c.exit_ok { "yes" } else { "NO" }
        );
    }
    println!();
    println!("Destination check (messages missing, extra or altered; flags or dates that differ):");
    for (name, c) in checks {
        println!(
            "  {name:<36} missing {:>5}  extra {:>5}  flags differ {:>5}  dates differ {:>5}  {}",
            c.missing,
            c.extra,
            c.flags_differ,
            c.dates_differ,
            if c.is_perfect() {
                "faithful"
            } else {
                "NOT faithful"
            }
        );
    }
    println!();
    println!("Ratios (time of the peer / time of Ferry: above 1 means Ferry is faster):");
    let phases: Vec<&str> = {
        let mut v: Vec<&str> = runs.iter().map(|r| r.phase.as_str()).collect();
        v.dedup();
        v
    };
    for phase in phases {
        let time = |tool: &str| {
            runs.iter()
                .find(|r| r.phase == phase && r.tool == tool)
                .map(|r| r.cost.seconds)
        };
        for ferry in ["ferry", "ferry-maildir"] {
            let Some(f) = time(ferry) else { continue };
            let mut line = format!("  {phase:<18} {ferry:<14}");
            for peer in ["mbsync", "dsync"] {
                if let Some(p) = time(peer) {
                    line.push_str(&format!("  vs {peer}: {:>6.2}x", p / f));
                }
            }
            println!("{line}");
        }
    }
}
