//! `ferry mailflow`: is mail still arriving at the old server? Last delivery per account and
//! overall from the logs and the store, late arrivals and refused SMTP attempts after the
//! cut-over, "quiet for N hours".

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use ferry_project::cutover::{
    self, AttemptOutcome, LogZone, MailflowReport, MailflowRequest, RejectedAttempt, YearSource,
    DEFAULT_QUIET_HOURS,
};

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
    /// Keep watching, printing the report again when a delivery or refused attempt shows up, every N seconds.
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
    // The error names the root folder already.
    let mut watch = cutover::mailflow_watch(&args.root, &req)?;
    let mut report = watch.poll(chrono::Utc::now());
    print_report(&report, args.json)?;
    if let Some(every) = args.watch {
        loop {
            std::thread::sleep(Duration::from_secs(every.max(1)));
            let next = watch.poll(chrono::Utc::now());
            if next.last_delivery != report.last_delivery
                || next.arrived_since_cutover != report.arrived_since_cutover
                || next.written_since_cutover.len() != report.written_since_cutover.len()
                || next.last_rejected != report.last_rejected
            {
                print_report(&next, args.json)?;
            }
            report = next;
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

pub(crate) fn print_report(r: &MailflowReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "never".into())
    };
    println!("Last delivery: {}", time(r.last_delivery));
    if let Some(attempt) = &r.last_rejected {
        println!("Last refused SMTP attempt: {}", attempt_line(attempt));
    }
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
        println!("  {}", r.quiet_rule);
    }
    for a in &r.accounts {
        print!("  {:<24} last {}", a.account, time(a.last_delivery));
        if r.cutover.is_some() {
            print!(
                "  since cut-over: {} arrived ({} logged, {} in the store)",
                a.arrived_since_cutover, a.logged_since_cutover, a.stored_since_cutover
            );
            if a.written_since_cutover > 0 {
                print!(", {} written in other folders", a.written_since_cutover);
            }
        }
        println!();
    }
    if r.cutover.is_some() {
        println!(
            "{} arrived after the cut-over (the next delta or final sync copies those in the store); {} from outside",
            ferry_project::words::plural(r.arrived_since_cutover as u64, "message", "messages"),
            ferry_project::words::plural(r.inbound_since_cutover as u64, "SMTP connection", "SMTP connections")
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
        for m in &r.logged_not_stored {
            println!(
                "  {} {}: in the log only, no file in the store{}",
                time(Some(m.at)),
                m.account,
                m.message_id
                    .as_deref()
                    .map(|id| format!(" (Message-ID <{id}>)"))
                    .unwrap_or_default()
            );
        }
        if !r.written_since_cutover.is_empty() {
            println!(
                "{} written after the cut-over in folders mail is not delivered to (sent, drafts, moved): someone still uses the old server; the next sync copies them",
                ferry_project::words::plural(r.written_since_cutover.len() as u64, "file", "files")
            );
            for w in &r.written_since_cutover {
                println!(
                    "  {} {} / {} ({})",
                    time(Some(w.at)),
                    w.account,
                    w.folder,
                    w.file
                );
            }
        }
        println!(
            "{} refused after the cut-over (senders that still reach the old server)",
            ferry_project::words::plural(
                r.rejected_since_cutover.len() as u64,
                "SMTP attempt",
                "SMTP attempts"
            )
        );
        for attempt in &r.rejected_since_cutover {
            println!("  {}", attempt_line(attempt));
        }
    }
    for w in &r.warnings {
        println!("warning: {w}");
    }
    if r.log_years
        .iter()
        .any(|y| y.source != YearSource::Given || y.left_out_feb_29 > 0)
    {
        println!(
            "To date the logs for certain, give the year of their last line: --log-year YEAR."
        );
    }
    Ok(())
}

/// `2019-01-03 09:00:00 UTC rejected: unknown[203.0.113.120], <list@bulk.example> to
/// <nobody@example.com>: 550 5.1.1 ...`
fn attempt_line(a: &RejectedAttempt) -> String {
    let outcome = match a.outcome {
        AttemptOutcome::Rejected => "rejected",
        AttemptOutcome::Discarded => "discarded",
        AttemptOutcome::Bounced => "bounced",
    };
    let client = format!(
        "{}[{}]",
        a.client_host.as_deref().unwrap_or("unknown"),
        a.client_address.as_deref().unwrap_or("?")
    );
    let sender = a
        .sender
        .as_deref()
        .map(|s| format!(", <{s}>"))
        .unwrap_or_default();
    let recipient = a
        .recipient
        .as_deref()
        .map(|r| format!(" to <{r}>"))
        .unwrap_or_default();
    format!(
        "{} {outcome} from {client}{sender}{recipient}: {}",
        a.at.format("%Y-%m-%d %H:%M:%S UTC"),
        a.reason
    )
}
