//! The real app, end to end: the built `ferry-app` binary (with its UI embedded) runs under X
//! (Xvfb in CI), driven over WebDriver by tauri-driver + WebKitWebDriver. It is pointed at a
//! materialized copy of the fixture server, runs discovery, and the Discover screen is checked
//! against what `ferry_project::discover::run` finds for the same copy. Screenshots of each screen
//! go to `artifacts/app-e2e/`.
//!
//! Needs a display, `tauri-driver` and `WebKitWebDriver`, and the binary built with
//! `--features ferry-app/custom-protocol` (else it loads the Vite dev server), hence `#[ignore]`:
//!   (cd ui && npm run build)
//!   xvfb-run -a cargo test -p ferry-app --features custom-protocol --test app_webdriver -- --ignored

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
    fn start(project_dir: &Path) -> Driver {
        let port = free_port();
        let child = Command::new("tauri-driver")
            .args(["--port", &port.to_string()])
            .args(["--native-port", &free_port().to_string()])
            .env("FERRY_PROJECT_DIR", project_dir)
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

/// The DOM's text of an element, including text WebKit's WebDriver leaves out of `text()` (the
/// small state line under each phase title).
async fn text_content(c: &Client, css: &str) -> String {
    wait_for(c, css).await;
    let value = c
        .execute(
            "return document.querySelector(arguments[0]).textContent",
            vec![json!(css)],
        )
        .await
        .expect("textContent");
    value.as_str().unwrap_or_default().to_string()
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

/// The count as the UI formats it (en-US grouping).
fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver and WebKitWebDriver; run by scripts/test under xvfb-run"]
async fn discover_screen_shows_the_fixture_server_and_survives_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(&tmp.path().join("fixture"));
    let project_dir = tmp.path().join("project");
    // What discovery finds for this copy; the screen must show the same.
    let expected = ferry_project::discover::run(&root).expect("discovery of the fixture copy");
    assert!(!expected.accounts.is_empty());

    let driver = Driver::start(&project_dir);

    // --- first run: a new migration ------------------------------------------------------
    let c = driver.session().await;
    assert_eq!(c.title().await.unwrap(), "Ferry");
    wait_for(&c, &tid("source-form")).await;
    let phases = c.find_all(Locator::Css(".phases button")).await.unwrap();
    assert_eq!(phases.len(), 11, "every phase of DESIGN.md in the sidebar");
    shot(&c, "01-start.png").await;
    let final_sync = text_content(&c, &tid("phase-final_sync")).await;
    assert!(final_sync.contains("Not built yet"), "{final_sync:?}");

    wait_for(&c, &tid("root-input"))
        .await
        .send_keys(root.to_str().unwrap())
        .await
        .unwrap();
    wait_for(&c, &tid("discover-button"))
        .await
        .click()
        .await
        .unwrap();
    wait_for(&c, &tid("results")).await;

    assert_eq!(text(&c, &tid("hostname")).await, expected.hostname);
    assert_eq!(
        text(&c, &format!("{} .tile-value", tid("summary-accounts"))).await,
        grouped(expected.accounts.len() as u64)
    );
    assert_eq!(
        text(&c, &format!("{} .tile-value", tid("summary-messages"))).await,
        grouped(expected.totals.messages)
    );
    assert_eq!(
        text(&c, &format!("{} .tile-value", tid("summary-size"))).await,
        ferry_project::discover::human_bytes(expected.totals.bytes)
    );
    for account in &expected.accounts {
        let row = text(&c, &tid(&format!("account-{}", account.short_name))).await;
        assert!(row.contains(&account.short_name), "{row}");
        if let Some(primary) = account.addresses.first() {
            assert!(row.contains(primary.as_str()), "{row} lacks {primary}");
        }
        let messages = text(
            &c,
            &format!(
                "{} {} .count",
                tid(&format!("account-{}", account.short_name)),
                tid("messages")
            ),
        )
        .await;
        assert_eq!(
            messages,
            grouped(account.messages),
            "{}",
            account.short_name
        );
    }
    let rows = c
        .find_all(Locator::Css(&format!(
            "{} tbody > tr",
            tid("accounts-table")
        )))
        .await
        .unwrap();
    assert_eq!(rows.len(), expected.accounts.len());
    // every warning is on screen, each with what to do
    let warnings = c.find_all(Locator::Css(".warning")).await.unwrap();
    assert_eq!(warnings.len(), expected.warnings.len());
    for (shown, warning) in warnings.iter().zip(&expected.warnings) {
        let t = shown.text().await.unwrap();
        assert!(
            t.contains(&warning.message),
            "{t} lacks {}",
            warning.message
        );
        assert!(t.contains("What to do:"), "{t}");
    }
    // the fixture's Server 5.4 bug: an address in the directory but not in virtual_users
    assert!(c
        .find(Locator::Css(&tid("warning-address_not_in_virtual_users")))
        .await
        .is_ok());
    assert_eq!(
        wait_for(&c, &tid("phase-discover"))
            .await
            .attr("data-state")
            .await
            .unwrap()
            .as_deref(),
        Some("needs_attention")
    );
    shot(&c, "02-discover.png").await;
    scroll_to(&c, &tid("accounts-table")).await;
    shot(&c, "03-accounts.png").await;
    scroll_to(&c, &tid("warnings")).await;
    shot(&c, "04-warnings.png").await;

    // folders on demand, for the account with the most folders
    let busiest = expected
        .accounts
        .iter()
        .max_by_key(|a| a.folders.len())
        .unwrap();
    wait_for(&c, &tid(&format!("folders-{}", busiest.short_name)))
        .await
        .click()
        .await
        .unwrap();
    let folders = text(&c, &tid(&format!("folders-of-{}", busiest.guid))).await;
    for folder in &busiest.folders {
        let name = if folder.name.is_empty() {
            "INBOX"
        } else {
            folder.name.as_str()
        };
        assert!(folders.contains(name), "{folders} lacks {name}");
    }
    shot(&c, "05-folders.png").await;

    wait_for(&c, &tid("phase-initial_sync"))
        .await
        .click()
        .await
        .unwrap();
    assert!(text(&c, &tid("not-built")).await.contains("Not built yet"));
    shot(&c, "06-not-built.png").await;
    c.close().await.unwrap();

    // --- quit and reopen: the same migration is back, without discovering again ----------
    assert!(project_dir.join("migration.json").is_file());
    let c = driver.session().await;
    wait_for(&c, &tid("results")).await;
    assert_eq!(text(&c, &tid("hostname")).await, expected.hostname);
    assert!(text(&c, &tid("results"))
        .await
        .contains(root.to_str().unwrap()));
    shot(&c, "07-reopened.png").await;

    // --- an error, with its fix: a folder that is not a server copy -------------------------
    wait_for(&c, &tid("choose-another"))
        .await
        .click()
        .await
        .unwrap();
    let input = wait_for(&c, &tid("root-input")).await;
    input.clear().await.unwrap();
    input
        .send_keys(tmp.path().join("no-such-server").to_str().unwrap())
        .await
        .unwrap();
    wait_for(&c, &tid("discover-button"))
        .await
        .click()
        .await
        .unwrap();
    // another server's discovery would replace this migration: Ferry asks first
    let question = text(&c, &tid("confirm-replace")).await;
    assert!(
        question.contains(&format!("replaces the migration of {}", expected.hostname)),
        "{question}"
    );
    shot(&c, "08-confirm-replace.png").await;
    wait_for(&c, &tid("confirm-yes"))
        .await
        .click()
        .await
        .unwrap();
    let error = wait_for(&c, &tid("error")).await;
    assert_eq!(
        error.attr("data-code").await.unwrap().as_deref(),
        Some("not_found")
    );
    assert_eq!(
        text(&c, &tid("error-message")).await,
        format!(
            "Ferry cannot open the folder {}: it does not exist.",
            tmp.path().join("no-such-server").display()
        )
    );
    assert!(text(&c, &tid("error-fix"))
        .await
        .contains("Library/Server/Mail"));
    shot(&c, "09-error.png").await;
    c.close().await.unwrap();
}
