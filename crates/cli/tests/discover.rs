//! `ferry discover` end to end: the real binary on a materialized copy of the macOS Server 5
//! fixture. Expected values were read by hand from the fixture's files (file names' `S=`, the
//! directory dump, `virtual_users`, `aliases`, the plists), not copied from Ferry's output.

#[path = "../../discover/tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

fn ferry(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .output()
        .expect("run ferry")
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// (role, messages, bytes, deleted_pending, unseen_new, subscribed, disk_name) by folder name.
type FolderFacts = (Value, u64, u64, u64, u64, bool, String);
type Folders = BTreeMap<String, FolderFacts>;

fn folders(acc: &Value) -> Folders {
    acc["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                (
                    f["role"].clone(),
                    f["messages"].as_u64().unwrap(),
                    f["bytes"].as_u64().unwrap(),
                    f["deleted_pending"].as_u64().unwrap(),
                    f["unseen_new"].as_u64().unwrap(),
                    f["subscribed"].as_bool().unwrap(),
                    f["disk_name"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

fn f(
    role: Option<&str>,
    messages: u64,
    bytes: u64,
    deleted: u64,
    new: u64,
    subscribed: bool,
    disk: &str,
) -> FolderFacts {
    (
        role.map_or(Value::Null, |r| Value::String(r.into())),
        messages,
        bytes,
        deleted,
        new,
        subscribed,
        disk.to_string(),
    )
}

fn map(items: Vec<(&str, FolderFacts)>) -> Folders {
    items.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[test]
fn discover_json_on_the_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let root = common::materialize(tmp.path());
    let out = ferry(&["discover", "--root", root.to_str().unwrap(), "--json"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ferry discover failed: {stderr}");
    let inv: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    let store = |guid: &str| {
        root.join("Library/Server/Mail/Data/mail")
            .join(guid)
            .display()
            .to_string()
    };

    assert_eq!(inv["hostname"], "mail.example.com");
    assert_eq!(strs(&inv["domains"]), ["example.com", "example.org"]);
    assert_eq!(inv["partitions"][0]["tag"], "default");
    assert_eq!(
        inv["partitions"][0]["path"],
        "/Library/Server/Mail/Data/mail"
    );
    assert_eq!(inv["partitions"].as_array().unwrap().len(), 1);

    let accounts = inv["accounts"].as_array().unwrap();
    let names: Vec<&str> = accounts
        .iter()
        .map(|a| a["short_name"].as_str().unwrap())
        .collect();
    // diradmin is no mail user; junkmail / notjunkmail are training mailboxes, not accounts.
    assert_eq!(names, ["jdoe", "asmith", "bmueller", "mwolf"]);

    // --- jdoe -------------------------------------------------------------------------------
    let jdoe = &accounts[0];
    assert_eq!(jdoe["guid"], "3F2A6C1E-8B4D-4E7A-9C21-5D0B7E6F1A23");
    assert_eq!(jdoe["real_name"], "Jane Doe");
    assert_eq!(
        strs(&jdoe["addresses"]),
        [
            "jane.doe@example.com",
            "jdoe@example.com",
            "jane@example.org",
            "info@example.com",
            "office@example.com"
        ]
    );
    assert_eq!(jdoe["state"], "active");
    assert_eq!(jdoe["forward_to"], Value::Null);
    assert_eq!(jdoe["quota_bytes"], 2048u64 * 1024 * 1024);
    // maildirsize: 11970 + 1277 (a delta line).
    assert_eq!(jdoe["quota_used_bytes"], 13247);
    assert_eq!(jdoe["store"], store("3F2A6C1E-8B4D-4E7A-9C21-5D0B7E6F1A23"));
    assert_eq!(jdoe["messages"], 12);
    assert_eq!(jdoe["bytes"], 13247);
    assert_eq!(jdoe["deleted_pending"], 0);
    let expected = map(vec![
        // 3 in cur/ + 1 just delivered to new/ (not in dovecot-uidlist); the uidlist's UID 9
        // has no file (expunged) and is not counted; UID 7's file was renamed (:2,Sc).
        (
            "INBOX",
            f(Some("inbox"), 4, 1303 + 1730 + 1356 + 1277, 0, 1, true, ""),
        ),
        (
            "Archive",
            f(Some("archive"), 1, 1265, 0, 0, true, ".Archive"),
        ),
        (
            "Archive/2018",
            f(None, 1, 1246, 0, 0, true, ".Archive.2018"),
        ),
        (
            "Deleted Messages",
            f(Some("trash"), 1, 1213, 0, 0, true, ".Deleted Messages"),
        ),
        ("Drafts", f(Some("drafts"), 1, 454, 0, 0, true, ".Drafts")),
        // `:2,` with no flags: unseen spam, not deleted.
        ("Junk", f(Some("junk"), 1, 1369, 0, 0, true, ".Junk")),
        ("Notes", f(Some("notes"), 1, 560, 0, 0, true, ".Notes")),
        (
            "Sent Messages",
            f(Some("sent"), 2, 500 + 974, 0, 0, true, ".Sent Messages"),
        ),
    ]);
    assert_eq!(folders(jdoe), expected);
    assert_eq!(jdoe["folders"][0]["name"], "INBOX", "INBOX comes first");

    // --- asmith -----------------------------------------------------------------------------
    let asmith = &accounts[1];
    assert_eq!(asmith["guid"], "9B7E4D52-1C3A-4F68-A2E9-0C5D8B1F7E46");
    assert_eq!(asmith["real_name"], "Arthur Smith");
    assert_eq!(
        strs(&asmith["addresses"]),
        [
            "arthur.smith@example.com",
            "asmith@example.com",
            "sales@example.com",
            "info@example.com"
        ]
    );
    assert_eq!(asmith["state"], "active");
    assert_eq!(
        asmith["quota_bytes"],
        Value::Null,
        "kUserDiskQuota 0 = none"
    );
    assert_eq!(asmith["quota_used_bytes"], Value::Null, "no maildirsize");
    assert_eq!(
        asmith["store"],
        store("9B7E4D52-1C3A-4F68-A2E9-0C5D8B1F7E46")
    );
    assert_eq!(asmith["messages"], 9);
    assert_eq!(
        asmith["bytes"],
        1259 + 1249 + 1223 + 1244 + 1280 + 264 + 270 + 393 + 322
    );
    assert_eq!(asmith["deleted_pending"], 1);
    let expected = map(vec![
        // One message flagged T (deleted, not expunged) is still on disk and counted.
        (
            "INBOX",
            f(Some("inbox"), 4, 1259 + 1249 + 1223 + 1244, 1, 1, true, ""),
        ),
        (
            "Deleted Items",
            f(Some("trash"), 1, 1280, 0, 0, true, ".Deleted Items"),
        ),
        // No dovecot-uidlist: never selected, empty.
        (
            "Junk E-mail",
            f(Some("junk"), 0, 0, 0, 0, true, ".Junk E-mail"),
        ),
        // uidlist v1 and Cyrus-converted file names.
        ("Projects", f(None, 2, 264 + 270, 0, 0, true, ".Projects")),
        // CRLF message: S= equals W=.
        (
            "Sent Items",
            f(Some("sent"), 1, 393, 0, 0, true, ".Sent Items"),
        ),
        (
            "Sent Messages",
            f(Some("sent"), 1, 322, 0, 0, false, ".Sent Messages"),
        ),
    ]);
    assert_eq!(folders(asmith), expected);

    // --- bmueller ---------------------------------------------------------------------------
    let bm = &accounts[2];
    assert_eq!(bm["guid"], "C41D09F8-6E2B-4A3C-8D7F-2B9E5A0C6D18");
    assert_eq!(bm["real_name"], "Björn Müller");
    assert_eq!(
        strs(&bm["addresses"]),
        [
            "bjoern.mueller@example.org",
            "b.mueller@example.org",
            "buchhaltung@example.com"
        ]
    );
    assert_eq!(bm["state"], "active");
    assert_eq!(bm["quota_bytes"], 1024u64 * 1024 * 1024);
    assert_eq!(bm["quota_used_bytes"], 10010);
    assert_eq!(bm["store"], store("C41D09F8-6E2B-4A3C-8D7F-2B9E5A0C6D18"));
    assert_eq!(bm["messages"], 9);
    assert_eq!(bm["bytes"], 10010);
    let expected = map(vec![
        (
            "INBOX",
            f(Some("inbox"), 3, 1304 + 1228 + 1317, 0, 0, true, ""),
        ),
        (
            "Deleted Messages",
            f(Some("trash"), 0, 0, 0, 0, true, ".Deleted Messages"),
        ),
        (
            "Entwürfe Kunden",
            f(None, 1, 337, 0, 0, true, ".Entw&APw-rfe Kunden"),
        ),
        ("Junk", f(Some("junk"), 0, 0, 0, 0, true, ".Junk")),
        ("R&D", f(None, 1, 280, 0, 0, true, ".R&-D")),
        ("Rechnungen", f(None, 1, 1902, 0, 0, true, ".Rechnungen")),
        // v2 subscriptions: levels split by TAB.
        (
            "Rechnungen/2018",
            f(None, 1, 1903, 0, 0, true, ".Rechnungen.2018"),
        ),
        (
            "Sent Messages",
            f(Some("sent"), 1, 413, 0, 0, true, ".Sent Messages"),
        ),
        (
            "Входящие",
            f(None, 1, 1326, 0, 0, true, ".&BBIERQQ+BDQETwRJBDgENQ-"),
        ),
        // Empty, no uidlist, not subscribed.
        ("日本語", f(None, 0, 0, 0, 0, false, ".&ZeVnLIqe-")),
    ]);
    assert_eq!(folders(bm), expected);

    // --- mwolf: forwarding, no store --------------------------------------------------------
    let mw = &accounts[3];
    assert_eq!(mw["guid"], "E6B3A1D7-4C2F-4B8E-A5D9-8F0C1E2D3B4A");
    assert_eq!(mw["real_name"], "Marta Wolf");
    assert_eq!(strs(&mw["addresses"]), ["marta.wolf@example.com"]);
    assert_eq!(mw["state"], "forwarding");
    assert_eq!(mw["forward_to"], "marta.wolf@example.net");
    assert_eq!(mw["quota_bytes"], Value::Null);
    assert_eq!(mw["store"], Value::Null);
    assert_eq!(mw["messages"], 0);
    assert_eq!(mw["folders"].as_array().unwrap().len(), 0);

    // --- training mailboxes, orphan, non-mail users -----------------------------------------
    let tr = inv["training_mailboxes"].as_array().unwrap();
    assert_eq!(tr.len(), 2);
    assert_eq!(tr[0]["kind"], "junk");
    assert_eq!(tr[0]["short_name"], "junkmail");
    assert_eq!(tr[0]["guid"], "5E8F1B3A-2D4C-4B6E-9A71-3C0D2E4F6A85");
    assert_eq!(strs(&tr[0]["addresses"]), ["junkmail@example.com"]);
    assert_eq!(tr[0]["messages"], 2);
    assert_eq!(tr[0]["bytes"], 1234 + 1251);
    assert_eq!(
        tr[0]["store"],
        store("5E8F1B3A-2D4C-4B6E-9A71-3C0D2E4F6A85")
    );
    assert_eq!(tr[1]["kind"], "notjunk");
    assert_eq!(tr[1]["short_name"], "notjunkmail");
    assert_eq!(tr[1]["guid"], "7A1C3E5B-9D2F-4E8A-B6C4-1F3A5C7E9B02");
    assert_eq!(strs(&tr[1]["addresses"]), ["notjunkmail@example.com"]);
    assert_eq!(tr[1]["messages"], 0);
    assert_eq!(tr[1]["bytes"], 0);

    let orphans = inv["orphans"].as_array().unwrap();
    assert_eq!(
        orphans.len(),
        1,
        "users/ symlinks are not stores: {orphans:?}"
    );
    assert_eq!(orphans[0]["guid"], "D0E1F2A3-B4C5-4D6E-8F90-A1B2C3D4E5F6");
    assert_eq!(
        orphans[0]["store"],
        store("D0E1F2A3-B4C5-4D6E-8F90-A1B2C3D4E5F6")
    );
    assert_eq!(orphans[0]["messages"], 1);
    assert_eq!(orphans[0]["bytes"], 1235);
    assert_eq!(strs(&inv["non_mail_users"]), ["diradmin"]);

    // --- aliases ----------------------------------------------------------------------------
    type AliasFacts = (Vec<String>, bool, Vec<String>);
    let aliases: BTreeMap<String, AliasFacts> = inv["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                (
                    strs(&a["delivers_to"]),
                    a["system"].as_bool().unwrap(),
                    strs(&a["addresses"]),
                ),
            )
        })
        .collect();
    assert_eq!(aliases.len(), 12);
    assert_eq!(
        aliases["info"],
        (
            vec!["jdoe".into(), "asmith".into()],
            false,
            vec!["info@example.com".into()]
        )
    );
    assert_eq!(aliases["office"].0, ["jdoe"]);
    assert_eq!(aliases["buchhaltung"].0, ["bmueller"]);
    for system in [
        "root",
        "postmaster",
        "MAILER-DAEMON",
        "bin",
        "clamav",
        "_amavisd",
    ] {
        assert_eq!(
            aliases[system],
            (
                vec!["jdoe".into()],
                true,
                vec![format!("{system}@example.com")]
            ),
            "{system}"
        );
    }

    // --- totals and warnings ----------------------------------------------------------------
    let t = &inv["totals"];
    assert_eq!(t["accounts"], 4);
    assert_eq!(t["folders"], 8 + 6 + 10);
    assert_eq!(t["messages"], 12 + 9 + 9);
    assert_eq!(t["bytes"], 13247 + 7504 + 10010);
    assert_eq!(t["deleted_pending"], 1);

    let warnings = inv["warnings"].as_array().unwrap();
    let mut codes: Vec<(String, String)> = warnings
        .iter()
        .map(|w| {
            (
                w["code"].as_str().unwrap().to_string(),
                w["subject"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    codes.sort();
    let expected: Vec<(String, String)> = [
        ("address_not_in_virtual_users", "bmueller"),
        ("deleted_pending", "asmith"),
        ("duplicate_role", "asmith"),
        ("orphan_store", "D0E1F2A3-B4C5-4D6E-8F90-A1B2C3D4E5F6"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(codes, expected, "{warnings:#?}");
    let msg = |code: &str| {
        warnings.iter().find(|w| w["code"] == code).unwrap()["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(msg("address_not_in_virtual_users").contains("b.mueller@example.org"));
    assert!(msg("duplicate_role").contains("\"Sent Items\", \"Sent Messages\""));
    assert!(msg("deleted_pending").contains("INBOX"));

    // No secret of the fixture leaks (submit.cred, sasl/passwd, submit.passdb).
    assert!(!stdout.contains("FAKE"), "a secret leaked into the JSON");
    assert!(!stderr.contains("FAKE"));
}

#[test]
fn discover_summary_is_readable_and_secret_free() {
    let tmp = tempfile::tempdir().unwrap();
    let root = common::materialize(tmp.path());
    let out = ferry(&["discover", "--root", root.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("FAKE") && !String::from_utf8_lossy(&out.stderr).contains("FAKE"));
    assert!(text.starts_with("Old server  mail.example.com\n"), "{text}");
    assert!(
        text.contains("Domains     example.com, example.org\n"),
        "{text}"
    );
    // The accounts table: one aligned row per account, sizes human-readable and right-aligned.
    let header = text
        .lines()
        .find(|l| l.trim_start().starts_with("ACCOUNT"))
        .expect("table header");
    let size_end = header.find("SIZE").unwrap() + "SIZE".len();
    let row = |name: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{text}"))
            .to_string()
    };
    let jdoe = row("jdoe");
    assert!(
        jdoe.contains("Jane Doe") && jdoe.contains("active") && jdoe.contains("2.0 GiB"),
        "{jdoe}"
    );
    assert_eq!(
        &jdoe[size_end - "13 KiB".len()..size_end],
        "13 KiB",
        "{jdoe}"
    );
    let asmith = row("asmith");
    assert_eq!(
        &asmith[size_end - "7.3 KiB".len()..size_end],
        "7.3 KiB",
        "{asmith}"
    );
    let mwolf = row("mwolf");
    assert!(
        mwolf.contains("forwarding") && mwolf.contains("→ marta.wolf@example.net"),
        "{mwolf}"
    );
    assert!(text.contains("Entwürfe Kunden"));
    assert!(text.contains("Stores without a user\n  D0E1F2A3-B4C5-4D6E-8F90-A1B2C3D4E5F6"));
    assert!(text.contains("Warnings (4)"), "{text}");
    // Warnings are sentences wrapped under a marker.
    assert!(
        text.contains("  ! b.mueller@example.org is an address of bmueller"),
        "{text}"
    );
    assert!(
        text.lines().all(|l| l.chars().count() <= 100),
        "lines fit 100 columns:\n{text}"
    );
}

#[test]
fn discover_errors_name_the_file_and_exit_non_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let root = common::materialize(tmp.path());
    let main_cf = root.join("Library/Server/Mail/Config/postfix/main.cf");
    let text = std::fs::read_to_string(&main_cf).unwrap().replacen(
        "mydomain = example.com\n",
        "mydomain example.com\n",
        1,
    );
    std::fs::write(&main_cf, text).unwrap();
    let out = ferry(&["discover", "--root", root.to_str().unwrap(), "--json"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no half inventory on stdout");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("main.cf, line 13"), "{err}");
    assert!(err.contains("expected `name = value`"), "{err}");

    let nowhere = tmp.path().join("nowhere");
    let out = ferry(&["discover", "--root", nowhere.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot read the server root") && err.contains("--root"),
        "{err}"
    );
}
