//! The Profiles, Quarantine and Decommission commands through Tauri's IPC layer on the mock
//! runtime (no display), on the simulated old server's files: argument names and shapes as the UI
//! sends them, the files they write, and the errors as the UI receives them. (The harness is
//! tests/ipc.rs's.) Nothing here opens a window or a browser: "Show in Finder" is only tested
//! where it refuses.

mod mock_app;

use std::path::Path;

use mock_app::{start, Running};
use serde_json::{json, Value};

/// A migration of the fixture to a generic IMAP host (nothing is contacted: these phases read the
/// old server's files and write local ones).
fn discovered(tmp: &Path) -> (Running, std::path::PathBuf) {
    let root = ferry_testkit::materialize_fixture(&tmp.join("fixture"));
    let app = start(&tmp.join("project"));
    app.invoke(
        "discover",
        json!({ "source": { "kind": "copy", "root": root.to_str().unwrap() } }),
    )
    .unwrap();
    app.invoke(
        "choose_destination",
        json!({ "choice": { "preset": "genericImap", "imap_host": "imap.new.example", "imap_port": 993,
            "imap_security": "tls", "smtp_host": null, "pinned_sha256": null } }),
    )
    .unwrap();
    (app, root)
}

#[test]
fn profiles_are_written_one_per_included_person_into_the_chosen_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _root) = discovered(tmp.path());
    let view = app.invoke("app_view", json!({})).unwrap();
    let mut people: Vec<String> = view["plan"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["included"] == true && a["present"] == true && a["kind"] == "user")
        .map(|a| a["dest_address"].as_str().unwrap().to_string())
        .collect();
    people.sort();
    assert!(!people.is_empty());
    let out = tmp.path().join("profiles");
    let report = app
        .invoke(
            "export_profiles",
            json!({ "choice": { "out_dir": out.to_str().unwrap(), "with_passwords": false,
                "imap_with_native": false, "ews_on_mac": false, "organization_name": null } }),
        )
        .unwrap();
    assert_eq!(report["outDir"], out.to_str().unwrap());
    assert_eq!(report["containsPasswords"], false);
    let mut addresses: Vec<String> = report["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["address"].as_str().unwrap().to_string())
        .collect();
    addresses.sort();
    assert_eq!(addresses, people);
    for profile in report["profiles"].as_array().unwrap() {
        let file = out.join(profile["file"].as_str().unwrap());
        assert!(file.is_file(), "{} was not written", file.display());
        assert_eq!(profile["asksFor"], json!(["password"]));
    }
}

#[test]
fn profiles_without_a_folder_are_refused_in_words() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _root) = discovered(tmp.path());
    let err = app
        .invoke(
            "export_profiles",
            json!({ "choice": { "out_dir": " ", "with_passwords": false,
                "imap_with_native": false, "ews_on_mac": false, "organization_name": null } }),
        )
        .unwrap_err();
    assert_eq!(err["code"], "not_ready");
    assert_eq!(err["message"], "Choose a folder for the profiles.");
}

#[test]
fn the_quarantine_is_archived_to_mbox_files_and_a_second_run_adds_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _root) = discovered(tmp.path());
    let out = tmp.path().join("quarantine");
    let target = json!({ "target": { "to": "mbox", "folder": out.to_str().unwrap() } });
    let first = app.invoke("archive_quarantine", target.clone()).unwrap();
    let mailboxes = first["mailboxes"].as_array().unwrap();
    assert!(
        !mailboxes.is_empty(),
        "the fixture keeps junk-training mail: {first}"
    );
    let mut found = 0;
    for m in mailboxes {
        assert_eq!(m["added"], m["found"], "{m}");
        assert_eq!(m["failed"], 0, "{m}");
        assert!(Path::new(m["destination"].as_str().unwrap()).starts_with(&out));
        assert!(Path::new(m["destination"].as_str().unwrap()).is_file());
        found += m["found"].as_u64().unwrap();
    }
    assert!(found > 0);
    let again = app.invoke("archive_quarantine", target).unwrap();
    for (m, before) in again["mailboxes"].as_array().unwrap().iter().zip(mailboxes) {
        assert_eq!(m["added"], 0, "{m}");
        assert_eq!(m["already_there"], before["found"], "{m}");
    }
}

#[test]
fn decommission_lists_the_checklist_writes_the_report_and_records_the_clone() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _root) = discovered(tmp.path());
    let err = app
        .invoke("open_recorded", json!({ "what": "final_report" }))
        .unwrap_err();
    assert_eq!(err["code"], "not_found");
    assert_eq!(
        err["message"],
        "No final report yet: click Write the final report first."
    );
    let first = app
        .invoke("decommission", json!({ "writeReport": false }))
        .unwrap();
    let ids: Vec<&str> = first["view"]["checklist"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "accounts_final_synced",
            "dns_all_new",
            "old_server_quiet",
            "quarantine_archived",
            "profiles_exported",
            "server_clone_kept"
        ]
    );
    assert_eq!(first["view"]["checklist"]["ready"], false);
    let clone = |v: &Value| {
        v["view"]["checklist"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == "server_clone_kept")
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(clone(&first), "not_yet");
    assert_eq!(first["view"]["report_html"], Value::Null);

    app.invoke("mark_clone_kept", json!({})).unwrap();
    let second = app
        .invoke("decommission", json!({ "writeReport": true }))
        .unwrap();
    assert_eq!(clone(&second), "done");
    let report = tmp.path().join("project").join("final-report.html");
    assert_eq!(second["view"]["report_html"], report.to_str().unwrap());
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("</html>"), "{html}");
}

#[test]
fn show_in_finder_before_an_export_says_what_to_do_first() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _root) = discovered(tmp.path());
    let err = app
        .invoke("open_recorded", json!({ "what": "profiles_folder" }))
        .unwrap_err();
    assert_eq!(err["code"], "not_found");
    assert_eq!(
        err["message"],
        "No profiles exported yet: export them first."
    );
    let err = app
        .invoke("open_recorded", json!({ "what": "somewhere_else" }))
        .unwrap_err();
    assert!(err.is_string(), "a malformed request is refused: {err}");
}

#[test]
fn keeping_a_refused_message_of_an_account_not_in_the_plan_is_refused_in_words() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _root) = discovered(tmp.path());
    let err = app
        .invoke(
            "resolve_message",
            json!({ "account": "nobody@example.com", "message": { "folder": "INBOX", "key": "7" },
                "way": "wrapped" }),
        )
        .unwrap_err();
    assert_eq!(err["code"], "invalid", "{err}");
    assert_eq!(
        err["message"],
        "no account \"nobody@example.com\" in the migration plan; run Discover first, or check the address"
    );
}
