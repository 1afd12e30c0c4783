//! Phases 6, 7, 10 and 11's mail-flow input on the project: DNS from the project's domains and
//! destination, the cut-over watch that starts the delta sync by itself once every resolver
//! answers only the new MX, the mail still arriving at the old server, and the quarantine archive.

use std::path::Path;

use ferry_cutover::dns::{DnsReport, HostSet, Targets, WatchOptions};
use ferry_cutover::mailflow::{MailflowOptions, MailflowReport};
use ferry_cutover::quarantine::QuarantineArchive;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::destination::{Destination, PresetId};
use crate::host::ProjectHost;
use crate::jobs::{JobControl, JobEvents, JobKind, JobProgress};
use crate::phases::sync::SyncJobReport;
use crate::phases::PhaseError;
use crate::project::{Fact, Project, RunOutcome, Snapshot};

/// What the DNS checks compare against, as the admin set it (the defaults come from the
/// destination's preset and the discovered domains).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DnsSettings {
    /// Domains to check; empty: every domain discovery found.
    pub domains: Vec<String>,
    /// The new host's MX names or addresses; empty: the preset's (Google, Microsoft, Fastmail).
    pub new_mx: HostSet,
    /// SPF `include:` domains of the new host; empty: the preset's.
    pub spf_includes: Vec<String>,
    /// Addresses of the old server, besides its Postfix host name.
    pub old_addresses: Vec<String>,
}

pub const DNS_SETTING: &str = "dns";

/// The MX names and SPF include of each preset, as the providers publish them.
fn preset_mx(destination: &Destination) -> (HostSet, Vec<String>) {
    let names = |n: &[&str]| HostSet {
        names: n.iter().map(|s| s.to_string()).collect(),
        addresses: Vec::new(),
    };
    match destination.preset {
        // support.google.com/a/answer/174125: smtp.google.com (or the older aspmx.l.google.com set)
        PresetId::GoogleWorkspace => (
            names(&["smtp.google.com", ".google.com", ".googlemail.com"]),
            vec!["_spf.google.com".into()],
        ),
        // learn.microsoft.com, "Add DNS records to connect your domain": <tenant>.mail.protection.outlook.com
        PresetId::Microsoft365 => (
            names(&[".mail.protection.outlook.com"]),
            vec!["spf.protection.outlook.com".into()],
        ),
        // fastmail.help: in1-smtp.messagingengine.com, in2-smtp.messagingengine.com
        PresetId::Fastmail => (
            names(&[".messagingengine.com"]),
            vec!["spf.messagingengine.com".into()],
        ),
        PresetId::GenericImap => (HostSet::default(), Vec::new()),
    }
}

fn inventory(project: &Project) -> Result<Snapshot, PhaseError> {
    project
        .inventory()?
        .ok_or_else(|| PhaseError::NotReady("Discover the old server first.".into()))
}

/// The domains and targets the checks use.
pub fn dns_targets(project: &Project) -> Result<(Vec<String>, Targets), PhaseError> {
    let snapshot = inventory(project)?;
    let destination = project
        .destination()?
        .ok_or_else(|| PhaseError::NotReady("Choose the new mail host first.".into()))?;
    let settings: DnsSettings = project.setting(DNS_SETTING)?.unwrap_or_default();
    let (preset_new, preset_spf) = preset_mx(&destination);
    let new = if settings.new_mx.names.is_empty() && settings.new_mx.addresses.is_empty() {
        preset_new
    } else {
        settings.new_mx
    };
    if new.names.is_empty() && new.addresses.is_empty() {
        return Err(PhaseError::NotReady(
            "Enter the new host's MX name (the host your provider told you to put in the MX record)."
                .into(),
        ));
    }
    let plan = crate::cutover::dns_plan(
        &snapshot.inventory,
        settings.domains,
        settings.old_addresses,
        new,
        if settings.spf_includes.is_empty() {
            preset_spf
        } else {
            settings.spf_includes
        },
    )
    .map_err(|e| PhaseError::NotReady(e.to_string()))?;
    Ok((plan.domains, plan.targets))
}

