//! The menu-bar (tray) icon: the migration's state at a glance (idle, syncing n %, needs
//! attention) and a short menu: Open Ferry, Run final sync (enabled when the plan allows it, after
//! a confirmation), Quit.

use ferry_project::jobs::JobKind;
use ferry_project::status::MigrationStatus;
use ferry_project::store::{Phase, PhaseState};
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};

const TRAY_ID: &str = "ferry";

/// The installed menu's update, type-erased over the runtime: [`follow`] calls it with each view
/// the app reads, so the menu follows every change (a decision, a DNS check), not only jobs.
type Follow = Box<dyn Fn(&MigrationStatus) + Send + Sync>;
static FOLLOW: std::sync::OnceLock<Follow> = std::sync::OnceLock::new();

/// The menu items that change with the migration's state.
struct TrayItems<R: Runtime> {
    status: MenuItem<R>,
    final_sync: MenuItem<R>,
}

pub fn install<R: Runtime>(
    app: &tauri::App<R>,
    status: Option<&MigrationStatus>,
) -> tauri::Result<()> {
    let line = status
        .map(|s| status_line(s, None))
        .unwrap_or_else(|| "No migration started".into());
    let status_item = MenuItem::with_id(app, "status", &line, false, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open Ferry", true, None::<&str>)?;
    let final_sync = MenuItem::with_id(
        app,
        "final_sync",
        "Run final sync…",
        status.is_some_and(final_sync_allowed),
        None::<&str>,
    )?;
    let quit = MenuItem::with_id(app, "quit", "Quit Ferry", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let separator2 = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(
        app,
        &[
            &status_item,
            &separator,
            &open,
            &final_sync,
            &separator2,
            &quit,
        ],
    )?;
    TrayIconBuilder::with_id(TRAY_ID)
        // A black-on-transparent template image: macOS tints it for light and dark menu bars.
        .icon(tauri::include_image!("icons/tray.png"))
        .icon_as_template(true)
        .tooltip(format!("Ferry: {line}"))
        .menu(&menu)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "open" => open_main_window(app),
            // A panel may show a stale menu (or send a click to a greyed-out item): the plan
            // decides now, not the menu.
            "final_sync" if final_sync_allowed_now(app) => confirm_final_sync(app),
            "quit" => app.exit(0),
            _ => {}
        })
        .build(app)?;
    app.manage(TrayItems {
        status: status_item,
        final_sync,
    });
    let handle = app.handle().clone();
    let _ = FOLLOW.set(Box::new(move |status| show(&handle, status, None)));
    Ok(())
}

/// Brings the menu up to date with a view just read (after any command). While a job runs, its
/// progress line stays: the job updates the menu itself. A no-op where no tray was installed.
pub fn follow(view: &crate::commands::AppView) {
    if view.job.as_ref().is_some_and(|j| j.running) {
        return;
    }
    if let Some(follow) = FOLLOW.get() {
        follow(&view.status);
    }
}

/// The final sync from the menu: asks first (it marks the old server's mail as finished), then
/// starts the same job as the Final sync screen.
fn confirm_final_sync<R: Runtime>(app: &AppHandle<R>) {
    use tauri_plugin_dialog::{DialogExt, MessageDialogButtons, MessageDialogKind};
    let handle = app.clone();
    app.dialog()
        .message(
            "The final sync copies the last new messages, then checks every account against the old server and marks the migration's copying as finished. Run it after the MX records point at the new host and mail has stopped arriving at the old server.",
        )
        .title("Run the final sync now?")
        .kind(MessageDialogKind::Warning)
        .buttons(MessageDialogButtons::OkCancelCustom(
            "Run final sync".into(),
            "Cancel".into(),
        ))
        .show(move |yes| {
            if yes {
                run_final_sync(&handle);
            }
        });
}

/// Starts the final sync (the tray's command; the confirmation came first): the same job as the
/// Final sync screen's button, unless the plan stopped allowing it while the dialog was open.
fn run_final_sync<R: Runtime>(app: &AppHandle<R>) {
    if !final_sync_allowed_now(app) {
        return;
    }
    if let Some(state) = app.try_state::<crate::AppState>() {
        if let Err(e) = crate::jobs::start_sync(app, &state, JobKind::FinalSync) {
            tracing::warn!(error = %e, "final sync from the menu");
        }
    }
}

/// Whether the plan allows the final sync at this moment, with no job running. (Reading the view
/// also sets the menu to match.)
fn final_sync_allowed_now<R: Runtime>(app: &AppHandle<R>) -> bool {
    let Some(state) = app.try_state::<crate::AppState>() else {
        return false;
    };
    let Ok(view) = crate::commands::view(&state) else {
        return false;
    };
    !view.job.as_ref().is_some_and(|j| j.running) && final_sync_allowed(&view.status)
}

