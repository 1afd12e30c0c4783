//! `ferry mailflow`: is mail still arriving at the old server? Last delivery per account and
//! overall from the logs and the store, late arrivals after the cut-over, "quiet for N hours".

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use ferry_project::cutover::{self, LogZone, MailflowReport, MailflowRequest, DEFAULT_QUIET_HOURS};

#[derive(clap::Args)]
pub struct MailflowArgs {
    /// The old server's root folder (`/` on the server itself; a copy of it elsewhere).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// When the MX was switched (RFC 3339, e.g. 2019-01-01T12:00:00Z); later arrivals are listed.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Hours without delivery that count as quiet.
    #[arg(long, default_value_t = DEFAULT_QUIET_HOURS)]
    pub quiet_hours: u32,
    /// The logs' time zone as seconds east of UTC (default: this machine's zone).
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true)]
    pub utc_offset: Option<i32>,
    /// Year of the last line of the current logs (default: from the log file's time).
    #[arg(long, value_name = "YEAR")]
    pub log_year: Option<i32>,
    /// Keep watching, printing each new delivery, every N seconds.
    #[arg(long, value_name = "SECONDS")]
    pub watch: Option<u64>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &MailflowArgs) -> anyhow::Result<std::process::ExitCode> {
    let cutover = args
        .since
        .as_deref()
        .map(|s| {
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&chrono::Utc))
                .with_context(|| format!("--since {s}: give a time like 2019-01-01T12:00:00Z"))
        })
        .transpose()?;
    let req = MailflowRequest {
        cutover,
        quiet_hours: args.quiet_hours,
        zone: args
            .utc_offset
            .map(LogZone::Fixed)
            .unwrap_or(LogZone::Local),
        year_of_last_line: args.log_year,
    };
    let mut watch = cutover::mailflow_watch(&args.root, &req)
        .with_context(|| format!("reading the old server at {} failed", args.root.display()))?;
    let mut report = watch.poll(chrono::Utc::now());
    print_report(&report, args.json)?;
    if let Some(every) = args.watch {
        loop {
            std::thread::sleep(Duration::from_secs(every.max(1)));
            let next = watch.poll(chrono::Utc::now());
            if next.last_delivery != report.last_delivery
                || next.late_arrivals.len() != report.late_arrivals.len()
            {
                print_report(&next, args.json)?;
            }
            report = next;
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn print_report(r: &MailflowReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "never".into())
    };
    println!("Last delivery: {}", time(r.last_delivery));
    if let Some(q) = r.quiet_for_secs {
        println!(
            "Quiet for {} h {} min ({} h needed): {}",
            q / 3600,
            q / 60 % 60,
            r.quiet_hours,
            if r.quiet {
                "quiet"
            } else {
                "mail still arriving"
            }
        );
    }
    for a in &r.accounts {
        print!("  {:<24} last {}", a.account, time(a.last_delivery));
        if r.cutover.is_some() {
            print!(
                "  since cut-over: {} logged, {} in the store",
                a.logged_since_cutover, a.stored_since_cutover
            );
        }
        println!();
    }
    if r.cutover.is_some() {
        println!(
            "{} message(s) arrived after the cut-over (the next delta or final sync copies them); {} outside SMTP connection(s)",
            r.late_arrivals.len(),
            r.inbound_since_cutover
        );
        for l in &r.late_arrivals {
            println!(
                "  {} {} / {} ({})",
                time(Some(l.at)),
                l.account,
                l.folder,
                l.file
            );
        }
    }
    for w in &r.warnings {
        println!("warning: {w}");
    }
    Ok(())
}
