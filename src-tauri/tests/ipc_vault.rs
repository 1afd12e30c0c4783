//! The password file's passphrase through Tauri's IPC layer on the mock runtime, on the app's own
//! host (`AppHost`, an encrypted file in the test's folder): a command needing the vault answers
//! `vault_locked` until the passphrase is given, a first passphrase creates the file, a restart
//! forgets it, a wrong one is refused in words, and `FERRY_VAULT_PASSPHRASE` (here: the settings'
//! environment passphrase) still wins. No response ever carries the passphrase.

mod mock_app;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_app::{AppHost, AppState, VaultSettings};
use ferry_project::credentials::VaultChoice;
use ferry_vault::{FileVault, Vault};
use secrecy::SecretString;
use serde_json::{json, Value};

const PASSWORD: &str = "Zebra-Quartz-7781!";
const PASSPHRASE: &str = "first passphrase";

/// The app, every answer of which is checked to carry no passphrase and no password.
struct Running(mock_app::Running);

impl Running {
    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        let answer = self.0.invoke(cmd, args);
        let shown = match &answer {
            Ok(v) | Err(v) => v.to_string(),
        };
        for secret in [PASSPHRASE, "the wrong passphrase", PASSWORD] {
            assert!(!shown.contains(secret), "{cmd} answered {shown}");
        }
        answer
    }
}

/// The app on its own host with the password file at `vault`; `env`: the environment's passphrase.
fn start(project: &Path, vault: &Path, env: Option<&str>) -> Running {
    let host = Arc::new(AppHost::new(VaultSettings {
        choice: VaultChoice::File,
        file: Some(vault.to_path_buf()),
        env_passphrase: env.map(|p| SecretString::from(p.to_string())),
    }));
    Running(mock_app::start_with_state(AppState::for_app(
        project.join("migration.ferry"),
        host,
    )))
}

/// A migration discovered from the fixture with another IMAP host chosen; the first account's
/// old address.
fn prepared(tmp: &Path) -> (PathBuf, String) {
    let root = ferry_testkit::materialize_fixture(&tmp.join("fixture"));
    let project = tmp.join("project");
    let app = start(&project, &tmp.join("unused.ferry-vault"), None);
    app.invoke(
        "discover",
        json!({ "source": { "kind": "copy", "root": root.to_str().unwrap() } }),
    )
    .unwrap();
    let view = app
        .invoke(
            "choose_destination",
            json!({ "choice": { "preset": "genericImap", "imap_host": "imap.new.example", "imap_port": 993,
                "imap_security": "tls", "smtp_host": null, "pinned_sha256": null } }),
        )
        .unwrap();
    let account = view["plan"][0]["source_address"]
        .as_str()
        .unwrap()
        .to_string();
    (project, account)
}

fn stored(vault: &Path, passphrase: &str, user: &str) -> Option<String> {
    FileVault::open_existing(vault, &SecretString::from(passphrase.to_string()))
        .unwrap()
        .get("imap.new.example", user)
        .unwrap()
        .map(|s| s.expose().to_string())
}

