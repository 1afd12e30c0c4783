//! The real app on the later screens (Profiles, Quarantine, Decommission): the built `ferry-app`
//! binary under X, driven over WebDriver (tauri-driver + WebKitWebDriver), on a migration of a
//! materialized copy of the fixture server that was discovered and given a new host beforehand
//! through `ferry_project` (tests/app_webdriver.rs clicks through those screens). It checks what
//! each screen shows against the project, confirms "a clone is kept", writes the final report,
//! and saves a screenshot of each state to `artifacts/app-e2e/` (3x-*.png). The folder choosers
//! are native dialogs WebDriver cannot answer, so the exports themselves are covered by
//! tests/ipc_phases.rs. Run as tests/app_webdriver.rs says:
//!   (cd ui && npm run build)
//!   xvfb-run -a cargo test -p ferry-app --features custom-protocol --test app_webdriver_phases -- --ignored

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const APP: &str = env!("CARGO_BIN_EXE_ferry-app");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// tauri-driver on its own ports, with the app's migration folder in its environment (the app
/// inherits it). Stopped with SIGTERM: SIGKILL would orphan WebKitWebDriver.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start(project_dir: &Path, vault: &Path) -> Driver {
        let port = free_port();
        let child = Command::new("tauri-driver")
            .args(["--port", &port.to_string()])
            .args(["--native-port", &free_port().to_string()])
            .env("FERRY_PROJECT_DIR", project_dir)
            .env_remove("FERRY_PROJECT")
            // the encrypted file store: no keyring runs under Xvfb
            .env("FERRY_VAULT", "file")
            .env("FERRY_VAULT_FILE", vault)
            .env("FERRY_VAULT_PASSPHRASE", "app-e2e passphrase")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("tauri-driver is not installed: cargo install tauri-driver --version 2.1.0 --locked");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tauri-driver did not listen on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, port }
    }

    async fn session(&self) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("wry"));
        caps.insert("tauri:options".into(), json!({ "application": APP }));
        ClientBuilder::native()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a WebDriver session with the app (is DISPLAY set? run under xvfb-run)")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts/app-e2e");
    std::fs::create_dir_all(&dir).expect("artifacts folder");
    dir
}

async fn shot(c: &Client, name: &str) {
    // let WebKit paint the last render first
    tokio::time::sleep(Duration::from_millis(300)).await;
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(artifacts().join(name), png).expect("write screenshot");
}

fn tid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

async fn wait_for(c: &Client, css: &str) -> Element {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
}

async fn text(c: &Client, css: &str) -> String {
    wait_for(c, css).await.text().await.expect("element text")
}

async fn scroll_to(c: &Client, css: &str) {
    wait_for(c, css).await;
    c.execute(
        "const top = document.querySelector(arguments[0]).getBoundingClientRect().top;\
         window.scrollBy(0, top - 16);",
        vec![json!(css)],
    )
    .await
    .expect("scroll");
    // let WebKit paint the scrolled page before the screenshot
    tokio::time::sleep(Duration::from_millis(150)).await;
}

