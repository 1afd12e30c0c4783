//! The commands through Tauri's IPC layer on the mock runtime (no display): argument names and
//! shapes as the UI sends them, results and errors as the UI receives them, and the migration
//! remembered across a restart of the app.

mod mock_app;

use mock_app::start;
use serde_json::{json, Value};

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
    assert_eq!(view["inventory"], Value::Null);
    let phases = view["status"]["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 11);
    assert_eq!(phases[0]["phase"], "discover");
    assert_eq!(phases[0]["state"], "not_started");
    assert_eq!(phases[8]["phase"], "final_sync");
    assert_eq!(
        view["project_file"],
        dir.path().join("migration.ferry").display().to_string()
    );
}

#[test]
fn discovery_of_a_server_copy_is_returned_remembered_decided_and_forgotten() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(&tmp.path().join("fixture"));
    let project = tmp.path().join("project");
    let expected = ferry_project::discover::run_copy(&root).unwrap();
    assert!(!expected.warnings.is_empty(), "the fixture has warnings");

    let app = start(&project);
    let view = app
        .invoke(
            "discover",
            json!({ "source": { "kind": "copy", "root": root.to_str().unwrap() } }),
        )
        .unwrap();
    assert_eq!(view["source"]["kind"], "copy");
    assert_eq!(view["source"]["root"], root.to_str().unwrap());
    assert_eq!(
        view["inventory"]["inventory"],
        serde_json::to_value(&expected).unwrap()
    );
    assert!(view["inventory"]["taken_at"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(view["status"]["phases"][0]["state"], "needs_attention");
    assert_eq!(
        view["plan"].as_array().unwrap().len(),
        expected.accounts.len() + expected.training_mailboxes.len()
    );
    drop(app);

    // quit and reopen: the same migration comes back
    let app = start(&project);
    let again = app.invoke("app_view", json!({})).unwrap();
    assert_eq!(again["inventory"], view["inventory"]);
    assert_eq!(again["status"], view["status"]);

    // a decision on every warning: Discover is done
    let mut last = Value::Null;
    for warning in &expected.warnings {
        let code = serde_json::to_value(warning.code).unwrap();
        last = app
            .invoke(
                "record_decision",
                json!({ "code": code, "subject": warning.subject.clone().unwrap_or_default(), "decision": "noted" }),
            )
            .unwrap();
    }
    assert_eq!(last["status"]["phases"][0]["state"], "done");
    assert_eq!(
        last["decisions"].as_array().unwrap().len(),
        expected.warnings.len()
    );

    // start over forgets it, on disk too
    let cleared = app.invoke("start_over", json!({})).unwrap();
    assert_eq!(cleared["inventory"], Value::Null);
    assert_eq!(cleared["status"]["phases"][0]["state"], "not_started");
}

#[test]
fn a_password_goes_into_the_vault_and_never_comes_back() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(&tmp.path().join("fixture"));
    let app = start(&tmp.path().join("project"));
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
    assert_eq!(view["destination"]["imap"]["host"], "imap.new.example");
    let account = view["plan"][0]["source_address"]
        .as_str()
        .unwrap()
        .to_string();
    let secret = "Zebra-Quartz-7781!";
    let view = app
        .invoke(
            "set_password",
            json!({ "sourceAddress": account, "password": secret }),
        )
        .unwrap();
    assert!(
        !view.to_string().contains(secret),
        "the view carries the password"
    );
    let err = app
        .invoke(
            "set_password",
            json!({ "sourceAddress": account, "password": "" }),
        )
        .unwrap_err();
    assert_eq!(err["code"], "invalid", "{err}");
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
    let file = tmp.path().join("migration.ferry");
    std::fs::write(&file, b"{ not a database").unwrap();
    let app = start(tmp.path());
    let err = app.invoke("app_view", json!({})).unwrap_err();
    assert_eq!(err["code"], "project_file", "{err}");
    assert!(err["message"]
        .as_str()
        .unwrap()
        .contains(file.to_str().unwrap()));
    assert_eq!(std::fs::read(&file).unwrap(), b"{ not a database");
}
