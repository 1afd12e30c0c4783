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
