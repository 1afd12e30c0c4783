//! The commands the UI calls: each opens the migration project, calls one `ferry_project` phase
//! function, and returns what the screens show. Argument and result types are exported to
//! `ui/src/bindings/` (see `bindings.rs`). No phase logic lives here.

use std::path::Path;
use std::sync::atomic::Ordering;

use ferry_project::credentials::CheckReport;
use ferry_project::destination::{Destination, Security};
use ferry_project::jobs::{AccountProgress, JobEvent, JobKind};
use ferry_project::phases::destination::DestinationChoice;
use ferry_project::plan::{AccountChange, PlannedAccount};
use ferry_project::project::{Decision, LoginCheckRecord, Project, Snapshot};
use ferry_project::status::MigrationStatus;
use ferry_project::store::{Source, SourceKind};
use ferry_vault::Secret;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use ts_rs::TS;

use crate::error::{CommandError, ErrorCode};
use crate::{jobs, tray, AppState};

/// What the machine running Ferry is, so the UI can offer "this Mac" and macOS-specific fixes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct HostInfo {
    /// `macos`, `linux`, ... (Rust's `std::env::consts::OS`).
    pub os: String,
    /// Whether "this Mac" is a sensible source: only on macOS, where Ferry runs on the old server.
    pub this_mac_available: bool,
    /// A server copy to offer in the path field (`FERRY_SUGGESTED_ROOT`; the demo sets it).
    pub suggested_root: Option<String>,
    /// A destination to offer on the Destination screen (`FERRY_SUGGESTED_IMAP`, `host:port`;
    /// the demo sets it to its local server).
    pub suggested_imap: Option<String>,
}

/// Everything the wizard shows: where the migration stands and what each screen needs. Never a
/// password: the plan says which accounts have one checked, not what it is.
#[derive(Debug, Clone, Serialize, TS)]
pub struct AppView {
    pub status: MigrationStatus,
    pub source: Option<Source>,
    pub inventory: Option<Snapshot>,
    pub destination: Option<Destination>,
    /// The certificate fingerprint the admin accepted for the destination, if any.
    pub destination_pin: Option<String>,
    /// How Ferry signs in to the destination as the admin's app (Microsoft 365, Google
    /// Workspace): tenant and app, or service account; never the secret. `None`: passwords.
    pub oauth: Option<ferry_project::phases::destination::OAuthSettings>,
    pub plan: Vec<PlannedAccount>,
    pub decisions: Vec<Decision>,
    pub login_checks: Vec<LoginCheckRecord>,
    /// When the admin lowered the TTL and until when the old TTL may linger (DNS prep's countdown).
    pub ttl_wait: Option<ferry_project::phases::cutover::TtlWait>,
    /// The running (or last) job's progress, for a window opened while it runs.
    pub job: Option<JobView>,
    /// Where the migration is kept, shown so the admin can back it up.
    pub project_file: String,
}

/// A job as the screens show it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct JobView {
    pub id: String,
    pub kind: JobKind,
    pub running: bool,
    pub accounts: Vec<AccountProgress>,
    /// The job's last line (its summary when finished).
    pub summary: Option<String>,
}

pub(crate) fn open(state: &AppState) -> Result<Project, CommandError> {
    Ok(Project::open(&state.project_path)?)
}

/// The app's view of the migration; the menu-bar menu follows each one read.
pub(crate) fn view(state: &AppState) -> Result<AppView, CommandError> {
    let project = open(state)?;
    let view = AppView {
        status: ferry_project::status::status(&project)?,
        source: project.source()?,
        inventory: project.inventory()?,
        destination: project.destination()?,
        destination_pin: project
            .setting(ferry_project::phases::sync::DESTINATION_PIN_SETTING)?
            .flatten(),
        oauth: ferry_project::phases::destination::oauth_settings(&project)
            .map_err(|e| crate::error::phase_error(e, Path::new("/")))?,
        plan: project.plan()?,
        decisions: project.decisions()?,
        login_checks: project.login_checks()?,
        ttl_wait: ferry_project::phases::cutover::ttl_wait(&project)
            .map_err(|e| crate::error::phase_error(e, Path::new("/")))?,
        job: state.jobs.view(),
        project_file: state.project_path.display().to_string(),
    };
    tray::follow(&view);
    Ok(view)
}

fn env_suggestion(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|r| !r.trim().is_empty())
}

