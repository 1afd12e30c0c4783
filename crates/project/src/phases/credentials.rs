//! Phase 3 on the project: passwords into the vault for the plan's accounts, and a login check
//! of every planned account whose result is kept in the project (never the password).

use ferry_vault::check::{LoginMethod, Server, Status};
use ferry_vault::Secret;

use crate::credentials::{AccountRef, CheckOptions, CheckPlan, CheckReport};
use crate::host::ProjectHost;
use crate::phases::sync::{
    destination_endpoint, destination_login, imap_endpoint, SourceImap, SOURCE_IMAP_SETTING,
};
use crate::phases::PhaseError;
use crate::plan::SourceMethod;
use crate::project::{LoginCheckRecord, LoginSide, Project, RunOutcome};

/// Stores the destination password of one planned account (by its old address), under the key
/// the syncs read: (destination host, login there). Returns where it went, in words.
pub fn set_destination_password(
    project: &Project,
    host: &dyn ProjectHost,
    source_address: &str,
    password: &Secret,
) -> Result<String, PhaseError> {
    let dest = project
        .destination()?
        .ok_or_else(|| PhaseError::NotReady("Choose the new mail host first.".into()))?;
    let account = project
        .plan()?
        .into_iter()
        .find(|a| a.source_address.eq_ignore_ascii_case(source_address))
        .ok_or_else(|| crate::project::ProjectError::NoSuchAccount(source_address.into()))?;
    let vault = host.vault().map_err(PhaseError::Vault)?;
    let login = destination_login(&dest, &account);
    vault
        .set(&dest.imap.host, &login, password)
        .map_err(|e| PhaseError::Vault(e.to_string()))?;
    Ok(vault.describe())
}

/// Logs in to the destination for every included account (and to the old server's IMAP
/// service for accounts read over IMAP), keeps each result in the project and logs the run.
pub async fn check_logins(
    project: &mut Project,
    host: &dyn ProjectHost,
) -> Result<CheckReport, PhaseError> {
    let dest = project
        .destination()?
        .ok_or_else(|| PhaseError::NotReady("Choose the new mail host first.".into()))?;
    let plan: Vec<_> = project
        .plan()?
        .into_iter()
        .filter(|a| a.included && a.present)
        .collect();
    let source_imap: Option<SourceImap> = project.setting(SOURCE_IMAP_SETTING)?;
    let needs_source = plan.iter().any(|a| a.method == SourceMethod::Imap);
    let check_plan = CheckPlan {
        source: match (&source_imap, needs_source) {
            (Some(imap), true) => Some(Server {
                endpoint: imap_endpoint(
                    &imap.host,
                    imap.port,
                    imap.security,
                    imap.pinned_sha256.clone(),
                ),
                login: LoginMethod::UserPassword,
            }),
            _ => None,
        },
        destination: Server {
            endpoint: destination_endpoint(project, &dest)?,
            login: LoginMethod::UserPassword,
        },
        accounts: plan
            .iter()
            .map(|a| AccountRef {
                address: a.source_address.clone(),
                source_user: Some(a.login.clone()),
                destination_user: destination_login(&dest, a),
            })
            .collect(),
        options: CheckOptions::default(),
    };
    let started = host.now().timestamp();
    let run = project.log_run(
        "login_check",
        started,
        &serde_json::json!({ "accounts": plan.len() }),
    )?;
    let vault = host.vault().map_err(PhaseError::Vault)?;
    let oauth: Option<ferry_oauth::OAuthSettings> =
        project.setting(crate::phases::sync::OAUTH_SETTING)?;
    let report = match oauth {
        None => crate::credentials::check(&check_plan, vault.as_ref()).await,
        Some(settings) => {
            check_oauth_mailboxes(&settings, vault.as_ref(), &check_plan, &plan, &dest).await?
        }
    };
    let now = host.now().timestamp();
    for result in &report.results {
        // Store-read accounts need no source login: only record what was checked.
        project.record_login_check(&LoginCheckRecord {
            account: result.account.clone(),
            side: match result.side {
                ferry_vault::check::Side::Source => LoginSide::Source,
                ferry_vault::check::Side::Destination => LoginSide::Destination,
            },
            status: serde_json::to_value(result.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            advice: result.advice.clone(),
            checked_at: now,
        })?;
    }
    let summary = if report.problems == 0 {
        format!("{} logins work", report.ok)
    } else {
        format!("{} logins work, {} failed", report.ok, report.problems)
    };
    project.end_run(
        run,
        now,
        if report.results.iter().all(|r| r.status == Status::Ok) {
            RunOutcome::Succeeded
        } else {
            RunOutcome::Attention
        },
        &serde_json::json!({ "summary": summary, "report": report }),
    )?;
    Ok(report)
}

/// OAuth hosts: one admin-level token source, then a sign-in into every planned mailbox, each
/// saying what is missing (consent, the app's permission on that mailbox, ...).
async fn check_oauth_mailboxes(
    settings: &ferry_oauth::OAuthSettings,
    vault: &dyn ferry_vault::Vault,
    check_plan: &CheckPlan,
    plan: &[crate::plan::PlannedAccount],
    dest: &crate::destination::Destination,
) -> Result<CheckReport, PhaseError> {
    let source = ferry_oauth::token_source(settings, vault)
        .map_err(|e| PhaseError::Vault(format!("{e}. {}", e.advice())))?;
    let mailboxes: Vec<String> = plan.iter().map(|a| a.dest_address.clone()).collect();
    let endpoint = &check_plan.destination.endpoint;
    let checks = ferry_oauth::check_mailboxes(
        endpoint,
        source,
        &mailboxes,
        check_plan.options.timeouts,
        check_plan.options.parallel,
    )
    .await;
    let results: Vec<ferry_vault::check::LoginCheck> = plan
        .iter()
        .zip(checks)
        .map(|(account, check)| ferry_vault::check::LoginCheck {
            account: account.source_address.clone(),
            side: ferry_vault::check::Side::Destination,
            server: format!("{}:{}", dest.imap.host, dest.imap.port),
            login: check.mailbox.clone(),
            login_as: None,
            status: if check.ok { Status::Ok } else { Status::Failed },
            message: check.message,
            advice: check.advice.unwrap_or_default(),
            certificate: None,
            wait_ms: None,
        })
        .collect();
    let ok = results.iter().filter(|r| r.status == Status::Ok).count();
    Ok(CheckReport {
        problems: results.len() - ok,
        ok,
        results,
        source_from_store: check_plan.source.is_none(),
    })
}
