//! Phase 11 on the project: the readiness checklist (every account final-synced and verified,
//! DNS all new, no mail at the old server for 72 hours, quarantine archived, profiles exported,
//! a clone kept) and the final report a consultant hands the customer.

use std::path::Path;

use chrono::{DateTime, Utc};
use ferry_cutover::dns::DnsReport;
use ferry_cutover::quarantine::QuarantineArchive;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::decommission::{AccountReadiness, Checklist, ChecklistInput};
use crate::host::ProjectHost;
use crate::phases::PhaseError;
use crate::project::{PhaseRun, Project, RunOutcome};
use crate::report::{CutoverDates, PhaseTiming, ReportInput};
use crate::review::Review;

fn at(t: Option<i64>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t, 0))
}

/// The newest run of any of `phases` whose result holds a `report` of type `T`.
fn last_report<T: serde::de::DeserializeOwned>(runs: &[PhaseRun], phases: &[&str]) -> Option<T> {
    runs.iter()
        .rev()
        .filter(|r| phases.contains(&r.phase.as_str()))
        .find_map(|r| serde_json::from_value(r.result.get("report")?.clone()).ok())
}

/// What Decommission shows.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DecommissionView {
    pub checklist: Checklist,
    /// The comparison of every account made for the checklist.
    pub review: Option<Review>,
    /// Where the final report was written (HTML; the JSON beside it).
    pub report_html: Option<String>,
    pub report_json: Option<String>,
}

/// Computes the checklist now (a fresh comparison of every account and a fresh look at the
/// mail flow), and with `report` writes the final report there. Logged.
pub async fn decommission(
    project: &mut Project,
    host: &dyn ProjectHost,
    report: Option<&Path>,
) -> Result<DecommissionView, PhaseError> {
    let quiet_hours = crate::decommission::REQUIRED_QUIET_HOURS;
    let mailflow = crate::phases::cutover::mailflow(project, host, quiet_hours).ok();
    let review = if project.sync_state_path().exists() {
        crate::phases::review::review(project, host).await.ok()
    } else {
        None
    };
    let facts = project.facts()?;
    let runs = project.runs()?;
    let plan = project.plan()?;
    let snapshot = project.inventory()?;
    let source = project.source()?;
    let has_quarantine = match (&snapshot, &source) {
        (Some(s), Some(src)) => {
            crate::cutover::quarantine_mailboxes_of(Path::new(&src.root), &s.inventory)
                .map(|m| !m.is_empty())
                .unwrap_or(true)
        }
        _ => true,
    };
    let included: Vec<_> = plan.iter().filter(|a| a.included && a.present).collect();
    // Review lists accounts in the plan's order (one per pair), so they line up.
    let accounts: Vec<AccountReadiness> = included
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let reviewed = review.as_ref().and_then(|r| r.accounts.get(i));
            AccountReadiness {
                account: a.source_address.clone(),
                old_login: a.login.clone(),
                included: true,
                final_synced_at: at(facts.final_synced_at),
                verified: reviewed.map(|r| r.missing == 0 && r.error.is_none()),
                missing: reviewed.map_or(0, |r| r.missing),
            }
        })
        .collect();
    let checklist = crate::decommission::checklist(&ChecklistInput {
        now: host.now(),
        accounts,
        dns: last_report::<DnsReport>(&runs, &["dns_watch", "dns_check"]),
        mailflow: mailflow.clone(),
        quiet_hours,
        has_quarantine,
        quarantine: last_report::<QuarantineArchive>(&runs, &["quarantine"]),
        profiles_exported_at: at(facts.profiles_exported_at),
        server_clone_confirmed_at: at(facts.clone_kept_at),
    });
    let mut view = DecommissionView {
        checklist,
        review: review.clone(),
        report_html: None,
        report_json: None,
    };
    let now = host.now().timestamp();
    let run = project.log_run(
        "decommission",
        now,
        &serde_json::json!({ "report": report.map(|p| p.display().to_string()) }),
    )?;
    if let Some(path) = report {
        let destination = project.destination()?;
        let mut accounts = review
            .as_ref()
            .map(crate::report::accounts_from_review)
            .unwrap_or_default();
        for (row, planned) in accounts.iter_mut().zip(&included) {
            row.name = planned.source_address.clone();
            row.destination = planned.dest_address.clone();
            row.final_sync_at = at(facts.final_synced_at);
        }
        let input = ReportInput {
            title: format!(
                "Mail migration of {}",
                snapshot.as_ref().map_or("the old server".to_string(), |s| s
                    .inventory
                    .hostname
                    .clone())
            ),
            customer: None,
            prepared_by: None,
            generated_at: host.now(),
            old_server: snapshot
                .as_ref()
                .map_or_else(String::new, |s| s.inventory.hostname.clone()),
            destination: destination
                .as_ref()
                .map_or_else(String::new, |d| format!("{} ({})", d.name, d.imap.host)),
            domains: snapshot
                .as_ref()
                .map_or_else(Vec::new, |s| s.inventory.domains.clone()),
            accounts,
            phases: runs
                .iter()
                .filter(|r| r.outcome != RunOutcome::Running)
                .filter_map(|r| {
                    Some(PhaseTiming {
                        phase: r.phase.clone(),
                        started_at: DateTime::from_timestamp(r.started_at, 0)?,
                        finished_at: at(r.ended_at),
                        result: r
                            .result
                            .get("summary")
                            .and_then(|s| s.as_str())
                            .unwrap_or_default()
                            .to_string(),
                    })
                })
                .collect(),
            cutover: CutoverDates {
                ttl_lowered_at: at(facts.ttl_lowered_at),
                mx_switched_at: at(facts.mx_switched_at),
                dns_all_new_at: at(facts.dns_all_new_at),
                last_mail_at_old_server: mailflow
                    .as_ref()
                    .and_then(|m| m.last_delivery)
                    .or(at(facts.last_mail_seen_at)),
                final_sync_at: at(facts.final_synced_at),
            },
            checklist: Some(view.checklist.clone()),
            notes: Vec::new(),
        };
        let json = crate::report::final_report(input)
            .write(path)
            .map_err(|e| PhaseError::NotReady(e.to_string()))?;
        view.report_html = Some(path.display().to_string());
        view.report_json = Some(json.display().to_string());
    }
    let ready = view.checklist.ready;
    let open = view
        .checklist
        .items
        .iter()
        .filter(|i| i.state != crate::decommission::ItemState::Done)
        .count();
    project.end_run(
        run,
        host.now().timestamp(),
        if ready {
            RunOutcome::Succeeded
        } else {
            RunOutcome::Attention
        },
        &serde_json::json!({
            "summary": if ready {
                "ready: the old server can be switched off".to_string()
            } else {
                format!("{} of the checklist not done yet", crate::words::plural(open as u64, "item", "items"))
            },
            "checklist": view.checklist,
        }),
    )?;
    Ok(view)
}
