//! Microsoft 365 and Google Workspace: Ferry signs in as the admin's app (an Entra app registration
//! or a Google service account) for every mailbox. Each command is one `ferry_project` call. The
//! client secret goes one way (web view -> Rust -> vault); key files are named by the path the
//! system's file chooser returned and read in Rust, never by the web view; what comes back is the
//! project's view, whose sign-in settings hold no secret.
//!
//! For tests and rehearsals on loopback, the environment can point the two presets elsewhere (as
//! `FERRY_NOW` moves the clock): `FERRY_OAUTH_IMAP` (`host:port`, TLS) and
//! `FERRY_OAUTH_IMAP_SHA256` (that server's certificate) replace the provider's IMAP server,
//! `FERRY_OAUTH_TOKEN_URL` its token endpoint (`{tenant}` stands for the tenant entered).

use std::path::Path;

use ferry_project::phases::destination::{OAuthEndpoints, OAuthSignIn};
use ferry_vault::Secret;
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Runtime, State};
use ts_rs::TS;

use crate::commands::{open, view, AppView};
use crate::error::CommandError;
use crate::AppState;

/// Which file the Destination screen asks the system's file chooser for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum OAuthFile {
    /// The certificate uploaded to the Microsoft 365 app (PEM).
    Certificate,
    /// That certificate's private key (PEM).
    PrivateKey,
    /// The Google service account's JSON key.
    ServiceAccountKey,
}

/// The loopback servers a test gives in the environment (see the module's documentation).
pub fn endpoints_from_env() -> OAuthEndpoints {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    OAuthEndpoints {
        imap: var("FERRY_OAUTH_IMAP").and_then(|v| {
            let (host, port) = v.trim().rsplit_once(':')?;
            Some((host.to_string(), port.parse().ok()?))
        }),
        imap_sha256: var("FERRY_OAUTH_IMAP_SHA256"),
        token_url: var("FERRY_OAUTH_TOKEN_URL"),
    }
}

/// Opens the system's file chooser for a key or certificate file; `None` when the admin cancels.
/// Only the path comes back: the file is read when the sign-in is saved.
#[tauri::command]
pub async fn choose_oauth_file<R: Runtime>(app: AppHandle<R>, what: OAuthFile) -> Option<String> {
    use tauri_plugin_dialog::DialogExt;
    let (title, name, extensions): (&str, &str, &[&str]) = match what {
        OAuthFile::Certificate => (
            "Choose the app's certificate (PEM)",
            "Certificate",
            &["pem", "crt", "cer"],
        ),
        OAuthFile::PrivateKey => (
            "Choose the certificate's private key (PEM)",
            "Private key",
            &["pem", "key"],
        ),
        OAuthFile::ServiceAccountKey => (
            "Choose the service account's JSON key",
            "JSON key",
            &["json"],
        ),
    };
    let picked = app
        .dialog()
        .file()
        .set_title(title)
        .add_filter(name, extensions)
        .blocking_pick_file()?;
    picked.into_path().ok().map(|p| p.display().to_string())
}

/// Chooses Microsoft 365 or Google Workspace with the app's sign-in: the secret into the vault,
/// the settings into the project.
#[tauri::command]
pub fn choose_oauth_destination(
    state: State<'_, AppState>,
    sign_in: OAuthSignIn,
    client_secret: Option<String>,
) -> Result<AppView, CommandError> {
    let mut project = open(&state)?;
    ferry_project::phases::destination::choose_with_oauth(
        &mut project,
        state.host.as_ref(),
        &sign_in,
        client_secret.map(Secret::from).as_ref(),
        &endpoints_from_env(),
    )
    .map_err(|e| crate::error::phase_error(e, Path::new("/")))?;
    view(&state)
}
