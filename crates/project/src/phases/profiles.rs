//! Phase 8 on the project: one profile per person of the plan, for the destination the project
//! holds, at their new address. The profiles' UUIDs are seeded with the old server's host name,
//! as the one-off `ferry profiles export` does, so a re-export replaces installed profiles.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::host::ProjectHost;
use crate::phases::PhaseError;
use crate::plan::AccountKind;
use crate::profiles::{ExportReport, ExportRequest, Organization, ProfileAccount, Signing};
use crate::project::{Fact, Project, RunOutcome};

/// What the admin chose for the export.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ProfilesChoice {
    /// The folder to write into.
    pub out_dir: String,
    /// Put each person's new-host password into their profile (only hosts that take one).
    pub with_passwords: bool,
    /// Google: also an IMAP account on iPhones and iPads.
    pub imap_with_native: bool,
    /// Microsoft 365: also an Exchange (EWS) account on Macs, for tenants that still allow it.
    pub ews_on_mac: bool,
    /// The organization's name shown when installing (default: its domain).
    pub organization_name: Option<String>,
}

/// Exports the profiles and records when.
pub fn export(
    project: &mut Project,
    host: &dyn ProjectHost,
    choice: &ProfilesChoice,
    signing: Option<Signing>,
) -> Result<ExportReport, PhaseError> {
    let snapshot = project
        .inventory()?
        .ok_or_else(|| PhaseError::NotReady("Discover the old server first.".into()))?;
    let destination = project
        .destination()?
        .ok_or_else(|| PhaseError::NotReady("Choose the new mail host first.".into()))?;
    if choice.out_dir.trim().is_empty() {
        return Err(PhaseError::NotReady(
            "Choose a folder for the profiles.".into(),
        ));
    }
    let inventory = &snapshot.inventory;
    let accounts: Vec<ProfileAccount> = project
        .plan()?
        .into_iter()
        .filter(|a| a.included && a.present && a.kind == AccountKind::User)
        .map(|a| {
            let display_name = inventory
                .accounts
                .iter()
                .find(|d| d.short_name == a.login)
                .and_then(|d| d.real_name.clone())
                .unwrap_or_else(|| a.login.clone());
            ProfileAccount {
                key: a.login.clone(),
                address: a.dest_address.clone(),
                display_name,
            }
        })
        .collect();
    let domain = accounts
        .first()
        .and_then(|a| a.address.rsplit_once('@').map(|(_, d)| d.to_string()))
        .or_else(|| inventory.domains.first().cloned())
        .ok_or_else(|| {
            PhaseError::NotReady("The plan has no address to make profiles for.".into())
        })?;
    let vault = if choice.with_passwords {
        Some(host.open_vault()?)
    } else {
        None
    };
    let started = host.now().timestamp();
    let run = project.log_run(
        "profiles",
        started,
        &serde_json::to_value(choice).unwrap_or_default(),
    )?;
    let result = crate::profiles::export(ExportRequest {
        out_dir: PathBuf::from(&choice.out_dir),
        migration_id: inventory.hostname.clone(),
        organization: Organization {
            name: choice
                .organization_name
                .clone()
                .unwrap_or_else(|| domain.clone()),
            domain,
        },
        destination,
        accounts,
        passwords: vault.as_deref(),
        signing,
        imap_with_native: choice.imap_with_native,
        ews_on_mac: choice.ews_on_mac,
    });
    let now = host.now().timestamp();
    match result {
        Ok(report) => {
            project.set_fact(Fact::ProfilesExportedAt, Some(now))?;
            project.end_run(
                run,
                now,
                RunOutcome::Succeeded,
                &serde_json::json!({
                    "summary": format!("{} in {}", crate::words::plural(report.profiles.len() as u64, "profile", "profiles"), report.out_dir),
                    "report": report,
                }),
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
            Err(PhaseError::NotReady(e.to_string()))
        }
    }
}
