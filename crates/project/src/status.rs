//! Where the migration stands, phase by phase: what is done, what comes next and what blocks it.
//! Computed from the project file alone, so the CLI's `ferry status`, the app's sidebar and the
//! menu-bar icon all say the same.

use crate::words::plural;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::plan::PlannedAccount;
use crate::project::{Project, Result, RunOutcome};
use crate::store::{Phase, PhaseState};

/// One phase's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PhaseLine {
    pub phase: Phase,
    /// 1-based, as in DESIGN.md.
    pub number: u8,
    pub title: String,
    pub summary: String,
    pub state: PhaseState,
    /// A short note on the state ("4 of 5 accounts copied").
    pub note: Option<String>,
    /// What must happen before this phase can run, in words; empty when it can run.
    pub blockers: Vec<String>,
}

/// The whole migration at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MigrationStatus {
    pub phases: Vec<PhaseLine>,
    /// The phase to work on now: the first one not done and not blocked.
    pub next: Option<Phase>,
    /// One sentence for the top of the screen.
    pub headline: String,
    /// The old server's host name, once discovered.
    pub server: Option<String>,
}

/// Discovery warnings that still wait for the admin's decision.
pub fn undecided_warnings(project: &Project) -> Result<usize> {
    let Some(snapshot) = project.inventory()? else {
        return Ok(0);
    };
    let decisions = project.decisions()?;
    Ok(snapshot
        .inventory
        .warnings
        .iter()
        .filter(|w| {
            let code = warning_code(&w.code);
            let subject = w.subject.clone().unwrap_or_default();
            !decisions
                .iter()
                .any(|d| d.code == code && d.subject == subject)
        })
        .count())
}

