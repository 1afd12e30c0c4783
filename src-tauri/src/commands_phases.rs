//! The commands of the later screens (Profiles, Quarantine, Decommission): each opens the
//! migration project and calls one `ferry_project` phase function. No phase logic lives here.
//! Opening something for the admin (the export folder, the final report) takes no path from the
//! web view: the command opens the path the project itself recorded.

use std::path::{Path, PathBuf};

use ferry_cutover::mailflow::MailflowReport;
use ferry_cutover::quarantine::QuarantineArchive;
use ferry_project::phases::cutover::QuarantineTarget;
use ferry_project::phases::decommission::DecommissionView;
use ferry_project::phases::profiles::ProfilesChoice;
use ferry_project::profiles::ExportReport;
use ferry_project::project::{Fact, Project};
use ferry_project::review::{MessageRef, ResolveChoice, ResolvedMessage};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Runtime, State};
use ts_rs::TS;

use crate::commands::{open, view, AppView};
use crate::error::{CommandError, ErrorCode};
use crate::AppState;

/// The final report's file name in the folder beside the migration file.
pub const FINAL_REPORT_NAME: &str = "final-report.html";

/// What "Show" opens: always a path the project recorded, never one the web view names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum OpenWhat {
    /// The folder of the last profile export, in Finder.
    ProfilesFolder,
    /// The last quarantine archive's folder of mbox files, in Finder.
    QuarantineFolder,
    /// The final report, in the browser.
    FinalReport,
}

fn phase_error(e: ferry_project::phases::PhaseError) -> CommandError {
    crate::error::phase_error(e, Path::new("/"))
}

/// Opens the system's folder chooser for something Ferry writes (profiles, mbox files); `None`
/// when the admin cancels.
#[tauri::command]
pub async fn choose_output_folder<R: Runtime>(app: AppHandle<R>) -> Option<String> {
    use tauri_plugin_dialog::DialogExt;
    let picked = app
        .dialog()
        .file()
        .set_title("Choose the folder Ferry writes into")
        .blocking_pick_folder()?;
    picked.into_path().ok().map(|p| p.display().to_string())
}

/// Writes one configuration profile per person into the chosen folder.
#[tauri::command]
pub fn export_profiles(
    state: State<'_, AppState>,
    choice: ProfilesChoice,
) -> Result<ExportReport, CommandError> {
    let mut project = open(&state)?;
    ferry_project::phases::profiles::export(&mut project, state.host.as_ref(), &choice, None)
        .map_err(phase_error)
}

/// Archives the junk-training mailboxes and the amavis quarantine (mbox files or an IMAP folder).
#[tauri::command]
pub async fn archive_quarantine(
    state: State<'_, AppState>,
    target: QuarantineTarget,
) -> Result<QuarantineArchive, CommandError> {
    let mut project = open(&state)?;
    ferry_project::phases::cutover::quarantine(&mut project, state.host.as_ref(), &target)
        .await
        .map_err(phase_error)
}

/// The "quiet for" clock of Decommission: since when no mail reached the old server, by the
/// mail-flow check the checklist just ran (its rule: the last delivery or refused attempt,
/// else the cut-over).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct QuietClock {
    /// Unix seconds; `None` when neither a delivery nor the cut-over is known.
    #[ts(type = "number | null")]
    pub quiet_since: Option<i64>,
    #[ts(type = "number")]
    pub checked_at: i64,
    pub quiet_hours: u32,
    pub quiet: bool,
}

/// What the Decommission screen shows: the phase's view and the clock.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DecommissionScreen {
    pub view: DecommissionView,
    /// `None` when the mail flow could not be checked (the checklist item says why).
    pub clock: Option<QuietClock>,
}

/// The readiness checklist; with `write_report`, also the final report, written beside the
/// migration file.
#[tauri::command]
pub async fn decommission(
    state: State<'_, AppState>,
    write_report: bool,
) -> Result<DecommissionScreen, CommandError> {
    let mut project = open(&state)?;
    let report = write_report.then(|| final_report_path(&state.project_path));
    let view = ferry_project::phases::decommission::decommission(
        &mut project,
        state.host.as_ref(),
        report.as_deref(),
    )
    .await
    .map_err(phase_error)?;
    Ok(DecommissionScreen {
        view,
        clock: quiet_clock(&project)?,
    })
}

