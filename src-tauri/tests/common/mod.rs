//! What every real-app test shares: tauri-driver started with the app's environment, a WebDriver
//! session on the built `ferry-app`, screenshots into `artifacts/app-e2e/`, and the waits and
//! clicks that tolerate a screen re-rendering under live progress. Each test file uses a part.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

pub const APP: &str = env!("CARGO_BIN_EXE_ferry-app");

/// The encrypted password file's passphrase the tests give the app (no keyring runs under Xvfb).
pub const PASSPHRASE: &str = "app-e2e passphrase";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The app's environment for one test: its migration folder, the encrypted password file, the
/// passphrase (`None`: the app has to ask for it), DNS resolvers, and anything else.
pub struct AppEnv {
    pub project_dir: PathBuf,
    pub vault: PathBuf,
    pub passphrase: Option<String>,
    pub dns: Vec<SocketAddr>,
    pub extra: Vec<(String, String)>,
}

impl AppEnv {
    pub fn new(project_dir: &Path, vault: &Path) -> AppEnv {
        AppEnv {
            project_dir: project_dir.to_path_buf(),
            vault: vault.to_path_buf(),
            passphrase: Some(PASSPHRASE.to_string()),
            dns: Vec::new(),
            extra: Vec::new(),
        }
    }

    pub fn dns(mut self, resolvers: &[SocketAddr]) -> AppEnv {
        self.dns = resolvers.to_vec();
        self
    }

    pub fn without_passphrase(mut self) -> AppEnv {
        self.passphrase = None;
        self
    }

    pub fn env(mut self, name: &str, value: impl Into<String>) -> AppEnv {
        self.extra.push((name.to_string(), value.into()));
        self
    }
}

/// tauri-driver on its own ports, with the app's environment (the app inherits it). Stopped with
/// SIGTERM: SIGKILL would orphan WebKitWebDriver.
pub struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    pub fn start(env: &AppEnv) -> Driver {
        let port = free_port();
        let mut command = Command::new("tauri-driver");
        command
            .args(["--port", &port.to_string()])
            .args(["--native-port", &free_port().to_string()])
            .env("FERRY_PROJECT_DIR", &env.project_dir)
            .env_remove("FERRY_PROJECT")
            .env("FERRY_VAULT", "file")
            .env("FERRY_VAULT_FILE", &env.vault)
            .env_remove("FERRY_VAULT_PASSPHRASE")
            .env_remove("FERRY_DNS_RESOLVERS")
            .env_remove("FERRY_NOW");
        if let Some(passphrase) = &env.passphrase {
            command.env("FERRY_VAULT_PASSPHRASE", passphrase);
        }
        if !env.dns.is_empty() {
            let resolvers: Vec<String> = env.dns.iter().map(|a| a.to_string()).collect();
            command.env("FERRY_DNS_RESOLVERS", resolvers.join(","));
        }
        for (name, value) in &env.extra {
            command.env(name, value);
        }
        let child = command
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

    pub async fn session(&self) -> Client {
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

pub fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts/app-e2e");
    std::fs::create_dir_all(&dir).expect("artifacts folder");
    dir
}

pub async fn shot(c: &Client, name: &str) {
    // let WebKit paint the last render first
    tokio::time::sleep(Duration::from_millis(300)).await;
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(artifacts().join(name), png).expect("write screenshot");
}

/// The CSS selector of a `data-testid`.
pub fn tid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

pub async fn wait_for(c: &Client, css: &str) -> Element {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
}

/// The element's text. The screens re-render as progress arrives, so an element found a moment
/// ago may have been replaced: find it again then.
pub async fn text(c: &Client, css: &str) -> String {
    let mut tries = 0;
    loop {
        match wait_for(c, css).await.text().await {
            Ok(text) => return text,
            Err(fantoccini::error::CmdError::Standard(e))
                if e.error == fantoccini::error::ErrorStatus::StaleElementReference
                    && tries < 20 =>
            {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("text of {css}: {e}"),
        }
    }
}

pub async fn scroll_to(c: &Client, css: &str) {
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
pub fn grouped(n: u64) -> String {
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

/// Scrolls the element to the middle of the window (clear of the fixed footer), then clicks it.
/// A screen re-rendered between finding and clicking (a view arriving) is found again.
pub async fn click(c: &Client, css: &str) {
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

/// Types into a field (cleared first).
pub async fn type_into(c: &Client, css: &str, value: &str) {
    let field = wait_for(c, css).await;
    field.clear().await.expect("clear field");
    field.send_keys(value).await.expect("type into field");
}

/// Waits until `css`'s text satisfies `ok` (the screens update as events arrive); a screenshot
/// named after `what` is saved when it never does.
pub async fn wait_text(c: &Client, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(el) = c.find(Locator::Css(css)).await {
            if let Ok(t) = el.text().await {
                if ok(&t) {
                    return t;
                }
            }
        }
        if Instant::now() >= deadline {
            shot(c, &format!("failed-waiting-{}.png", what.replace(' ', "-"))).await;
            panic!("{css}: waited for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `css`'s `data-state` attribute is `state`.
pub async fn wait_state(c: &Client, css: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(el) = c.find(Locator::Css(css)).await {
            if el.attr("data-state").await.ok().flatten().as_deref() == Some(state) {
                return;
            }
        }
        if Instant::now() >= deadline {
            shot(c, &format!("failed-waiting-state-{state}.png")).await;
            panic!("{css}: waited for state {state}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The test's side of the project: the same file vault and passphrase as the app's environment.
pub struct PrepHost {
    pub vault: PathBuf,
}

impl ferry_project::host::ProjectHost for PrepHost {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
    fn vault(&self) -> Result<Box<dyn ferry_vault::Vault>, String> {
        ferry_project::credentials::open_vault(
            ferry_project::credentials::VaultChoice::File,
            Some(&self.vault),
            &mut |_| Ok(secrecy::SecretString::from(PASSPHRASE.to_string())),
        )
        .map_err(|e| e.to_string())
    }
}

/// Discovers a copy of the old server into the project at `project_path` (the step the wizard
/// test clicks through), for tests that start on a later screen.
pub fn discover_copy(
    project_path: &Path,
    host: &dyn ferry_project::host::ProjectHost,
    root: &Path,
) -> ferry_project::project::Project {
    let mut project = ferry_project::project::Project::open(project_path).unwrap();
    ferry_project::phases::discover::discover(
        &mut project,
        host,
        Some(ferry_project::store::Source {
            kind: ferry_project::store::SourceKind::Copy,
            root: root.display().to_string(),
        }),
    )
    .unwrap();
    project
}

/// Chooses `server` (the test kit's Dovecot on loopback) as the new host, "another IMAP host":
/// reached at `port` (its own IMAPS port, or a fault proxy's in front of it), TLS, its
/// certificate pinned.
pub fn choose_loopback_host(
    project: &mut ferry_project::project::Project,
    host: &dyn ferry_project::host::ProjectHost,
    server: &ferry_testkit::Dovecot,
    port: u16,
) {
    ferry_project::phases::destination::choose(
        project,
        host,
        &ferry_project::phases::destination::DestinationChoice {
            preset: ferry_project::destination::PresetId::GenericImap,
            imap_host: Some(server.host().to_string()),
            imap_port: Some(port),
            imap_security: Some(ferry_project::destination::Security::Tls),
            smtp_host: None,
            pinned_sha256: Some(server.cert_sha256()),
        },
    )
    .unwrap();
}