#[tauri::command]
pub fn host_info() -> HostInfo {
    HostInfo {
        os: std::env::consts::OS.to_string(),
        this_mac_available: cfg!(target_os = "macos"),
        suggested_root: env_suggestion("FERRY_SUGGESTED_ROOT"),
        suggested_imap: env_suggestion("FERRY_SUGGESTED_IMAP"),
    }
}

#[tauri::command]
pub fn app_view(state: State<'_, AppState>) -> Result<AppView, CommandError> {
    view(&state)
}

/// Runs discovery on `source`, keeps the inventory and the plan, and returns the new view. The
/// work runs on a blocking thread: it walks the whole mail store.
#[tauri::command]
pub async fn discover<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    source: Source,
) -> Result<AppView, CommandError> {
    if state.discovering.swap(true, Ordering::SeqCst) {
        return Err(CommandError::new(
            ErrorCode::Busy,
            "A discovery is already running. Wait for it to finish.",
        ));
    }
    let result = run_discovery(&state, source).await;
    state.discovering.store(false, Ordering::SeqCst);
    result?;
    let view = view(&state)?;
    tray::show(&app, &view.status, None);
    Ok(view)
}

async fn run_discovery(state: &AppState, source: Source) -> Result<(), CommandError> {
    let source = match source.kind {
        // On the server itself the root is always `/`; the UI does not get to choose another.
        SourceKind::ThisMac if !cfg!(target_os = "macos") => {
            return Err(CommandError::new(
                ErrorCode::ServerTools,
                "This computer is not a Mac, so it cannot be the old server. Choose a copy of the server's files.",
            ))
        }
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
    let path = state.project_path.clone();
    let host = state.host.clone();
    tauri::async_runtime::spawn_blocking(move || {
        let mut project = Project::open(&path)?;
        let root = source.root.clone();
        ferry_project::phases::discover::discover(&mut project, host.as_ref(), Some(source))
            .map(|_| ())
            .map_err(|e| crate::error::phase_error(e, Path::new(&root)))
    })
    .await
    .map_err(|e| {
        CommandError::new(
            ErrorCode::Internal,
            format!("discovery stopped unexpectedly: {e}"),
        )
    })?
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

/// Forgets the current migration (after the UI asked), so the first screen asks for a server
/// again. The servers and the mail already copied are not touched; the sync ledger beside the
/// project stays, so a new migration to the same host copies nothing twice.
#[tauri::command]
pub fn start_over<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<AppView, CommandError> {
    if state.jobs.running() {
        return Err(CommandError::new(
            ErrorCode::Busy,
            "A copy is running. Stop it first, then start over.",
        ));
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut name = state.project_path.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::remove_file(&name) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(CommandError::new(
                    ErrorCode::ProjectFile,
                    format!("Ferry could not remove {}: {e}", Path::new(&name).display()),
                ))
            }
        }
    }
    state.jobs.forget();
    let view = view(&state)?;
    tray::show(&app, &view.status, None);
    Ok(view)
}

/// Records the admin's decision on one discovery warning (`code`, `subject`).
#[tauri::command]
pub fn record_decision(
    state: State<'_, AppState>,
    code: String,
    subject: String,
    decision: String,
) -> Result<AppView, CommandError> {
    let mut project = open(&state)?;
    project.record_decision(&Decision {
        code,
        subject,
        decision,
        decided_at: chrono::Utc::now().timestamp(),
    })?;
    view(&state)
}

/// The hosts Ferry knows, with what each needs.
#[tauri::command]
pub fn destination_presets() -> Vec<Destination> {
    Destination::presets()
}

/// Connects to `host:port` and returns its certificate, for the admin to compare and pin.
#[tauri::command]
pub async fn probe_certificate(
    host: String,
    port: u16,
    security: Security,
) -> Result<ferry_imap::CertificateInfo, CommandError> {
    let endpoint = ferry_imap::Endpoint {
        host: host.trim().to_string(),
        port,
        security: match security {
            Security::Tls => ferry_imap::Security::Tls,
            Security::StartTls => ferry_imap::Security::StartTls,
            Security::Plain => ferry_imap::Security::Plain,
        },
        pinned_sha256: None,
    };
    ferry_imap::probe_certificate(&endpoint, ferry_imap::Timeouts::default())
        .await
        .map_err(|e| CommandError::new(ErrorCode::Connection, e.to_string()))
}

#[tauri::command]
pub fn choose_destination(
    state: State<'_, AppState>,
    choice: DestinationChoice,
) -> Result<AppView, CommandError> {
    let mut project = open(&state)?;
    ferry_project::phases::destination::choose(&mut project, state.host.as_ref(), &choice)
        .map_err(|e| crate::error::phase_error(e, Path::new("/")))?;
    view(&state)
}

