//! Ferry's desktop shell: the window, the menu-bar (tray) icon and one-line command adapters over
//! `ferry_project`. No phase logic lives here: discovery, the migration file and the phase board
//! are `ferry_project`'s; this crate only moves their values across IPC and shows the app's state
//! in the menu bar.

pub mod bindings;
mod commands;
mod error;
mod tray;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use ferry_project::store::ProjectStore;
use tauri::{Manager, Runtime};

pub use commands::{AppView, HostInfo};
pub use error::{CommandError, ErrorCode};

/// Environment variable naming the folder that holds the migration file; tests and the demo use it
/// to keep their migration apart from the admin's. Default: the app's data folder.
pub const PROJECT_DIR_ENV: &str = "FERRY_PROJECT_DIR";

/// What every command shares.
pub struct AppState {
    pub store: ProjectStore,
    /// One discovery at a time: a second click while one runs is refused, not queued.
    busy: AtomicBool,
}

impl AppState {
    pub fn new(store: ProjectStore) -> Self {
        AppState {
            store,
            busy: AtomicBool::new(false),
        }
    }
}

/// Registers the commands on a builder of any runtime (the real one, or Tauri's mock runtime in
/// tests, whose builder comes from `tauri::test::mock_builder`).
pub fn with_commands<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.invoke_handler(tauri::generate_handler![
        commands::host_info,
        commands::app_view,
        commands::discover,
        commands::start_over,
        commands::choose_server_folder,
    ])
}

fn project_dir<R: Runtime>(app: &tauri::App<R>) -> Result<PathBuf, tauri::Error> {
    match std::env::var_os(PROJECT_DIR_ENV) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => app.path().app_data_dir(),
    }
}

/// Starts the desktop app; returns when the admin quits.
pub fn run() -> Result<(), tauri::Error> {
    let app = with_commands(tauri::Builder::default())
        .plugin(tauri_plugin_dialog::init())
        .setup(|app| {
            let dir = project_dir(app)?;
            tracing::info!(dir = %dir.display(), "migration folder");
            let state = AppState::new(ProjectStore::in_dir(dir));
            let migration = state.store.load().ok().flatten();
            app.manage(state);
            tray::install(app, migration.as_ref())?;
            Ok(())
        })
        .on_window_event(|window, event| {
            // On a Mac the menu-bar icon keeps Ferry reachable, so closing the window only hides
            // it (as other menu-bar apps do); elsewhere a tray may not be visible, so close quits.
            if cfg!(target_os = "macos") {
                if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
        })
        .build(tauri::generate_context!())?;
    app.run(|_app, _event| {
        // A click on the Dock icon while the window is hidden brings it back, as Mac apps do.
        #[cfg(target_os = "macos")]
        if let tauri::RunEvent::Reopen {
            has_visible_windows: false,
            ..
        } = _event
        {
            tray::open_main_window(_app);
        }
    });
    Ok(())
}
