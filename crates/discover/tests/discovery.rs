//! Discovery on materialized copies of the fixture, changed where a test needs another case:
//! read-only, missing and malformed files, and the warnings a real server can give.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use ferry_discover::{
    discover, AccountState, DiscoverError, HostError, Inventory, SavedOutputs, Warning, WarningCode,
};

const POSTFIX: &str = "Library/Server/Mail/Config/postfix";
const MAIL: &str = "Library/Server/Mail/Data/mail";

fn fixture() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = common::materialize(tmp.path());
    (tmp, root)
}

fn run(root: &Path) -> Result<Inventory, DiscoverError> {
    discover(root, &SavedOutputs::new(root))
}

fn edit(root: &Path, rel: &str, f: impl FnOnce(String) -> String) {
    let p = root.join(rel);
    let text = fs::read_to_string(&p).unwrap();
    let new = f(text.clone());
    assert_ne!(text, new, "edit of {rel} changed nothing");
    fs::write(p, new).unwrap();
}

fn warnings(inv: &Inventory, code: WarningCode) -> Vec<&Warning> {
    inv.warnings.iter().filter(|w| w.code == code).collect()
}

#[test]
fn discovery_writes_nothing_under_the_root() {
    let (_tmp, root) = fixture();
    let before = common::snapshot(&root);
    assert!(before.len() > 150, "the snapshot sees the whole tree");
    let inv = run(&root).unwrap();
    assert_eq!(inv.totals.messages, 30);
    let after = common::snapshot(&root);
    assert_eq!(before, after, "discovery changed the tree under the root");
}

#[test]
fn library_inventory_matches_and_is_stable_json() {
    let (_tmp, root) = fixture();
    let a = run(&root).unwrap();
    let b = run(&root).unwrap();
    let ja = serde_json::to_string_pretty(&a).unwrap();
    assert_eq!(
        ja,
        serde_json::to_string_pretty(&b).unwrap(),
        "same input, same JSON"
    );
    let back: Inventory = serde_json::from_str(&ja).unwrap();
    assert_eq!(back, a, "JSON round-trips");
    // Field names are the issue's.
    for key in [
        "\"hostname\"",
        "\"domains\"",
        "\"accounts\"",
        "\"short_name\"",
        "\"guid\"",
        "\"real_name\"",
        "\"addresses\"",
        "\"state\"",
        "\"forward_to\"",
        "\"quota_bytes\"",
        "\"store\"",
        "\"folders\"",
        "\"messages\"",
        "\"bytes\"",
        "\"role\"",
        "\"training_mailboxes\"",
        "\"orphans\"",
        "\"warnings\"",
        "\"code\"",
        "\"deleted_pending\"",
    ] {
        assert!(ja.contains(key), "missing {key}");
    }
    assert!(!ja.contains("FAKE"));
}

#[test]
fn missing_optional_files_are_warnings() {
    let (_tmp, root) = fixture();
    fs::remove_file(root.join(POSTFIX).join("aliases")).unwrap();
    fs::remove_file(root.join(POSTFIX).join("virtual_users")).unwrap();
    fs::remove_file(root.join("Library/Server/Mail/Data/db/.mailusersettings.plist")).unwrap();
    fs::remove_file(root.join("Library/Server/Mail/Config/MailServicesOther.plist")).unwrap();
    fs::remove_file(root.join("Library/Server/Mail/Config/dovecot/partition_map.conf")).unwrap();
    let inv = run(&root).unwrap();
    let missing: Vec<&str> = warnings(&inv, WarningCode::MissingFile)
        .iter()
        .map(|w| w.message.as_str())
        .collect();
    assert_eq!(missing.len(), 5, "each missing file once: {missing:#?}");
    assert!(missing.iter().any(|m| m.contains("aliases is missing")));
    assert!(missing
        .iter()
        .any(|m| m.contains("virtual_users is missing")));
    assert!(
        missing
            .iter()
            .any(|m| m.contains(".mailusersettings.plist is missing")
                && m.contains("taken as active"))
    );
    assert!(missing
        .iter()
        .any(|m| m.contains("MailServicesOther.plist is missing")));
    assert!(missing
        .iter()
        .any(|m| m.contains("partition_map.conf is missing")));
    // Without settings, mwolf's forward is unknown: taken as active (her mail, if any, is copied).
    let mwolf = inv
        .accounts
        .iter()
        .find(|a| a.short_name == "mwolf")
        .unwrap();
    assert_eq!(mwolf.state, AccountState::Active);
    assert_eq!(mwolf.quota_bytes, None);
    // ... and she has no store: that is now worth a warning.
    assert_eq!(warnings(&inv, WarningCode::MissingStore).len(), 1);
    // The store is still found through serveradmin's partitions; training boxes by default names.
    assert_eq!(inv.partitions[0].path, "/Library/Server/Mail/Data/mail");
    assert_eq!(inv.totals.messages, 30);
    assert_eq!(inv.training_mailboxes.len(), 2);
    // No aliases file: no alias addresses. No virtual_users: every directory address is
    // reported missing from it, and example.org is known only from virtual_domains.
    let jdoe = &inv.accounts[0];
    assert_eq!(jdoe.addresses.len(), 3);
    assert!(inv.aliases.is_empty());
    assert_eq!(inv.domains, ["example.com", "example.org"]);
    // 3 + 3 + 2 + 1 directory addresses of accounts, 2 of the training mailboxes.
    assert_eq!(
        warnings(&inv, WarningCode::AddressNotInVirtualUsers).len(),
        11
    );
}