#[tauri::command]
pub fn change_account(
    state: State<'_, AppState>,
    source_address: String,
    change: AccountChange,
) -> Result<AppView, CommandError> {
    let mut project = open(&state)?;
    ferry_project::phases::destination::change_account(&mut project, &source_address, &change)
        .map_err(|e| crate::error::phase_error(e, Path::new("/")))?;
    view(&state)
}

/// Stores one account's password for the new host in the vault. The password goes one way:
/// nothing returned (nor any view) carries it back to the web view.
#[tauri::command]
pub fn set_password(
    state: State<'_, AppState>,
    source_address: String,
    password: String,
) -> Result<AppView, CommandError> {
    if password.is_empty() {
        return Err(CommandError::new(
            ErrorCode::Invalid,
            "The password is empty. Type the account's password on the new host.",
        ));
    }
    let secret = Secret::from(password);
    let project = open(&state)?;
    ferry_project::phases::credentials::set_destination_password(
        &project,
        state.host.as_ref(),
        &source_address,
        &secret,
    )
    .map_err(|e| crate::error::phase_error(e, Path::new("/")))?;
    view(&state)
}

/// Logs in to the new host for every included account and keeps each result.
#[tauri::command]
pub async fn check_logins(state: State<'_, AppState>) -> Result<CheckReport, CommandError> {
    let mut project = open(&state)?;
    ferry_project::phases::credentials::check_logins(&mut project, state.host.as_ref())
        .await
        .map_err(|e| crate::error::phase_error(e, Path::new("/")))
}

/// Compares every included account's source and destination (reads only) and lists each failed
/// message with its reason and advice.
#[tauri::command]
pub async fn review(
    state: State<'_, AppState>,
) -> Result<ferry_project::review::Review, CommandError> {
    let mut project = open(&state)?;
    ferry_project::phases::review::review(&mut project, state.host.as_ref())
        .await
        .map_err(|e| crate::error::phase_error(e, Path::new("/")))
}

/// Asks every resolver for each domain's MX, TTL and SPF (phase 6; reads only, logged).
#[tauri::command]
pub async fn dns_check(
    state: State<'_, AppState>,
) -> Result<ferry_cutover::dns::DnsReport, CommandError> {
    let mut project = open(&state)?;
    ferry_project::phases::cutover::dns_check(&mut project, state.host.as_ref())
        .await
        .map_err(|e| crate::error::phase_error(e, Path::new("/")))
}

/// The admin lowered the TTL now: the DNS screen counts down the old TTL from here.
#[tauri::command]
pub fn mark_ttl_lowered(state: State<'_, AppState>) -> Result<AppView, CommandError> {
    let mut project = open(&state)?;
    ferry_project::phases::cutover::mark_ttl_lowered(&mut project, state.host.as_ref())
        .map_err(|e| crate::error::phase_error(e, Path::new("/")))?;
    view(&state)
}

/// What the DNS checks compare against (the new host's MX for another IMAP host).
#[tauri::command]
pub fn dns_settings(
    state: State<'_, AppState>,
) -> Result<ferry_project::phases::cutover::DnsSettings, CommandError> {
    let project = open(&state)?;
    Ok(project
        .setting(ferry_project::phases::cutover::DNS_SETTING)?
        .unwrap_or_default())
}

#[tauri::command]
pub fn set_dns_settings(
    state: State<'_, AppState>,
    settings: ferry_project::phases::cutover::DnsSettings,
) -> Result<ferry_project::phases::cutover::DnsSettings, CommandError> {
    let mut project = open(&state)?;
    project.set_setting(ferry_project::phases::cutover::DNS_SETTING, &settings)?;
    Ok(settings)
}

/// Starts a job (initial, delta or final sync, or the retry of failed messages) in the
/// background and returns its id. Progress
/// goes to every window's channel (see `watch_jobs`); the job outlives the window.
#[tauri::command]
pub fn start_sync<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    kind: JobKind,
) -> Result<String, CommandError> {
    jobs::start_sync(&app, &state, kind)
}

#[tauri::command]
pub fn cancel_job(state: State<'_, AppState>) -> bool {
    state.jobs.cancel()
}

/// Subscribes this window to job progress: events arrive on `channel` as they happen (never
/// polled). Returns the current job, so a window opened mid-job shows it at once.
#[tauri::command]
pub fn watch_jobs(state: State<'_, AppState>, channel: Channel<JobEvent>) -> Option<JobView> {
    state.jobs.watch(channel);
    state.jobs.view()
}