fn dns_summary(report: &DnsReport) -> String {
    use ferry_cutover::dns::Points;
    let domains = |n: usize| {
        if n == 1 {
            "1 domain".to_string()
        } else {
            format!("{n} domains")
        }
    };
    if report.all_new {
        return format!(
            "every resolver answers the new host for {}",
            domains(report.domains.len())
        );
    }
    let count = |p: Points| report.domains.iter().filter(|d| d.points == p).count();
    let unknown =
        report.domains.len() - count(Points::Old) - count(Points::Both) - count(Points::New);
    // Only what is there: "2 domains on the old server", "1 domain mixed, 1 on the new host".
    let parts: Vec<String> = [
        (count(Points::Old), "on the old server"),
        (count(Points::Both), "mixed"),
        (count(Points::New), "on the new host"),
        (unknown, "not decided (a resolver failed or did not answer)"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .enumerate()
    .map(|(i, (n, what))| {
        if i == 0 {
            format!("{} {what}", domains(*n))
        } else {
            format!("{n} {what}")
        }
    })
    .collect();
    parts.join(", ")
}

/// Phase 6: one look at every domain's MX, TTL and SPF; logged.
pub async fn dns_check(
    project: &mut Project,
    host: &dyn ProjectHost,
) -> Result<DnsReport, PhaseError> {
    let (domains, targets) = dns_targets(project)?;
    let started = host.now().timestamp();
    let run = project.log_run(
        "dns_check",
        started,
        &serde_json::json!({ "domains": domains }),
    )?;
    match ferry_cutover::dns::check(&domains, &host.dns_options(), &targets).await {
        Ok(report) => {
            let now = host.now().timestamp();
            if report.all_new {
                project.set_fact(Fact::DnsAllNewAt, Some(now))?;
            }
            project.end_run(
                run,
                now,
                if report.warnings.is_empty() {
                    RunOutcome::Succeeded
                } else {
                    RunOutcome::Attention
                },
                &serde_json::json!({ "summary": dns_summary(&report), "report": report }),
            )?;
            Ok(report)
        }
        Err(e) => {
            project.end_run(
                run,
                host.now().timestamp(),
                RunOutcome::Failed,
                &serde_json::json!({ "summary": e.to_string() }),
            )?;
            Err(PhaseError::NotReady(e.to_string()))
        }
    }
}

/// The wait after the admin lowered the TTL: resolvers may still hold the old answer for as
/// long as the old TTL, so the MX switch waits until then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TtlWait {
    /// Unix seconds.
    #[ts(type = "number")]
    pub lowered_at: i64,
    /// The highest TTL the DNS checks saw before the switch (MX records and their hosts).
    pub old_ttl_secs: u32,
    /// Unix seconds: `lowered_at + old_ttl_secs`.
    #[ts(type = "number")]
    pub switch_after: i64,
}

impl TtlWait {
    fn new(lowered_at: i64, old_ttl_secs: u32) -> Self {
        TtlWait {
            lowered_at,
            old_ttl_secs,
            switch_after: lowered_at + i64::from(old_ttl_secs),
        }
    }
}

/// The old TTL to wait out after lowering (seconds); when it was lowered is the fact
/// `ttl_lowered_at`, which the final report also shows.
pub const OLD_TTL_SETTING: &str = "old_ttl_secs";

/// The admin lowered the TTL now: records when, and the old TTL to wait out, taken from the DNS
/// checks so far (the highest TTL seen before the switch, so a check made after lowering does
/// not shorten the wait). Needs at least one DNS check.
pub fn mark_ttl_lowered(
    project: &mut Project,
    host: &dyn ProjectHost,
) -> Result<TtlWait, PhaseError> {
    let old_ttl_secs = project
        .runs()?
        .iter()
        .filter(|r| r.phase == "dns_check")
        .filter_map(|r| r.result.get("report"))
        .filter_map(|report| serde_json::from_value::<DnsReport>(report.clone()).ok())
        .flat_map(|report| report.domains)
        .filter_map(|d| d.ttl)
        .filter(|ttl| ttl.stage == ferry_cutover::dns::SwitchStage::Before)
        .map(|ttl| ttl.max_ttl)
        .max()
        .ok_or_else(|| {
            PhaseError::NotReady(
                "Check DNS first: Ferry needs the TTL the resolvers saw before you lowered it, to tell you how long to wait.".into(),
            )
        })?;
    let lowered_at = host.now().timestamp();
    project.set_setting(OLD_TTL_SETTING, &old_ttl_secs)?;
    project.set_fact(Fact::TtlLoweredAt, Some(lowered_at))?;
    Ok(TtlWait::new(lowered_at, old_ttl_secs))
}

/// The wait recorded by [`mark_ttl_lowered`], if the TTL was marked lowered.
pub fn ttl_wait(project: &Project) -> Result<Option<TtlWait>, PhaseError> {
    let lowered_at = project.facts()?.ttl_lowered_at;
    let old_ttl_secs: Option<u32> = project.setting(OLD_TTL_SETTING)?;
    Ok(lowered_at
        .zip(old_ttl_secs)
        .map(|(lowered_at, old_ttl_secs)| TtlWait::new(lowered_at, old_ttl_secs)))
}

/// The wait in words at `now` (times in UTC, for the command line; the app shows local time).
pub fn ttl_wait_words(wait: &TtlWait, now: i64) -> String {
    let at = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default()
    };
    let old = ferry_cutover::dns::human_secs(wait.old_ttl_secs);
    if now >= wait.switch_after {
        format!(
            "The old TTL ({old}) has passed since you lowered it at {}: you can switch the MX records now.",
            at(wait.lowered_at)
        )
    } else {
        let left = u32::try_from(wait.switch_after - now).unwrap_or(u32::MAX);
        format!(
            "You lowered the TTL at {}: resolvers may hold the old answer for its old TTL ({old}). Switch the MX records after {} (in {}).",
            at(wait.lowered_at),
            at(wait.switch_after),
            ferry_cutover::dns::human_secs(left)
        )
    }
}