/// Whether the plan allows the final sync now: its phase has nothing blocking it.
pub fn final_sync_allowed(status: &MigrationStatus) -> bool {
    status.phases.iter().any(|p| {
        p.phase == Phase::FinalSync && p.blockers.is_empty() && p.state != PhaseState::Running
    })
}

/// Updates the status line, tooltip and menu after a change; a no-op where no tray was
/// installed (tests).
pub fn show<R: Runtime>(app: &AppHandle<R>, status: &MigrationStatus, job: Option<(JobKind, u64)>) {
    let line = status_line(status, job);
    if let Some(items) = app.try_state::<TrayItems<R>>() {
        let _ = items.status.set_text(&line);
        let _ = items
            .final_sync
            .set_enabled(job.is_none() && final_sync_allowed(status));
    }
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let _ = tray.set_tooltip(Some(format!("Ferry: {line}")));
        #[cfg(target_os = "macos")]
        let _ = tray.set_title(job.map(|(_, p)| format!("{p} %")));
    }
}

/// During a job: "Initial sync: 42 %".
pub fn show_progress<R: Runtime>(app: &AppHandle<R>, kind: JobKind, percent: u64) {
    let line = job_line(kind, percent);
    if let Some(items) = app.try_state::<TrayItems<R>>() {
        let _ = items.status.set_text(&line);
        let _ = items.final_sync.set_enabled(false);
    }
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let _ = tray.set_tooltip(Some(format!("Ferry: {line}")));
        #[cfg(target_os = "macos")]
        let _ = tray.set_title(Some(format!("{percent} %")));
    }
}

fn job_line(kind: JobKind, percent: u64) -> String {
    let what = kind.describe();
    let what = what.strip_prefix("the ").unwrap_or(what);
    let mut chars = what.chars();
    let what: String = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    format!("{what}: {percent} %")
}

pub fn open_main_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// One line for the menu: idle, syncing n %, or what needs attention.
pub fn status_line(status: &MigrationStatus, job: Option<(JobKind, u64)>) -> String {
    if let Some((kind, percent)) = job {
        return job_line(kind, percent);
    }
    if let Some(attention) = status
        .phases
        .iter()
        .find(|p| p.state == PhaseState::NeedsAttention)
    {
        return format!("Needs attention: {}", attention.title);
    }
    status.headline.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_project::discover::human_bytes;

    /// The UI's `bytes()` (ui/src/lib/format.ts) is tested with the same cases: the menu, the
    /// screens and discovery's sentences all say KiB/MiB.
    #[test]
    fn sizes_read_as_on_the_screens() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1), "1 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.0 KiB");
        assert_eq!(human_bytes(7_475), "7.3 KiB");
        assert_eq!(human_bytes(13_312), "13 KiB");
        assert_eq!(human_bytes(2_345_678), "2.2 MiB");
        assert_eq!(human_bytes(1_288_490_189), "1.2 GiB");
    }

    fn line(
        phase: Phase,
        state: PhaseState,
        blockers: &[&str],
    ) -> ferry_project::status::PhaseLine {
        ferry_project::status::PhaseLine {
            phase,
            number: 9,
            title: "Final sync".into(),
            summary: String::new(),
            state,
            note: None,
            blockers: blockers.iter().map(|b| b.to_string()).collect(),
        }
    }

    #[test]
    fn the_menu_offers_the_final_sync_only_when_nothing_blocks_it() {
        let status = |phases| MigrationStatus {
            phases,
            next: None,
            headline: String::new(),
            server: None,
        };
        assert!(!final_sync_allowed(&status(vec![line(
            Phase::FinalSync,
            PhaseState::NotStarted,
            &["Switch the MX records first."]
        )])));
        assert!(!final_sync_allowed(&status(vec![line(
            Phase::FinalSync,
            PhaseState::Running,
            &[]
        )])));
        assert!(final_sync_allowed(&status(vec![line(
            Phase::FinalSync,
            PhaseState::NotStarted,
            &[]
        )])));
        // another phase without blockers does not enable it
        assert!(!final_sync_allowed(&status(vec![line(
            Phase::InitialSync,
            PhaseState::NotStarted,
            &[]
        )])));
        let attention = status(vec![line(
            Phase::Credentials,
            PhaseState::NeedsAttention,
            &[],
        )]);
        assert_eq!(status_line(&attention, None), "Needs attention: Final sync");
    }

    #[test]
    fn a_running_job_shows_its_percent() {
        let status = MigrationStatus {
            phases: Vec::new(),
            next: None,
            headline: "Choose the new mail host.".into(),
            server: None,
        };
        assert_eq!(
            status_line(&status, Some((JobKind::InitialSync, 42))),
            "Initial sync: 42 %"
        );
        assert_eq!(job_line(JobKind::FinalSync, 100), "Final sync: 100 %");
        assert_eq!(status_line(&status, None), "Choose the new mail host.");
    }
}
