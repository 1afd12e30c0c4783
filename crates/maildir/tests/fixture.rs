//! The reader against the materialized fixture store (fixtures/macos-server-5): every edge case
//! its README lists for the store, and that reading never changes the store.

mod common;

use common::*;
use ferry_maildir::{MaildirError, ScanOptions, Store};

fn names(store: &Store) -> Vec<(String, Option<u32>, bool)> {
    store
        .folders()
        .unwrap()
        .into_iter()
        .map(|f| (f.name, f.uid_validity, f.subscribed))
        .collect()
}

#[test]
fn jdoe_folders_uids_flags_keywords_dates() {
    let tmp = tempfile::tempdir().unwrap();
    let mail = materialized(tmp.path());
    // Through a symlink like the store's users/<shortname> ones (in this copy of the fixture they
    // may be plain files: a checkout without symlink support), as an admin might point Ferry at it.
    let link = tmp.path().join("jdoe");
    std::os::unix::fs::symlink(mail.join(JDOE), &link).unwrap();
    let store = Store::open(&link).unwrap();
    let folders = names(&store);
    let want = [
        "INBOX",
        "Archive",
        "Archive/2018",
        "Deleted Messages",
        "Drafts",
        "Junk",
        "Notes",
        "Sent Messages",
    ];
    assert_eq!(
        folders.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
        want
    );
    assert!(
        folders.iter().all(|f| f.2),
        "all of jdoe's folders are subscribed"
    );
    assert_eq!(folders[0].1, Some(1356998401));
    assert_eq!(folders[1].1, Some(1356998406));

    let inbox = store.folder("inbox").unwrap();
    assert_eq!(
        (inbox.uid_validity, inbox.next_uid, inbox.disk_name.as_str()),
        (Some(1356998401), Some(15), "")
    );
    let scan = store.messages(&inbox, &ScanOptions::default()).unwrap();
    let uids: Vec<Option<u32>> = scan.messages.iter().map(|m| m.uid).collect();
    assert_eq!(uids, [Some(3), Some(7), Some(12), None]);
    // UID 9's file is gone: a stale line, not missing mail.
    assert_eq!(scan.stale_uids, [9]);
    assert_eq!(scan.deleted_pending, 0);

    let m3 = &scan.messages[0];
    assert_eq!(m3.flags, ["\\Seen", "\\Answered"]);
    assert_eq!(m3.keywords, ["$NotJunk", "NotJunk"]);
    assert_eq!(m3.internal_date, 1545037333);
    assert_eq!((m3.size, m3.virtual_size), (1303, Some(1337)));
    // UID 7 is recorded as "...:2," but the file is now "...:2,Sc": the file's flags count.
    let m7 = &scan.messages[1];
    assert_eq!(
        m7.base_name,
        "1545291002.M118203P6120.mail.example.com,S=1730,W=1769"
    );
    assert_eq!(
        (m7.flags.as_slice(), m7.keywords.as_slice()),
        (&["\\Seen".to_string()][..], &["$Forwarded".to_string()][..])
    );
    let m12 = &scan.messages[2];
    assert_eq!(m12.imap_flags(), ["\\Seen", "\\Flagged", "$MailFlagBit1"]);
    // The new/ message Dovecot will number 15 when the box is opened.
    let new = &scan.messages[3];
    assert!(new.in_new && new.flags.is_empty() && new.keywords.is_empty());
    assert_eq!(
        new.base_name,
        "1546330444.M90211P9320.mail.example.com,S=1277,W=1307"
    );
    assert_eq!(scan.provisional().count(), 1);

    for m in &scan.messages {
        let raw = store.read_raw(m).unwrap();
        assert_eq!(raw.len() as u64, m.size, "{}", m.file_name);
        let imap = store.read(m).unwrap();
        assert_eq!(Some(imap.len() as u64), m.virtual_size, "{}", m.file_name);
        assert!(!imap.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'));
        let header = store.read_header(m).unwrap();
        assert!(header.ends_with(b"\r\n\r\n") && imap.starts_with(&header));
        assert!(header.len() < imap.len());
    }
}

#[test]
fn asmith_deleted_v1_uidlist_no_uidlist_crlf() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(materialized(tmp.path()).join(ASMITH)).unwrap();
    assert_eq!(
        names(&store),
        [
            ("INBOX".to_string(), Some(1262304001), true),
            ("Deleted Items".into(), Some(1262304004), true),
            ("Junk E-mail".into(), None, true),
            ("Projects".into(), Some(1199145601), true),
            ("Sent Items".into(), Some(1262304002), true),
            ("Sent Messages".into(), Some(1262304003), false),
        ]
    );

    let inbox = store.folder("INBOX").unwrap();
    let scan = store.messages(&inbox, &ScanOptions::default()).unwrap();
    assert_eq!(
        scan.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
        [Some(38), Some(40), None]
    );
    assert_eq!(scan.deleted_pending, 1);
    let all = store
        .messages(
            &inbox,
            &ScanOptions {
                include_deleted: true,
            },
        )
        .unwrap();
    assert_eq!(
        all.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
        [Some(38), Some(39), Some(40), None]
    );
    assert_eq!(all.deleted_pending, 0);
    assert!(all.messages[1].is_deleted());
    assert_eq!(all.messages[1].flags, ["\\Seen", "\\Deleted"]);

    // Version 1 uidlist written by Apple's cvt_mail; Cyrus-style names without W=.
    let projects = store.folder("Projects").unwrap();
    assert_eq!(projects.next_uid, Some(4));
    let scan = store.messages(&projects, &ScanOptions::default()).unwrap();
    assert_eq!(
        scan.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
        [Some(1), Some(3)]
    );
    assert_eq!(scan.messages[0].internal_date, 1199181600);
    assert_eq!(
        (scan.messages[0].size, scan.messages[0].virtual_size),
        (264, None)
    );

    // Never opened by Dovecot: no uidlist, no messages, no UIDVALIDITY yet.
    let junk = store.folder("Junk E-mail").unwrap();
    let scan = store.messages(&junk, &ScanOptions::default()).unwrap();
    assert!(scan.messages.is_empty() && scan.uid_validity.is_none());

    // Stored with CRLF already (S= = W=): served unchanged.
    let sent = store.folder("Sent Items").unwrap();
    let scan = store.messages(&sent, &ScanOptions::default()).unwrap();
    let m = &scan.messages[0];
    assert_eq!((m.uid, m.size, m.virtual_size), (Some(2), 393, Some(393)));
    assert_eq!(store.read(m).unwrap(), store.read_raw(m).unwrap());
}