#[test]
fn malformed_files_are_errors_with_file_and_line() {
    // (file, text, replacement, file named in the error, line of the error)
    let cases = [
        (
            "commands/serveradmin-settings-mail.txt",
            "mail:imap:enable_pop = no",
            "mail:imap:enable_pop no",
            "commands/serveradmin-settings-mail.txt",
            2,
        ),
        (
            "commands/serveradmin-settings-mail.txt",
            "\"info\"",
            "\"info",
            "commands/serveradmin-settings-mail.txt",
            12,
        ),
        (
            "commands/dscl-readall-Users.txt",
            "RecordName: jdoe",
            "RecordName jdoe",
            "commands/dscl-readall-Users.txt",
            13,
        ),
        (
            "Library/Server/Mail/Config/postfix/virtual_users",
            "sales@example.com\tasmith",
            "sales@example.com",
            "virtual_users",
            10,
        ),
        (
            "Library/Server/Mail/Config/postfix/aliases",
            "office:\t\tjdoe",
            "office jdoe",
            "aliases",
            27,
        ),
        (
            "Library/Server/Mail/Config/postfix/main.cf",
            "$virtual_alias_maps hash",
            "${virtual_alias_maps hash",
            "main.cf",
            23,
        ),
        (
            "Library/Server/Mail/Config/dovecot/partition_map.conf",
            "default:",
            "default ",
            "partition_map.conf",
            1,
        ),
        (
            "Library/Server/Mail/Data/mail/3F2A6C1E-8B4D-4E7A-9C21-5D0B7E6F1A23/maildirsize",
            "1277 1",
            "1277 one",
            "maildirsize",
            3,
        ),
        (
            "Library/Server/Mail/Data/db/.mailusersettings.plist",
            "<string>2048</string>",
            "<string>2048</strin>",
            ".mailusersettings.plist",
            22,
        ),
    ];
    for (rel, from, to, file, line) in cases {
        let (_tmp, root) = fixture();
        edit(&root, rel, |t| t.replacen(from, to, 1));
        let err = run(&root).expect_err(rel);
        let DiscoverError::Malformed(pe) = &err else {
            panic!("{rel}: expected a parse error, got {err}");
        };
        assert!(pe.file.ends_with(file), "{rel}: file {} in {err}", pe.file);
        assert_eq!(pe.line, line, "{rel}: {err}");
        let text = err.to_string();
        assert!(text.contains(&format!("line {line}")), "{text}");
        assert!(
            text.contains("Fix or restore that line"),
            "says what to do: {text}"
        );
    }
}

