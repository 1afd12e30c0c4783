//! A migration to a host that takes only OAuth tokens, lasting across several token expiries.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_imap::{AccessTokenSource, Credentials, Endpoint, Timeouts};
use ferry_oauth::{AppCredential, MicrosoftApp};
use ferry_sync::imap::ImapSide;
use ferry_sync::{StateDb, SyncOptions};
use ferry_testkit::{Dovecot, FaultProxy, Preset, TokenServer};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

const TENANT: &str = "contoso.onmicrosoft.com";
const APP: &str = "00001111-aaaa-2222-bbbb-3333cccc4444";
const SECRET: &str = "Qv~8Q~test-secret-value";
const USERS: [&str; 2] = ["alice", "bob"];
const FOLDERS: [&str; 2] = ["INBOX", "Projects"];

fn message(user: &str, i: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Sender {i} <s{i}@example.com>\r\nTo: {user}@example.net\r\nSubject: {user} message {i}\r\n\
         Date: Mon, 1 Jan 2024 10:{:02}:{:02} +0000\r\nMessage-ID: <{user}-{i}@test.example>\r\n\r\n",
        (i / 60) % 60,
        i % 60
    )
    .into_bytes();
    while m.len() < 30_000 {
        m.extend_from_slice(
            format!("line {i} of {user}'s message, to give it some size\r\n").as_bytes(),
        );
    }
    m
}

/// SHA-256 of every message in every folder (folder, digest), sorted: duplicates stay visible.
fn digests(server: &Dovecot, user: &str) -> Vec<(String, String)> {
    let mut v = Vec::new();
    for folder in FOLDERS {
        if !server.mailboxes(user).iter().any(|m| m == folder) {
            continue;
        }
        for m in server.messages(user, folder) {
            v.push((folder.to_string(), hex::encode(Sha256::digest(&m.bytes))));
        }
    }
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_of_several_accounts_across_token_expiries_copies_each_message_once() {
    let lifetime = Duration::from_secs(2);
    let tokens = TokenServer::start(lifetime);
    tokens.add_app_with_secret(TENANT, APP, SECRET);
    for user in USERS {
        tokens.grant_mailbox(APP, user);
    }
    let source = Dovecot::start(Preset::Modern);
    let dest = Dovecot::builder(Preset::Modern).oauth2(&tokens).start();
    let proxy = FaultProxy::start(dest.imaps_port());
    let app = Arc::new(
        MicrosoftApp::new(
            TENANT,
            APP,
            AppCredential::Secret(SecretString::from(SECRET.to_string())),
            Some(&tokens.microsoft_token_url(TENANT)),
        )
        .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(Mutex::new(
        StateDb::open(&dir.path().join("state.sqlite")).unwrap(),
    ));
    let dest_endpoint = Endpoint::tls(dest.host(), proxy.port()).pinned(dest.cert_sha256());
    let src_endpoint =
        Endpoint::tls(source.host(), source.imaps_port()).pinned(source.cert_sha256());

    let mut next = BTreeMap::new();
    let started = Instant::now();
    let rounds = 5;
    let mut interrupted = 0;
    for round in 0..rounds {
        // New mail on the old server between runs.
        for user in USERS {
            for folder in FOLDERS {
                let n = next.entry(user).or_insert(0usize);
                for _ in 0..if round == 0 { 6 } else { 3 } {
                    *n += 1;
                    source.deliver(user, folder, &message(user, *n));
                }
            }
        }
        // In one round, connections to the destination are cut while messages are appended:
        // the engine reconnects, and the new connections sign in with whatever token is current.
        let cut_round = round == 2;
        if cut_round {
            // About half of this round's appends pass, then every connection is cut.
            proxy.cut_after_bytes(200_000);
        }
        let run = |user: &'static str| {
            let src = Arc::new(ImapSide::new(
                src_endpoint.clone(),
                Credentials::new(user, SecretString::from(source.password(user).to_string())),
                2,
            ));
            let dst = Arc::new(
                ImapSide::new(
                    dest_endpoint.clone(),
                    Credentials::oauth(user, app.clone() as Arc<dyn AccessTokenSource>),
                    2,
                )
                .with_timeouts(Timeouts::all(Duration::from_secs(20))),
            );
            let opts = SyncOptions {
                backoff: Duration::from_millis(100),
                ..SyncOptions::default()
            };
            let quiet: ferry_sync::ProgressFn = Arc::new(|_| {});
            ferry_sync::sync_account(src, dst, state.clone(), opts, quiet)
        };
        // The network comes back a moment later.
        let cut = async {
            if cut_round {
                tokio::time::sleep(Duration::from_millis(400)).await;
                proxy.resume();
            }
        };
        let (a, b, ()) = tokio::join!(run(USERS[0]), run(USERS[1]), cut);
        for (user, summary) in USERS.into_iter().zip([a, b]) {
            if summary.complete() {
                continue;
            }
            // Cut before any copying (while the run looked at the folders), the run stops and
            // says to run again, as the admin then does.
            assert_eq!(
                round, 2,
                "{user}: {:?} {:?}",
                summary.fatal, summary.failures
            );
            interrupted += 1;
            let again = run(user).await;
            assert!(
                again.complete(),
                "{user}: {:?} {:?}",
                again.fatal,
                again.failures
            );
        }
        // Let the token expire between runs (2 s lifetime, renewed 0.4 s before).
        tokio::time::sleep(Duration::from_millis(1300)).await;
    }
    let elapsed = started.elapsed();

    for user in USERS {
        assert_eq!(
            digests(&dest, user),
            digests(&source, user),
            "{user}: every message exactly once"
        );
        assert_eq!(digests(&dest, user).len(), 2 * (6 + 3 * (rounds - 1)));
    }
    // The runs spanned at least three token lifetimes (rounds 1.3 s apart, tokens renewed at
    // 1.6 s of age): at least three tokens were fetched, one per round at most...
    assert!(
        elapsed >= Duration::from_secs(6),
        "the test lasted {elapsed:?}"
    );
    assert!(
        tokens.tokens_issued() >= 3,
        "{} tokens",
        tokens.tokens_issued()
    );
    // ...and at most one per renewal period, however many connections signed in meanwhile.
    let periods = elapsed.as_secs_f64() / 1.6;
    assert!(
        (tokens.tokens_issued() as f64) <= periods.ceil() + 1.0,
        "{} tokens in {elapsed:?} for {} logins",
        tokens.tokens_issued(),
        tokens.introspections()
    );
    eprintln!(
        "{} s, {} token(s) fetched, {} OAuth logins, {} connections through the proxy, {interrupted} run(s) cut and run again",
        elapsed.as_secs_f64(),
        tokens.tokens_issued(),
        tokens.introspections(),
        proxy.connections()
    );
}