/// What the cut-over watch came to.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CutoverOutcome {
    pub dns: DnsReport,
    /// The delta sync the watch started once every resolver answered the new MX.
    pub delta: Option<SyncJobReport>,
    /// The watch gave up (`max_wait`) or was cancelled before DNS switched.
    pub switched: bool,
}

/// Phase 7: the admin switched MX (recorded now, if not yet); watch every resolver until all
/// answer only the new MX, then run the delta sync by itself. Cancellable with `control`;
/// each round is reported as a note on `events`.
pub async fn cutover_watch(
    project_path: &Path,
    host: &dyn ProjectHost,
    control: &JobControl,
    events: JobEvents,
    watch: &WatchOptions,
) -> Result<CutoverOutcome, PhaseError> {
    let (domains, targets) = {
        let mut project = Project::open(project_path)?;
        if project.facts()?.mx_switched_at.is_none() {
            project.set_fact(Fact::MxSwitchedAt, Some(host.now().timestamp()))?;
        }
        dns_targets(&project)?
    };
    let emit = |event: JobProgress| {
        events(crate::jobs::JobEvent {
            job_id: control.id.clone(),
            event,
        })
    };
    let run = Project::open(project_path)?.log_run(
        "dns_watch",
        host.now().timestamp(),
        &serde_json::json!({ "domains": domains, "max_wait_seconds": watch.max_wait.as_secs() }),
    )?;
    let options = host.dns_options();
    // Rounds still waiting are reported as they come; the last one is the outcome itself.
    let watching = ferry_cutover::dns::watch(&domains, &options, &targets, watch, |report| {
        if !report.all_new {
            emit(JobProgress::Note {
                text: round_note(report),
            })
        }
    });
    let report = tokio::select! {
        report = watching => report.map_err(|e| PhaseError::NotReady(e.to_string()))?,
        _ = control.cancel.cancelled() => {
            Project::open(project_path)?.end_run(run, host.now().timestamp(), RunOutcome::Cancelled,
                &serde_json::json!({ "summary": "The DNS watch was stopped before every resolver answered the new MX" }))?;
            return Err(PhaseError::NotReady("The DNS watch was stopped.".into()));
        }
    };
    let now = host.now().timestamp();
    {
        let mut project = Project::open(project_path)?;
        project.end_run(
            run,
            now,
            if report.all_new {
                RunOutcome::Succeeded
            } else {
                RunOutcome::Attention
            },
            &serde_json::json!({ "summary": dns_summary(&report), "report": report }),
        )?;
        if report.all_new {
            project.set_fact(Fact::DnsAllNewAt, Some(now))?;
        }
    }
    if !report.all_new {
        return Ok(CutoverOutcome {
            dns: report,
            delta: None,
            switched: false,
        });
    }
    emit(JobProgress::Note {
        text:
            "Every resolver answers the new MX: copying what arrived at the old server meanwhile."
                .into(),
    });
    let delta_control = JobControl {
        id: control.id.clone(),
        kind: JobKind::DeltaSync,
        cancel: control.cancel.clone(),
    };
    let delta =
        crate::phases::sync::run(project_path, host, &delta_control, events.clone(), None).await?;
    Ok(CutoverOutcome {
        dns: report,
        delta: Some(delta),
        switched: true,
    })
}

