//! The password file commands through Tauri's IPC layer on the mock runtime: the preview as the
//! UI receives it (no password in it), the import of the file this window previewed (stored in
//! the vault under the key the syncs read), and the delete, which takes no path from the web view:
//! it removes only the file the app imported, once, and never through a symbolic link.

mod mock_app;

use std::path::Path;
use std::sync::Arc;

use ferry_vault::{MemoryVault, Vault};
use mock_app::{start_with_vault, Running};
use serde_json::json;

/// The fixture discovered, "another IMAP host" chosen, and only jane and arthur moving.
fn migration(tmp: &Path, vault: Arc<MemoryVault>) -> Running {
    let root = ferry_testkit::materialize_fixture(&tmp.join("fixture"));
    let app = start_with_vault(&tmp.join("project"), vault);
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
    for account in view["plan"].as_array().unwrap() {
        let address = account["source_address"].as_str().unwrap();
        let wanted = ["jane.doe@example.com", "arthur.smith@example.com"].contains(&address);
        app.invoke(
            "change_account",
            json!({ "sourceAddress": address, "change": { "change": "included", "value": wanted } }),
        )
        .unwrap();
    }
    app
}

const SECRETS: [&str; 3] = ["Ipc-Jane-1", "Ipc-Nobody-1", "Ipc-Bad-Secret"];

#[test]
fn a_previewed_file_is_imported_and_only_that_file_is_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = Arc::new(MemoryVault::new());
    let app = migration(tmp.path(), vault.clone());
    let file = tmp.path().join("passwords.csv");
    std::fs::write(
        &file,
        "jane.doe@example.com,Ipc-Jane-1\nnobody@example.com,Ipc-Nobody-1\nIpc-Bad-Secret\n",
    )
    .unwrap();
    let decoy = tmp.path().join("decoy.txt");
    std::fs::write(&decoy, "the admin's own file\n").unwrap();

    // nothing previewed, nothing imported: both refused
    let err = app.invoke("import_password_file", json!({})).unwrap_err();
    assert_eq!(
        err,
        json!({ "code": "not_ready", "message": "Choose a password file and look at its preview first." })
    );
    let err = app
        .invoke(
            "delete_password_file",
            json!({ "path": decoy.to_str().unwrap() }),
        )
        .unwrap_err();
    assert_eq!(
        err,
        json!({ "code": "not_ready", "message": "Ferry deletes only a password file it has just imported, and there is none." })
    );

    // a path that is not there: in words, with its code
    let missing = tmp.path().join("gone.csv");
    let err = app
        .invoke(
            "preview_password_file",
            json!({ "path": missing.to_str().unwrap() }),
        )
        .unwrap_err();
    assert_eq!(
        err,
        json!({ "code": "not_found", "message": format!("Ferry cannot read {}: there is no such file (was it moved or deleted?).", missing.display()) })
    );
    let err = app
        .invoke("preview_password_file", json!({ "path": "  " }))
        .unwrap_err();
    assert_eq!(err["code"], "invalid", "{err}");

    // the preview: one row to store, one skipped, one bad line; no password
    let preview = app
        .invoke(
            "preview_password_file",
            json!({ "path": format!(" {} ", file.display()) }),
        )
        .unwrap();
    assert_eq!(preview["to_store"], 1);
    assert_eq!(preview["skipped"], 1);
    assert_eq!(
        preview["rows"][0],
        json!({ "line": 1, "side": "destination", "user": "jane.doe@example.com",
            "account": "jane.doe@example.com", "new_address": "jane.doe@example.com",
            "matched_by": "new_address", "action": "store", "first_line": null,
            "note": "Its password on the new host." })
    );
    assert_eq!(preview["rows"][1]["action"], "not_in_migration");
    assert_eq!(
        preview["bad_lines"],
        json!([{ "line": 3, "reason": "expected 2 fields separated by ',', found 1" }])
    );
    assert_eq!(preview["not_in_file"], json!(["arthur.smith@example.com"]));
    for secret in SECRETS {
        assert!(!preview.to_string().contains(secret), "{secret}");
    }

    // the import reads the file previewed; the vault holds the password under the sync's key
    let imported = app.invoke("import_password_file", json!({})).unwrap();
    assert_eq!(imported["stored"], 1);
    assert_eq!(imported["preview"]["rows"][0]["action"], "stored");
    assert_eq!(
        imported["summary"],
        "1 password stored from passwords.csv (1 skipped, 1 line unreadable)"
    );
    for secret in SECRETS {
        assert!(!imported.to_string().contains(secret), "{secret}");
    }
    assert_eq!(
        vault
            .get("imap.new.example", "jane.doe@example.com")
            .unwrap()
            .map(|s| s.expose().to_string()),
        Some("Ipc-Jane-1".to_string())
    );

    // the delete takes no path: the decoy named by the web view stays, the imported file goes
    app.invoke(
        "delete_password_file",
        json!({ "path": decoy.to_str().unwrap() }),
    )
    .unwrap();
    assert!(!file.exists());
    assert_eq!(
        std::fs::read_to_string(&decoy).unwrap(),
        "the admin's own file\n"
    );
    // once: nothing is left to delete, and nothing previewed to import
    assert_eq!(
        app.invoke("delete_password_file", json!({})).unwrap_err()["code"],
        "not_ready"
    );
    assert_eq!(
        app.invoke("import_password_file", json!({})).unwrap_err()["code"],
        "not_ready"
    );
}

