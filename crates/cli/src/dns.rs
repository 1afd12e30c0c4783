//! `ferry dns [--watch]`: MX / A / TTL / SPF of every domain discovery found, on one or several
//! resolvers; with `--watch`, asks again until every resolver answers the new host.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use ferry_project::cutover::{self, DnsOptions, DnsReport, HostSet, Points, WatchOptions};

#[derive(clap::Args)]
pub struct DnsArgs {
    /// The old server's root folder (`/` on the server itself; a copy of it elsewhere).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Domains to check instead of those discovery finds (repeatable).
    #[arg(long = "domain", value_name = "DOMAIN")]
    pub domains: Vec<String>,
    /// Resolver to ask, `IP` or `IP:port` (repeatable; default: the system's).
    #[arg(long = "resolver", value_name = "IP[:PORT]")]
    pub resolvers: Vec<String>,
    /// The new host's MX name (repeatable; `*.example.net` for every name under it).
    #[arg(long = "new-host", value_name = "NAME")]
    pub new_hosts: Vec<String>,
    /// An address of the new host (repeatable).
    #[arg(long = "new-ip", value_name = "IP")]
    pub new_ips: Vec<String>,
    /// An SPF include that stands for the new host, e.g. `_spf.google.com` (repeatable).
    #[arg(long = "spf-include", value_name = "DOMAIN")]
    pub spf_includes: Vec<String>,
    /// An address of the old server, besides its host name (repeatable).
    #[arg(long = "old-ip", value_name = "IP")]
    pub old_ips: Vec<String>,
    /// Watch until every resolver answers only the new host.
    #[arg(long)]
    pub watch: bool,
    /// Seconds between two rounds of `--watch`.
    #[arg(long, default_value_t = 30)]
    pub interval: u64,
    /// Give up `--watch` after this many seconds.
    #[arg(long, default_value_t = 6 * 3600)]
    pub max_wait: u64,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 3)]
    pub timeout: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &DnsArgs) -> anyhow::Result<std::process::ExitCode> {
    let inventory = ferry_project::discover::run(&args.root)
        .with_context(|| format!("reading the old server at {} failed", args.root.display()))?;
    let plan = cutover::dns_plan(
        &inventory,
        args.domains.clone(),
        args.old_ips.clone(),
        HostSet {
            names: args.new_hosts.clone(),
            addresses: args.new_ips.clone(),
        },
        args.spf_includes.clone(),
    )?;
    let options = DnsOptions {
        resolvers: args
            .resolvers
            .iter()
            .map(|r| cutover::parse_resolver(r))
            .collect::<Result<_, _>>()?,
        timeout_ms: args.timeout.max(1) * 1000,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = if args.watch {
        let watch = WatchOptions {
            interval: Duration::from_secs(args.interval.max(1)),
            max_wait: Duration::from_secs(args.max_wait),
        };
        let json = args.json;
        rt.block_on(cutover::dns_watch(&plan, &options, &watch, |r| {
            if !json {
                eprintln!("{}", round_line(r));
            }
        }))?
    } else {
        rt.block_on(cutover::dns_check(&plan, &options))?
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    // --watch that ran out of time: 2, so scripts can tell "not yet" from "done".
    Ok(if args.watch && !report.all_new {
        std::process::ExitCode::from(2)
    } else {
        std::process::ExitCode::SUCCESS
    })
}

fn points(p: Points) -> &'static str {
    match p {
        Points::Old => "old server",
        Points::New => "new host",
        Points::Both => "both",
        Points::Unknown => "unknown host",
        Points::NoMx => "no MX",
        Points::Failed => "no answer",
    }
}

fn round_line(r: &DnsReport) -> String {
    let waiting: Vec<String> = r
        .domains
        .iter()
        .filter(|d| d.points != Points::New)
        .map(|d| format!("{} ({} still old)", d.domain, d.still_old.len()))
        .collect();
    if waiting.is_empty() {
        format!(
            "{}: every domain answers the new host",
            r.checked_at.format("%H:%M:%S")
        )
    } else {
        format!(
            "{}: waiting for {}",
            r.checked_at.format("%H:%M:%S"),
            waiting.join(", ")
        )
    }
}

fn render(r: &DnsReport) -> String {
    let mut out = String::new();
    for d in &r.domains {
        out.push_str(&format!("{}: {}\n", d.domain, points(d.points)));
        for a in &d.answers {
            out.push_str(&format!("  resolver {}: {}", a.resolver, points(a.points)));
            if let Some(e) = &a.error {
                out.push_str(&format!(" ({e})"));
            }
            out.push('\n');
            for mx in &a.mx {
                let ips: Vec<&str> = mx.addresses.iter().map(|x| x.ip.as_str()).collect();
                out.push_str(&format!(
                    "    MX {} {} TTL {} -> {} [{}]\n",
                    mx.preference,
                    mx.host,
                    mx.ttl,
                    if ips.is_empty() {
                        "no address".to_string()
                    } else {
                        ips.join(", ")
                    },
                    points(mx.points)
                ));
            }
        }
        if !d.still_old.is_empty() {
            out.push_str(&format!(
                "  still answering the old server: {}\n",
                d.still_old.join(", ")
            ));
        }
        if let Some(t) = &d.ttl {
            out.push_str(&format!("  TTL: {}\n", t.text));
        }
        out.push_str(&format!(
            "  SPF: {:?}: {}{}\n",
            d.spf.verdict,
            d.spf.record.as_deref().unwrap_or("(none)"),
            if d.spf.detail.is_empty() {
                String::new()
            } else {
                format!(" — {}", d.spf.detail)
            }
        ));
    }
    for w in &r.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out.push_str(if r.all_new {
        "Every domain answers the new host on every resolver.\n"
    } else {
        "Not every resolver answers the new host yet.\n"
    });
    out
}
