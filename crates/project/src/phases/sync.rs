//! Phases 4, 7 and 9 on the project: the initial sync, the cut-over (delta) sync and the final
//! sync of every included account of the plan, several at once within the destination's
//! connection limits, as one cancellable job. What each run copied goes into the phase log; the
//! final sync ends with a verification per account and marks the source as finished.

use crate::words::plural;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_imap::{Endpoint as ImapEndpoint, Security as ImapSecurity};
use futures::stream::{self, StreamExt};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::destination::{Destination, Security};
use crate::host::ProjectHost;
use crate::jobs::{
    self, AccountStage, JobControl, JobEvents, JobKind, JobProgress, ProgressTracker,
};
use crate::phases::PhaseError;
use crate::plan::{PlannedAccount, SourceMethod};
use crate::project::{Fact, Project, RunOutcome};
use crate::sync::{
    imap_side, open_state, source_of, AccountPair, ImapAccount, RunOptions, SourceSpec, SyncReport,
};
use ferry_sync::report::AccountSummary;

/// The old server's IMAP service, for accounts whose store Ferry cannot read on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SourceImap {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// SHA-256 of the old server's (usually self-signed) certificate, once the admin checked it.
    pub pinned_sha256: Option<String>,
}

/// Project settings' keys.
pub const SOURCE_IMAP_SETTING: &str = "source_imap";
pub const DESTINATION_PIN_SETTING: &str = "destination_pin";
/// The destination's OAuth 2.0 sign-in (`ferry_oauth::OAuthSettings`; its secret is in the vault).
pub const OAUTH_SETTING: &str = "oauth";

/// What a sync job did.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SyncJobReport {
    pub job: JobKind,
    pub report: SyncReport,
    /// The final sync's verification (source against destination, per account and folder;
    /// messages kept another way, wrapped or in an mbox file, are counted apart, not missing).
    pub verification: Option<crate::review::Review>,
    /// Accounts that could not be started (no password, unreadable store), with the reason.
    pub not_started: Vec<AccountError>,
    pub cancelled: bool,
    /// The destination's daily upload limit stopped an account: a run after this time goes on.
    #[ts(type = "string | null")]
    pub resumes_at: Option<chrono::DateTime<chrono::Utc>>,
    /// One line for the log and the screens.
    pub summary: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AccountError {
    pub account: String,
    pub error: String,
}

pub(crate) fn imap_endpoint(
    host: &str,
    port: u16,
    security: Security,
    pin: Option<String>,
) -> ImapEndpoint {
    ImapEndpoint {
        host: host.to_string(),
        port,
        security: match security {
            Security::Tls => ImapSecurity::Tls,
            Security::StartTls => ImapSecurity::StartTls,
            Security::Plain => ImapSecurity::Plain,
        },
        pinned_sha256: pin,
    }
}

/// Each account with its engine pair, and the accounts that could not be set up.
pub type AccountPairs = (Vec<(PlannedAccount, AccountPair)>, Vec<AccountError>);

/// The destination's IMAP endpoint with the pin the admin accepted, if any.
pub fn destination_endpoint(
    project: &Project,
    dest: &Destination,
) -> Result<ImapEndpoint, PhaseError> {
    let pin: Option<String> = project.setting(DESTINATION_PIN_SETTING)?;
    Ok(imap_endpoint(
        &dest.imap.host,
        dest.imap.port,
        dest.imap.security,
        pin,
    ))
}

/// The login of `account` on the destination (its address there, or the local part).
pub fn destination_login(dest: &Destination, account: &PlannedAccount) -> String {
    dest.login_for(&account.dest_address)
}

