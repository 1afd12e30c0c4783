//! The test kit's servers are real and behave like the hosts a migration meets.

use ferry_testkit::{Dovecot, FaultProxy, Preset};
use std::net::TcpStream;

const MESSAGE: &[u8] = b"From: =?UTF-8?Q?J=C3=B6rg?= <joerg@example.com>\r\n\
To: alice@example.com\r\n\
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n\
Message-ID: <kit-roundtrip@example.com>\r\n\
Date: Tue, 14 May 2019 09:30:00 +0200\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: 8bit\r\n\
\r\n\
Gr\xc3\xbc\xc3\x9fe aus M\xc3\xbcnchen.\r\n\
trailing spaces   \r\n";

/// Logs in, creates a folder with a non-ASCII name, appends with flags and a date, reads back.
fn round_trip(server: &Dovecot, user: &str, folder: &str) {
    server.create_mailbox(user, folder);
    assert!(
        server.mailboxes(user).iter().any(|m| m == folder),
        "{folder} not in {:?}",
        server.mailboxes(user)
    );
    server.append(
        user,
        folder,
        &["\\Seen", "\\Flagged", "$Forwarded"],
        Some("14-May-2019 09:30:00 +0200"),
        MESSAGE,
    );
    let got = server.messages(user, folder);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].bytes, MESSAGE, "bytes changed on the way");
    let mut flags = got[0].flags.clone();
    flags.sort();
    assert_eq!(flags, ["$Forwarded", "\\Flagged", "\\Seen"]);
    assert_eq!(got[0].internal_date, 1_557_819_000);
}

#[test]
fn old_mac_round_trips_and_serves_the_fixture_store() {
    let server = Dovecot::start(Preset::OldMac);
    let names: Vec<_> = server.users().iter().map(|u| u.name.as_str()).collect();
    assert_eq!(
        names,
        ["asmith", "bmueller", "jdoe", "junkmail", "notjunkmail"]
    );
    // The fixture's own folders, UTF-8 with '.' as separator.
    let folders = server.mailboxes("bmueller");
    for f in [
        "Entwürfe Kunden",
        "Входящие",
        "R&D",
        "Rechnungen.2018",
        "日本語",
    ] {
        assert!(folders.iter().any(|m| m == f), "{f} missing in {folders:?}");
    }
    // jdoe's INBOX: UIDs from dovecot-uidlist, UID 9 expunged, the new file gets UID 15.
    let inbox = server.messages("jdoe", "INBOX");
    let uids: Vec<u32> = inbox.iter().map(|m| m.uid).collect();
    assert!(uids.contains(&15) && !uids.contains(&9), "{uids:?}");
    round_trip(&server, "bmueller", "Verträge.2024");
}

#[test]
fn modern_round_trips_and_has_special_use_folders() {
    let server = Dovecot::start(Preset::Modern);
    let folders = server.mailboxes("alice");
    for f in ["INBOX", "Sent", "Trash", "Junk", "Drafts", "Archive"] {
        assert!(folders.iter().any(|m| m == f), "{f} missing in {folders:?}");
    }
    round_trip(&server, "alice", "Projekte/Überblick");
}

#[test]
fn prefixed_round_trips_under_its_namespace() {
    let server = Dovecot::start(Preset::Prefixed);
    assert!(server.mailboxes("alice").iter().any(|m| m == "INBOX"));
    round_trip(&server, "alice", "INBOX.Привет");
}

#[test]
fn master_user_logs_in_for_any_user_and_wrong_passwords_fail() {
    let server = Dovecot::start(Preset::OldMac);
    let master = server.master_user();
    server
        .check_login(&format!("jdoe*{}", master.name), &master.password)
        .expect("master login");
    server
        .check_login("jdoe", server.password("jdoe"))
        .expect("user login");
    assert!(server.check_login("jdoe", "wrong").is_err());
}

#[test]
fn deliver_quota_and_size_limit() {
    let server = Dovecot::builder(Preset::Modern)
        .quota_bytes("alice", 40_000)
        .max_message_size(20_000)
        .user("carol", "carol-secret")
        .start();
    server.deliver("carol", "INBOX", b"Subject: one\r\n\r\nbody\r\n");
    assert_eq!(server.messages("carol", "INBOX").len(), 1);

    let big = format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(25_000));
    server
        .try_append("bob", "INBOX", &[], None, big.as_bytes())
        .expect_err("over the size limit");
    assert!(server.messages("bob", "INBOX").is_empty());
    assert!(server
        .doveadm(&["-f", "flow", "mailbox", "status", "-u", "bob", "messages", "INBOX"])
        .contains("messages=0"));

    let chunk = format!("Subject: chunk\r\n\r\n{}\r\n", "y".repeat(15_000));
    let mut refused = None;
    for i in 0..5 {
        if let Err(e) = server.try_append("alice", "INBOX", &[], None, chunk.as_bytes()) {
            refused = Some((i, e));
            break;
        }
    }
    // Dovecot refuses before the literal is sent; the refusal's words are the imap crate's job.
    let (i, _err) = refused.expect("quota must refuse an append");
    assert!(i >= 2, "refused too early ({i})");
    assert_eq!(
        server.messages("alice", "INBOX").len(),
        i,
        "a refused append was stored"
    );
}

#[test]
fn a_dropped_server_leaves_no_process_and_no_port() {
    let server = Dovecot::start(Preset::Modern);
    let pid = server.pid().expect("running") as libc::pid_t;
    let (imaps, imap) = (server.imaps_port(), server.imap_port());
    assert!(TcpStream::connect(("127.0.0.1", imaps)).is_ok());
    drop(server);
    // SAFETY: signal 0 only asks whether the pid exists.
    assert_ne!(unsafe { libc::kill(pid, 0) }, 0, "dovecot {pid} still runs");
    assert!(TcpStream::connect(("127.0.0.1", imaps)).is_err());
    assert!(TcpStream::connect(("127.0.0.1", imap)).is_err());
}

#[test]
fn fault_proxy_forwards_then_cuts() {
    use std::io::{Read, Write};
    let server = Dovecot::builder(Preset::Modern).plaintext(true).start();
    let proxy = FaultProxy::start(server.imap_port());
    let mut s = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"* OK"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    proxy.cut_now();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let _ = s.write_all(b"a NOOP\r\n");
    let n = s.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "connection still alive after cut_now");

    // A byte budget: the greeting passes, the rest is cut.
    proxy.resume();
    proxy.cut_after_bytes(10);
    let mut s = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert_eq!(got.len(), 10, "{:?}", String::from_utf8_lossy(&got));
}
