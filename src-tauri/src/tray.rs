//! The menu-bar (tray) icon: the migration's state at a glance and a short menu. Later phases add
//! "Run final sync" here.

use ferry_project::discover::human_bytes;
use ferry_project::store::Migration;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};

const TRAY_ID: &str = "ferry";

/// The status line of the menu; kept so it can be updated after each phase.
struct TrayStatus<R: Runtime>(MenuItem<R>);

pub fn install<R: Runtime>(
    app: &tauri::App<R>,
    migration: Option<&Migration>,
) -> tauri::Result<()> {
    let status = MenuItem::with_id(app, "status", status_line(migration), false, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open Ferry", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Ferry", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&status, &separator, &open, &quit])?;
    TrayIconBuilder::with_id(TRAY_ID)
        // A black-on-transparent template image: macOS tints it for light and dark menu bars.
        .icon(tauri::include_image!("icons/tray.png"))
        .icon_as_template(true)
        .tooltip(format!("Ferry: {}", status_line(migration)))
        .menu(&menu)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "open" => open_main_window(app),
            "quit" => app.exit(0),
            _ => {}
        })
        .build(app)?;
    app.manage(TrayStatus(status));
    Ok(())
}

/// Updates the icon's status line and tooltip; a no-op where no tray was installed (tests).
pub fn show<R: Runtime>(app: &AppHandle<R>, migration: Option<&Migration>) {
    let line = status_line(migration);
    if let Some(status) = app.try_state::<TrayStatus<R>>() {
        let _ = status.0.set_text(&line);
    }
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let _ = tray.set_tooltip(Some(format!("Ferry: {line}")));
    }
}

pub fn open_main_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// One line for the menu: which server, how big, what needs a look.
pub fn status_line(migration: Option<&Migration>) -> String {
    let Some(inventory) = migration.and_then(|m| m.inventory.as_ref()) else {
        return "No migration started".to_string();
    };
    let accounts = match inventory.accounts.len() {
        1 => "1 account".to_string(),
        n => format!("{n} accounts"),
    };
    let mut line = format!(
        "{}: {accounts}, {}",
        inventory.hostname,
        human_bytes(inventory.totals.bytes)
    );
    match inventory.warnings.len() {
        0 => {}
        1 => line.push_str(", 1 warning"),
        n => line.push_str(&format!(", {n} warnings")),
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn no_migration_says_so() {
        assert_eq!(status_line(None), "No migration started");
    }
}
