//! A password file the admin already has (imapsync's list, Microsoft's migration CSV, a plain
//! `address,password` list): chosen in the system's open dialog (or typed), previewed against the
//! plan, imported into the vault, then overwritten and deleted. Each command is one call of a
//! `ferry_project` phase function. The web view names a file only to preview it: the import reads
//! the file this window previewed, and the delete removes only the file this app imported (kept
//! here, in the app's state), never a path the web view sends.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ferry_project::phases::credentials::{ImportPreview, PasswordFileError, PasswordImport};
use tauri::{AppHandle, Runtime, State};

use crate::commands::open;
use crate::error::{phase_error, CommandError, ErrorCode};
use crate::AppState;

/// The password file this app session previewed, and the one it imported (the only file the
/// delete command touches).
#[derive(Default)]
pub struct PasswordFiles {
    previewed: Mutex<Option<PathBuf>>,
    imported: Mutex<Option<PathBuf>>,
}

fn slot(m: &Mutex<Option<PathBuf>>) -> std::sync::MutexGuard<'_, Option<PathBuf>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The app's code for each reason; the message is the phase's own, in the admin's words.
fn file_error(err: PasswordFileError) -> CommandError {
    use std::io::ErrorKind;
    let io_code = |kind: ErrorKind| match kind {
        ErrorKind::NotFound => ErrorCode::NotFound,
        ErrorKind::PermissionDenied => ErrorCode::PermissionDenied,
        _ => ErrorCode::Invalid,
    };
    let code = match &err {
        PasswordFileError::Unreadable { source, .. } | PasswordFileError::Delete { source, .. } => {
            io_code(source.kind())
        }
        PasswordFileError::Empty { .. } | PasswordFileError::UnknownFormat { .. } => {
            ErrorCode::Malformed
        }
        PasswordFileError::Store(_) => ErrorCode::Vault,
        _ => ErrorCode::Invalid,
    };
    match err {
        PasswordFileError::Phase(e) => phase_error(e, Path::new("/")),
        other => CommandError::new(code, other.to_string()),
    }
}

/// Opens the system's file chooser for a password file; `None` when the admin cancels.
#[tauri::command]
pub async fn choose_password_file<R: Runtime>(app: AppHandle<R>) -> Option<String> {
    use tauri_plugin_dialog::DialogExt;
    let picked = app
        .dialog()
        .file()
        .set_title("Choose the file that lists each account's password")
        .add_filter("Password lists (.csv, .txt)", &["csv", "txt"])
        .add_filter("All files", &["*"])
        .blocking_pick_file()?;
    picked.into_path().ok().map(|p| p.display().to_string())
}

/// Reads the file at `path` against the plan (stores nothing) and remembers it for the import.
#[tauri::command]
pub fn preview_password_file(
    state: State<'_, AppState>,
    files: State<'_, PasswordFiles>,
    path: String,
) -> Result<ImportPreview, CommandError> {
    *slot(&files.previewed) = None;
    let path = PathBuf::from(path.trim());
    if path.as_os_str().is_empty() {
        return Err(CommandError::new(
            ErrorCode::Invalid,
            "No file given. Click Import a password file… and pick the list of passwords, or type its path.",
        ));
    }
    let preview = ferry_project::phases::credentials::preview_password_file(&open(&state)?, &path)
        .map_err(file_error)?;
    *slot(&files.previewed) = Some(path);
    Ok(preview)
}

/// Stores the passwords of the file this window previewed (all of them or none) and remembers
/// the file for the delete.
#[tauri::command]
pub async fn import_password_file(
    state: State<'_, AppState>,
    files: State<'_, PasswordFiles>,
) -> Result<PasswordImport, CommandError> {
    let path = slot(&files.previewed).clone().ok_or_else(|| {
        CommandError::new(
            ErrorCode::NotReady,
            "Choose a password file and look at its preview first.",
        )
    })?;
    let project_path = state.project_path.clone();
    let host = state.host.clone();
    let file = path.clone();
    let imported = tauri::async_runtime::spawn_blocking(move || {
        let mut project = ferry_project::project::Project::open(&project_path)?;
        ferry_project::phases::credentials::import_password_file(&mut project, host.as_ref(), &file)
            .map_err(file_error)
    })
    .await
    .map_err(|e| {
        CommandError::new(
            ErrorCode::Internal,
            format!("the import stopped unexpectedly: {e}"),
        )
    })??;
    *slot(&files.imported) = Some(path);
    Ok(imported)
}

/// Overwrites and deletes the password file this app imported (no path from the web view; a
/// symbolic link is refused). Afterwards there is nothing left to delete.
#[tauri::command]
pub fn delete_password_file(files: State<'_, PasswordFiles>) -> Result<(), CommandError> {
    let mut imported = slot(&files.imported);
    let path = imported.clone().ok_or_else(|| {
        CommandError::new(
            ErrorCode::NotReady,
            "Ferry deletes only a password file it has just imported, and there is none.",
        )
    })?;
    ferry_project::phases::credentials::delete_password_file(&path).map_err(file_error)?;
    *imported = None;
    let mut previewed = slot(&files.previewed);
    if previewed.as_deref() == Some(path.as_path()) {
        *previewed = None;
    }
    Ok(())
}
