//! Long jobs (the syncs) run in Rust, apart from any window: closing the window does not stop
//! them, the menu-bar icon shows their progress, and a window opened later subscribes again. Their
//! events go to every subscribed window over a Tauri channel (the web view never polls).

use std::sync::{Arc, Mutex};

use ferry_project::jobs::{JobControl, JobEvent, JobEvents, JobKind, JobProgress};
use ferry_project::project::{Project, RunOutcome};
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, Runtime};

use crate::commands::JobView;
use crate::error::{phase_error, CommandError, ErrorCode};
use crate::{tray, AppState};

#[derive(Default)]
struct Inner {
    current: Option<JobView>,
    control: Option<JobControl>,
    channels: Vec<Channel<JobEvent>>,
}

/// The app's one job at a time (the project's lock enforces it across processes too).
#[derive(Default)]
pub struct JobRegistry {
    inner: Mutex<Inner>,
}

impl JobRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn running(&self) -> bool {
        self.lock().current.as_ref().is_some_and(|j| j.running)
    }

    pub fn view(&self) -> Option<JobView> {
        self.lock().current.clone()
    }

    pub fn watch(&self, channel: Channel<JobEvent>) {
        self.lock().channels.push(channel);
    }

    pub fn forget(&self) {
        let mut inner = self.lock();
        inner.current = None;
        inner.control = None;
    }

    /// Asks the running job to stop; batches in flight finish and are recorded.
    pub fn cancel(&self) -> bool {
        match &self.lock().control {
            Some(control) => {
                control.cancel.cancel();
                true
            }
            None => false,
        }
    }

    fn begin(&self, control: &JobControl) -> Result<(), CommandError> {
        let mut inner = self.lock();
        if let Some(job) = inner.current.as_ref().filter(|j| j.running) {
            return Err(CommandError::new(
                ErrorCode::Busy,
                format!(
                    "{} is running. Wait for it to finish, or stop it first.",
                    capitalized(job.kind.describe())
                ),
            ));
        }
        inner.current = Some(JobView {
            id: control.id.clone(),
            kind: control.kind,
            running: true,
            accounts: Vec::new(),
            summary: None,
        });
        inner.control = Some(control.clone());
        Ok(())
    }

    /// Folds an event into the job's view and passes it to every window still listening.
    fn on_event(&self, event: &JobEvent) -> Option<(u64, u64)> {
        let mut inner = self.lock();
        let job = inner.current.as_mut().filter(|j| j.id == event.job_id)?;
        match &event.event {
            JobProgress::Started { accounts, .. } => job.accounts = accounts.clone(),
            JobProgress::Account { progress } => {
                match job
                    .accounts
                    .iter_mut()
                    .find(|a| a.account == progress.account)
                {
                    Some(slot) => *slot = progress.clone(),
                    None => job.accounts.push(progress.clone()),
                }
            }
            JobProgress::Note { text } => job.summary = Some(text.clone()),
            JobProgress::Finished { summary, .. } => {
                job.running = false;
                job.summary = Some(summary.clone());
            }
        }
        let done = job.accounts.iter().map(|a| a.bytes_done).sum();
        let total = job.accounts.iter().map(|a| a.bytes_total).sum();
        // A closed window's channel fails: drop it.
        inner.channels.retain(|c| c.send(event.clone()).is_ok());
        Some((done, total))
    }

    fn end(&self, id: &str, summary: String) {
        let mut inner = self.lock();
        if let Some(job) = inner.current.as_mut().filter(|j| j.id == id) {
            job.running = false;
            job.summary = Some(summary);
        }
        inner.control = None;
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Starts a job of `kind` (a sync, or the retry of failed messages) on its own thread and
/// returns its id.
pub fn start_sync<R: Runtime>(
    app: &AppHandle<R>,
    state: &AppState,
    kind: JobKind,
) -> Result<String, CommandError> {
    // Every job reads passwords on its own thread: a password file still waiting for its
    // passphrase is asked for now, before the job starts, not reported when it fails.
    if let Some(locked) = state.app_host.as_ref().and_then(|h| h.locked()) {
        return Err(crate::error::vault_locked(&locked));
    }
    let control = JobControl::new(kind);
    state.jobs.begin(&control)?;
    let registry = state.jobs.clone();
    let path = state.project_path.clone();
    let host = state.host.clone();
    let id = control.id.clone();
    let app = app.clone();
    let events: JobEvents = {
        let registry = registry.clone();
        let app = app.clone();
        let last_percent = Arc::new(Mutex::new(None::<u64>));
        Arc::new(move |event: JobEvent| {
            if let Some((done, total)) = registry.on_event(&event) {
                // the menu bar changes once per percent, not per batch
                let percent = (done * 100).checked_div(total).unwrap_or(0);
                let mut last = last_percent.lock().unwrap_or_else(|e| e.into_inner());
                if *last != Some(percent) {
                    *last = Some(percent);
                    tray::show_progress(&app, kind, percent);
                }
            }
        })
    };
    std::thread::Builder::new()
        .name(format!("ferry-{}", kind.log_name()))
        .spawn(move || {
            let result = tauri::async_runtime::block_on(async {
                if kind == JobKind::DnsWatch {
                    // the MX switch: every resolver asked every 30 s for up to 2 days, then the
                    // cut-over sync runs by itself
                    let watch = ferry_cutover::dns::WatchOptions {
                        interval: std::time::Duration::from_secs(30),
                        max_wait: std::time::Duration::from_secs(48 * 3600),
                    };
                    ferry_project::phases::cutover::cutover_watch(
                        &path,
                        host.as_ref(),
                        &control,
                        events.clone(),
                        &watch,
                    )
                    .await
                    .map(|outcome| {
                        let summary = match (&outcome.delta, outcome.switched) {
                            (Some(delta), true) => format!(
                                "Every resolver answers the new host. The cut-over sync ran by itself: {}",
                                delta.summary.trim_start_matches("Cut-over sync: ")
                            ),
                            (None, true) => "Every resolver answers the new host.".to_string(),
                            (_, false) => "Stopped before every resolver answered the new host; start the watch again.".to_string(),
                        };
                        (summary, !outcome.switched)
                    })
                } else if kind == JobKind::Retry {
                    ferry_project::phases::review::retry(
                        &path,
                        host.as_ref(),
                        &control,
                        events.clone(),
                    )
                    .await
                    .map(|report| (report.summary, false))
                } else {
                    ferry_project::phases::sync::run(
                        &path,
                        host.as_ref(),
                        &control,
                        events.clone(),
                        None,
                    )
                    .await
                    .map(|report| (report.summary, report.cancelled))
                }
            });
            let (summary, outcome) = match result {
                Ok((summary, cancelled)) => (
                    summary,
                    if cancelled || control.cancel.is_cancelled() {
                        RunOutcome::Cancelled
                    } else {
                        RunOutcome::Succeeded
                    },
                ),
                Err(e) => (
                    phase_error(e, std::path::Path::new("/")).message,
                    RunOutcome::Failed,
                ),
            };
            // The engine's own Finished event may not come when setup failed: send one.
            events(JobEvent {
                job_id: control.id.clone(),
                event: JobProgress::Finished {
                    outcome,
                    summary: summary.clone(),
                },
            });
            registry.end(&control.id, summary.clone());
            if let Some(state) = app.try_state::<AppState>() {
                if let Ok(view) = crate::commands::view(&state) {
                    tray::show(&app, &view.status, None);
                }
            }
            notify(&app, kind, &summary);
        })
        .map_err(|e| {
            CommandError::new(
                ErrorCode::Internal,
                format!("the job could not be started: {e}"),
            )
        })?;
    Ok(id)
}

/// A system notification: the admin may be in another app while a copy runs for hours.
fn notify<R: Runtime>(app: &AppHandle<R>, kind: JobKind, summary: &str) {
    use tauri_plugin_notification::NotificationExt;
    if app
        .try_state::<tauri_plugin_notification::Notification<R>>()
        .is_none()
    {
        return; // not registered (tests on the mock runtime)
    }
    let _ = app
        .notification()
        .builder()
        .title(format!("Ferry: {} ended", kind.describe()))
        .body(summary)
        .show();
}

/// After a quit (or a crash) in the middle of a sync, the same sync continues when Ferry opens
/// again: the project's log shows a sync run that never ended. Exactly once still holds.
pub fn resume_interrupted<R: Runtime>(app: &AppHandle<R>, state: &AppState) {
    let Ok(project) = Project::open(&state.project_path) else {
        return;
    };
    let Ok(runs) = project.runs() else { return };
    const SYNCS: [JobKind; 3] = [JobKind::InitialSync, JobKind::DeltaSync, JobKind::FinalSync];
    let last_sync = runs.iter().rev().find_map(|run| {
        SYNCS
            .into_iter()
            .find(|k| k.log_name() == run.phase)
            .map(|k| (k, run))
    });
    let interrupted = last_sync
        .filter(|(_, run)| run.outcome == RunOutcome::Running)
        .map(|(kind, _)| kind);
    drop(project);
    if let Some(kind) = interrupted {
        tracing::info!(
            job = kind.log_name(),
            "continuing the sync that was interrupted"
        );
        if let Err(e) = start_sync(app, state, kind) {
            tracing::warn!(error = %e, "could not continue the interrupted sync");
        }
    }
}
