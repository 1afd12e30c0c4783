//! Ferry's desktop shell: the window, the menu-bar (tray) icon and one-line command adapters over
//! `ferry_project`. No phase logic lives here: the migration file, the phases, the status board
//! and the jobs are `ferry_project`'s; this crate only moves their values across IPC, runs the
//! long jobs on a thread of their own and shows the app's state in the menu bar.

pub mod bindings;
mod commands;
mod commands_credentials;
mod commands_oauth;
mod commands_phases;
mod commands_source;
mod commands_vault;
mod error;
mod host;
mod jobs;
mod tray;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use ferry_project::host::ProjectHost;
use ferry_project::project::Project;
use tauri::{Manager, Runtime};

pub use commands::{AppView, HostInfo, JobView};
pub use error::{CommandError, ErrorCode};
pub use host::{AppHost, VaultSettings, VaultStatus};

/// Environment variable naming the folder that holds the migration file; tests and the demo use it
/// to keep their migration apart from the admin's (`FERRY_PROJECT` names the file itself).
pub const PROJECT_DIR_ENV: &str = "FERRY_PROJECT_DIR";

/// What every command shares.
pub struct AppState {
    pub project_path: PathBuf,
    pub host: Arc<dyn ProjectHost>,
    /// One discovery at a time: a second click while one runs is refused, not queued.
    discovering: AtomicBool,
    jobs: Arc<jobs::JobRegistry>,
    /// The app's own host (the password file's passphrase from the dialog); `None` for a test's.
    app_host: Option<Arc<AppHost>>,
}

impl AppState {
    pub fn new(project_path: PathBuf, host: Arc<dyn ProjectHost>) -> Self {
        AppState {
            project_path,
            host,
            discovering: AtomicBool::new(false),
            jobs: Arc::default(),
            app_host: None,
        }
    }

    /// The app's state on its own host, whose password file takes a passphrase from the dialog.
    pub fn for_app(project_path: PathBuf, host: Arc<AppHost>) -> Self {
        AppState {
            app_host: Some(host.clone()),
            ..AppState::new(project_path, host)
        }
    }
}

/// Registers the commands on a builder of any runtime (the real one, or Tauri's mock runtime in
/// tests, whose builder comes from `tauri::test::mock_builder`).
pub fn with_commands<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    // the password file this session imported: the only one the delete command may touch
    let builder = builder.manage(commands_credentials::PasswordFiles::default());
    builder.invoke_handler(tauri::generate_handler![
        commands::host_info,
        commands::app_view,
        commands::discover,
        commands::start_over,
        commands::choose_server_folder,
        commands::record_decision,
        commands::destination_presets,
        commands::probe_certificate,
        commands::choose_destination,
        commands::change_account,
        commands::set_password,
        commands::check_logins,
        commands::review,
        commands::dns_check,
        commands::mark_ttl_lowered,
        commands::dns_settings,
        commands::set_dns_settings,
        commands::start_sync,
        commands::cancel_job,
        commands::watch_jobs,
        commands_phases::choose_output_folder,
        commands_phases::export_profiles,
        commands_phases::archive_quarantine,
        commands_phases::decommission,
        commands_phases::mark_clone_kept,
        commands_phases::open_recorded,
        commands_phases::resolve_message,
        commands_vault::vault_status,
        commands_vault::unlock_vault,
        commands_credentials::choose_password_file,
        commands_credentials::preview_password_file,
        commands_credentials::import_password_file,
        commands_credentials::delete_password_file,
        commands_oauth::choose_oauth_file,
        commands_oauth::choose_oauth_destination,
        commands_source::source_imap,
        commands_source::set_source_imap,
        commands_source::set_source_password,
    ])
}

/// The migration file: `FERRY_PROJECT`, else `FERRY_PROJECT_DIR/migration.ferry`, else the
/// data folder's (`ferry_project::project::Project::default_path`).
fn project_path() -> PathBuf {
    match std::env::var_os(PROJECT_DIR_ENV) {
        Some(dir) if !dir.is_empty() && std::env::var_os("FERRY_PROJECT").is_none() => {
            PathBuf::from(dir).join(ferry_project::project::FILE_NAME)
        }
        _ => Project::default_path(),
    }
}

/// Starts the desktop app; returns when the admin quits.
pub fn run() -> Result<(), tauri::Error> {
    let app = with_commands(tauri::Builder::default())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .setup(|app| {
            let path = project_path();
            tracing::info!(path = %path.display(), "migration file");
            let state = AppState::for_app(path, Arc::new(AppHost::from_env()));
            let status = Project::open(&state.project_path)
                .ok()
                .and_then(|p| ferry_project::status::status(&p).ok());
            tray::install(app, status.as_ref())?;
            jobs::resume_interrupted(app.handle(), &state);
            app.manage(state);
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