#[test]
fn a_symbolic_link_is_imported_through_but_never_deleted_through() {
    let tmp = tempfile::tempdir().unwrap();
    let app = migration(tmp.path(), Arc::new(MemoryVault::new()));
    let target = tmp.path().join("real.csv");
    std::fs::write(&target, "jane.doe@example.com,Ipc-Jane-1\n").unwrap();
    let link = tmp.path().join("link.csv");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    app.invoke(
        "preview_password_file",
        json!({ "path": link.to_str().unwrap() }),
    )
    .unwrap();
    app.invoke("import_password_file", json!({})).unwrap();
    let err = app.invoke("delete_password_file", json!({})).unwrap_err();
    assert_eq!(
        err,
        json!({ "code": "invalid", "message": format!(
            "Ferry did not delete {}: it is a symbolic link, and Ferry never overwrites a file through a link (it could point at any file). Delete the file it points to yourself: it still holds passwords in clear.",
            link.display()
        ) })
    );
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "jane.doe@example.com,Ipc-Jane-1\n"
    );
    assert!(link.exists());
}

#[test]
fn a_file_that_cannot_be_told_or_matches_nothing_says_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let app = migration(tmp.path(), Arc::new(MemoryVault::new()));
    let notes = tmp.path().join("notes.txt");
    std::fs::write(&notes, "just some words\n").unwrap();
    let err = app
        .invoke(
            "preview_password_file",
            json!({ "path": notes.to_str().unwrap() }),
        )
        .unwrap_err();
    assert_eq!(err["code"], "malformed", "{err}");
    assert_eq!(
        err["message"],
        format!("Ferry cannot tell what kind of list {} is: line 1 fits none of the formats it reads. Save the list in one of the formats described here, then choose it again.", notes.display())
    );
    // a failed preview forgets the file previewed before
    let nobody = tmp.path().join("nobody.csv");
    std::fs::write(&nobody, "nobody@example.com,Ipc-Nobody-1\n").unwrap();
    let preview = app
        .invoke(
            "preview_password_file",
            json!({ "path": nobody.to_str().unwrap() }),
        )
        .unwrap();
    assert_eq!(preview["to_store"], 0);
    let err = app.invoke("import_password_file", json!({})).unwrap_err();
    assert_eq!(
        err,
        json!({ "code": "invalid", "message": format!("No line of {} gives a password this migration needs, so nothing was stored. The preview says why for each line.", nobody.display()) })
    );
    app.invoke(
        "preview_password_file",
        json!({ "path": notes.to_str().unwrap() }),
    )
    .unwrap_err();
    assert_eq!(
        app.invoke("import_password_file", json!({})).unwrap_err()["code"],
        "not_ready"
    );
}