/// The stored name of a warning code (`orphan_store`).
pub fn warning_code(code: &ferry_discover::WarningCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Computes every phase's state from the project.
pub fn status(project: &Project) -> Result<MigrationStatus> {
    let snapshot = project.inventory()?;
    let destination = project.destination()?;
    let plan = project.plan()?;
    let included: Vec<&PlannedAccount> = plan.iter().filter(|a| a.included && a.present).collect();
    let checks = project.login_checks()?;
    let facts = project.facts()?;
    let runs = project.runs()?;
    let last = |phase: &str| runs.iter().rev().find(|r| r.phase == phase);
    let run_state = |phase: &str| -> Option<(PhaseState, Option<String>)> {
        last(phase).map(|r| {
            // A job's summary starts with its own name ("Initial sync: 29 messages copied"); the
            // board already names the phase.
            let note = r.result.get("summary").and_then(|s| s.as_str()).map(|s| {
                [
                    "Initial sync: ",
                    "Cut-over sync: ",
                    "Final sync: ",
                    "Sync: ",
                ]
                .iter()
                .find_map(|head| s.strip_prefix(head))
                .unwrap_or(s)
                .to_string()
            });
            match r.outcome {
                RunOutcome::Running => (PhaseState::Running, note),
                RunOutcome::Succeeded => (PhaseState::Done, note),
                RunOutcome::Cancelled => (
                    PhaseState::NeedsAttention,
                    Some("Stopped before the end; run it again to continue".into()),
                ),
                RunOutcome::Attention | RunOutcome::Failed => (PhaseState::NeedsAttention, note),
            }
        })
    };

    let mut lines = Vec::new();
    for (number, phase) in (1u8..).zip(Phase::ALL) {
        let mut blockers = Vec::new();
        let (state, note) = match phase {
            Phase::Discover => match &snapshot {
                None => (PhaseState::NotStarted, None),
                Some(s) => {
                    let open = undecided_warnings(project)?;
                    let accounts = plural(s.inventory.accounts.len() as u64, "account", "accounts");
                    if open == 0 {
                        (PhaseState::Done, Some(format!("{accounts} found")))
                    } else {
                        (
                            PhaseState::NeedsAttention,
                            Some(format!(
                                "{accounts} found; {} to decide on",
                                plural(open as u64, "warning", "warnings")
                            )),
                        )
                    }
                }
            },
            Phase::Destination => {
                if snapshot.is_none() {
                    blockers.push("Discover the old server first.".into());
                }
                let over_imap = included
                    .iter()
                    .filter(|a| a.method == crate::plan::SourceMethod::Imap)
                    .count();
                let source_imap_set = project
                    .setting::<serde_json::Value>(crate::phases::sync::SOURCE_IMAP_SETTING)?
                    .is_some();
                match &destination {
                    None => (PhaseState::NotStarted, None),
                    // Not done while accounts wait to be read from a service Ferry cannot reach.
                    Some(_) if over_imap > 0 && !source_imap_set => (
                        PhaseState::NeedsAttention,
                        Some(format!(
                            "{} read over IMAP: enter how Ferry reaches the old server (below the accounts)",
                            plural(over_imap as u64, "account", "accounts")
                        )),
                    ),
                    Some(d) => (
                        PhaseState::Done,
                        Some(format!(
                            "{}: {} to copy",
                            d.name,
                            plural(included.len() as u64, "account", "accounts")
                        )),
                    ),
                }
            }
            Phase::Credentials => {
                if destination.is_none() {
                    blockers.push("Choose the new mail host first.".into());
                }
                let needed: Vec<(&str, crate::project::LoginSide)> = included
                    .iter()
                    .flat_map(|a| {
                        let mut sides = vec![(
                            a.source_address.as_str(),
                            crate::project::LoginSide::Destination,
                        )];
                        if a.method == crate::plan::SourceMethod::Imap {
                            sides.push((
                                a.source_address.as_str(),
                                crate::project::LoginSide::Source,
                            ));
                        }
                        sides
                    })
                    .collect();
                let status_of = |account: &str, side| {
                    checks
                        .iter()
                        .find(|c| c.account.eq_ignore_ascii_case(account) && c.side == side)
                        .map(|c| c.status.as_str())
                };
                let ok = needed
                    .iter()
                    .filter(|(a, s)| status_of(a, *s) == Some("ok"))
                    .count();
                let failed = needed
                    .iter()
                    .filter(|(a, s)| status_of(a, *s).is_some_and(|st| st != "ok"))
                    .count();
                if needed.is_empty() || (ok == 0 && failed == 0) {
                    (PhaseState::NotStarted, None)
                } else if ok == needed.len() {
                    (
                        PhaseState::Done,
                        Some(format!("{} work", plural(ok as u64, "login", "logins"))),
                    )
                } else {
                    (
                        PhaseState::NeedsAttention,
                        Some(format!(
                            "{ok} of {} logins work; {failed} failed",
                            needed.len()
                        )),
                    )
                }
            }
            Phase::InitialSync => {
                if destination.is_none() || included.is_empty() {
                    blockers.push("Choose the new host and at least one account first.".into());
                }
                run_state("initial_sync").unwrap_or((PhaseState::NotStarted, None))
            }
            Phase::Review => {
                if last("initial_sync").is_none() {
                    blockers.push("Run the initial sync first.".into());
                }
                run_state("review").unwrap_or((PhaseState::NotStarted, None))
            }
            Phase::DnsPrep => match (facts.ttl_lowered_at, run_state("dns_check")) {
                (Some(_), _) => (PhaseState::Done, Some("TTL lowered".into())),
                (None, Some((PhaseState::Done, note))) => (PhaseState::Done, note),
                (None, Some((_, note))) => (PhaseState::NeedsAttention, note),
                (None, None) => (PhaseState::NotStarted, None),
            },
            Phase::Cutover => {
                if last("initial_sync").is_none() {
                    blockers.push("Run the initial sync before switching MX.".into());
                }
                match (
                    facts.mx_switched_at,
                    facts.dns_all_new_at,
                    facts.delta_synced_at,
                ) {
                    (_, Some(_), Some(_)) => (
                        PhaseState::Done,
                        Some("Every resolver answers the new host; mail copied".into()),
                    ),
                    (_, Some(_), None) => (
                        PhaseState::NeedsAttention,
                        Some("DNS has switched; the cut-over sync has not finished".into()),
                    ),
                    (Some(_), None, _) => run_state("dns_watch").unwrap_or((
                        PhaseState::Running,
                        Some("Waiting for every resolver to answer the new MX".into()),
                    )),
                    (None, None, _) => (PhaseState::NotStarted, None),
                }
            }
            Phase::Profiles => match facts.profiles_exported_at {
                Some(_) => (PhaseState::Done, run_state("profiles").and_then(|s| s.1)),
                None => {
                    if destination.is_none() {
                        blockers.push("Choose the new mail host first.".into());
                    }
                    (PhaseState::NotStarted, None)
                }
            },
            Phase::FinalSync => {
                if facts.dns_all_new_at.is_none() {
                    blockers.push(
                        "Switch MX to the new host first, so no more mail arrives at the old server."
                            .into(),
                    );
                }
                match facts.final_synced_at {
                    Some(_) => (PhaseState::Done, run_state("final_sync").and_then(|s| s.1)),
                    None => run_state("final_sync").unwrap_or((PhaseState::NotStarted, None)),
                }
            }
            Phase::Quarantine => match facts.quarantine_archived_at {
                Some(_) => (PhaseState::Done, run_state("quarantine").and_then(|s| s.1)),
                None => run_state("quarantine").unwrap_or((PhaseState::NotStarted, None)),
            },
            Phase::Decommission => {
                if facts.final_synced_at.is_none() {
                    blockers.push("Run the final sync first.".into());
                }
                run_state("decommission").unwrap_or((PhaseState::NotStarted, None))
            }
        };
        lines.push(PhaseLine {
            phase,
            number,
            title: phase.title().to_string(),
            summary: phase.summary().to_string(),
            state,
            note,
            blockers,
        });
    }
    let next = lines
        .iter()
        .find(|l| l.state != PhaseState::Done && l.blockers.is_empty())
        .map(|l| l.phase);
    let server = snapshot.as_ref().map(|s| s.inventory.hostname.clone());
    let headline = match (next, &server) {
        (_, None) => "Start by discovering the old server.".to_string(),
        (None, Some(host)) => {
            format!("The migration of {host} is complete: the old server can be switched off.")
        }
        (Some(phase), Some(host)) => {
            let done = lines.iter().filter(|l| l.state == PhaseState::Done).count();
            // A step that needs attention says why, right in the headline.
            let why = lines
                .iter()
                .find(|l| l.phase == phase && l.state == PhaseState::NeedsAttention)
                .and_then(|l| l.note.as_ref())
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            format!(
                "{host}: {done} of 11 steps done. Next: {}{why}.",
                phase.title()
            )
        }
    };
    Ok(MigrationStatus {
        phases: lines,
        next,
        headline,
        server,
    })
}
