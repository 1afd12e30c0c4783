//! The commands through Tauri's IPC layer on the mock runtime (no display): argument names and
//! shapes as the UI sends them, results and errors as the UI receives them, and the migration
//! remembered across a restart of the app.

use std::path::Path;

use ferry_app::AppState;
use ferry_project::store::ProjectStore;
use serde_json::{json, Value};
use tauri::test::{
    get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime, INVOKE_KEY,
};
use tauri::webview::InvokeRequest;
use tauri::{App, WebviewWindow, WebviewWindowBuilder};

struct Running {
    _app: App<MockRuntime>,
    webview: WebviewWindow<MockRuntime>,
}

fn start(project_dir: &Path) -> Running {
    let app = ferry_app::with_commands(mock_builder())
        .manage(AppState::new(ProjectStore::in_dir(project_dir)))
        .build(mock_context(noop_assets()))
        .expect("app on the mock runtime");
    let webview = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .expect("main webview");
    Running { _app: app, webview }
}

impl Running {
    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
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
}

#[test]
fn host_info_tells_the_ui_where_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(dir.path());
    let info = app.invoke("host_info", json!({})).unwrap();
    // Literal answers per platform (not the same cfg! the command uses): only a Mac can be the
    // old server.
    #[cfg(target_os = "linux")]
    {
        assert_eq!(info["os"], "linux");
        assert_eq!(info["this_mac_available"], false);
    }
    #[cfg(target_os = "macos")]
    {
        assert_eq!(info["os"], "macos");
        assert_eq!(info["this_mac_available"], true);
    }
}

#[test]
fn a_new_migration_has_every_phase_and_nothing_discovered() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(dir.path());
    let view = app.invoke("app_view", json!({})).unwrap();
    assert_eq!(view["migration"], Value::Null);
    let phases = view["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 11);
    assert_eq!(phases[0]["phase"], "discover");
    assert_eq!(phases[0]["state"], "not_started");
    assert_eq!(phases[8]["phase"], "final_sync");
    assert_eq!(phases[8]["built"], false);
    assert!(view["project_file"]
        .as_str()
        .unwrap()
        .ends_with("migration.json"));
}

#[test]
fn discovery_of_a_server_copy_is_returned_remembered_and_forgotten() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(&tmp.path().join("fixture"));
    let project = tmp.path().join("project");
    let expected = ferry_project::discover::run(&root).unwrap();

    let app = start(&project);
    let view = app
        .invoke(
            "discover",
            json!({ "source": { "kind": "copy", "root": root.to_str().unwrap() } }),
        )
        .unwrap();
    let migration = &view["migration"];
    assert_eq!(migration["source"]["kind"], "copy");
    assert_eq!(migration["source"]["root"], root.to_str().unwrap());
    assert_eq!(
        migration["inventory"],
        serde_json::to_value(&expected).unwrap()
    );
    assert!(migration["discovered_at"].as_i64().unwrap() > 1_700_000_000);
    let discover = &view["phases"][0];
    let expected_state = if expected.warnings.is_empty() {
        "done"
    } else {
        "needs_attention"
    };
    assert_eq!(discover["state"], expected_state);
    drop(app);

    // quit and reopen: the same migration comes back
    let app = start(&project);
    let again = app.invoke("app_view", json!({})).unwrap();
    assert_eq!(again, view);

    // start over forgets it, on disk too
    let cleared = app.invoke("start_over", json!({})).unwrap();
    assert_eq!(cleared["migration"], Value::Null);
    assert_eq!(cleared["phases"][0]["state"], "not_started");
    assert!(!project.join("migration.json").exists());
}

#[test]
fn a_folder_that_is_not_a_server_is_an_error_with_a_code() {
    let tmp = tempfile::tempdir().unwrap();
    let app = start(&tmp.path().join("project"));
    let missing = tmp.path().join("nothing-here");
    let err = app
        .invoke(
            "discover",
            json!({ "source": { "kind": "copy", "root": missing.to_str().unwrap() } }),
        )
        .unwrap_err();
    assert_eq!(err["code"], "not_found", "{err}");
    assert_eq!(
        err["message"],
        format!(
            "Ferry cannot open the folder {}: it does not exist.",
            missing.display()
        )
    );

    let err = app
        .invoke(
            "discover",
            json!({ "source": { "kind": "copy", "root": "  " } }),
        )
        .unwrap_err();
    assert_eq!(err["code"], "not_found", "{err}");

    // nothing was remembered
    let view = app.invoke("app_view", json!({})).unwrap();
    assert_eq!(view["migration"], Value::Null);
}

/// A copy without the saved output of serveradmin and dscl is refused, naming the file it lacks;
/// on a Mac it would otherwise be read with that Mac's own directory.
#[test]
fn a_copy_without_saved_command_outputs_is_refused_with_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(&tmp.path().join("fixture"));
    std::fs::remove_dir_all(root.join("commands")).unwrap();
    let app = start(&tmp.path().join("project"));
    let err = app
        .invoke(
            "discover",
            json!({ "source": { "kind": "copy", "root": root.to_str().unwrap() } }),
        )
        .unwrap_err();
    assert_eq!(err["code"], "copy_without_commands", "{err}");
    assert_eq!(
        err["message"],
        format!(
            "This copy has no saved output of `serveradmin settings mail`: commands/serveradmin-settings-mail.txt is missing in {}.",
            root.display()
        )
    );
}

/// On a machine that is not a Mac, "this Mac" is refused (it would read this machine's `/`).
#[cfg(not(target_os = "macos"))]
#[test]
fn this_mac_is_refused_off_a_mac() {
    let tmp = tempfile::tempdir().unwrap();
    let app = start(&tmp.path().join("project"));
    let err = app
        .invoke(
            "discover",
            json!({ "source": { "kind": "this_mac", "root": "" } }),
        )
        .unwrap_err();
    assert_eq!(err["code"], "server_tools", "{err}");
    assert_eq!(
        err["message"],
        "This computer is not a Mac, so it cannot be the old server. Choose a copy of the server's files."
    );
}

#[test]
fn a_malformed_request_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let app = start(tmp.path());
    let err = app
        .invoke(
            "discover",
            json!({ "source": { "kind": "somewhere", "root": "/" } }),
        )
        .unwrap_err();
    assert!(err.to_string().contains("somewhere"), "{err}");
    assert!(app.invoke("no_such_command", json!({})).is_err());
}

#[test]
fn a_damaged_migration_file_is_reported_not_discarded() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("migration.json"), b"{ not json").unwrap();
    let app = start(tmp.path());
    let err = app.invoke("app_view", json!({})).unwrap_err();
    assert_eq!(err["code"], "project_file", "{err}");
    assert!(err["message"].as_str().unwrap().contains("migration.json"));
    assert!(tmp.path().join("migration.json").exists());
}
