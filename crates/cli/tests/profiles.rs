//! `ferry profiles export` as a user runs it: on the fixture server, into a temp folder.

use std::process::Command;

use ferry_vault::{FileVault, KdfParams, Secret, Vault};
use secrecy::SecretString;

fn ferry() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
    // Secrets come from the environment only where a test sets them.
    cmd.env_remove("FERRY_P12_PASSWORD")
        .env_remove("FERRY_VAULT_PASSPHRASE");
    cmd
}

#[test]
fn export_writes_a_profile_per_user_and_says_what_it_did() {
    let out = tempfile::tempdir().unwrap();
    let run = ferry()
        .args([
            "profiles",
            "export",
            "--dest-preset",
            "fastmail",
            "--org-name",
            "Example GmbH",
        ])
        .arg("--root")
        .arg(ferry_testkit::fixture_root())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("Wrote 3 profile(s) for 3 user(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("bjoern.mueller@example.org  bmueller.mobileconfig"),
        "{stdout}"
    );
    assert!(stdout.contains("Not signed"), "{stdout}");
    assert!(stdout.contains("No profile for mwolf"), "{stdout}");
    assert!(
        !stdout.contains("password"),
        "no password unless asked: {stdout}"
    );
    for file in [
        "jdoe.mobileconfig",
        "asmith.mobileconfig",
        "bmueller.mobileconfig",
        "manifest.csv",
        "all-profiles.plist",
    ] {
        assert!(out.path().join(file).is_file(), "{file}");
    }
    let doc = plist::Value::from_file(out.path().join("bmueller.mobileconfig")).unwrap();
    let doc = doc.as_dictionary().unwrap();
    // Default identifiers: reverse DNS of the old server's first mail domain.
    assert_eq!(
        doc["PayloadIdentifier"].as_string(),
        Some("com.example.ferry.mail.bmueller.all")
    );
    assert_eq!(doc["PayloadOrganization"].as_string(), Some("Example GmbH"));
}

#[test]
fn with_passwords_reads_the_vault_and_warns_loudly() {
    let out = tempfile::tempdir().unwrap();
    let vault_dir = tempfile::tempdir().unwrap();
    let vault_path = vault_dir.path().join("passwords.ferry");
    let passphrase = SecretString::from("vault pass phrase".to_string());
    // Cheap KDF: the file records its parameters, so the CLI opens it with the same ones.
    let vault = FileVault::open_or_create(
        &vault_path,
        &passphrase,
        KdfParams {
            log_n: 10,
            r: 8,
            p: 1,
        },
    )
    .unwrap();
    for login in ["jane.doe", "arthur.smith", "bjoern.mueller"] {
        vault
            .set(
                "mail.example.net",
                login,
                &Secret::new(format!("{login}-Secret-42")),
            )
            .unwrap();
    }
    let run = ferry()
        .args([
            "profiles",
            "export",
            "--dest-preset",
            "imap",
            "--imap-host",
            "mail.example.net",
            "--smtp-host",
            "mail.example.net",
            "--login",
            "local-part",
            "--with-passwords",
            "--vault",
            "file",
            "--json",
        ])
        .arg("--vault-file")
        .arg(&vault_path)
        .arg("--root")
        .arg(ferry_testkit::fixture_root())
        .arg("--out")
        .arg(out.path())
        .env("FERRY_VAULT_PASSPHRASE", "vault pass phrase")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("hold passwords in clear"), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["containsPasswords"], true);
    let text = std::fs::read_to_string(out.path().join("bmueller.mobileconfig")).unwrap();
    assert!(text.contains("<string>bjoern.mueller-Secret-42</string>"));
    assert!(
        text.contains("<string>bjoern.mueller</string>"),
        "login is the local part"
    );
    // Passwords never reach stdout or stderr.
    assert!(!String::from_utf8_lossy(&run.stdout).contains("Secret-42"));
    assert!(!stderr.contains("Secret-42"));
}

#[test]
fn a_bad_preset_or_missing_host_is_a_clear_error() {
    let out = tempfile::tempdir().unwrap();
    let run = ferry()
        .args(["profiles", "export", "--dest-preset", "exchange"])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("use one of google, m365, fastmail, imap")
    );
    let run = ferry()
        .args(["profiles", "export", "--dest-preset", "imap"])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("enter the host name"));
}