#[test]
fn bmueller_utf7_names_and_v2_subscriptions() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(materialized(tmp.path()).join(BMUELLER)).unwrap();
    let folders = store.folders().unwrap();
    let got: Vec<(&str, &str, bool)> = folders
        .iter()
        .map(|f| (f.name.as_str(), f.disk_name.as_str(), f.subscribed))
        .collect();
    assert_eq!(
        got,
        [
            ("INBOX", "", true),
            ("Deleted Messages", ".Deleted Messages", true),
            ("Entwürfe Kunden", ".Entw&APw-rfe Kunden", true),
            ("Junk", ".Junk", true),
            ("R&D", ".R&-D", true),
            ("Rechnungen", ".Rechnungen", true),
            ("Rechnungen/2018", ".Rechnungen.2018", true),
            ("Sent Messages", ".Sent Messages", true),
            ("Входящие", ".&BBIERQQ+BDQETwRJBDgENQ-", true),
            ("日本語", ".&ZeVnLIqe-", false),
        ]
    );
    let japanese = store.folder("日本語").unwrap();
    assert_eq!(japanese.uid_validity, None);
    assert!(store
        .messages(&japanese, &ScanOptions::default())
        .unwrap()
        .messages
        .is_empty());
    let r = store.folder("Входящие").unwrap();
    let scan = store.messages(&r, &ScanOptions::default()).unwrap();
    assert_eq!(scan.messages.len(), 1);
    assert!(scan.messages[0].uid.is_some());
}

#[test]
fn junkmail_new_only_all_provisional() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(materialized(tmp.path()).join(JUNKMAIL)).unwrap();
    let inbox = store.folder("INBOX").unwrap();
    let scan = store.messages(&inbox, &ScanOptions::default()).unwrap();
    assert_eq!(scan.messages.len(), 2);
    assert!(scan.messages.iter().all(|m| m.uid.is_none() && m.in_new));
    // In the order Dovecot will number them: by delivery time.
    assert!(scan.messages[0].internal_date < scan.messages[1].internal_date);
}

#[test]
fn reading_everything_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mail = materialized(tmp.path());
    let before = snapshot(&mail);
    let mut read = 0;
    for user in std::fs::read_dir(&mail).unwrap() {
        let user = user.unwrap().path();
        let Ok(store) = Store::open(&user) else {
            continue;
        };
        store.subscriptions().unwrap();
        for folder in store.folders().unwrap() {
            let scan = store
                .messages(
                    &folder,
                    &ScanOptions {
                        include_deleted: true,
                    },
                )
                .unwrap();
            for m in &scan.messages {
                store.read(m).unwrap();
                store.read_current(m).unwrap();
                read += 1;
            }
        }
    }
    assert!(read >= 30, "read {read} messages");
    let after = snapshot(&mail);
    assert_eq!(before.len(), after.len());
    for (path, was) in &before {
        assert_eq!(Some(was), after.get(path), "{} changed", path.display());
    }
}