/// Builds the engine's account pairs for `accounts`: the store on disk or the old server's
/// IMAP service as source, the destination with the password the vault holds for
/// (destination host, login). An account that cannot be set up is returned apart, with why.
pub fn account_pairs(
    project: &Project,
    host: &dyn ProjectHost,
    accounts: &[PlannedAccount],
) -> Result<AccountPairs, PhaseError> {
    let dest = project.destination()?.ok_or_else(|| {
        PhaseError::NotReady("No new mail host chosen yet: choose it in Destination first.".into())
    })?;
    let dest_endpoint = destination_endpoint(project, &dest)?;
    let source_imap: Option<SourceImap> = project.setting(SOURCE_IMAP_SETTING)?;
    let vault = host.open_vault()?;
    // One token source for every mailbox: its cache serves them all (one Microsoft app token).
    let oauth_settings: Option<ferry_oauth::OAuthSettings> = project.setting(OAUTH_SETTING)?;
    let oauth = oauth_settings
        .map(|settings| {
            ferry_oauth::token_source(&settings, vault.as_ref())
                .map_err(|e| PhaseError::Vault(format!("{e}. {}", e.advice())))
        })
        .transpose()?;
    let password = |host_name: &str, login: &str| -> Result<SecretString, String> {
        match vault.get(host_name, login) {
            Ok(Some(secret)) if !secret.is_empty() => Ok(secret.to_secret_string()),
            Ok(_) => Err(format!(
                "no password stored for {login} at {host_name}; enter it in Credentials"
            )),
            Err(e) => Err(format!("the password store could not be read: {e}")),
        }
    };
    let mut pairs = Vec::new();
    let mut errors = Vec::new();
    for account in accounts {
        let login = destination_login(&dest, account);
        let built = (|| -> Result<AccountPair, String> {
            let (login, dest_password) = match &oauth {
                // OAuth names the mailbox itself (its address), not a login.
                Some(_) => (
                    account.dest_address.clone(),
                    SecretString::from(String::new()),
                ),
                None => (login.clone(), password(&dest_endpoint.host, &login)?),
            };
            let source = match (account.method, &account.store) {
                (SourceMethod::Store, Some(store)) => SourceSpec::Maildir(PathBuf::from(store)),
                _ => {
                    let imap = source_imap.as_ref().ok_or_else(|| {
                        format!(
                            "{} is read over the old server's IMAP service, which is not set up; set it up in Destination, below the accounts",
                            account.source_address
                        )
                    })?;
                    SourceSpec::Imap(ImapAccount {
                        endpoint: imap_endpoint(
                            &imap.host,
                            imap.port,
                            imap.security,
                            imap.pinned_sha256.clone(),
                        ),
                        user: account.login.clone(),
                        password: password(&imap.host, &account.login)?,
                        oauth: None,
                    })
                }
            };
            Ok(AccountPair {
                source,
                dest: ImapAccount {
                    endpoint: dest_endpoint.clone(),
                    user: login.clone(),
                    password: dest_password,
                    oauth: oauth.clone(),
                },
            })
        })();
        match built {
            Ok(pair) => pairs.push((account.clone(), pair)),
            Err(error) => errors.push(AccountError {
                account: account.source_address.clone(),
                error,
            }),
        }
    }
    Ok((pairs, errors))
}

/// The accounts a sync job copies: every included account still on the server, or `only`.
fn accounts_for(
    project: &Project,
    only: Option<&[String]>,
) -> Result<Vec<PlannedAccount>, PhaseError> {
    let plan = project.plan()?;
    let chosen: Vec<PlannedAccount> = plan
        .into_iter()
        .filter(|a| match only {
            Some(list) => list
                .iter()
                .any(|o| o.eq_ignore_ascii_case(&a.source_address)),
            None => a.included && a.present,
        })
        .collect();
    if chosen.is_empty() {
        return Err(PhaseError::NotReady(match only {
            Some(list) => format!("none of {} is in the migration plan", list.join(", ")),
            None => {
                "No account is included in the migration plan: include at least one in Destination."
                    .into()
            }
        }));
    }
    Ok(chosen)
}

/// Connections per account and accounts at once, within the destination's limits: the users'
/// own mail clients keep using some of each mailbox's connections during the migration.
pub(crate) fn run_options(dest: &Destination, state: &Path) -> RunOptions {
    let mut options = RunOptions {
        state: Some(state.to_path_buf()),
        ..RunOptions::default()
    };
    if let Some(limit) = dest.limits.max_connections_per_user {
        options.connections = options.connections.min((limit as usize / 2).max(1));
    }
    options.sync.parallel = options.connections;
    options.sync.max_message_size = dest.limits.max_message_size;
    options.sync.budget = dest
        .limits
        .daily_upload_bytes
        .map(|bytes_per_day| ferry_sync::DailyBudget { bytes_per_day });
    options
}

