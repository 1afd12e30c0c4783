//! The menu-bar (tray) menu of the real app, read and clicked the way a Linux desktop's panel
//! does it: the app runs under Xvfb on the test's own session bus, where the test is the
//! desktop's StatusNotifierWatcher. The app's indicator (libayatana-appindicator) registers
//! with it; the test reads the item's menu over `com.canonical.dbusmenu` (GetLayout: the state
//! line, "Run final sync…" disabled until the plan allows it) and clicks with `Event(id,
//! "clicked")`. The confirmation is the native GTK dialog, answered with the keyboard through
//! xdotool: Cancel starts nothing, "Run final sync" starts the final sync, which the Final sync
//! screen (over WebDriver) shows ending verified, and the new host holds every message of the
//! old server exactly once.
//!
//! Needs a display, `tauri-driver`, `WebKitWebDriver`, `dbus-daemon`, `xdotool` and ImageMagick's
//! `import` (the dialog's screenshot), hence `#[ignore]`; scripts/test runs it under xvfb-run:
//!   (cd ui && npm run build)
//!   xvfb-run -a cargo test -p ferry-app --features custom-protocol --test app_webdriver_tray -- --ignored

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
// (the module allows its own dead code)
#[path = "../../crates/cutover/tests/common/mod.rs"]
mod dns_server;

use common::{artifacts, click, shot, text, tid, wait_for, wait_text, AppEnv, Driver, PrepHost};
use ferry_project::phases;
use ferry_project::project::Project;
use ferry_testkit::{Dovecot, Preset, SessionBus};
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

const DIALOG_TITLE: &str = "Run the final sync now?";

/// The desktop's side of the StatusNotifierItem protocol: the watcher an indicator registers
/// with (without one, libayatana-appindicator falls back to an old-style tray icon). It keeps
/// who registered what.
#[derive(Clone, Default)]
struct Watcher {
    items: Arc<Mutex<Vec<(String, String)>>>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(
        &self,
        service: String,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) {
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        self.items.lock().unwrap().push((sender, service));
    }

    fn register_status_notifier_host(&self, _service: String) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items
            .lock()
            .unwrap()
            .iter()
            .map(|(sender, path)| format!("{sender}{path}"))
            .collect()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

/// One entry of the menu as a panel shows it.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    id: i32,
    label: String,
    enabled: bool,
    separator: bool,
}

/// The app's menu-bar item, found through its registration with the watcher.
struct Tray {
    conn: zbus::blocking::Connection,
    service: String,
    menu: OwnedObjectPath,
}

impl Tray {
    fn registered(conn: &zbus::blocking::Connection, watcher: &Watcher) -> Tray {
        let deadline = Instant::now() + Duration::from_secs(20);
        let (sender, registered) = loop {
            if let Some(first) = watcher.items.lock().unwrap().first().cloned() {
                break first;
            }
            assert!(
                Instant::now() < deadline,
                "the app registered no menu-bar item with the StatusNotifierWatcher"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        // Ayatana registers its object path and is known by the message's sender; other
        // indicators register a bus name with the item at the protocol's default path.
        let (service, item_path) = if registered.starts_with('/') {
            (sender, registered)
        } else {
            (registered, "/StatusNotifierItem".to_string())
        };
        let item = zbus::blocking::Proxy::new(
            conn,
            service.clone(),
            item_path,
            "org.kde.StatusNotifierItem",
        )
        .unwrap();
        let menu: OwnedObjectPath = item
            .get_property("Menu")
            .expect("the item names its menu (the Menu property)");
        Tray {
            conn: conn.clone(),
            service,
            menu,
        }
    }

    fn proxy(&self) -> zbus::blocking::Proxy<'_> {
        zbus::blocking::Proxy::new(
            &self.conn,
            self.service.clone(),
            self.menu.clone(),
            "com.canonical.dbusmenu",
        )
        .unwrap()
    }

    /// The menu as a panel reads it before showing it: AboutToShow, then GetLayout.
    fn entries(&self) -> Vec<Entry> {
        let proxy = self.proxy();
        let _: bool = proxy.call("AboutToShow", &(0i32,)).unwrap();
        type Node = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);
        let (_revision, (_root, _props, children)): (u32, Node) = proxy
            .call("GetLayout", &(0i32, -1i32, Vec::<&str>::new()))
            .unwrap();
        children
            .into_iter()
            .map(|child| {
                let (id, props, _): Node = child.try_into().expect("a dbusmenu node");
                let string = |key: &str| match props.get(key).map(|v| &**v) {
                    Some(Value::Str(s)) => Some(s.to_string()),
                    _ => None,
                };
                Entry {
                    id,
                    label: string("label").unwrap_or_default(),
                    // dbusmenu leaves out what has its default value: enabled unless it says not
                    enabled: !matches!(
                        props.get("enabled").map(|v| &**v),
                        Some(Value::Bool(false))
                    ),
                    separator: string("type").as_deref() == Some("separator"),
                }
            })
            .collect()
    }