/// Scrolls the element to the middle of the window (clear of the fixed footer), then clicks it.
/// A screen re-rendered between finding and clicking (a view arriving) is found again.
async fn click(c: &Client, css: &str) {
    let mut last = None;
    for _ in 0..5 {
        let el = wait_for(c, css).await;
        let scrolled = c
            .execute(
                "arguments[0].scrollIntoView({block: 'center'});",
                vec![serde_json::to_value(&el).unwrap()],
            )
            .await;
        match scrolled {
            Ok(_) => match el.click().await {
                Ok(()) => return,
                Err(e) => last = Some(format!("{e:?}")),
            },
            Err(e) => last = Some(format!("{e:?}")),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("click {css}: {}", last.unwrap_or_default());
}

async fn wait_state(c: &Client, css: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(el) = c.find(Locator::Css(css)).await {
            if el.attr("data-state").await.ok().flatten().as_deref() == Some(state) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{css}: waited for state {state}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver and WebKitWebDriver; run under xvfb-run"]
async fn profiles_quarantine_and_decommission_on_a_discovered_migration() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(&tmp.path().join("fixture"));
    let project_dir = tmp.path().join("project");
    std::fs::create_dir_all(&project_dir).unwrap();
    let project_file = project_dir.join(ferry_project::project::FILE_NAME);
    let host = ferry_app::AppHost::from_env();
    let (people, training) = {
        let mut project = ferry_project::project::Project::open(&project_file).unwrap();
        let snapshot = ferry_project::phases::discover::discover(
            &mut project,
            &host,
            Some(ferry_project::store::Source {
                kind: ferry_project::store::SourceKind::Copy,
                root: root.display().to_string(),
            }),
        )
        .unwrap();
        ferry_project::phases::destination::choose(
            &mut project,
            &host,
            &serde_json::from_value(json!({ "preset": "genericImap", "imap_host": "imap.new.example",
                "imap_port": 993, "imap_security": "tls", "smtp_host": null, "pinned_sha256": null }))
            .unwrap(),
        )
        .unwrap();
        let people: Vec<String> = project
            .plan()
            .unwrap()
            .into_iter()
            .filter(|a| a.included && a.present && a.kind == ferry_project::plan::AccountKind::User)
            .map(|a| a.dest_address)
            .collect();
        (people, snapshot.inventory.training_mailboxes)
    };
    assert!(!people.is_empty());

    let driver = Driver::start(&project_dir, &tmp.path().join("passwords.ferry-vault"));
    let c = driver.session().await;

    // --- Profiles ----------------------------------------------------------------------------
    click(&c, &tid("phase-profiles")).await;
    wait_for(&c, &tid("profile-preview")).await;
    assert_eq!(text(&c, &tid("preview-address")).await, people[0]);
    assert_eq!(
        text(&c, &tid("preview-imap")).await,
        "imap.new.example:993 (TLS)"
    );
    assert_eq!(
        text(&c, &tid("preview-asks")).await,
        "their password on the new host"
    );
    assert!(
        wait_for(&c, &tid("export"))
            .await
            .attr("disabled")
            .await
            .unwrap()
            .is_some(),
        "no export before a folder is chosen"
    );
    shot(&c, "30-profiles-preview.png").await;
    click(&c, &tid("option-withPasswords")).await;
    assert_eq!(
        text(&c, &tid("password-warning")).await,
        "The files will hold passwords in clear. Hand each only to its person."
    );
    scroll_to(&c, &tid("profile-options")).await;
    shot(&c, "31-profiles-with-passwords.png").await;

    // --- Quarantine --------------------------------------------------------------------------
    click(&c, &tid("phase-quarantine")).await;
    wait_for(&c, &tid("quarantine-found")).await;
    for t in &training {
        let row = text(&c, &tid(&format!("training-{}", t.short_name))).await;
        // WebDriver joins the cells' text without separators
        let kind = match serde_json::to_value(t.kind).unwrap().as_str().unwrap() {
            "junk" => "Taught as junk",
            _ => "Taught as not junk",
        };
        assert_eq!(
            row,
            format!(
                "{}{kind}{}{}",
                t.short_name,
                t.messages,
                ferry_project::discover::human_bytes(t.bytes)
            )
        );
    }
    shot(&c, "32-quarantine.png").await;

    // --- Decommission ------------------------------------------------------------------------
    click(&c, &tid("phase-decommission")).await;
    wait_for(&c, &tid("check-readiness")).await;
    shot(&c, "33-decommission-start.png").await;
    click(&c, &tid("check-readiness")).await;
    wait_for(&c, &tid("checklist")).await;
    assert_eq!(text(&c, &tid("readiness")).await, "Not yet: 6 items to do");
    wait_state(&c, &tid("item-server_clone_kept"), "not_yet").await;
    shot(&c, "34-decommission-checklist.png").await;
    click(&c, &tid("mark-clone")).await;
    wait_for(&c, &tid("confirm-clone")).await;
    scroll_to(&c, &tid("confirm-clone")).await;
    shot(&c, "35-decommission-confirm-clone.png").await;
    click(&c, &tid("confirm-yes")).await;
    wait_state(&c, &tid("item-server_clone_kept"), "done").await;
    click(&c, &tid("write-report")).await;
    let report = project_dir.join("final-report.html");
    assert_eq!(
        text(&c, &tid("report-path")).await,
        report.display().to_string()
    );
    assert!(std::fs::read_to_string(&report)
        .unwrap()
        .contains("</html>"));
    scroll_to(&c, &tid("decommission-summary")).await;
    shot(&c, "36-decommission-report.png").await;
    c.close().await.unwrap();
}
