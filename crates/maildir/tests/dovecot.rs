//! The decisive check: the reader yields exactly what a real Dovecot serves over IMAP from the
//! same store — folders, UIDVALIDITY, UIDs, flags, keywords, INTERNALDATEs and bytes, message by
//! message. Once on the fixture store (the old Mac as it is), once on a store that Dovecot itself
//! wrote (hundreds of APPENDs and deliveries, then flag and keyword changes over IMAP).
//!
//! Order matters: Dovecot gives UIDs to files that `dovecot-uidlist` does not list yet as soon as
//! a client opens the folder (even EXAMINE), and writes them into the list. So the store is read
//! first, while those messages are still provisional; then Dovecot is asked over IMAP (which
//! numbers them); then the store is read again. The second read must equal IMAP exactly, and each
//! provisional message of the first read must come back under its base name with the UID Dovecot
//! gave it, in the order the reader predicted: that is what lets the sync engine copy a message
//! that was provisional exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ferry_maildir::{MaildirFolder, Scan, ScanOptions, Store};
use ferry_testkit::{Dovecot, Preset, StoredMessage};
use futures::TryStreamExt;

const ALL: ScanOptions = ScanOptions {
    include_deleted: true,
};

/// Ferry's folder name -> the name the OldMac server lists (separator `.`).
fn imap_name(folder: &MaildirFolder) -> String {
    folder.name.replace('/', ".")
}

fn scan_all(store: &Store) -> BTreeMap<String, (MaildirFolder, Scan)> {
    store
        .folders()
        .unwrap()
        .into_iter()
        .map(|f| {
            let scan = store.messages(&f, &ALL).unwrap();
            (f.name.clone(), (f, scan))
        })
        .collect()
}

fn uidvalidity(server: &Dovecot, user: &str, mailbox: &str) -> u32 {
    let out = server.doveadm(&["mailbox", "status", "-u", user, "uidvalidity", mailbox]);
    out.trim()
        .rsplit('=')
        .next()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("doveadm mailbox status said {out:?}"))
}

/// Reads `user`'s store, then IMAP, then the store again, and compares everything. Returns the
/// number of messages compared.
fn compare_user(server: &Dovecot, user: &str) -> usize {
    let store = Store::open(server.mail_dir(user)).unwrap();
    let before = scan_all(&store);

    // Dovecot lists the same folders (it may add parents that do not exist on disk as \NoSelect;
    // `doveadm mailbox list` shows only real ones here since every parent exists in the fixture).
    let ours: BTreeSet<String> = before.values().map(|(f, _)| imap_name(f)).collect();
    let theirs: BTreeSet<String> = server.mailboxes(user).into_iter().collect();
    assert_eq!(ours, theirs, "folders of {user}");

    let served: BTreeMap<String, Vec<StoredMessage>> = before
        .values()
        .map(|(f, _)| (f.name.clone(), server.messages(user, &imap_name(f))))
        .collect();

    let store_after = Store::open(server.mail_dir(user)).unwrap();
    let after = scan_all(&store_after);
    let mut compared = 0;
    for (name, (folder, scan)) in &after {
        let imap = &served[name];
        let what = format!("{user}/{name}");
        assert_eq!(
            folder.uid_validity,
            Some(uidvalidity(server, user, &imap_name(folder))),
            "UIDVALIDITY of {what}"
        );
        assert!(
            scan.messages.iter().all(|m| m.uid.is_some()),
            "{what}: Dovecot has numbered every message by now"
        );
        assert_eq!(
            scan.messages
                .iter()
                .map(|m| m.uid.unwrap())
                .collect::<Vec<_>>(),
            imap.iter().map(|m| m.uid).collect::<Vec<_>>(),
            "UIDs of {what}"
        );
        for (ours, theirs) in scan.messages.iter().zip(imap) {
            let at = format!("{what} UID {}", theirs.uid);
            let our_flags: BTreeSet<&String> = ours.flags.iter().chain(&ours.keywords).collect();
            let their_flags: BTreeSet<&String> = theirs.flags.iter().collect();
            assert_eq!(our_flags, their_flags, "flags of {at}");
            assert_eq!(
                ours.internal_date, theirs.internal_date,
                "INTERNALDATE of {at}"
            );
            let bytes = store_after.read(ours).unwrap();
            assert!(bytes == theirs.bytes, "bytes of {at} differ");
            if let Some(vsize) = ours.virtual_size {
                assert_eq!(vsize, theirs.bytes.len() as u64, "W= of {at}");
            }
            compared += 1;
        }

        // The provisional messages of the first read, found again by base name with the UIDs
        // Dovecot gave them: at or past the old next UID, ascending in the predicted order.
        let (_, first) = &before[name];
        let uid_of: BTreeMap<&str, u32> = scan
            .messages
            .iter()
            .map(|m| (m.base_name.as_str(), m.uid.unwrap()))
            .collect();
        let mut last = 0;
        for p in first.provisional() {
            let uid = *uid_of
                .get(p.base_name.as_str())
                .unwrap_or_else(|| panic!("{what}: provisional {} lost", p.base_name));
            assert!(
                uid >= first.next_uid.unwrap_or(1) && uid > last,
                "{what}: {} got UID {uid}",
                p.base_name
            );
            last = uid;
        }
    }
    compared
}

