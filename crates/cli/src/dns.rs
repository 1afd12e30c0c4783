//! `ferry dns [--watch]`: MX / A / TTL / SPF of every domain discovery found, on one or several
//! resolvers; with `--watch`, asks again until every resolver answers the new host. A resolver that
//! fails or does not answer is named in every round and never counts as answering the new host.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use ferry_project::cutover::{
    self, DnsOptions, DnsReport, DomainDns, HostSet, Points, ResolverAnswer, ResolverStatus,
    WatchOptions,
};
use ferry_project::discover::DiscoverError;

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
    let inventory =
        ferry_project::discover::run(&args.root).map_err(|e| root_error(&args.root, e))?;
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
                eprint!("{}", round_lines(r));
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

/// The discovery error once, in words (its own text already says what to do; the chain would
/// repeat the OS error).
fn root_error(root: &std::path::Path, e: DiscoverError) -> anyhow::Error {
    match &e {
        DiscoverError::RootUnreadable { source, .. } => {
            let why = match source.kind() {
                std::io::ErrorKind::NotFound => "it does not exist".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                std::io::ErrorKind::NotADirectory => "it is not a folder".to_string(),
                _ => source.to_string(),
            };
            anyhow::anyhow!(
                "cannot read the old server's root folder {}: {why}. Give the folder that holds the old server (or a copy of it) with --root; on the server itself, run as root with --root /",
                root.display()
            )
        }
        _ => anyhow::anyhow!("reading the old server at {} failed: {e}", root.display()),
    }
}

/// Where one MX set (or one resolver's answer) points, in words.
fn points(p: Points) -> &'static str {
    match p {
        Points::Old => "old server",
        Points::New => "new host",
        Points::Both => "both the old server and the new host",
        Points::Unknown => "unknown host (neither the old server nor the new host)",
        Points::NoMx => "no MX record",
        Points::Failed => "no usable answer",
    }
}

fn answered_all_new(d: &DomainDns) -> bool {
    d.answers
        .iter()
        .filter(|a| a.status == ResolverStatus::Answered)
        .all(|a| a.points == Points::New)
}

/// Where a domain stands over every resolver, in words.
fn domain_words(d: &DomainDns) -> &'static str {
    match d.points {
        Points::New => "new host on every resolver",
        Points::Old => "old server",
        Points::Both => "mixed: some answers name the old server, some the new host",
        Points::Unknown if !d.failed.is_empty() && answered_all_new(d) => {
            "unknown: the resolvers that answered give the new host, but not every resolver answered"
        }
        Points::Unknown => "unknown: the MX names neither the old server nor the new host",
        Points::NoMx => "no MX record",
        Points::Failed => "no resolver answered",
    }
}

fn resolver_words(a: &ResolverAnswer) -> String {
    let error = a.error.as_deref().unwrap_or("");
    match a.status {
        ResolverStatus::Answered => points(a.points).to_string(),
        ResolverStatus::Failed => format!("failed: {error}"),
        // The reason says "no answer within ..." itself.
        ResolverStatus::NoAnswer => error.to_string(),
    }
}

/// One line per domain still waiting, naming the resolvers that still answer the old MX and
/// those that failed (asked again next round, never counted as new).
fn round_lines(r: &DnsReport) -> String {
    let time = r.checked_at.format("%H:%M:%S");
    let waiting: Vec<&DomainDns> = r
        .domains
        .iter()
        .filter(|d| d.points != Points::New)
        .collect();
    if waiting.is_empty() {
        return format!("{time}: every domain answers the new host on every resolver\n");
    }
    let mut out = String::new();
    for d in waiting {
        let mut parts = Vec::new();
        if !d.still_old.is_empty() {
            parts.push(format!("old MX still on {}", d.still_old.join(", ")));
        }
        for a in d
            .answers
            .iter()
            .filter(|a| a.status != ResolverStatus::Answered)
        {
            parts.push(format!(
                "{} {} (not counted as new; asked again next round)",
                a.resolver,
                resolver_words(a)
            ));
        }
        if parts.is_empty() {
            parts.push(domain_words(d).to_string());
        }
        out.push_str(&format!(
            "{time}: waiting for {}: {}\n",
            d.domain,
            parts.join("; ")
        ));
    }
    out
}

pub(crate) fn render(r: &DnsReport) -> String {
    let mut out = String::new();
    for d in &r.domains {
        out.push_str(&format!("{}: {}\n", d.domain, domain_words(d)));
        for a in &d.answers {
            out.push_str(&format!(
                "  resolver {}: {}\n",
                a.resolver,
                resolver_words(a)
            ));
            for mx in &a.mx {
                let ips: Vec<&str> = mx.addresses.iter().map(|x| x.ip.as_str()).collect();
                out.push_str(&format!(
                    "    MX {} {} TTL {} -> {} [{}]\n",
                    mx.preference,
                    mx.host,
                    mx.ttl,
                    match (&mx.error, ips.is_empty()) {
                        (Some(e), _) => format!("addresses unknown ({e})"),
                        (None, true) => "no address".to_string(),
                        (None, false) => ips.join(", "),
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
        if !d.failed.is_empty() {
            out.push_str(&format!(
                "  failed or did not answer (not counted as new): {}\n",
                d.failed.join(", ")
            ));
        }
        if let Some(t) = &d.ttl {
            out.push_str(&format!("  TTL: {}\n", t.text));
        }
        out.push_str(&format!("  SPF: {}", d.spf.verdict.describe()));
        if let Some(resolver) = &d.spf.resolver {
            out.push_str(&format!(" (read from {resolver})"));
        }
        out.push('\n');
        if let Some(record) = &d.spf.record {
            out.push_str(&format!("    record: {record}\n"));
        }
        if !d.spf.detail.is_empty() {
            out.push_str(&format!("    why: {}\n", d.spf.detail));
        }
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