#[test]
fn a_locked_file_asks_creates_forgets_on_restart_and_refuses_a_wrong_passphrase() {
    let tmp = tempfile::tempdir().unwrap();
    let (project, account) = prepared(tmp.path());
    let vault = tmp.path().join("data/ferry/passwords.ferry-vault");
    let shown = vault.display().to_string();
    let login = account.clone();

    // First run: no file yet.
    let app = start(&project, &vault, None);
    assert_eq!(
        app.invoke("vault_status", json!({})).unwrap(),
        json!({ "file": shown, "file_exists": false, "locked": true, "min_length": 10 })
    );
    let locked = json!({ "code": "vault_locked", "message": format!(
        "Ferry keeps passwords in an encrypted file here ({shown}): choose its passphrase to continue."
    ) });
    assert_eq!(
        app.invoke(
            "set_password",
            json!({ "sourceAddress": account, "password": PASSWORD })
        )
        .unwrap_err(),
        locked
    );
    // A job is not started while the file is locked (its thread could not read a password).
    assert_eq!(
        app.invoke("start_sync", json!({ "kind": "initial_sync" }))
            .unwrap_err(),
        locked
    );
    assert_eq!(app.invoke("cancel_job", json!({})).unwrap(), json!(false));
    assert_eq!(
        app.invoke("unlock_vault", json!({ "passphrase": "too short" }))
            .unwrap_err(),
        json!({ "code": "invalid", "message": "Choose a passphrase of at least 10 characters." })
    );
    assert!(!vault.exists());
    assert_eq!(
        app.invoke("unlock_vault", json!({ "passphrase": PASSPHRASE }))
            .unwrap(),
        json!({ "file": shown, "file_exists": true, "locked": false, "min_length": 10 })
    );
    app.invoke(
        "set_password",
        json!({ "sourceAddress": account, "password": PASSWORD }),
    )
    .unwrap();
    let bytes = std::fs::read(&vault).unwrap();
    for clear in [PASSWORD, PASSPHRASE, "imap.new.example"] {
        assert!(
            !bytes.windows(clear.len()).any(|w| w == clear.as_bytes()),
            "{clear} is in the file in clear"
        );
    }
    let user = ferry_project::project::Project::open(&project.join("migration.ferry"))
        .unwrap()
        .plan()
        .unwrap()
        .into_iter()
        .find(|a| a.source_address == login)
        .unwrap()
        .dest_address;
    assert_eq!(stored(&vault, PASSPHRASE, &user).as_deref(), Some(PASSWORD));
    drop(app);

    // The app starts again: the passphrase is asked again, a wrong one is refused.
    let app = start(&project, &vault, None);
    assert_eq!(
        app.invoke("vault_status", json!({})).unwrap(),
        json!({ "file": shown, "file_exists": true, "locked": true, "min_length": 10 })
    );
    let locked = json!({ "code": "vault_locked", "message": format!(
        "Ferry's password file {shown} is locked: enter its passphrase to continue."
    ) });
    assert_eq!(
        app.invoke(
            "set_password",
            json!({ "sourceAddress": account, "password": "Second-Pw-99" })
        )
        .unwrap_err(),
        locked
    );
    assert_eq!(
        app.invoke("start_sync", json!({ "kind": "initial_sync" }))
            .unwrap_err(),
        locked
    );
    assert_eq!(
        app.invoke(
            "unlock_vault",
            json!({ "passphrase": "the wrong passphrase" })
        )
        .unwrap_err(),
        json!({ "code": "invalid", "message": "That passphrase does not open Ferry's password file. Check it (Caps Lock, keyboard layout) and try again." })
    );
    assert_eq!(
        app.invoke("vault_status", json!({})).unwrap()["locked"],
        json!(true)
    );
    let before = std::fs::read(&vault).unwrap();
    assert_eq!(
        app.invoke("unlock_vault", json!({ "passphrase": PASSPHRASE }))
            .unwrap()["locked"],
        json!(false)
    );
    // checking wrote nothing
    assert_eq!(std::fs::read(&vault).unwrap(), before);
    app.invoke(
        "set_password",
        json!({ "sourceAddress": account, "password": "Second-Pw-99" }),
    )
    .unwrap();
    assert_eq!(
        stored(&vault, PASSPHRASE, &user).as_deref(),
        Some("Second-Pw-99")
    );
}

#[test]
fn the_environment_passphrase_wins_and_no_dialog_is_needed() {
    let tmp = tempfile::tempdir().unwrap();
    let (project, account) = prepared(tmp.path());
    let vault = tmp.path().join("v.ferry-vault");
    let app = start(&project, &vault, Some("the environment's passphrase"));
    assert_eq!(
        app.invoke("vault_status", json!({})).unwrap(),
        json!({ "file": vault.display().to_string(), "file_exists": false, "locked": false, "min_length": 10 })
    );
    app.invoke(
        "set_password",
        json!({ "sourceAddress": account, "password": PASSWORD }),
    )
    .unwrap();
    FileVault::open_existing(
        &vault,
        &SecretString::from("the environment's passphrase".to_string()),
    )
    .unwrap();
    assert_eq!(
        app.invoke("unlock_vault", json!({ "passphrase": PASSPHRASE }))
            .unwrap_err(),
        json!({ "code": "invalid", "message": "The password file's passphrase is already given to this run of Ferry (by its environment)." })
    );
}
