//! `ferry sync --accounts` with Microsoft's `EmailAddress,UserName,Password` CSV: the column is
//! the source login's password; each destination password comes from the vault by (destination
//! host, address), as `ferry credentials` stores it, else FERRY_DEST_PASSWORD. Real binary, real
//! encrypted-file vault, real Modern Dovecot servers with a different password per account.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::shown;
use ferry_testkit::{Dovecot, Preset};

mod common;

const PASSPHRASE: &str = "accounts test passphrase";

fn raw_message(who: &str, i: usize) -> Vec<u8> {
    format!(
        "From: <x{i}@example.com>\r\nTo: {who}@example.net\r\nSubject: for {who} {i}\r\n\
         Date: Thu, 4 Jan 2024 11:00:{i:02} +0000\r\nMessage-ID: <{who}{i}@accounts.example>\r\n\r\n\
         hello {who}\r\n"
    )
    .into_bytes()
}

fn with_vault(c: &mut Command, vault: &Path) {
    c.env("FERRY_VAULT", "file")
        .env("FERRY_VAULT_FILE", vault)
        .env("FERRY_VAULT_PASSPHRASE", PASSPHRASE)
        .env_remove("FERRY_SOURCE_PASSWORD")
        .env_remove("FERRY_DEST_PASSWORD")
        .stdin(Stdio::null());
}

/// `ferry credentials set USER --host HOST`, the password on standard input.
fn store(vault: &Path, host: &str, user: &str, password: &str) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferry"));
    c.args(["credentials", "set", user, "--host", host]);
    with_vault(&mut c, vault);
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", shown(&out));
}

fn count(dst: &Dovecot, user: &str) -> usize {
    dst.messages(user, "INBOX").len()
}

#[test]
fn microsoft_csv_destination_passwords_per_account_from_the_vault() {
    let src = Dovecot::start(Preset::Modern);
    let dst = Dovecot::builder(Preset::Modern)
        .user("carol@example.net", "Dest-Carol-pw-1")
        .user("dave@example.net", "Dest-Dave-pw-2")
        .start();
    for i in 0..2 {
        src.deliver("alice", "INBOX", &raw_message("alice", i));
        src.deliver("bob", "INBOX", &raw_message("bob", i));
    }
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("passwords.ferry-vault");
    let accounts = dir.path().join("accounts.csv");
    // Source passwords in the file (Microsoft's meaning of the column), destination ones not.
    std::fs::write(
        &accounts,
        format!(
            "EmailAddress,UserName,Password\ncarol@example.net,alice,{}\ndave@example.net,bob,{}\n",
            src.password("alice"),
            src.password("bob")
        ),
    )
    .unwrap();
    let sync = |extra: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ferry"));
        c.arg("sync")
            .arg("--accounts")
            .arg(&accounts)
            .arg("--source")
            .arg(format!("imaps://127.0.0.1:{}", src.imaps_port()))
            .arg("--source-cert-sha256")
            .arg(src.cert_sha256())
            .arg("--dest")
            .arg(format!("imaps://127.0.0.1:{}", dst.imaps_port()))
            .arg("--dest-cert-sha256")
            .arg(dst.cert_sha256())
            .arg("--state")
            .arg(dir.path().join("state.sqlite"))
            .args(extra);
        with_vault(&mut c, &vault);
        c
    };

    // Only carol's destination password stored: dave's missing one is named, with the command
    // that stores it, and nothing is copied for anyone.
    store(&vault, "127.0.0.1", "carol@example.net", "Dest-Carol-pw-1");
    let out = sync(&[]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(err.contains("line 3"), "{err}");
    assert!(
        err.contains("\"dave@example.net\""),
        "names the account: {err}"
    );
    assert!(
        err.contains("ferry credentials set dave@example.net --host 127.0.0.1"),
        "says how to store it: {err}"
    );
    assert!(err.contains("FERRY_DEST_PASSWORD"), "{err}");
    assert!(!err.contains("Dest-Carol-pw-1"), "never a password: {err}");
    assert_eq!(count(&dst, "carol@example.net"), 0);

    // Both stored, each different: both accounts arrive.
    store(&vault, "127.0.0.1", "dave@example.net", "Dest-Dave-pw-2");
    let out = sync(&["--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["copied"], 4, "{report}");
    assert_eq!(count(&dst, "carol@example.net"), 2);
    assert_eq!(count(&dst, "dave@example.net"), 2);
    let text = shown(&out);
    for pw in ["Dest-Carol-pw-1", "Dest-Dave-pw-2"] {
        assert!(!text.contains(pw), "a password was printed: {text}");
    }

    // The vault's per-account entry wins over FERRY_DEST_PASSWORD (a wrong one here), which is
    // only the fallback for accounts the vault has nothing for.
    src.deliver("alice", "INBOX", &raw_message("alice", 2));
    let out = sync(&["--json"])
        .env("FERRY_DEST_PASSWORD", "not-the-password")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    assert_eq!(count(&dst, "carol@example.net"), 3);

    // The source passwords imported from Microsoft's CSV by `ferry credentials import` (which
    // scrubs the file): an accounts file with the Password cells empty then needs no password.
    let import = dir.path().join("import.csv");
    std::fs::copy(&accounts, &import).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferry"));
    c.args([
        "credentials",
        "import",
        "--source-host",
        "127.0.0.1",
        "--delete-file",
    ])
    .arg(&import);
    with_vault(&mut c, &vault);
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", shown(&out));
    assert!(!import.exists());
    std::fs::write(
        &accounts,
        "EmailAddress,UserName,Password\ncarol@example.net,alice,\ndave@example.net,bob,\n",
    )
    .unwrap();
    src.deliver("bob", "INBOX", &raw_message("bob", 2));
    let out = sync(&["--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["copied"], 1, "{report}");
    assert_eq!(count(&dst, "dave@example.net"), 3);
}
