//! The commands the UI calls: each converts IPC values, calls `ferry_project`, and returns what the
//! screens show. Argument and result types are exported to `ui/src/bindings/` (see `bindings.rs`).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use ferry_project::discover::{self, Inventory};
use ferry_project::store::{phase_board, Migration, PhaseStatus, Source, SourceKind};
use serde::Serialize;
use tauri::{AppHandle, Runtime, State};
use ts_rs::TS;

use crate::error::{discover_error, CommandError, ErrorCode};
use crate::{tray, AppState};

/// What the machine running Ferry is, so the UI can offer "this Mac" and macOS-specific fixes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct HostInfo {
    /// `macos`, `linux`, ... (Rust's `std::env::consts::OS`).
    pub os: String,
    /// Whether "this Mac" is a sensible source: only on macOS, where Ferry runs on the old server.
    pub this_mac_available: bool,
    /// A server copy to offer in the path field (`FERRY_SUGGESTED_ROOT`; the demo sets it).
    pub suggested_root: Option<String>,
}

/// Everything the wizard shows: the remembered migration and the state of each phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct AppView {
    pub migration: Option<Migration>,
    pub phases: Vec<PhaseStatus>,
    /// Where the migration is remembered, shown so the admin can back it up.
    pub project_file: String,
}

fn view(state: &AppState, migration: Option<Migration>) -> AppView {
    AppView {
        phases: phase_board(migration.as_ref()),
        migration,
        project_file: state.store.path().display().to_string(),
    }
}

#[tauri::command]
pub fn host_info() -> HostInfo {
    HostInfo {
        os: std::env::consts::OS.to_string(),
        this_mac_available: cfg!(target_os = "macos"),
        suggested_root: std::env::var("FERRY_SUGGESTED_ROOT")
            .ok()
            .filter(|r| !r.trim().is_empty()),
    }
}

#[tauri::command]
pub fn app_view(state: State<'_, AppState>) -> Result<AppView, CommandError> {
    let migration = state.store.load()?;
    Ok(view(&state, migration))
}

/// Runs discovery on `source`, remembers the result, and returns the new view. The work runs on a
/// blocking thread: it walks the whole mail store.
#[tauri::command]
pub async fn discover<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    source: Source,
) -> Result<AppView, CommandError> {
    if state.busy.swap(true, Ordering::SeqCst) {
        return Err(CommandError::new(
            ErrorCode::Busy,
            "A discovery is already running. Wait for it to finish.",
        ));
    }
    let result = run_discovery(&state, source).await;
    state.busy.store(false, Ordering::SeqCst);
    let migration = result?;
    tray::show(&app, Some(&migration));
    Ok(view(&state, Some(migration)))
}

/// A copy is read only with its own saved command outputs, never with this machine's directory;
/// "this Mac" is the live server, `/` with its own `serveradmin` and `dscl`.
fn read_server(kind: SourceKind, root: &Path) -> Result<Inventory, CommandError> {
    match kind {
        SourceKind::Copy => discover::run_copy(root).map_err(|e| discover_error(e, root)),
        #[cfg(target_os = "macos")]
        SourceKind::ThisMac => discover::run_live().map_err(|e| discover_error(e, root)),
        #[cfg(not(target_os = "macos"))]
        SourceKind::ThisMac => Err(CommandError::new(
            ErrorCode::ServerTools,
            "This computer is not a Mac, so it cannot be the old server. Choose a copy of the server's files.",
        )),
    }
}

/// Opens the system's folder chooser for the copy of a server; `None` when the admin cancels.
/// The web view has no dialog permission of its own: only this command opens one.
#[tauri::command]
pub async fn choose_server_folder<R: Runtime>(app: AppHandle<R>) -> Option<String> {
    use tauri_plugin_dialog::DialogExt;
    let picked = app
        .dialog()
        .file()
        .set_title("Choose the folder that holds the copy of the old server")
        .blocking_pick_folder()?;
    picked.into_path().ok().map(|p| p.display().to_string())
}

async fn run_discovery(state: &AppState, source: Source) -> Result<Migration, CommandError> {
    let source = match source.kind {
        // On the server itself the root is always `/`; the UI does not get to choose another.
        SourceKind::ThisMac => Source {
            kind: SourceKind::ThisMac,
            root: "/".to_string(),
        },
        SourceKind::Copy if source.root.trim().is_empty() => {
            return Err(CommandError::new(
                ErrorCode::NotFound,
                "No folder given. Click Choose… and pick the folder that holds the copy of the old server (it contains Library/Server/Mail).",
            ))
        }
        SourceKind::Copy => Source {
            kind: SourceKind::Copy,
            root: source.root.trim().to_string(),
        },
    };
    let root = PathBuf::from(&source.root);
    let kind = source.kind;
    let inventory = tauri::async_runtime::spawn_blocking(move || read_server(kind, &root))
        .await
        .map_err(|e| {
            CommandError::new(
                ErrorCode::Internal,
                format!("discovery stopped unexpectedly: {e}"),
            )
        })??;
    let migration = Migration::discovered(source, inventory, unix_now());
    state.store.save(&migration)?;
    Ok(migration)
}

/// Forgets the current migration, so the first screen asks for a server again.
#[tauri::command]
pub fn start_over<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<AppView, CommandError> {
    state.store.clear()?;
    tray::show(&app, None);
    Ok(view(&state, None))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
