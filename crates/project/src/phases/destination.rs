//! Phase 2 on the project: the new host (a preset, or another IMAP host), its certificate, and
//! the account plan (address mapping, include / exclude, how each account is read).

use crate::destination::{Destination, PresetId, Security};
use crate::host::ProjectHost;
use crate::phases::sync::{SourceImap, DESTINATION_PIN_SETTING, SOURCE_IMAP_SETTING};
use crate::phases::PhaseError;
use crate::plan::{AccountChange, PlannedAccount};
use crate::project::{Project, RunOutcome};

/// What the admin chose for the new host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct DestinationChoice {
    pub preset: PresetId,
    /// The IMAP host (only for another IMAP host; the presets know theirs).
    pub imap_host: Option<String>,
    pub imap_port: Option<u16>,
    pub imap_security: Option<Security>,
    /// The SMTP host for the profiles (defaults to the IMAP host).
    pub smtp_host: Option<String>,
    /// SHA-256 of the host's certificate when it is not signed by a known authority (a test
    /// server, a self-hosted one): the admin compared it and accepted exactly that one.
    pub pinned_sha256: Option<String>,
}

/// Sets the destination from the admin's choice and logs it.
pub fn choose(
    project: &mut Project,
    host: &dyn ProjectHost,
    choice: &DestinationChoice,
) -> Result<Destination, PhaseError> {
    let mut destination = match choice.preset {
        PresetId::GenericImap => {
            let imap = choice
                .imap_host
                .as_deref()
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .ok_or_else(|| {
                    PhaseError::NotReady(
                        "Enter the host name of the new IMAP server (for example imap.example.com)."
                            .into(),
                    )
                })?;
            let smtp = choice.smtp_host.as_deref().unwrap_or(imap);
            Destination::generic(imap, smtp)
        }
        preset => Destination::preset(preset),
    };
    if let Some(port) = choice.imap_port {
        destination.imap.port = port;
    }
    if let Some(security) = choice.imap_security {
        destination.imap.security = security;
    }
    let now = host.now().timestamp();
    let run = project.log_run(
        "destination",
        now,
        &serde_json::to_value(choice).unwrap_or_default(),
    )?;
    project.set_destination(&destination)?;
    project.set_setting(
        DESTINATION_PIN_SETTING,
        &choice
            .pinned_sha256
            .as_ref()
            .map(|p| p.replace(':', "").to_ascii_lowercase()),
    )?;
    project.end_run(
        run,
        now,
        RunOutcome::Succeeded,
        &serde_json::json!({ "summary": format!("{} at {}:{}", destination.name, destination.imap.host, destination.imap.port) }),
    )?;
    Ok(destination)
}

/// Sets the old server's IMAP service, for accounts whose store cannot be read on disk.
pub fn set_source_imap(project: &mut Project, imap: &SourceImap) -> Result<(), PhaseError> {
    if imap.host.trim().is_empty() {
        return Err(PhaseError::NotReady(
            "Enter the old server's host name.".into(),
        ));
    }
    project.set_setting(SOURCE_IMAP_SETTING, imap)?;
    Ok(())
}

/// Changes one account of the plan and returns the plan.
pub fn change_account(
    project: &mut Project,
    source_address: &str,
    change: &AccountChange,
) -> Result<Vec<PlannedAccount>, PhaseError> {
    project.update_account(source_address, change)?;
    Ok(project.plan()?)
}

/// Signs in to the new host with OAuth 2.0 (Microsoft 365 app, Google service account): the
/// settings go into the project, the secret into the vault (checked before it is stored).
pub fn set_oauth(
    project: &mut Project,
    host: &dyn ProjectHost,
    settings: &ferry_oauth::OAuthSettings,
    secret: Option<&ferry_vault::Secret>,
) -> Result<(), PhaseError> {
    if let Some(secret) = secret {
        let vault = host.vault().map_err(PhaseError::Vault)?;
        ferry_oauth::store_secret(vault.as_ref(), settings, secret)
            .map_err(|e| PhaseError::Vault(format!("{e}. {}", e.advice())))?;
    }
    project.set_setting(crate::phases::sync::OAUTH_SETTING, settings)?;
    Ok(())
}
