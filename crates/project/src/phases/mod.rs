//! The phases on the project: each reads what it needs from the project file, runs the crates
//! below (discover, sync, cutover, profiles, vault), and records what it did in the phase log.
//! The CLI and the app call these and only show the results.

pub mod credentials;
pub mod cutover;
pub mod decommission;
pub mod destination;
pub mod discover;
pub mod profiles;
pub mod review;
pub mod sync;

use crate::project::ProjectError;

/// Why a phase could not run. Each says what is wrong and what to do, in the admin's words.
#[derive(Debug, thiserror::Error)]
pub enum PhaseError {
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error(transparent)]
    Busy(#[from] crate::jobs::JobError),
    #[error("{0}")]
    NotReady(String),
    #[error(transparent)]
    Discover(#[from] ferry_discover::DiscoverError),
    #[error(transparent)]
    Sync(#[from] crate::sync::SyncSetupError),
    #[error("the password store could not be opened: {0}")]
    Vault(String),
    /// The password file waits for its passphrase (the app asks for it and tries again).
    #[error(transparent)]
    VaultLocked(crate::host::VaultLocked),
}

impl From<crate::host::OpenVaultError> for PhaseError {
    fn from(err: crate::host::OpenVaultError) -> Self {
        match err {
            crate::host::OpenVaultError::Locked(locked) => PhaseError::VaultLocked(locked),
            crate::host::OpenVaultError::Failed(reason) => PhaseError::Vault(reason),
        }
    }
}