#[test]
fn renamed_or_expunged_mid_read() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(materialized(tmp.path()).join(JDOE)).unwrap();
    let inbox = store.folder("INBOX").unwrap();
    let scan = store.messages(&inbox, &ScanOptions::default()).unwrap();
    let (m3, m12, new) = (&scan.messages[0], &scan.messages[2], &scan.messages[3]);
    let bytes3 = store.read_raw(m3).unwrap();

    // A client flags UID 3: Dovecot renames the file within cur/.
    let renamed = m3.path.with_file_name(format!("{}:2,FRSab", m3.base_name));
    std::fs::rename(&m3.path, &renamed).unwrap();
    let (bytes, now) = store.read_current(m3).unwrap();
    assert_eq!(bytes, bytes3);
    assert_eq!(now.flags, ["\\Seen", "\\Answered", "\\Flagged"]);
    assert_eq!(now.path, renamed);
    assert_eq!(store.read_raw(m3).unwrap(), bytes3);

    // A client opens the folder: new/ -> cur/ with ":2,".
    let moved = inbox.path.join("cur").join(format!("{}:2,", new.base_name));
    std::fs::rename(&new.path, &moved).unwrap();
    let (_, now) = store.read_current(new).unwrap();
    assert!(!now.in_new);

    // A user expunges UID 12.
    std::fs::remove_file(&m12.path).unwrap();
    let err = store.read(m12).unwrap_err();
    assert!(err.is_gone(), "{err}");
    assert!(err.to_string().contains(&m12.base_name));
    // The folder scans on without it.
    let again = store.messages(&inbox, &ScanOptions::default()).unwrap();
    assert_eq!(
        again.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
        [Some(3), Some(7), None]
    );
    assert_eq!(again.stale_uids, [9, 12]);
}

#[test]
fn malformed_uidlist_is_a_typed_error_for_that_folder_only() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(materialized(tmp.path()).join(JDOE)).unwrap();
    let notes = store.folder("Notes").unwrap();
    let list = notes.path.join("dovecot-uidlist");
    std::fs::write(&list, "3 V77 N5\n4 :a:2,S\n2 :b:2,S\n").unwrap();
    let err = store.messages(&notes, &ScanOptions::default()).unwrap_err();
    match &err {
        MaildirError::Uidlist { path, line, .. } => assert_eq!((path, *line), (&list, 3)),
        other => panic!("wrong error {other:?}"),
    }
    assert!(err.to_string().contains("dovecot-uidlist"));
    let inbox = store.folder("INBOX").unwrap();
    assert_eq!(
        store
            .messages(&inbox, &ScanOptions::default())
            .unwrap()
            .messages
            .len(),
        4
    );
    // A broken header shows when listing folders too, with its path.
    std::fs::write(&list, "3 Vbroken\n").unwrap();
    assert!(matches!(
        store.folders(),
        Err(MaildirError::Uidlist { line: 1, .. })
    ));
}

#[test]
fn not_a_store() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(matches!(
        Store::open(tmp.path()),
        Err(MaildirError::NotAStore { .. })
    ));
    assert!(matches!(
        Store::open(tmp.path().join("nope")),
        Err(MaildirError::Io { .. })
    ));
    let store = Store::open(materialized(tmp.path()).join(JDOE)).unwrap();
    assert!(matches!(
        store.folder("Nope"),
        Err(MaildirError::NoSuchFolder { .. })
    ));
}

#[test]
fn semicolon_info_separator_and_nested_without_parent() {
    // A store written where ':' is not allowed in file names (Dovecot's `;` separator), with a
    // folder whose parent directory does not exist.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    for dir in ["cur", "new", ".A.B/cur", ".A.B/new"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::write(root.join("cur/100.M1P1.host,S=5;2,FSa"), "hello").unwrap();
    std::fs::write(root.join("cur/101.M1P1.host;2,T"), "bye\n").unwrap();
    std::fs::write(
        root.join("dovecot-uidlist"),
        "3 V9 N3\n1 :100.M1P1.host,S=5;2,\n",
    )
    .unwrap();
    std::fs::write(root.join("dovecot-keywords"), "0 $Junk\n").unwrap();
    std::fs::write(root.join("subscriptions"), "A.B\n").unwrap();
    let store = Store::open(&root).unwrap();
    let folders: Vec<(String, bool)> = store
        .folders()
        .unwrap()
        .into_iter()
        .map(|f| (f.name, f.subscribed))
        .collect();
    assert_eq!(
        folders,
        [("INBOX".to_string(), false), ("A/B".to_string(), true)]
    );
    let inbox = store.folder("INBOX").unwrap();
    let scan = store.messages(&inbox, &ScanOptions::default()).unwrap();
    assert_eq!(
        (scan.messages.len(), scan.deleted_pending, scan.vanished),
        (1, 1, 0)
    );
    let m = &scan.messages[0];
    assert_eq!((m.uid, m.size), (Some(1), 5));
    assert_eq!(m.imap_flags(), ["\\Seen", "\\Flagged", "$Junk"]);
    let all = store
        .messages(
            &inbox,
            &ScanOptions {
                include_deleted: true,
            },
        )
        .unwrap();
    let deleted = &all.messages[1];
    assert_eq!((deleted.uid, deleted.size), (None, 4));
    assert_eq!(store.read(deleted).unwrap(), b"bye\r\n");
    assert_eq!(deleted.virtual_size, None);
}
