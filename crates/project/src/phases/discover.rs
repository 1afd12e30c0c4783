//! Phase 1 on the project: read the old server, keep the inventory, bring the plan up to date.

use std::path::Path;

use crate::host::ProjectHost;
use crate::phases::PhaseError;
use crate::project::{Project, RunOutcome, Snapshot};
use crate::store::Source;

/// Discovers `source` (or the project's source when `None`), keeps the inventory as a new
/// snapshot and updates the account plan. The run is logged with its counts.
pub fn discover(
    project: &mut Project,
    host: &dyn ProjectHost,
    source: Option<Source>,
) -> Result<Snapshot, PhaseError> {
    let source = match source {
        Some(s) => s,
        None => project.source()?.ok_or_else(|| {
            PhaseError::NotReady(
                "No old server chosen yet: choose this Mac, or a folder with a copy of the server."
                    .into(),
            )
        })?,
    };
    let started = host.now().timestamp();
    let run = project.log_run(
        "discover",
        started,
        &serde_json::json!({ "source": source }),
    )?;
    let commands = host.discover_commands(&source);
    match ferry_discover::discover(Path::new(&source.root), commands.as_ref()) {
        Ok(inventory) => {
            project.set_source(&source)?;
            project.record_inventory(&inventory, started)?;
            let summary = format!(
                "{} accounts, {} messages, {} warnings",
                inventory.accounts.len(),
                inventory.totals.messages,
                inventory.warnings.len()
            );
            project.end_run(
                run,
                host.now().timestamp(),
                if inventory.warnings.is_empty() {
                    RunOutcome::Succeeded
                } else {
                    RunOutcome::Attention
                },
                &serde_json::json!({ "summary": summary, "totals": inventory.totals }),
            )?;
            Ok(Snapshot {
                inventory,
                taken_at: started,
            })
        }
        Err(err) => {
            project.end_run(
                run,
                host.now().timestamp(),
                RunOutcome::Failed,
                &serde_json::json!({ "error": err.to_string() }),
            )?;
            Err(err.into())
        }
    }
}