#[test]
fn required_inputs_missing_are_errors() {
    let (_tmp, root) = fixture();
    fs::remove_file(root.join(POSTFIX).join("main.cf")).unwrap();
    let err = run(&root).unwrap_err();
    assert!(matches!(err, DiscoverError::RequiredFile { .. }), "{err}");
    assert!(err.to_string().contains("main.cf"), "{err}");

    let (_tmp, root) = fixture();
    fs::remove_file(root.join("commands/dscl-readall-Users.txt")).unwrap();
    let err = run(&root).unwrap_err();
    assert!(
        matches!(err, DiscoverError::Host(HostError::Saved { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("dscl-readall-Users.txt"), "{err}");

    // Off macOS, a root without commands/ has nobody to ask.
    #[cfg(not(target_os = "macos"))]
    {
        let (_tmp, root) = fixture();
        fs::remove_dir_all(root.join("commands")).unwrap();
        let host = ferry_discover::default_host(&root);
        let err = discover(&root, host.as_ref()).unwrap_err();
        assert!(
            matches!(err, DiscoverError::Host(HostError::Unavailable { .. })),
            "{err}"
        );
        assert!(err.to_string().contains("--root"), "{err}");
    }
}

#[test]
fn directory_and_file_disagreements_are_warned() {
    let (_tmp, root) = fixture();
    // A virtual_users line for a user the directory does not know.
    edit(&root, &format!("{POSTFIX}/virtual_users"), |t| {
        t + "old.partner@example.org\tgone\n"
    });
    // jdoe's settings name an unknown partition; bmueller's store is gone.
    edit(
        &root,
        "Library/Server/Mail/Data/db/.mailusersettings.plist",
        |t| t.replacen("<string>default</string>", "<string>fast-ssd</string>", 1),
    );
    fs::remove_dir_all(root.join(MAIL).join("C41D09F8-6E2B-4A3C-8D7F-2B9E5A0C6D18")).unwrap();
    // users/asmith points at jdoe's store.
    let link = root.join(MAIL).join("users/asmith");
    fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink("../3F2A6C1E-8B4D-4E7A-9C21-5D0B7E6F1A23", &link).unwrap();
    // jdoe again, as the local node would list him too.
    edit(&root, "commands/dscl-readall-Users.txt", |t| {
        t + "-\nEMailAddress: jane.doe@example.com\nGeneratedUID: 3F2A6C1E-8B4D-4E7A-9C21-5D0B7E6F1A23\nRecordName: jdoe\n"
    });
    // An admin alias to nobody.
    edit(&root, &format!("{POSTFIX}/aliases"), |t| {
        t + "sekretariat:\tfrau.meier\n"
    });

    let inv = run(&root).unwrap();
    let unknown = warnings(&inv, WarningCode::VirtualUserUnknown);
    assert_eq!(unknown.len(), 1);
    assert!(unknown[0].message.contains("old.partner@example.org"));
    assert!(
        unknown[0].message.contains("line 19"),
        "{}",
        unknown[0].message
    );

    let part = warnings(&inv, WarningCode::UnknownPartition);
    assert_eq!(part.len(), 1);
    assert_eq!(part[0].subject.as_deref(), Some("jdoe"));
    assert!(part[0].message.contains("\"fast-ssd\""));

    let missing = warnings(&inv, WarningCode::MissingStore);
    let mut who: Vec<&str> = missing
        .iter()
        .filter_map(|w| w.subject.as_deref())
        .collect();
    who.sort();
    assert_eq!(who, ["bmueller", "jdoe"], "{missing:#?}");
    // jdoe's store is not reachable through the unknown partition, but it is no orphan: its
    // user exists.
    assert!(!inv
        .orphans
        .iter()
        .any(|o| o.guid == "3F2A6C1E-8B4D-4E7A-9C21-5D0B7E6F1A23"));

    let link_w = warnings(&inv, WarningCode::Inconsistent);
    assert_eq!(link_w.len(), 1, "{link_w:#?}");
    assert!(link_w[0].message.contains("users/asmith"));

    assert_eq!(
        inv.accounts
            .iter()
            .filter(|a| a.short_name == "jdoe")
            .count(),
        1,
        "one account per GUID"
    );

    let alias_w = warnings(&inv, WarningCode::AliasUnknownTarget);
    assert_eq!(alias_w.len(), 1);
    assert!(alias_w[0].message.contains("frau.meier"));
}

#[test]
fn states_quota_and_not_utf7_names() {
    let (_tmp, root) = fixture();
    // bmueller: mail turned off, quota 1 MB, and a 2 MiB message added so that he is over it.
    edit(
        &root,
        "Library/Server/Mail/Data/db/.mailusersettings.plist",
        |t| {
            // Entries are in GUID order in the file; bmueller's block is the third.
            let i = t.find("C41D09F8-6E2B-4A3C-8D7F-2B9E5A0C6D18").unwrap();
            let (head, tail) = t.split_at(i);
            let tail = tail
                .replacen("<string>Enabled</string>", "<string>Off</string>", 1)
                .replacen("<string>1024</string>", "<string>1</string>", 1);
            format!("{head}{tail}")
        },
    );
    let big = root.join(MAIL).join(
        "C41D09F8-6E2B-4A3C-8D7F-2B9E5A0C6D18/cur/1546300000.M1P1.mail.example.com,S=2097152:2,S",
    );
    fs::write(&big, vec![b'x'; 2 * 1024 * 1024]).unwrap();
    // A folder whose name is not valid modified UTF-7.
    let bad = root
        .join(MAIL)
        .join("9B7E4D52-1C3A-4F68-A2E9-0C5D8B1F7E46/.Bad&name");
    fs::create_dir_all(bad.join("cur")).unwrap();

    let inv = run(&root).unwrap();
    let bm = inv
        .accounts
        .iter()
        .find(|a| a.short_name == "bmueller")
        .unwrap();
    assert_eq!(bm.state, AccountState::Disabled);
    assert_eq!(bm.quota_bytes, Some(1024 * 1024));
    assert_eq!(bm.messages, 10);
    assert_eq!(bm.bytes, 10010 + 2 * 1024 * 1024);
    let over = warnings(&inv, WarningCode::OverQuota);
    assert_eq!(over.len(), 1);
    assert!(
        over[0].message.contains("2.0 MiB") && over[0].message.contains("1.0 MiB"),
        "{}",
        over[0].message
    );

    let asmith = inv
        .accounts
        .iter()
        .find(|a| a.short_name == "asmith")
        .unwrap();
    assert!(asmith
        .folders
        .iter()
        .any(|f| f.name == "Bad&name" && f.disk_name == ".Bad&name"));
    let store_w = warnings(&inv, WarningCode::UnreadableStore);
    assert_eq!(store_w.len(), 1);
    assert!(store_w[0].message.contains("not valid modified UTF-7"));
}