/// The clock from the mail-flow report the checklist's run logged.
fn quiet_clock(project: &Project) -> Result<Option<QuietClock>, CommandError> {
    let runs = project.runs()?;
    let report = runs
        .iter()
        .rev()
        .find(|r| r.phase == "mailflow")
        .and_then(|r| r.result.get("report"))
        .and_then(|r| serde_json::from_value::<MailflowReport>(r.clone()).ok());
    Ok(report.map(|m| QuietClock {
        quiet_since: m
            .quiet_for_secs
            .map(|q| m.checked_at.timestamp() - q)
            .or(m.cutover.map(|c| c.timestamp())),
        checked_at: m.checked_at.timestamp(),
        quiet_hours: m.quiet_hours,
        quiet: m.quiet,
    }))
}

/// How the admin keeps a message the new host refuses for good (Review).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ResolveWay {
    /// Delivered wrapped: a short note saying why, the original attached unchanged.
    Wrapped,
    /// Appended to an mbox file the admin names in the system's save dialog.
    Mbox,
}

/// Keeps one refused message (after the UI asked): delivered wrapped, or appended to an mbox
/// file chosen in the save dialog, opened here so the web view never names a path. `None` when
/// the admin closes the dialog.
#[tauri::command]
pub async fn resolve_message<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    account: String,
    message: MessageRef,
    way: ResolveWay,
) -> Result<Option<ResolvedMessage>, CommandError> {
    let choice = match way {
        ResolveWay::Wrapped => ResolveChoice::Wrapped,
        ResolveWay::Mbox => {
            use tauri_plugin_dialog::DialogExt;
            let Some(picked) = app
                .dialog()
                .file()
                .set_title("Save the refused message to an mbox file")
                .set_file_name("refused-messages.mbox")
                .blocking_save_file()
            else {
                return Ok(None);
            };
            let path = picked.into_path().map_err(|e| {
                CommandError::new(ErrorCode::Invalid, format!("That file cannot be used: {e}"))
            })?;
            ResolveChoice::Mbox {
                path: path.display().to_string(),
            }
        }
    };
    ferry_project::phases::review::resolve(
        &state.project_path,
        state.host.as_ref(),
        &account,
        &message,
        &choice,
    )
    .await
    .map(Some)
    .map_err(phase_error)
}

/// Records (after the UI asked) that a clone of the old server is kept.
#[tauri::command]
pub fn mark_clone_kept(state: State<'_, AppState>) -> Result<AppView, CommandError> {
    let mut project = open(&state)?;
    project.set_fact(Fact::CloneKeptAt, Some(state.host.now().timestamp()))?;
    view(&state)
}

/// Shows the export folder or the quarantine folder in Finder, or the final report in the
/// browser.
#[tauri::command]
pub fn open_recorded(state: State<'_, AppState>, what: OpenWhat) -> Result<(), CommandError> {
    let project = open(&state)?;
    let path = recorded_path(&project, &state.project_path, what)?;
    // A folder opens in Finder, the report in the default browser (the system's choice for .html).
    tauri_plugin_opener::open_path(&path, None::<&str>).map_err(|e| {
        CommandError::new(
            ErrorCode::NotFound,
            format!("{} could not be opened: {e}", path.display()),
        )
    })
}

fn final_report_path(project_path: &Path) -> PathBuf {
    project_path
        .parent()
        .unwrap_or(Path::new("."))
        .join(FINAL_REPORT_NAME)
}

/// The path the project's last run of the matching phase wrote to.
pub fn recorded_path(
    project: &Project,
    project_path: &Path,
    what: OpenWhat,
) -> Result<PathBuf, CommandError> {
    let runs = project.runs()?;
    let last = |phase: &str| runs.iter().rev().find(|r| r.phase == phase);
    let found = match what {
        OpenWhat::ProfilesFolder => last("profiles").and_then(|r| {
            r.result
                .pointer("/report/out_dir")?
                .as_str()
                .map(PathBuf::from)
        }),
        OpenWhat::QuarantineFolder => last("quarantine")
            .and_then(|r| r.inputs.pointer("/folder")?.as_str().map(PathBuf::from)),
        OpenWhat::FinalReport => Some(final_report_path(project_path)),
    };
    match found {
        Some(path) if path.exists() => Ok(path),
        _ => Err(CommandError::new(
            ErrorCode::NotFound,
            match what {
                OpenWhat::ProfilesFolder => "No profiles exported yet: export them first.",
                OpenWhat::QuarantineFolder => {
                    "No quarantine archived to mbox files yet: archive it first."
                }
                OpenWhat::FinalReport => "No final report yet: click Write the final report first.",
            },
        )),
    }
}
