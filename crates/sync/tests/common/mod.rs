//! Helpers for the engine's tests against real Dovecot servers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ferry_imap::{Credentials, Endpoint};
use ferry_sync::imap::ImapSide;
use ferry_sync::report::AccountSummary;
use ferry_sync::{ProgressFn, StateDb, SyncOptions};
use ferry_testkit::Dovecot;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

pub fn side(server: &Dovecot, user: &str, connections: usize) -> Arc<ImapSide> {
    side_on_port(server, server.imaps_port(), user, connections)
}

pub fn side_on_port(server: &Dovecot, port: u16, user: &str, connections: usize) -> Arc<ImapSide> {
    let ep = Endpoint::tls(server.host(), port).pinned(server.cert_sha256());
    let creds = Credentials::new(user, SecretString::from(server.password(user).to_string()));
    Arc::new(ImapSide::new(ep, creds, connections))
}

pub fn state(dir: &tempfile::TempDir) -> ferry_sync::SharedState {
    Arc::new(Mutex::new(
        StateDb::open(&dir.path().join("state.sqlite")).expect("state db"),
    ))
}

pub fn quiet() -> ProgressFn {
    Arc::new(|_| {})
}

pub async fn sync(
    src: &Arc<ImapSide>,
    dst: &Arc<ImapSide>,
    st: &ferry_sync::SharedState,
    opts: SyncOptions,
) -> AccountSummary {
    ferry_sync::sync_account(src.clone(), dst.clone(), st.clone(), opts, quiet()).await
}

/// A message as compared: SHA-256 of the bytes, flags (sorted), INTERNALDATE.
pub type Fingerprint = (String, Vec<String>, i64);

pub fn fingerprints(server: &Dovecot, user: &str, mailbox: &str) -> Vec<Fingerprint> {
    let mut v: Vec<Fingerprint> = server
        .messages(user, mailbox)
        .into_iter()
        .map(|m| {
            let mut flags = m.flags.clone();
            flags.sort();
            (
                hex::encode(Sha256::digest(&m.bytes)),
                flags,
                m.internal_date,
            )
        })
        .collect();
    v.sort();
    v
}

/// Per destination folder: the fingerprints the source folders mapped to it hold (a multiset).
pub fn expected_by_dest(
    src: &Dovecot,
    src_user: &str,
    summary: &AccountSummary,
) -> BTreeMap<String, Vec<Fingerprint>> {
    let mut out: BTreeMap<String, Vec<Fingerprint>> = BTreeMap::new();
    for m in &summary.plan.folders {
        out.entry(m.dest.clone())
            .or_default()
            .extend(fingerprints(src, src_user, &m.source));
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

pub fn total(map: &BTreeMap<String, Vec<Fingerprint>>) -> u64 {
    map.values().map(|v| v.len() as u64).sum()
}

pub fn raw_message(i: usize, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Sender {i} <s{i}@example.com>\r\nTo: alice@example.net\r\nSubject: message {i}\r\n\
         Date: Mon, 1 Jan 2024 10:{:02}:{:02} +0000\r\nMessage-ID: <m{i}@test.example>\r\n\r\n",
        (i / 60) % 60,
        i % 60
    )
    .into_bytes();
    while m.len() < size {
        m.extend_from_slice(format!("line {i} of the body, some text to fill it\r\n").as_bytes());
    }
    m
}

/// Changes a message's flags on a server the way a mail client would (`doveadm flags`):
/// `change` is add, remove or replace; `flags` a space-separated list.
pub fn change_flags(
    server: &Dovecot,
    user: &str,
    mailbox: &str,
    uid: u32,
    change: &str,
    flags: &str,
) {
    let uid = uid.to_string();
    server.doveadm(&[
        "flags", change, "-u", user, flags, "mailbox", mailbox, "uid", &uid,
    ]);
}

/// Writes messages straight into a user's Maildir folder (`INBOX`, or a folder below it), as the
/// old server's store would hold them: many messages in a moment, INTERNALDATE from the file's
/// modification time (`dates`: seconds since 1970, one per message). Dovecot indexes them on the
/// next access.
pub fn seed_maildir(server: &Dovecot, user: &str, folder: &str, messages: &[(Vec<u8>, i64)]) {
    let root = server.mail_dir(user).to_path_buf();
    let dir = if folder == "INBOX" {
        root.clone()
    } else {
        root.join(format!(".{}", ferry_testkit::mutf7_encode(folder)))
    };
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).expect("maildir folder");
    }
    if folder != "INBOX" {
        std::fs::write(dir.join("maildirfolder"), b"").expect("maildirfolder");
    }
    let tag = folder.replace(['/', '.', ' '], "_");
    for (i, (bytes, date)) in messages.iter().enumerate() {
        let name = format!("{date}.M{i}P{tag}.seeded,S={}:2,S", bytes.len());
        let path = dir.join("cur").join(name);
        std::fs::write(&path, bytes).expect("write message");
        let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(*date as u64);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(when))
            .expect("set the message's date");
    }
    server.give_to_mail_user(&root);
    server.doveadm(&["mailbox", "status", "-u", user, "messages", "*"]);
}

/// SHA-256 of every message's bytes in a mailbox (sorted): the multiset the test compares.
pub fn digests(server: &Dovecot, user: &str, mailbox: &str) -> Vec<String> {
    let mut v: Vec<String> = server
        .messages(user, mailbox)
        .iter()
        .map(|m| hex::encode(Sha256::digest(&m.bytes)))
        .collect();
    v.sort();
    v
}