/// One line per watch round: which resolvers still answer the old MX or fail, by name.
pub fn round_note(report: &DnsReport) -> String {
    if report.all_new {
        return "Every resolver answers only the new MX.".into();
    }
    let mut old: Vec<String> = report
        .domains
        .iter()
        .flat_map(|d| d.still_old.iter().cloned())
        .collect();
    old.sort();
    old.dedup();
    let mut failed: Vec<String> = report
        .domains
        .iter()
        .flat_map(|d| d.failed.iter().cloned())
        .collect();
    failed.sort();
    failed.dedup();
    let mut parts = Vec::new();
    if !old.is_empty() {
        parts.push(format!("still the old MX: {}", old.join(", ")));
    }
    if !failed.is_empty() {
        parts.push(format!("not answering: {}", failed.join(", ")));
    }
    if parts.is_empty() {
        parts.push("not every domain answers the new MX yet".into());
    }
    format!("Waiting for DNS: {}", parts.join("; "))
}

/// Phase 11's input: is mail still arriving at the old server? Quiet for `quiet_hours` after the
/// cut-over = safe. The MX switch time (if recorded) is the cut-over; the newest delivery found
/// is kept as a fact.
pub fn mailflow(
    project: &mut Project,
    host: &dyn ProjectHost,
    quiet_hours: u32,
) -> Result<MailflowReport, PhaseError> {
    let snapshot = inventory(project)?;
    let source = project
        .source()?
        .ok_or_else(|| PhaseError::NotReady("Discover the old server first.".into()))?;
    let facts = project.facts()?;
    let mut options = MailflowOptions::new(Path::new(&source.root));
    options.accounts = crate::cutover::store_accounts(&snapshot.inventory);
    options.cutover = facts
        .mx_switched_at
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0));
    options.quiet_hours = quiet_hours;
    let now = host.now();
    let run = project.log_run(
        "mailflow",
        now.timestamp(),
        &serde_json::json!({ "quiet_hours": quiet_hours }),
    )?;
    let report = ferry_cutover::mailflow::check(options, now)
        .map_err(|e| PhaseError::NotReady(e.to_string()))?;
    if let Some(last) = report.last_delivery {
        project.set_fact(Fact::LastMailSeenAt, Some(last.timestamp()))?;
    }
    let summary = match (report.quiet, report.quiet_for_secs) {
        (true, _) => format!("no mail for {} hours or more", report.quiet_hours),
        (false, Some(secs)) => format!(
            "last mail {} ago; {} hours of quiet needed",
            crate::words::plural((secs / 3600).max(0) as u64, "hour", "hours"),
            report.quiet_hours
        ),
        (false, None) => "mail still arrives at the old server".into(),
    };
    project.end_run(
        run,
        now.timestamp(),
        if report.quiet {
            RunOutcome::Succeeded
        } else {
            RunOutcome::Attention
        },
        &serde_json::json!({ "summary": summary, "report": report }),
    )?;
    Ok(report)
}