#[test]
fn fixture_store_equals_what_dovecot_serves() {
    let server = Dovecot::start(Preset::OldMac);
    // Provisional messages exist before the first IMAP access (jdoe's new/ message, asmith's,
    // junkmail's two): the test must see them provisional first.
    let jdoe = Store::open(server.mail_dir("jdoe")).unwrap();
    let inbox = jdoe.folder("INBOX").unwrap();
    assert_eq!(
        jdoe.messages(&inbox, &ALL).unwrap().provisional().count(),
        1
    );

    // A Maildir client elsewhere marked one of asmith's messages "passed" (P): IMAP has no flag
    // for it and Dovecot ignores the letter; the reader must too.
    let asmith_cur = server.mail_dir("asmith").join("cur");
    let rs = std::fs::read_dir(&asmith_cur)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(":2,RS"))
        .expect("asmith's UID 38 file");
    let prs = rs.with_file_name(
        rs.file_name()
            .unwrap()
            .to_string_lossy()
            .replace(":2,RS", ":2,PRS"),
    );
    std::fs::rename(&rs, &prs).unwrap();

    let mut total = 0;
    for user in ["jdoe", "asmith", "bmueller", "junkmail", "notjunkmail"] {
        total += compare_user(&server, user);
    }
    // 12 + 9 + 9 + 2 messages in the fixture's stores (README), the orphan store has no user.
    assert_eq!(total, 32);
    // jdoe's new/ message got UID 15 as the fixture's README says.
    let after = jdoe.messages(&inbox, &ALL).unwrap();
    let new = after
        .messages
        .iter()
        .find(|m| m.base_name.starts_with("1546330444."))
        .unwrap();
    assert_eq!(new.uid, Some(15));
}

// --- a store written by Dovecot itself ------------------------------------------------------

type Session = async_imap::Session<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

async fn login(server: &Dovecot, user: &str) -> Session {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(
            server.ca_der().to_vec(),
        ))
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect((server.host(), server.imaps_port()))
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tls);
    client.read_response().await.unwrap().unwrap();
    client
        .login(user, server.password(user))
        .await
        .map_err(|(e, _)| e)
        .unwrap()
}

/// A message: LF or CRLF line ends on the wire, 8-bit UTF-8, sometimes a larger base64 part.
fn message(i: usize) -> Vec<u8> {
    let eol = if i.is_multiple_of(3) { "\n" } else { "\r\n" };
    let mut m = String::new();
    m.push_str(&format!("From: Sender {i} <s{i}@example.org>{eol}"));
    m.push_str(&format!("To: notjunkmail@example.com{eol}"));
    m.push_str(&format!(
        "Subject: Nachricht {i} =?utf-8?q?Gr=C3=BC=C3=9Fe?={eol}"
    ));
    m.push_str(&format!("Message-ID: <m{i}@example.org>{eol}"));
    m.push_str(&format!(
        "Date: Mon, 1 Jan 2018 10:{:02}:00 +0100{eol}",
        i % 60
    ));
    m.push_str(&format!(
        "MIME-Version: 1.0{eol}Content-Type: text/plain; charset=utf-8{eol}"
    ));
    m.push_str(&format!("Content-Transfer-Encoding: 8bit{eol}{eol}"));
    m.push_str(&format!("Grüße aus Köln, Nachricht {i}.{eol}"));
    if i.is_multiple_of(25) {
        for line in 0..1500 {
            m.push_str(&format!(
                "{line:05} QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2{eol}"
            ));
        }
    }
    m.into_bytes()
}

