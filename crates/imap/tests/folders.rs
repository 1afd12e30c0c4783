//! Namespaces, separators, prefixes, special-use and non-ASCII names through real servers.

mod common;

use common::*;
use ferry_imap::{ImapError, SpecialUse};
use ferry_testkit::{Dovecot, Preset};

const NAMES: &[&[&str]] = &[
    &["Entwürfe"],
    &["Objets envoyés", "Archivé 2024"],
    &["台北", "日本語"],
    &["A&B", "Mail 📬"],
    &["Posta inviata"],
];

#[tokio::test]
async fn separators_prefixes_and_non_ascii_names_round_trip() {
    for (preset, user, prefix, sep) in [
        (Preset::OldMac, "jdoe", "", '.'),
        (Preset::Modern, "alice", "", '/'),
        (Preset::Prefixed, "alice", "INBOX.", '.'),
    ] {
        let server = Dovecot::start(preset);
        let mut s = login(&server, user).await;
        let ns = s.namespaces().await.expect("namespaces");
        assert_eq!(ns.personal_prefix(), prefix, "{preset:?}");
        assert_eq!(ns.personal_delimiter(), Some(sep), "{preset:?}");

        let mut created = Vec::new();
        for path in NAMES {
            let name = format!("{prefix}{}", path.join(&sep.to_string()));
            s.create(&name)
                .await
                .unwrap_or_else(|e| panic!("{preset:?} {name}: {e}"));
            s.subscribe(&name).await.expect("subscribe");
            created.push(name);
        }
        match s.create(&created[0]).await {
            Err(ImapError::AlreadyExists { folder, .. }) => assert_eq!(folder, created[0]),
            other => panic!("{preset:?}: second CREATE: {other:?}"),
        }

        let listed = s.list().await.expect("list");
        let subscribed = s.lsub().await.expect("lsub");
        // The server itself (doveadm, UTF-8) sees the same names.
        let on_server = server.mailboxes(user);
        for name in &created {
            let f = listed
                .iter()
                .find(|f| &f.name == name)
                .unwrap_or_else(|| panic!("{preset:?}: {name} not listed in {listed:?}"));
            assert_eq!(f.delimiter, Some(sep));
            assert_eq!(f.raw_name, ferry_imap::utf7::encode(name));
            assert!(f.raw_name.is_ascii());
            assert!(f.selectable());
            assert!(
                subscribed.iter().any(|x| &x.name == name),
                "{name} subscribed"
            );
            assert!(
                on_server.contains(name),
                "{preset:?}: {name} not in {on_server:?}"
            );
            // And it is usable: a message delivered there shows in STATUS.
            let before = s.status(name).await.expect("status");
            assert_eq!(before.messages, 0);
        }
        server.deliver(user, &created[2], &message(1, 300));
        let st = s.status(&created[2]).await.unwrap();
        assert_eq!(st.messages, 1);
        assert!(st.uid_next >= 2 && st.uid_validity > 0);

        // Folders created outside Ferry come back with their UTF-8 names too.
        let outside = format!("{prefix}Gelöschte Elemente");
        server.create_mailbox(user, &outside);
        assert!(s.list().await.unwrap().iter().any(|f| f.name == outside));

        let missing = format!("{prefix}Nope");
        match s.status(&missing).await {
            Err(ImapError::NoSuchFolder { folder, .. }) => assert_eq!(folder, missing),
            other => panic!("{preset:?}: STATUS of a missing folder: {other:?}"),
        }
        match s.select(&missing).await {
            Err(ImapError::NoSuchFolder { .. }) => {}
            other => panic!("{preset:?}: SELECT of a missing folder: {other:?}"),
        }
        s.delete(&created[4]).await.expect("delete");
        assert!(!s.list().await.unwrap().iter().any(|f| f.name == created[4]));
        s.logout().await;
    }
}

#[tokio::test]
async fn special_use_and_list_status() {
    let server = Dovecot::start(Preset::Modern);
    for n in 0..3 {
        server.deliver("alice", "Sent", &message(n, 500));
    }
    let mut s = login(&server, "alice").await;
    let caps = s.capabilities().clone();
    assert!(caps.special_use() && caps.condstore() && caps.uidplus());
    assert!(caps.literal_plus() && caps.multiappend() && caps.namespace());
    let folders = s.list_with_status().await.expect("list with status");
    let role = |r: SpecialUse| {
        folders
            .iter()
            .find(|f| f.folder.special_use == Some(r))
            .unwrap_or_else(|| panic!("no {r:?} folder in {folders:?}"))
    };
    assert_eq!(role(SpecialUse::Sent).folder.name, "Sent");
    assert_eq!(role(SpecialUse::Trash).folder.name, "Trash");
    assert_eq!(role(SpecialUse::Junk).folder.name, "Junk");
    assert_eq!(role(SpecialUse::Drafts).folder.name, "Drafts");
    assert_eq!(role(SpecialUse::Archive).folder.name, "Archive");
    let sent = role(SpecialUse::Sent).status.expect("status of Sent");
    assert_eq!(sent.messages, 3);
    assert!(sent.highest_modseq.is_some(), "CONDSTORE server: {sent:?}");
    // The same figures as one STATUS each.
    for f in &folders {
        let one = s.status(&f.folder.name).await.unwrap();
        assert_eq!(Some(one), f.status, "{}", f.folder.name);
    }
}

#[tokio::test]
async fn old_mac_store_lists_its_folders() {
    // The fixture's store, as macOS Server's Dovecot serves it (Maildir++, '.' separator).
    let server = Dovecot::start(Preset::OldMac);
    let mut s = login(&server, "jdoe").await;
    let folders = s.list_with_status().await.expect("list");
    let on_server = server.mailboxes("jdoe");
    let names: Vec<&str> = folders.iter().map(|f| f.folder.name.as_str()).collect();
    for name in &on_server {
        assert!(
            names.contains(&name.as_str()),
            "{name} missing from {names:?}"
        );
    }
    for f in folders.iter().filter(|f| f.status.is_some()) {
        let expected = server.messages("jdoe", &f.folder.name).len() as u32;
        assert_eq!(f.status.unwrap().messages, expected, "{}", f.folder.name);
    }
}
