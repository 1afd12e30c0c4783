//! The old server's IMAP service, for accounts read over IMAP instead of from the store on disk
//! (a copy of the server made before the last mail arrived, or a server Ferry does not run on):
//! its settings, and each such account's password on the old server. Each command is one call
//! of a `ferry_project` phase function; the certificate check is `probe_certificate`, as for the
//! destination.

use std::path::Path;

use ferry_project::phases::sync::SourceImap;
use ferry_vault::Secret;
use tauri::State;

use crate::commands::{open, view, AppView};
use crate::error::{phase_error, CommandError, ErrorCode};
use crate::AppState;

/// The old server's IMAP service as set; `None` before it is.
#[tauri::command]
pub fn source_imap(state: State<'_, AppState>) -> Result<Option<SourceImap>, CommandError> {
    ferry_project::phases::destination::source_imap(&open(&state)?)
        .map_err(|e| phase_error(e, Path::new("/")))
}

/// Keeps the old server's IMAP service (host, port, security, the certificate the admin trusted)
/// and returns it as kept.
#[tauri::command]
pub fn set_source_imap(
    state: State<'_, AppState>,
    imap: SourceImap,
) -> Result<SourceImap, CommandError> {
    ferry_project::phases::destination::set_source_imap(&mut open(&state)?, &imap)
        .map_err(|e| phase_error(e, Path::new("/")))
}

/// Stores one account's password on the old server in the vault. The password goes one way:
/// nothing returned (nor any view) carries it back to the web view.
#[tauri::command]
pub fn set_source_password(
    state: State<'_, AppState>,
    source_address: String,
    password: String,
) -> Result<AppView, CommandError> {
    if password.is_empty() {
        return Err(CommandError::new(
            ErrorCode::Invalid,
            "The password is empty. Type the account's password on the old server.",
        ));
    }
    ferry_project::phases::credentials::set_source_password(
        &open(&state)?,
        state.host.as_ref(),
        &source_address,
        &Secret::from(password),
    )
    .map_err(|e| phase_error(e, Path::new("/")))?;
    view(&state)
}
