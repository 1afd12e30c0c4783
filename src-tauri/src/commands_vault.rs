//! The passphrase of Ferry's encrypted password file (the store where no system password store
//! runs): where the file is and whether the commands wait for its passphrase, and the passphrase
//! from the dialog, one way: checked against the file (or the file created with it) and kept in
//! Rust's memory only. Nothing returned ever carries it.

use ferry_project::passphrase::PassphraseError;
use ferry_vault::VaultError;
use secrecy::SecretString;
use tauri::State;

use crate::error::{io_reason, CommandError, ErrorCode};
use crate::host::{UnlockError, VaultStatus};
use crate::AppState;

/// The password file's state for the dialog (no passphrase in it).
#[tauri::command]
pub async fn vault_status(state: State<'_, AppState>) -> Result<VaultStatus, CommandError> {
    let Some(host) = state.app_host.clone() else {
        return Ok(no_file());
    };
    tauri::async_runtime::spawn_blocking(move || host.vault_status())
        .await
        .map_err(|e| CommandError::new(ErrorCode::Internal, e.to_string()))?
        .map_err(|e| {
            CommandError::new(
                ErrorCode::Vault,
                format!("The password store could not be opened: {e}"),
            )
        })
}

/// Takes the passphrase typed in the dialog: it opens the password file (or, when there is none
/// yet, the file is created with it) and is kept in memory while the app runs.
#[tauri::command]
pub async fn unlock_vault(
    state: State<'_, AppState>,
    passphrase: String,
) -> Result<VaultStatus, CommandError> {
    let passphrase = SecretString::from(passphrase);
    let Some(host) = state.app_host.clone() else {
        return Err(unlock_error(UnlockError::NoFile));
    };
    // scrypt takes a moment: off the main thread
    tauri::async_runtime::spawn_blocking(move || {
        host.unlock(passphrase).map_err(unlock_error)?;
        host.vault_status()
            .map_err(|e| CommandError::new(ErrorCode::Vault, e.to_string()))
    })
    .await
    .map_err(|e| CommandError::new(ErrorCode::Internal, e.to_string()))?
}

fn no_file() -> VaultStatus {
    VaultStatus {
        file: None,
        file_exists: false,
        locked: false,
        min_length: ferry_project::passphrase::MIN_PASSPHRASE_CHARS as u32,
    }
}

/// Why the passphrase was not taken, in the admin's words.
pub fn unlock_error(err: UnlockError) -> CommandError {
    match err {
        UnlockError::Passphrase(PassphraseError::TooShort { min }) => CommandError::new(
            ErrorCode::Invalid,
            format!("Choose a passphrase of at least {min} characters."),
        ),
        UnlockError::Passphrase(PassphraseError::Wrong { .. }) => CommandError::new(
            ErrorCode::Invalid,
            "That passphrase does not open Ferry's password file. Check it (Caps Lock, keyboard layout) and try again.",
        ),
        UnlockError::Passphrase(PassphraseError::Vault(VaultError::Corrupted { path, reason })) => {
            CommandError::new(
                ErrorCode::Vault,
                format!(
                    "Ferry's password file {path} is damaged ({reason}). Restore it from a backup, or move it away and enter the passwords again."
                ),
            )
        }
        UnlockError::Passphrase(PassphraseError::Vault(VaultError::Io {
            action,
            path,
            source,
        })) => CommandError::new(
            ErrorCode::Vault,
            format!(
                "Ferry cannot {action} its password file {path}: {}.",
                io_reason(&source)
            ),
        ),
        UnlockError::Passphrase(PassphraseError::Vault(other)) => {
            CommandError::new(ErrorCode::Vault, other.to_string())
        }
        UnlockError::Store(e) => CommandError::new(
            ErrorCode::Vault,
            format!("The password store could not be opened: {e}"),
        ),
        UnlockError::NoFile => CommandError::new(
            ErrorCode::Invalid,
            "Ferry keeps the passwords in the system's password store here: no passphrase is needed.",
        ),
        UnlockError::FromEnvironment => CommandError::new(
            ErrorCode::Invalid,
            "The password file's passphrase is already given to this run of Ferry (by its environment).",
        ),
    }
}