#[test]
fn dovecot_written_store_equals_what_dovecot_serves() {
    let server = Dovecot::start(Preset::OldMac);
    let user = "notjunkmail";
    // Created through the test kit (its own modified UTF-7 encoder, not the reader's).
    for mailbox in ["Archiv", "Archiv.2019", "Entwürfe", "Sent Messages"] {
        server.create_mailbox(user, mailbox);
    }
    // A few deliveries as the MTA makes them.
    for i in 0..10 {
        server.deliver(user, "INBOX", &message(1000 + i));
    }

    let folders = [
        "INBOX",
        "Archiv",
        "Archiv.2019",
        "Entwürfe",
        "Sent Messages",
    ];
    let keywords = [
        "$Forwarded",
        "$NotJunk",
        "$Junk",
        "Projekt-X",
        "$MailFlagBit1",
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut s = login(&server, user).await;
        for i in 0..300usize {
            let folder = folders[i % folders.len()];
            let mut flags = Vec::new();
            if i.is_multiple_of(2) {
                flags.push("\\Seen");
            }
            if i.is_multiple_of(7) {
                flags.push("\\Answered");
            }
            if i.is_multiple_of(11) {
                flags.push("\\Flagged");
            }
            if i.is_multiple_of(13) {
                flags.push("\\Draft");
            }
            if i.is_multiple_of(5) {
                flags.push(keywords[i % keywords.len()]);
            }
            // INTERNALDATEs from 2001 on, with time zones: Dovecot stores them as the mtime.
            // async-imap sends the date as given: the quotes are ours to add.
            let date = format!(
                "\"{:02}-{}-{} {:02}:{:02}:{:02} {}\"",
                1 + i % 28,
                ["Jan", "Feb", "Mar", "Jun", "Oct", "Dec"][i % 6],
                2001 + i % 19,
                i % 24,
                i % 60,
                (i * 7) % 60,
                ["+0000", "+0100", "-0500", "+0930"][i % 4]
            );
            let flags = format!("({})", flags.join(" "));
            s.append(
                ferry_maildir::utf7::encode(folder),
                Some(&flags),
                Some(&date),
                message(i),
            )
            .await
            .unwrap_or_else(|e| panic!("APPEND {i} to {folder}: {e}"));
        }
        // Flag and keyword changes afterwards rename files but leave the uidlist's names as
        // they were; some messages are deleted without expunge, some expunged.
        for folder in folders {
            s.select(ferry_maildir::utf7::encode(folder)).await.unwrap();
            let _: Vec<_> = s
                .uid_store("1:*", "+FLAGS (Projekt-Y)")
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            for (set, change) in [
                ("2:20:2", "+FLAGS (\\Flagged $Forwarded)"),
                ("3:30:3", "-FLAGS (\\Seen Projekt-Y)"),
                ("5,9", "+FLAGS (\\Deleted)"),
            ] {
                let _: Vec<_> = s
                    .uid_store(set, change)
                    .await
                    .unwrap()
                    .try_collect()
                    .await
                    .unwrap();
            }
            let _: Vec<_> = s.expunge().await.unwrap().try_collect().await.unwrap();
            let _: Vec<_> = s
                .uid_store("10,12", "+FLAGS (\\Deleted)")
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
        }
        s.logout().await.ok();
    });

    let store = Store::open(server.mail_dir(user)).unwrap();
    let inbox = store.folder("INBOX").unwrap();
    let default = store.messages(&inbox, &ScanOptions::default()).unwrap();
    assert_eq!(
        default.deleted_pending, 2,
        "UIDs 10 and 12 are \\Deleted, not expunged"
    );

    let compared = compare_user(&server, user);
    // 310 saved, 2 expunged in each of the 5 folders.
    assert_eq!(compared, 300);
}
