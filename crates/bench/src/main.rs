//! `scripts/bench`: the same work, side by side, on the same pair of real Dovecot servers:
//! Ferry (IMAP source and Maildir source), mbsync (isync) and Dovecot's own `doveadm backup` over
//! imapc. For each: first copy, a no-change re-sync and a 1% delta; messages/s, MB/s, peak RSS, and
//! a check of the destination (messages missing, extra, or with other bytes, flags or dates).
//!
//! With `--latency-ms N`, every tool reaches the far side through a proxy that delays each
//! direction by N ms (N = 20: a 40 ms round trip, a host across the internet); N = 0 goes through
//! the same proxy without delay, the fair baseline. Far side: the destination for Ferry and
//! mbsync, the source for dsync (it writes into the destination Dovecot locally).
//!
//! Usage: `ferry-bench [--messages N] [--seed S] [--ferry PATH] [--tools a,b] [--latency-ms N]`

mod corpus;
mod measure;
mod tools;

use std::collections::BTreeMap;
use std::path::PathBuf;

use ferry_testkit::{DelayProxy, Dovecot, Preset};

use crate::corpus::Corpus;
use crate::measure::{check_destination, Check, Run};

struct Args {
    messages: usize,
    seed: u64,
    ferry: PathBuf,
    tools: Vec<String>,
    /// One-way delay of the proxy in front of the far side; `None`: no proxy.
    latency_ms: Option<u64>,
}

fn parse_args() -> Args {
    let mut args = Args {
        messages: 6000,
        seed: 7,
        ferry: PathBuf::from("target/release/ferry"),
        tools: vec![
            "ferry".into(),
            "ferry-maildir".into(),
            "mbsync".into(),
            "dsync".into(),
        ],
        latency_ms: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--messages" => args.messages = value().parse().expect("--messages N"),
            "--seed" => args.seed = value().parse().expect("--seed S"),
            "--ferry" => args.ferry = PathBuf::from(value()),
            "--tools" => args.tools = value().split(',').map(str::to_string).collect(),
            "--latency-ms" => args.latency_ms = Some(value().parse().expect("--latency-ms N")),
            other => panic!("unknown argument {other}; see the top of crates/bench/src/main.rs"),
        }
    }
    args
}

fn main() {
    let args = parse_args();
    let source_user = "bench";
    eprintln!("starting servers (old_mac source, modern destination) ...");
    let source = Dovecot::builder(Preset::OldMac)
        .user(source_user, "bench-source-pw")
        .start();
    // One destination user per tool, all on the same destination server.
    let mut dest = Dovecot::builder(Preset::Modern);
    for tool in &args.tools {
        dest = dest.user(&dest_user(tool), "bench-dest-pw");
    }
    let dest = dest.start();

    eprintln!(
        "generating {} messages (seed {}) ...",
        args.messages, args.seed
    );
    let corpus = Corpus::generate(args.messages, args.seed);
    corpus.write_maildir(&source, source_user);
    eprintln!(
        "corpus: {} messages, {:.1} MB in {} folders; {} without Message-ID, {} sharing one",
        corpus.messages.len(),
        corpus.total_bytes() as f64 / 1e6,
        corpus.folders().len(),
        corpus.without_message_id(),
        corpus.shared_message_ids()
    );

    // The far side, through a delaying proxy when asked (kept alive for the whole bench).
    let proxies = args.latency_ms.map(|ms| {
        let one_way = std::time::Duration::from_millis(ms);
        eprintln!(
            "far side through a proxy: {ms} ms each way ({} ms round trip)",
            2 * ms
        );
        (
            DelayProxy::start(dest.imaps_port(), one_way),
            DelayProxy::start(source.imaps_port(), one_way),
        )
    });
    let ports = match &proxies {
        Some((to_dest, to_source)) => tools::Ports {
            source: source.imaps_port(),
            dest: to_dest.port(),
            dsync_source: to_source.port(),
        },
        None => tools::Ports {
            source: source.imaps_port(),
            dest: dest.imaps_port(),
            dsync_source: source.imaps_port(),
        },
    };
    let mut runs: Vec<Run> = Vec::new();
    let mut checks: BTreeMap<String, Check> = BTreeMap::new();
    let phases = ["first copy", "no-change re-sync", "1% delta"];
    let delta = (args.messages / 100).max(1);
    let mut expected = corpus.expected(&source, source_user);

    let totals = |e: &corpus::Expected| -> (usize, u64) {
        let all = e.values().flatten();
        (all.clone().count(), all.map(|m| m.3).sum())
    };
    for (phase_index, phase) in phases.iter().enumerate() {
        // What this phase has to move: everything, nothing new (but everything to look at), or the delta.
        let (mut messages, mut bytes) = totals(&expected);
        if phase_index == 2 {
            corpus.add_delta(&source, source_user, delta, args.seed + 1);
            expected = corpus.expected(&source, source_user);
            let (after_messages, after_bytes) = totals(&expected);
            (messages, bytes) = (after_messages - messages, after_bytes - bytes);
        }
        for tool in &args.tools {
            let user = dest_user(tool);
            eprintln!("{phase}: {tool} ...");
            let cost = tools::run(tool, &args.ferry, &source, source_user, &dest, &user, ports);
            runs.push(Run {
                tool: tool.clone(),
                phase: phase.to_string(),
                cost,
                messages,
                bytes,
            });
            if phase_index != 1 {
                checks.insert(
                    format!("{tool} after {phase}"),
                    check_destination(&expected, &dest, &user),
                );
            }
        }
    }
    measure::print_table(&runs, &checks, &expected);
}

fn dest_user(tool: &str) -> String {
    format!("dst-{tool}")
}
