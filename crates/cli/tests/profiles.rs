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
    assert!(stdout.contains("Wrote 3 profiles for 3 people"), "{stdout}");
    assert!(
        stdout.contains(
            "  bjoern.mueller@example.org  bmueller.mobileconfig  asks for: app password\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("Not signed"), "{stdout}");
    assert!(stdout.contains("No profile for mwolf"), "{stdout}");
    assert!(
        stdout.contains(
            "Note: People are asked for an app password while installing: Fastmail refuses the \
             usual password in mail apps."
        ),
        "{stdout}"
    );
    assert!(
        !stdout.contains("holds a password") && !stdout.contains("WARNING"),
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
        Some("com.example.ferry.mail.bmueller")
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

/// Bug: `--with-passwords` for Microsoft 365 asked for the vault and then wrote no password.
/// Now it is refused first: no passphrase asked for, no vault opened, nothing written.
#[test]
fn with_passwords_for_microsoft_365_is_refused_before_the_vault_is_opened() {
    let out = tempfile::tempdir().unwrap();
    let vault_dir = tempfile::tempdir().unwrap();
    let vault_path = vault_dir.path().join("passwords.ferry");
    let run = ferry()
        .args([
            "profiles",
            "export",
            "--dest-preset",
            "m365",
            "--with-passwords",
            "--vault",
            "file",
        ])
        .arg("--vault-file")
        .arg(&vault_path)
        .arg("--root")
        .arg(ferry_testkit::fixture_root())
        .arg("--out")
        .arg(out.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "Microsoft 365 signs people in on its own page and takes no password in a profile; \
             export without passwords (people sign in after installing) (leave out \
             --with-passwords)"
        ),
        "{stderr}"
    );
    assert!(!stderr.to_lowercase().contains("passphrase"), "{stderr}");
    assert!(!vault_path.exists(), "no vault created");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

/// Bug: `--imap-too` for Microsoft 365 wrote an IMAP account with password sign-in.
#[test]
fn imap_too_for_microsoft_365_is_refused() {
    let out = tempfile::tempdir().unwrap();
    let run = ferry()
        .args(["profiles", "export", "--dest-preset", "m365", "--imap-too"])
        .arg("--root")
        .arg(ferry_testkit::fixture_root())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "{stderr}");
    assert!(
        stderr.contains("Microsoft 365 takes no password over IMAP and SMTP"),
        "{stderr}"
    );
    assert!(stderr.contains("(leave out --imap-too)"), "{stderr}");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

#[test]
fn microsoft_365_says_what_macs_and_iphones_get() {
    let out = tempfile::tempdir().unwrap();
    let run = ferry()
        .args(["profiles", "export", "--dest-preset", "m365"])
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
    assert!(stdout.contains("Wrote 3 profiles for 3 people"), "{stdout}");
    assert!(
        stdout.contains(
            "  bjoern.mueller@example.org  bmueller-ios.mobileconfig  asks for: sign-in on the \
             host's page\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("\nNote: Macs get no profile: "), "{stdout}");
    assert!(!out.path().join("bmueller-mac.mobileconfig").exists());

    // With --mac-ews, Macs get the Exchange Web Services profile, with its end date.
    let run = ferry()
        .args(["profiles", "export", "--dest-preset", "m365", "--mac-ews"])
        .arg("--root")
        .arg(ferry_testkit::fixture_root())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}");
    assert!(stdout.contains("Wrote 6 profiles for 3 people"), "{stdout}");
    assert!(
        stdout.contains("Note: Macs get an Exchange Web Services account"),
        "{stdout}"
    );
    let mac = plist::Value::from_file(out.path().join("bmueller-mac.mobileconfig")).unwrap();
    let ios = plist::Value::from_file(out.path().join("bmueller-ios.mobileconfig")).unwrap();
    let id = |v: &plist::Value| {
        v.as_dictionary().unwrap()["PayloadIdentifier"]
            .as_string()
            .unwrap()
            .to_string()
    };
    assert_eq!(id(&mac), "com.example.ferry.mail.bmueller");
    assert_eq!(id(&ios), id(&mac));

    // --mac-ews with a host without Exchange is a clear error.
    let run = ferry()
        .args([
            "profiles",
            "export",
            "--dest-preset",
            "fastmail",
            "--mac-ews",
        ])
        .arg("--root")
        .arg(ferry_testkit::fixture_root())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        stderr.contains("Fastmail has no Exchange account type") && stderr.contains("--mac-ews"),
        "{stderr}"
    );
}