    fn entry(&self, label: &str) -> Entry {
        let entries = self.entries();
        entries
            .iter()
            .find(|e| e.label == label)
            .cloned()
            .unwrap_or_else(|| panic!("no {label:?} in the menu: {entries:?}"))
    }

    /// The first line: the migration's state at a glance.
    fn state_line(&self) -> String {
        self.entries()[0].label.clone()
    }

    /// Waits until the state line reads `want`.
    fn wait_state_line(&self, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let line = self.state_line();
            if line == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the menu's state line says {line:?}, not {want:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A click, as a panel sends it.
    fn click(&self, label: &str) {
        let id = self.entry(label).id;
        let timestamp = 0u32;
        let () = self
            .proxy()
            .call("Event", &(id, "clicked", Value::from(""), timestamp))
            .unwrap();
    }
}

/// The native confirmation's X window, if one is open.
fn dialog_window() -> Option<String> {
    let out = Command::new("xdotool")
        .args([
            "search",
            "--name",
            &format!("^{}$", regex_escape(DIALOG_TITLE)),
        ])
        .output()
        .expect("xdotool is not installed; scripts/test installs it (xdotool)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(str::to_string)
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if "\\.^$|?*+()[]{}".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

fn wait_dialog() -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(window) = dialog_window() {
            return window;
        }
        assert!(
            Instant::now() < deadline,
            "no confirmation dialog {DIALOG_TITLE:?} appeared"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_no_dialog() {
    let deadline = Instant::now() + Duration::from_secs(10);
    while dialog_window().is_some() {
        assert!(
            Instant::now() < deadline,
            "the confirmation dialog is still open"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Keys pressed into the dialog, as a person at the keyboard does (it has the focus first).
fn press(window: &str, key: &str) {
    let status = Command::new("xdotool")
        .args([
            "windowfocus",
            "--sync",
            window,
            "key",
            "--clearmodifiers",
            key,
        ])
        .status()
        .expect("xdotool");
    assert!(status.success(), "xdotool key {key}");
}

/// The whole screen, native dialog included (WebDriver sees only the web view).
fn screen_shot(name: &str) {
    std::thread::sleep(Duration::from_millis(300));
    let status = Command::new("import")
        .args(["-window", "root"])
        .arg(artifacts().join(name))
        .status()
        .expect("ImageMagick's import is not installed; scripts/test installs it (imagemagick)");
    assert!(status.success(), "import -window root {name}");
}

/// Every message of `user` not flagged \Deleted, byte for byte, sorted.
fn messages(server: &Dovecot, user: &str) -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = server
        .mailboxes(user)
        .iter()
        .flat_map(|m| server.messages(user, m))
        .filter(|m| !m.flags.iter().any(|f| f == "\\Deleted"))
        .map(|m| m.bytes)
        .collect();
    all.sort();
    all
}

fn status(project_path: &Path) -> ferry_project::status::MigrationStatus {
    ferry_project::status::status(&Project::open(project_path).unwrap()).unwrap()
}

fn runs_of(project_path: &Path, phase: &str) -> usize {
    Project::open(project_path)
        .unwrap()
        .runs()
        .unwrap()
        .iter()
        .filter(|r| r.phase == phase)
        .count()
}

/// A message that reaches the old server: delivered into jdoe's Maildir, as its delivery agent
/// does.
fn deliver_to_old(old: &Dovecot, subject: &str) {
    let raw = format!(
        "From: late@example.net\r\nTo: jdoe@example.com\r\nSubject: {subject}\r\nMessage-ID: <{}@example.net>\r\n\r\n{subject}\r\n",
        subject.replace(' ', "-")
    );
    let path = old.mail_dir("jdoe").join("new").join(format!(
        "1764900000.M{}P1.mail,S={}",
        subject.len(),
        raw.len()
    ));
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(raw.as_bytes()))
        .unwrap();
    old.give_to_mail_user(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver, WebKitWebDriver, dbus-daemon and xdotool; run by scripts/test under xvfb-run"]
async fn the_final_sync_runs_from_the_menu_bar_after_its_confirmation() {
    let tmp = tempfile::tempdir().unwrap();
    let project_dir = tmp.path().join("project");
    let project_path = project_dir.join("migration.ferry");
    let host = PrepHost {
        vault: tmp.path().join("passwords.ferry-vault"),
    };
    let old = Dovecot::start(Preset::OldMac);
    let new = Dovecot::builder(Preset::Modern)
        .user("jane.doe@example.com", "tray-pw-jane")
        .start();
    // the new host behind a proxy the test can stall: the menu's percent is read mid-copy
    let proxy = ferry_testkit::FaultProxy::start(new.imaps_port());

    // The migration up to the initial sync, through the project's own phases: the old server
    // discovered (its warnings not decided yet), the new host chosen and pinned, one account.
    let domains = {
        let project = common::discover_copy(&project_path, &host, old.server_root());
        let mut project = project;
        common::choose_loopback_host(&mut project, &host, &new, proxy.port());
        for account in project.plan().unwrap() {
            project
                .update_account(
                    &account.source_address,
                    &ferry_project::plan::AccountChange::Included(
                        account.dest_address == "jane.doe@example.com",
                    ),
                )
                .unwrap();
        }
        phases::credentials::set_destination_password(
            &project,
            &host,
            "jane.doe@example.com",
            &ferry_vault::Secret::from("tray-pw-jane".to_string()),
        )
        .unwrap();
        project.inventory().unwrap().unwrap().inventory.domains
    };
    let before = status(&project_path);
    let discover = before
        .phases
        .iter()
        .find(|p| p.phase == ferry_project::store::Phase::Discover)
        .unwrap();
    assert_eq!(
        discover.state,
        ferry_project::store::PhaseState::NeedsAttention,
        "the old server's warnings wait for a decision"
    );

    // DNS on loopback: the domains still at the old server
    let dns = dns_server::TestDns::start().await;
    for domain in &domains {
        dns.set_mx(domain, 3600, &[(10, "mail.example.com")]).await;
    }
    dns.set_a("mail.example.com", 3600, &["192.0.2.5"]).await;
    dns.set_a("mx.newhost.test", 300, &["198.51.100.10"]).await;

    // The desktop: a session bus with a StatusNotifierWatcher on it, then the app.
    let bus = SessionBus::start();
    let watcher = Watcher::default();
    let conn = zbus::blocking::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .serve_at("/StatusNotifierWatcher", watcher.clone())
        .unwrap()
        .name("org.kde.StatusNotifierWatcher")
        .unwrap()
        .build()
        .expect("the StatusNotifierWatcher on the test's bus");
    let driver = Driver::start(
        &AppEnv::new(&project_dir, &host.vault)
            .dns(&[dns.addr])
            .env("DBUS_SESSION_BUS_ADDRESS", bus.address.clone()),
    );
    let c = driver.session().await;
    wait_for(&c, &tid("headline")).await;
    let tray = Tray::registered(&conn, &watcher);

    // --- The menu as the panel shows it: needs attention, the final sync not allowed yet ---------
    let labels: Vec<(String, bool, bool)> = tray
        .entries()
        .into_iter()
        .map(|e| (e.label, e.enabled, e.separator))
        .collect();
    assert_eq!(
        labels,
        [
            ("Needs attention: Discover".to_string(), false, false),
            (String::new(), true, true),
            ("Open Ferry".to_string(), true, false),
            ("Run final sync…".to_string(), false, false),
            (String::new(), true, true),
            ("Quit Ferry".to_string(), true, false),
        ]
    );
    // A click on the greyed-out item (a panel showing a stale menu sends one) asks nothing and
    // starts nothing.
    tray.click("Run final sync…");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        dialog_window(),
        None,
        "a confirmation for a final sync the plan does not allow"
    );
    assert_eq!(runs_of(&project_path, "final_sync"), 0);

    // --- The warnings decided on the Discover screen: the menu says what comes next ------------
    click(&c, &tid("phase-discover")).await;
    wait_for(&c, &tid("warnings")).await;
    let undecided = c
        .find_all(fantoccini::Locator::Css(".warning:not(.decided)"))
        .await
        .unwrap()
        .len();
    for _ in 0..undecided {
        click(&c, ".warning:not(.decided) .decision-choices button").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_text(&c, &tid("phase-discover"), "Discover done", |_| true).await;
    let headline = status(&project_path).headline;
    assert!(!headline.is_empty());
    tray.wait_state_line(&headline);

    // --- Credentials: the password (stored beforehand) signs in ---------------------------------
    click(&c, &tid("phase-credentials")).await;
    click(&c, &tid("check-logins")).await;
    let signs_in = format!("{} {}", tid("cred-jdoe"), tid("check-status"));
    wait_text(&c, &signs_in, "the login check", |t| t == "Signs in").await;
    tray.wait_state_line(&status(&project_path).headline);

    // --- The initial sync: the menu shows its percent, the screen the same --------------------
    proxy.stall();
    click(&c, &tid("phase-initial_sync")).await;
    click(&c, &tid("start-sync")).await;
    wait_text(
        &c,
        &format!("{} h2", tid("sync-summary")),
        "the running sync",
        |t| t == "The initial sync is running",
    )
    .await;
    let overall = text(&c, &tid("overall")).await;
    let percent = overall
        .rsplit_once('(')
        .and_then(|(_, p)| p.strip_suffix(" %)"))
        .unwrap_or_else(|| panic!("no percent in {overall:?}"))
        .to_string();
    tray.wait_state_line(&format!("Initial sync: {percent} %"));
    assert!(!tray.entry("Run final sync…").enabled);
    // nor while a job runs
    tray.click("Run final sync…");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(dialog_window(), None, "a confirmation while a job runs");
    shot(&c, "tray-01-initial-sync-running.png").await;
    proxy.resume();
    wait_text(
        &c,
        &format!("{} h2", tid("sync-summary")),
        "the end of the initial sync",
        |t| t == "The initial sync ended",
    )
    .await;
    tray.wait_state_line(&status(&project_path).headline);
    assert!(!tray.entry("Run final sync…").enabled);

    // --- DNS prep, then the MX switched: the cut-over watch sees the new host ------------------
    click(&c, &tid("phase-dns_prep")).await;
    wait_for(&c, &tid("new-mx"))
        .await
        .send_keys("mx.newhost.test")
        .await
        .unwrap();
    click(&c, &tid("check-dns")).await;
    let points = format!("{} {}", tid(&format!("dns-{}", domains[0])), tid("points"));
    wait_text(&c, &points, "the old MX", |t| t == "Old server").await;
    assert!(!tray.entry("Run final sync…").enabled);
    for domain in &domains {
        dns.set_mx(domain, 300, &[(10, "mx.newhost.test")]).await;
    }
    click(&c, &tid("phase-cutover")).await;
    click(&c, &tid("mx-switched")).await;
    wait_text(
        &c,
        &format!("{} h2", tid("cutover")),
        "the watch's end",
        |t| t == "The cut-over watch ended",
    )
    .await;

    // --- Now the plan allows the final sync: the menu offers it ---------------------------------
    tray.wait_state_line(&status(&project_path).headline);
    assert!(tray.entry("Run final sync…").enabled);
    // mail that still reached the old server while DNS changed over
    deliver_to_old(&old, "arrived during the cut-over");
    assert_ne!(
        messages(&new, "jane.doe@example.com"),
        messages(&old, "jdoe"),
        "the late message is not on the new host yet"
    );

    // Cancel: nothing starts.
    tray.click("Run final sync…");
    let dialog = wait_dialog();
    screen_shot("tray-02-final-sync-confirm.png");
    press(&dialog, "Escape");
    wait_no_dialog();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        runs_of(&project_path, "final_sync"),
        0,
        "Cancel started a final sync"
    );
    assert!(tray.entry("Run final sync…").enabled);

    // Confirm: the final sync runs, the same job the Final sync screen shows.
    tray.click("Run final sync…");
    let dialog = wait_dialog();
    // the new host hangs a moment: the menu shows the final sync running before it ends
    proxy.stall();
    // the dialog's first button has the focus: "Run final sync"
    press(&dialog, "Return");
    wait_no_dialog();
    tray.wait_state_line("Final sync: 0 %");
    assert!(!tray.entry("Run final sync…").enabled);
    proxy.resume();
    click(&c, &tid("phase-final_sync")).await;
    wait_text(
        &c,
        &format!("{} h2", tid("sync-summary")),
        "the final sync's end",
        |t| t == "The final sync ended",
    )
    .await;
    let summary = text(&c, &tid("job-summary")).await;
    assert_eq!(
        summary,
        "Final sync: 1 message copied; verified: every message is on the new host"
    );
    shot(&c, "tray-03-final-sync-done.png").await;
    assert_eq!(runs_of(&project_path, "final_sync"), 1);
    let on_new = messages(&new, "jane.doe@example.com");
    let on_old = messages(&old, "jdoe");
    assert_eq!(on_new, on_old, "every message exactly once");
    tray.wait_state_line(&status(&project_path).headline);
    c.close().await.unwrap();
    drop(driver);
    drop(conn);
}
