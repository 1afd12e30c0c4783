//! The app on Tauri's mock runtime (no display), for the IPC tests: every command invoked as the
//! UI invokes it (argument names and shapes, results and errors as the UI receives them), with
//! one password store in memory, or on a host the test gives.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use ferry_app::AppState;
use ferry_project::host::ProjectHost;
use ferry_vault::{MemoryVault, Secret, Vault, VaultError};
use serde_json::Value;
use tauri::test::{
    get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime, INVOKE_KEY,
};
use tauri::webview::InvokeRequest;
use tauri::{App, WebviewWindow, WebviewWindowBuilder};

pub struct Running {
    _app: App<MockRuntime>,
    webview: WebviewWindow<MockRuntime>,
    /// The password store the commands use (a fresh, unused one when the test gave the host).
    pub vault: Arc<MemoryVault>,
}

/// The system clock and one password store in memory, shared by every vault opened.
struct TestHost {
    vault: Arc<MemoryVault>,
}

struct SharedVault(Arc<MemoryVault>);

impl Vault for SharedVault {
    fn get(&self, host: &str, user: &str) -> Result<Option<Secret>, VaultError> {
        self.0.get(host, user)
    }
    fn set(&self, host: &str, user: &str, secret: &Secret) -> Result<(), VaultError> {
        self.0.set(host, user, secret)
    }
    fn delete(&self, host: &str, user: &str) -> Result<bool, VaultError> {
        self.0.delete(host, user)
    }
    fn describe(&self) -> String {
        self.0.describe()
    }
}

impl ProjectHost for TestHost {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
    fn vault(&self) -> Result<Box<dyn Vault>, String> {
        Ok(Box::new(SharedVault(self.vault.clone())))
    }
}

/// The app with its migration in `project_dir` and an empty password store in memory.
pub fn start(project_dir: &Path) -> Running {
    start_with_vault(project_dir, Arc::new(MemoryVault::new()))
}

/// The app with its migration in `project_dir` and the password store `vault`.
pub fn start_with_vault(project_dir: &Path, vault: Arc<MemoryVault>) -> Running {
    let host = Arc::new(TestHost {
        vault: vault.clone(),
    });
    let state = AppState::new(
        project_dir.join("migration.ferry"),
        host as Arc<dyn ProjectHost>,
    );
    Running {
        vault,
        ..start_with_state(state)
    }
}

/// The app with the state the test made (e.g. on the app's own host and its password file).
pub fn start_with_state(state: AppState) -> Running {
    let app = ferry_app::with_commands(mock_builder())
        .manage(state)
        .build(mock_context(noop_assets()))
        .expect("app on the mock runtime");
    let webview = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .expect("main webview");
    Running {
        _app: app,
        webview,
        vault: Arc::new(MemoryVault::new()),
    }
}

impl Running {
    pub fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        get_ipc_response(
            &self.webview,
            InvokeRequest {
                cmd: cmd.into(),
                callback: tauri::ipc::CallbackFn(0),
                error: tauri::ipc::CallbackFn(1),
                url: "tauri://localhost".parse().unwrap(),
                body: tauri::ipc::InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|body| body.deserialize::<Value>().expect("JSON result"))
    }

    /// The password stored for (`host`, `user`) in the store in memory, in clear.
    pub fn stored(&self, host: &str, user: &str) -> Option<String> {
        self.vault
            .get(host, user)
            .unwrap()
            .map(|s| s.expose().to_string())
    }
}
