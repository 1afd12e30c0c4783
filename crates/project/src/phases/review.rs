//! Phase 5 on the project: per account and folder, the old server against the new host; the
//! failed messages with reason and advice; a retry of just those; and, for a message the new
//! host refuses for good, delivery wrapped or export to an mbox file (recorded in the ledger).

use std::path::Path;

use crate::host::ProjectHost;
use crate::jobs::{self, JobControl, JobEvents, JobKind, ProgressTracker};
use crate::phases::sync::{account_pairs, run_options};
use crate::phases::PhaseError;
use crate::plan::PlannedAccount;
use crate::project::{Project, RunOutcome};
use crate::review::{MessageRef, ResolveChoice, ResolvedMessage, RetryReport, Review};

fn review_err(e: crate::review::ReviewError) -> PhaseError {
    PhaseError::NotReady(e.to_string())
}

fn pairs_of(
    project: &Project,
    host: &dyn ProjectHost,
) -> Result<crate::phases::sync::AccountPairs, PhaseError> {
    let accounts: Vec<PlannedAccount> = project
        .plan()?
        .into_iter()
        .filter(|a| a.included && a.present)
        .collect();
    account_pairs(project, host, &accounts)
}

fn options(project: &Project) -> Result<crate::sync::RunOptions, PhaseError> {
    let dest = project
        .destination()?
        .ok_or_else(|| PhaseError::NotReady("Choose the new mail host first.".into()))?;
    Ok(run_options(&dest, &project.sync_state_path()))
}

/// Reviews every included account (reads only; runs while nothing else writes). Logged.
pub async fn review(project: &mut Project, host: &dyn ProjectHost) -> Result<Review, PhaseError> {
    if !project.sync_state_path().exists() {
        return Err(PhaseError::NotReady(
            "Nothing was copied yet: run the initial sync first.".into(),
        ));
    }
    let (pairs, not_started) = pairs_of(project, host)?;
    let options = options(project)?;
    let started = host.now().timestamp();
    let run = project.log_run(
        "review",
        started,
        &serde_json::json!({ "accounts": pairs.len() }),
    )?;
    let result =
        crate::review::run_review(pairs.into_iter().map(|(_, p)| p).collect(), options).await;
    let now = host.now().timestamp();
    match result {
        Ok(review) => {
            let ok = review.ok && not_started.is_empty();
            let mut summary = if review.ok {
                format!(
                    "{} messages on the new host; none missing",
                    review.dest_messages
                )
            } else {
                format!("{} missing, {} failed", review.missing, review.failed)
            };
            if !review.resolved_text.is_empty() {
                summary.push_str(&format!("; {}", review.resolved_text));
            }
            for a in &not_started {
                summary.push_str(&format!("; {} not checked: {}", a.account, a.error));
            }
            project.end_run(
                run,
                now,
                if ok {
                    RunOutcome::Succeeded
                } else {
                    RunOutcome::Attention
                },
                &serde_json::json!({ "summary": summary, "review": review }),
            )?;
            Ok(review)
        }
        Err(e) => {
            project.end_run(
                run,
                now,
                RunOutcome::Failed,
                &serde_json::json!({ "summary": e.to_string() }),
            )?;
            Err(review_err(e))
        }
    }
}

/// Copies again just the messages that failed (a writing job: holds the project's lock).
pub async fn retry(
    project_path: &Path,
    host: &dyn ProjectHost,
    control: &JobControl,
    events: JobEvents,
) -> Result<RetryReport, PhaseError> {
    let _lock = jobs::lock(project_path, JobKind::Retry, host.now().timestamp())?;
    let mut project = Project::open(project_path)?;
    let (pairs, _) = pairs_of(&project, host)?;
    let options = options(&project)?;
    let names: Vec<String> = pairs
        .iter()
        .map(|(a, _)| a.source_address.clone())
        .collect();
    let tracker = ProgressTracker::new(&control.id, events, &names);
    let run = project.log_run(
        JobKind::Retry.log_name(),
        host.now().timestamp(),
        &serde_json::json!({ "accounts": names }),
    )?;
    let progress: ferry_sync::ProgressFn = {
        let tracker = tracker.clone();
        std::sync::Arc::new(move |event: &ferry_sync::Progress| {
            tracker.engine_event("retry", event)
        })
    };
    let result = crate::review::retry(
        pairs.into_iter().map(|(_, p)| p).collect(),
        options,
        progress,
    )
    .await;
    let now = host.now().timestamp();
    match result {
        Ok(report) => {
            project.end_run(
                run,
                now,
                if report.still_failing == 0 {
                    RunOutcome::Succeeded
                } else {
                    RunOutcome::Attention
                },
                &serde_json::json!({ "summary": report.summary, "report": report }),
            )?;
            Ok(report)
        }
        Err(e) => {
            project.end_run(
                run,
                now,
                RunOutcome::Failed,
                &serde_json::json!({ "summary": e.to_string() }),
            )?;
            Err(review_err(e))
        }
    }
}

/// Delivers one refused message wrapped, or exports it to an mbox file (a writing job).
pub async fn resolve(
    project_path: &Path,
    host: &dyn ProjectHost,
    account: &str,
    message: &MessageRef,
    choice: &ResolveChoice,
) -> Result<ResolvedMessage, PhaseError> {
    let _lock = jobs::lock(project_path, JobKind::Retry, host.now().timestamp())?;
    let mut project = Project::open(project_path)?;
    let planned = project
        .plan()?
        .into_iter()
        .find(|a| a.source_address.eq_ignore_ascii_case(account))
        .ok_or_else(|| crate::project::ProjectError::NoSuchAccount(account.into()))?;
    let (pairs, errors) = account_pairs(&project, host, std::slice::from_ref(&planned))?;
    let Some((_, pair)) = pairs.into_iter().next() else {
        return Err(PhaseError::NotReady(
            errors
                .into_iter()
                .next()
                .map(|e| e.error)
                .unwrap_or_default(),
        ));
    };
    let options = options(&project)?;
    let started = host.now().timestamp();
    let run = project.log_run(
        "resolve",
        started,
        &serde_json::json!({ "account": account, "message": message, "choice": choice }),
    )?;
    let result = crate::review::resolve(&pair, &options, message, choice).await;
    let now = host.now().timestamp();
    match result {
        Ok(resolved) => {
            project.end_run(
                run,
                now,
                RunOutcome::Succeeded,
                &serde_json::json!({ "summary": "message resolved", "resolved": resolved }),
            )?;
            Ok(resolved)
        }
        Err(e) => {
            project.end_run(
                run,
                now,
                RunOutcome::Failed,
                &serde_json::json!({ "summary": e.to_string() }),
            )?;
            Err(review_err(e))
        }
    }
}
