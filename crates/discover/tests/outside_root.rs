//! Discovery reads nothing outside the folder it is given: crafted copies of the fixture whose
//! partition path climbs out with `..`, whose directory gives a GeneratedUID that is a path, or
//! whose store is a link out of the copy. Beside each copy lies a store full of mail that
//! discovery must not find.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use ferry_discover::{discover, Inventory, SavedOutputs, Warning, WarningCode};

const MAIL: &str = "Library/Server/Mail/Data/mail";
const JDOE: &str = "3F2A6C1E-8B4D-4E7A-9C21-5D0B7E6F1A23";

/// A materialized fixture in `<tmp>/root`, and `<tmp>/outside/<jdoe's GUID>`: a copy of jdoe's
/// store outside the root.
fn fixture_with_mail_outside() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = common::materialize(tmp.path());
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let status = std::process::Command::new("cp")
        .arg("-R")
        .arg(root.join(MAIL).join(JDOE))
        .arg(outside.join(JDOE))
        .status()
        .unwrap();
    assert!(status.success());
    (tmp, root, outside)
}

fn run(root: &Path) -> Inventory {
    discover(root, &SavedOutputs::new(root)).expect("discovery")
}

fn edit(root: &Path, rel: &str, from: &str, to: &str) {
    let p = root.join(rel);
    let text = fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "{rel} lacks {from:?}");
    fs::write(p, text.replacen(from, to, 1)).unwrap();
}

fn warnings(inv: &Inventory, code: WarningCode) -> Vec<&Warning> {
    inv.warnings.iter().filter(|w| w.code == code).collect()
}

fn jdoe_store(inv: &Inventory) -> Option<&str> {
    inv.accounts
        .iter()
        .find(|a| a.short_name == "jdoe")
        .and_then(|a| a.store.as_deref())
}

#[test]
fn a_partition_path_with_dot_dot_is_not_followed() {
    let (_tmp, root, _outside) = fixture_with_mail_outside();
    edit(
        &root,
        "Library/Server/Mail/Config/dovecot/partition_map.conf",
        "default:/Library/Server/Mail/Data/mail",
        "default:/../outside",
    );
    let inv = run(&root);
    let out = warnings(&inv, WarningCode::OutsideRoot);
    assert_eq!(out.len(), 1, "{:#?}", inv.warnings);
    assert_eq!(
        out[0].message,
        format!(
            "The store partition \"default\" at /../outside leads outside the server folder {}, so Ferry does not read it and the stores on it are not found. Correct the path, or copy what it points at into the folder.",
            root.display()
        )
    );
    assert_eq!(jdoe_store(&inv), None);
    assert!(inv.orphans.is_empty(), "{:#?}", inv.orphans);
    assert_eq!(inv.totals.messages, 0);
    assert!(inv.partitions.is_empty());
}

#[test]
fn a_generated_uid_that_is_a_path_is_refused() {
    let (_tmp, root, outside) = fixture_with_mail_outside();
    // Relative (`../..`) and absolute: both would name the store outside the root.
    for guid in [
        format!("../../../../../../outside/{JDOE}"),
        outside.join(JDOE).display().to_string(),
    ] {
        let dscl = "commands/dscl-readall-Users.txt";
        let original = fs::read_to_string(root.join(dscl)).unwrap();
        edit(
            &root,
            dscl,
            &format!("GeneratedUID: {JDOE}"),
            &format!("GeneratedUID: {guid}"),
        );
        // The real store must not be found through the links in users/ either.
        fs::rename(root.join(MAIL).join(JDOE), root.join("moved-away")).unwrap();
        let inv = run(&root);
        assert!(
            !inv.accounts.iter().any(|a| a.short_name == "jdoe"),
            "{guid}: jdoe was found through a path GUID"
        );
        let w: Vec<&str> = warnings(&inv, WarningCode::Inconsistent)
            .into_iter()
            .filter(|w| w.subject.as_deref() == Some("jdoe"))
            .map(|w| w.message.as_str())
            .collect();
        assert_eq!(
            w,
            [
                format!(
                    "{}, line 8: the user jdoe has the GeneratedUID {guid:?}, which is not a UUID (8-4-4-4-12 hexadecimal digits), so Ferry does not look for a store by that name; check the record with dscl.",
                    root.join(dscl).display()
                ),
                // users/jdoe still names the real GUID: the existing check says so.
                format!(
                    "{}/users/jdoe points to the store {JDOE}, but the directory gives jdoe the GeneratedUID {}; Ferry follows the directory. Check which store is jdoe's before copying.",
                    root.join(MAIL).display(),
                    guid.to_uppercase()
                ),
            ],
            "{guid}"
        );
        fs::write(root.join(dscl), original).unwrap();
        fs::rename(root.join("moved-away"), root.join(MAIL).join(JDOE)).unwrap();
    }
    // The unchanged copy finds jdoe's own store, inside the root.
    let inv = run(&root);
    assert_eq!(
        jdoe_store(&inv).map(PathBuf::from),
        Some(root.join(MAIL).join(JDOE))
    );
}

#[test]
fn a_store_or_table_linked_out_of_the_root_is_not_read() {
    let (_tmp, root, outside) = fixture_with_mail_outside();
    let store = root.join(MAIL).join(JDOE);
    fs::remove_dir_all(&store).unwrap();
    std::os::unix::fs::symlink(outside.join(JDOE), &store).unwrap();
    // A lookup table main.cf names, climbing out with `..`.
    edit(
        &root,
        "Library/Server/Mail/Config/postfix/main.cf",
        "virtual_alias_maps = ",
        "virtual_alias_maps = hash:/Library/../../outside/virtual ",
    );
    fs::write(outside.join("virtual"), "stolen@example.com jdoe\n").unwrap();
    let inv = run(&root);
    assert_eq!(jdoe_store(&inv), None);
    let out = warnings(&inv, WarningCode::OutsideRoot);
    let messages: Vec<&str> = out.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            format!("The file /Library/../../outside/virtual leads outside the server folder {}, so Ferry does not read it and its addresses are not known to Ferry. Correct the path, or copy what it points at into the folder.", root.display()),
            format!("jdoe's store {} (a link) leads outside the server folder {}, so Ferry does not read it and this account's mail is not counted or copied. Correct the path, or copy what it points at into the folder.", store.display(), root.display()),
        ],
        "{:#?}",
        inv.warnings
    );
    assert!(!inv
        .accounts
        .iter()
        .flat_map(|a| &a.addresses)
        .any(|a| a == "stolen@example.com"));
}