/// Where the quarantine archive goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "to", rename_all = "snake_case")]
#[ts(export)]
pub enum QuarantineTarget {
    /// One mbox file per mailbox in this folder.
    Mbox { folder: String },
    /// One folder per mailbox below `base_folder` in this planned account's mailbox on the new
    /// host (its password is the one stored for the syncs).
    Imap {
        account: String,
        base_folder: String,
    },
}

/// Phase 10: the junk-training mailboxes and the amavis quarantine, archived; re-runs add only
/// what is not there yet.
pub async fn quarantine(
    project: &mut Project,
    host: &dyn ProjectHost,
    target: &QuarantineTarget,
) -> Result<QuarantineArchive, PhaseError> {
    let snapshot = inventory(project)?;
    let source = project
        .source()?
        .ok_or_else(|| PhaseError::NotReady("Discover the old server first.".into()))?;
    let mailboxes =
        crate::cutover::quarantine_mailboxes_of(Path::new(&source.root), &snapshot.inventory)
            .map_err(|e| PhaseError::NotReady(e.to_string()))?;
    let started = host.now().timestamp();
    let run = project.log_run(
        "quarantine",
        started,
        &serde_json::to_value(target).unwrap_or_default(),
    )?;
    let result = match target {
        QuarantineTarget::Mbox { folder } => {
            ferry_cutover::quarantine::archive_to_mbox(&mailboxes, Path::new(folder))
                .map_err(|e| PhaseError::NotReady(e.to_string()))
        }
        QuarantineTarget::Imap {
            account,
            base_folder,
        } => {
            let planned = project
                .plan()?
                .into_iter()
                .find(|a| a.source_address.eq_ignore_ascii_case(account))
                .ok_or_else(|| crate::project::ProjectError::NoSuchAccount(account.clone()))?;
            let (pairs, errors) =
                crate::phases::sync::account_pairs(project, host, std::slice::from_ref(&planned))?;
            match (pairs.into_iter().next(), errors.into_iter().next()) {
                (Some((_, pair)), _) => {
                    let credentials = pair.dest.credentials();
                    archive_over_imap(&pair.dest.endpoint, &credentials, base_folder, &mailboxes)
                        .await
                }
                (None, Some(e)) => Err(PhaseError::NotReady(e.error)),
                (None, None) => Err(PhaseError::NotReady(format!("{account} cannot be reached"))),
            }
        }
    };
    let now = host.now().timestamp();
    match result {
        Ok(archive) => {
            let messages: u64 = archive
                .mailboxes
                .iter()
                .map(|m| u64::from(m.added + m.already_there))
                .sum();
            if archive.complete() {
                project.set_fact(Fact::QuarantineArchivedAt, Some(now))?;
            }
            project.end_run(
                run,
                now,
                if archive.complete() {
                    RunOutcome::Succeeded
                } else {
                    RunOutcome::Attention
                },
                &serde_json::json!({
                    "summary": format!("{}, {} archived", crate::words::plural(archive.mailboxes.len() as u64, "mailbox", "mailboxes"), crate::words::plural(messages, "message", "messages")),
                    "report": archive,
                }),
            )?;
            Ok(archive)
        }
        Err(e) => {
            project.end_run(
                run,
                now,
                RunOutcome::Failed,
                &serde_json::json!({ "summary": e.to_string() }),
            )?;
            Err(e)
        }
    }
}

async fn archive_over_imap(
    endpoint: &ferry_imap::Endpoint,
    credentials: &ferry_imap::Credentials,
    base_folder: &str,
    mailboxes: &[ferry_cutover::quarantine::QuarantineMailbox],
) -> Result<QuarantineArchive, PhaseError> {
    let imap_err = |e: ferry_imap::ImapError| PhaseError::NotReady(format!("{e}. {}", e.advice()));
    let mut session = ferry_imap::Client::connect(endpoint, ferry_imap::types::Timeouts::default())
        .await
        .map_err(imap_err)?
        .login(credentials)
        .await
        .map_err(imap_err)?;
    let result =
        ferry_cutover::imap_archive::archive_to_imap(&mut session, base_folder, mailboxes).await;
    session.logout().await;
    result.map_err(|e| PhaseError::NotReady(e.to_string()))
}