/// Runs a sync job (`kind` is the initial, delta, final sync or a retry) over the plan. Holds
/// the project's writing lock throughout; `control.cancel` stops it (batches already sent are
/// recorded, so the next run continues where this one stopped, exactly once). Progress goes
/// to `events`, tagged with `control.id`.
pub async fn run(
    project_path: &Path,
    host: &dyn ProjectHost,
    control: &JobControl,
    events: JobEvents,
    only: Option<&[String]>,
) -> Result<SyncJobReport, PhaseError> {
    let kind = control.kind;
    let _lock = jobs::lock(project_path, kind, host.now().timestamp())?;
    let mut project = Project::open(project_path)?;
    project.settle_abandoned_runs(host.now().timestamp())?;
    let dest = project.destination()?.ok_or_else(|| {
        PhaseError::NotReady("No new mail host chosen yet: choose it in Destination first.".into())
    })?;
    let accounts = accounts_for(&project, only)?;
    // A run that continues one that stopped (paused, cut off, killed) copies only the rest: its
    // own count alone would understate what is on the new host.
    let continues_stopped = project
        .last_run(kind.log_name())?
        .is_some_and(|r| matches!(r.outcome, RunOutcome::Cancelled | RunOutcome::Failed));
    let run_id = project.log_run(
        kind.log_name(),
        host.now().timestamp(),
        &serde_json::json!({
            "accounts": accounts.iter().map(|a| &a.source_address).collect::<Vec<_>>(),
            "destination": dest.imap.host,
        }),
    )?;
    let (pairs, not_started) = match account_pairs(&project, host, &accounts) {
        Ok(built) => built,
        Err(e) => {
            project.end_run(
                run_id,
                host.now().timestamp(),
                RunOutcome::Failed,
                &serde_json::json!({ "summary": e.to_string() }),
            )?;
            return Err(e);
        }
    };
    let state_path = project.sync_state_path();
    let options = run_options(&dest, &state_path);
    let names: Vec<String> = accounts.iter().map(|a| a.source_address.clone()).collect();
    let tracker = ProgressTracker::new(&control.id, events, &names);
    if kind == JobKind::InitialSync {
        // Until an account's own plan is known (it waits for a free slot), its share of the
        // whole is what discovery counted, so the overall bar is true from the start.
        for account in &accounts {
            tracker.preset(&account.source_address, |p| {
                p.messages_total = account.messages;
                p.bytes_total = account.bytes;
            });
        }
    }
    for failed in &not_started {
        tracker.preset(&failed.account, |p| {
            p.stage = AccountStage::Stopped;
            p.error = Some(failed.error.clone());
        });
    }
    tracker.emit(JobProgress::Started {
        job: kind,
        accounts: tracker.snapshot(),
    });

    // The engine stops at the token: batches in flight finish and are recorded, so the next run
    // continues exactly once.
    let mut options = options;
    options.sync.cancel = control.cancel.clone();
    options.sync.clock = host.sync_clock();
    let started = std::time::Instant::now();
    let summaries = copy_accounts(&pairs, &options, &tracker).await;
    let cancelled = control.cancel.is_cancelled() || summaries.iter().any(|(_, s)| s.cancelled);
    let resumes_at = summaries
        .iter()
        .filter_map(|(_, s)| s.budget_exhausted_until)
        .max();
    let mut report = SyncReport::of(
        summaries.into_iter().map(|(_, s)| s).collect(),
        &state_path,
        started.elapsed().as_secs_f64(),
    );
    report.complete = report.complete && not_started.is_empty() && !cancelled;

    let verification = if kind == JobKind::FinalSync && !cancelled && report.fatal == 0 {
        let plain: Vec<AccountPair> = pairs.iter().map(|(_, p)| p.clone()).collect();
        Some(
            crate::review::run_review(plain, options.clone())
                .await
                .map_err(|e| PhaseError::NotReady(e.to_string()))?,
        )
    } else {
        None
    };

    let now = host.now().timestamp();
    let verified = verification.as_ref().is_none_or(|v| v.ok);
    let outcome = if cancelled {
        RunOutcome::Cancelled
    } else if report.fatal > 0 || !not_started.is_empty() {
        RunOutcome::Failed
    } else if report.failed > 0 || !verified {
        RunOutcome::Attention
    } else {
        RunOutcome::Succeeded
    };
    let mut summary = summarize(
        kind,
        &report,
        &not_started,
        verification.as_ref(),
        cancelled,
    );
    if continues_stopped && !cancelled {
        if let Some(in_all) = on_destination(&state_path, &report) {
            summary.push_str(&format!(
                "; {} on the new host in all, with the run that stopped before",
                plural(in_all, "message", "messages")
            ));
        }
    }
    if let Some(at) = resumes_at {
        summary.push_str(&format!(
            "; the new host's daily upload limit was reached: the rest follows after {}",
            at.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    let job_report = SyncJobReport {
        resumes_at,
        job: kind,
        report,
        verification,
        not_started,
        cancelled,
        summary: summary.clone(),
    };
    project.end_run(
        run_id,
        now,
        outcome,
        &serde_json::json!({ "summary": summary, "report": job_report }),
    )?;
    if outcome == RunOutcome::Succeeded || outcome == RunOutcome::Attention {
        match kind {
            JobKind::DeltaSync => project.set_fact(Fact::DeltaSyncedAt, Some(now))?,
            JobKind::FinalSync if outcome == RunOutcome::Succeeded => {
                project.set_fact(Fact::FinalSyncedAt, Some(now))?
            }
            _ => {}
        }
    }
    tracker.emit(JobProgress::Finished { outcome, summary });
    Ok(job_report)
}

/// The messages the ledger knows on the new host for the run's accounts (copied by any run, or
/// found there); `None` when the ledger cannot be read (the summary then leaves it out).
fn on_destination(state_path: &Path, report: &SyncReport) -> Option<u64> {
    let state = ferry_sync::StateDb::open(state_path).ok()?;
    report
        .accounts
        .iter()
        .map(|a| state.messages_on_destination(&a.account).ok())
        .sum()
}

async fn copy_accounts(
    pairs: &[(PlannedAccount, AccountPair)],
    options: &RunOptions,
    tracker: &Arc<ProgressTracker>,
) -> Vec<(String, AccountSummary)> {
    let state = match open_state(options, &[], false) {
        Ok((state, _)) => state,
        Err(e) => {
            return pairs
                .iter()
                .map(|(a, _)| {
                    (
                        a.source_address.clone(),
                        AccountSummary {
                            account: a.source_address.clone(),
                            fatal: Some(e.to_string()),
                            ..Default::default()
                        },
                    )
                })
                .collect()
        }
    };
    stream::iter(pairs.iter().cloned())
        .map(|(account, pair)| {
            let state = state.clone();
            let tracker = tracker.clone();
            let options = options.clone();
            async move {
                let name = account.source_address.clone();
                let dest = Arc::new(imap_side(
                    &pair.dest,
                    options.connections,
                    options.sync.max_message_size,
                ));
                let progress: ferry_sync::ProgressFn = {
                    let tracker = tracker.clone();
                    let name = name.clone();
                    Arc::new(move |event| tracker.engine_event(&name, event))
                };
                let summary = match source_of(&pair.source, options.connections) {
                    Ok(source) => {
                        ferry_sync::sync_account(
                            Arc::new(source),
                            dest,
                            state,
                            options.sync.clone(),
                            progress,
                        )
                        .await
                    }
                    Err(e) => AccountSummary {
                        account: name.clone(),
                        fatal: Some(e.to_string()),
                        ..Default::default()
                    },
                };
                if let Some(error) = &summary.fatal {
                    tracker.update(&name, |p| {
                        p.stage = AccountStage::Stopped;
                        p.error = Some(error.clone());
                    });
                }
                (name, summary)
            }
        })
        .buffer_unordered(options.parallel_accounts.max(1))
        .collect()
        .await
}

fn summarize(
    kind: JobKind,
    report: &SyncReport,
    not_started: &[AccountError],
    verification: Option<&crate::review::Review>,
    cancelled: bool,
) -> String {
    let stopped = report.fatal as usize + not_started.len();
    // "0 messages copied" reads like a failure; a cut-over or final sync often has nothing new.
    let copied = match report.copied {
        0 if report.failed == 0 && stopped == 0 => "nothing new to copy".to_string(),
        0 => "nothing copied".to_string(),
        n => format!("{} copied", plural(n, "message", "messages")),
    };
    let mut parts = vec![copied];
    if report.already_there > 0 {
        parts.push(format!("{} already on the new host", report.already_there));
    }
    if report.failed > 0 {
        parts.push(format!("{} failed (see Review)", report.failed));
    }
    if report.skipped > 0 {
        parts.push(format!("{} skipped", report.skipped));
    }
    if stopped > 0 {
        parts.push(format!(
            "{} could not be synced",
            plural(stopped as u64, "account", "accounts")
        ));
    }
    if let Some(v) = verification {
        parts.push(if v.ok {
            "verified: every message is on the new host".to_string()
        } else {
            format!(
                "verification: {} missing",
                plural(v.missing, "message", "messages")
            )
        });
    }
    let head = match kind {
        JobKind::InitialSync => "Initial sync",
        JobKind::DeltaSync => "Cut-over sync",
        JobKind::FinalSync => "Final sync",
        _ => "Sync",
    };
    if cancelled {
        format!("{head} stopped on request; run it again to continue where it stopped")
    } else {
        format!("{head}: {}", parts.join("; "))
    }
}

/// Runs the sync job and, when the new host's daily upload limit stops it, waits for the next
/// window (cancellable, said as a note) and goes on, until everything is copied: the app's way.
/// The CLI runs [`run`] once and exits with the time to run again instead.
pub async fn run_until_done(
    project_path: &Path,
    host: &dyn ProjectHost,
    control: &JobControl,
    events: JobEvents,
    only: Option<&[String]>,
) -> Result<Vec<SyncJobReport>, PhaseError> {
    let mut reports = Vec::new();
    loop {
        let report = run(project_path, host, control, events.clone(), only).await?;
        let resume = report.resumes_at.filter(|_| !report.cancelled);
        reports.push(report);
        let Some(at) = resume else {
            return Ok(reports);
        };
        events(crate::jobs::JobEvent {
            job_id: control.id.clone(),
            event: JobProgress::Note {
                text: format!(
                    "The new host's daily upload limit is reached; Ferry goes on by itself after {}.",
                    at.format("%Y-%m-%d %H:%M UTC")
                ),
            },
        });
        tokio::select! {
            _ = host.sleep_until(at) => {}
            _ = control.cancel.cancelled() => return Ok(reports),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(copied: u64, failed: u64, fatal: u64) -> SyncReport {
        SyncReport {
            copied,
            failed,
            fatal,
            ..SyncReport::default()
        }
    }

    #[test]
    fn a_run_that_copied_nothing_says_so_in_words() {
        let say = |r: &SyncReport| summarize(JobKind::DeltaSync, r, &[], None, false);
        assert_eq!(say(&report(0, 0, 0)), "Cut-over sync: nothing new to copy");
        assert_eq!(
            say(&report(0, 2, 0)),
            "Cut-over sync: nothing copied; 2 failed (see Review)"
        );
        assert_eq!(
            say(&report(0, 0, 1)),
            "Cut-over sync: nothing copied; 1 account could not be synced"
        );
        assert_eq!(say(&report(1, 0, 0)), "Cut-over sync: 1 message copied");
        assert_eq!(say(&report(3, 0, 0)), "Cut-over sync: 3 messages copied");
    }
}
