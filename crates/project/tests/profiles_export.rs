//! Phase 8 end to end on the fixture server: discovery -> profiles for every destination preset,
//! checked against Apple's schema and read back; bmueller's profile; stable UUIDs; passwords only
//! from the vault and only when asked; signing.

use std::path::{Path, PathBuf};

use ferry_profiles::schema::Schema;
use ferry_project::destination::{Destination, PresetId};
use ferry_project::profiles::{
    accounts_from_inventory, export, ExportError, ExportRequest, ProfileAccount, Signing,
};
use ferry_vault::{MemoryVault, Secret, Vault};
use plist::Value;
use secrecy::SecretString;

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/oracles/apple-device-management")
}

fn accounts() -> Vec<ProfileAccount> {
    let inventory =
        ferry_project::discover::run(&ferry_testkit::fixture_root()).expect("discovery");
    let (accounts, skipped) = accounts_from_inventory(&inventory);
    // mwolf forwards elsewhere; the junk-training mailboxes are not accounts.
    assert!(skipped.contains(&"mwolf".to_string()), "{skipped:?}");
    accounts
}

fn destination(preset: PresetId) -> Destination {
    match preset {
        PresetId::GenericImap => Destination::generic("imap.example.net", "smtp.example.net"),
        other => Destination::preset(other),
    }
}

fn request<'a>(out: &Path, preset: PresetId) -> ExportRequest<'a> {
    ExportRequest {
        out_dir: out.to_path_buf(),
        migration_id: "mail.example.com".into(),
        organization: ferry_profiles::Organization {
            name: "Example GmbH".into(),
            domain: "example.com".into(),
        },
        destination: destination(preset),
        accounts: accounts(),
        passwords: None,
        signing: None,
        imap_with_native: false,
    }
}

fn manifest(dir: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_path(dir.join("manifest.csv")).unwrap();
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn every_preset_exports_valid_profiles_for_the_fixture_users() {
    let schema = Schema::load(&schema_dir()).unwrap();
    for preset in PresetId::ALL {
        for imap_with_native in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let mut req = request(dir.path(), preset);
            req.imap_with_native = imap_with_native;
            let report = export(req).unwrap_or_else(|e| panic!("{preset:?}: {e}"));
            assert!(!report.contains_passwords);
            let users: std::collections::BTreeSet<&str> =
                report.profiles.iter().map(|p| p.user.as_str()).collect();
            assert_eq!(
                users.into_iter().collect::<Vec<_>>(),
                ["asmith", "bmueller", "jdoe"],
                "{preset:?}"
            );
            for p in &report.profiles {
                let bytes = std::fs::read(dir.path().join(&p.file)).unwrap();
                let platforms: &[&str] = match p.target.as_str() {
                    "mac" => &["macOS"],
                    "ios" => &["iOS"],
                    _ => &["macOS", "iOS"],
                };
                let problems = schema.check(&bytes, platforms);
                assert!(problems.is_empty(), "{preset:?} {}: {problems:#?}", p.file);
                Value::from_reader(std::io::Cursor::new(&bytes)).expect("parses back");
            }
            assert_eq!(manifest(dir.path()).len(), report.profiles.len());
            let combined = Value::from_file(dir.path().join("all-profiles.plist")).unwrap();
            assert_eq!(combined.as_array().unwrap().len(), report.profiles.len());
        }
    }
}

#[test]
fn bmuellers_profile_from_the_fixture_is_right() {
    let dir = tempfile::tempdir().unwrap();
    let report = export(request(dir.path(), PresetId::Fastmail)).unwrap();
    let entry = report
        .profiles
        .iter()
        .find(|p| p.user == "bmueller")
        .unwrap();
    assert_eq!(entry.file, "bmueller.mobileconfig");
    assert_eq!(entry.address, "bjoern.mueller@example.org");
    let doc = Value::from_file(dir.path().join(&entry.file)).unwrap();
    let doc = doc.as_dictionary().unwrap();
    assert_eq!(
        doc["PayloadIdentifier"].as_string(),
        Some("com.example.ferry.mail.bmueller.all")
    );
    let mail = doc["PayloadContent"].as_array().unwrap()[0]
        .as_dictionary()
        .unwrap()
        .clone();
    let get = |k: &str| mail[k].as_string().unwrap().to_string();
    // The directory's RealName, as UTF-8 (NFC as in the fixture).
    assert_eq!(get("EmailAccountName"), "Björn Müller");
    assert_eq!(get("EmailAddress"), "bjoern.mueller@example.org");
    assert_eq!(get("IncomingMailServerHostName"), "imap.fastmail.com");
    assert_eq!(
        get("IncomingMailServerUsername"),
        "bjoern.mueller@example.org"
    );
    assert_eq!(get("OutgoingMailServerHostName"), "smtp.fastmail.com");
    assert_eq!(
        mail["OutgoingMailServerPortNumber"].as_signed_integer(),
        Some(465)
    );
    assert!(mail.get("IncomingPassword").is_none());
}

#[test]
fn a_re_export_yields_the_same_uuids() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    export(request(first.path(), PresetId::Microsoft365)).unwrap();
    export(request(second.path(), PresetId::Microsoft365)).unwrap();
    let a = manifest(first.path());
    let b = manifest(second.path());
    assert_eq!(a, b);
    assert!(a.iter().all(|row| row[6].contains("com.apple.")), "{a:?}");
    // Exporting again into the same folder replaces the files, same names, same UUIDs.
    export(request(first.path(), PresetId::Microsoft365)).unwrap();
    assert_eq!(manifest(first.path()), b);
}

#[test]
fn passwords_come_from_the_vault_only_when_asked() {
    let vault = MemoryVault::new();
    let dir = tempfile::tempdir().unwrap();
    let mut req = request(dir.path(), PresetId::Fastmail);
    let logins: Vec<String> = req.accounts.iter().map(|a| a.address.clone()).collect();
    req.passwords = Some(&vault);
    // None stored yet: the export says for whom, and writes nothing.
    match export(req) {
        Err(ExportError::MissingPasswords { users, .. }) => {
            assert!(users.contains("bjoern.mueller@example.org"), "{users}")
        }
        other => panic!("expected MissingPasswords, got {other:?}"),
    }
    assert!(!dir.path().join("manifest.csv").exists());

    for (i, login) in logins.iter().enumerate() {
        vault
            .set(
                "imap.fastmail.com",
                login,
                &Secret::new(format!("app-pw-{i}-x7Q")),
            )
            .unwrap();
    }
    let mut req = request(dir.path(), PresetId::Fastmail);
    req.passwords = Some(&vault);
    let report = export(req).unwrap();
    assert!(report.contains_passwords);
    let b = report
        .profiles
        .iter()
        .find(|p| p.user == "bmueller")
        .unwrap();
    assert!(b.contains_password);
    let i = logins
        .iter()
        .position(|l| l == "bjoern.mueller@example.org")
        .unwrap();
    let text = std::fs::read_to_string(dir.path().join(&b.file)).unwrap();
    assert!(text.contains(&format!("<string>app-pw-{i}-x7Q</string>")));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(&b.file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "a file with a password is private");
    }

    // Microsoft 365 signs in with OAuth: never a password, even when asked.
    let mut req = request(dir.path(), PresetId::Microsoft365);
    for login in &logins {
        vault
            .set(
                "outlook.office365.com",
                login,
                &Secret::new("unused".into()),
            )
            .unwrap();
    }
    req.passwords = Some(&vault);
    let report = export(req).unwrap();
    assert!(!report.contains_passwords);
}

#[test]
fn a_signed_export_verifies_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(keys.path())
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-keyout",
        "k.pem",
        "-out",
        "c.pem",
        "-subj",
        "/CN=Example IT",
    ]);
    run(&[
        "pkcs12", "-export", "-inkey", "k.pem", "-in", "c.pem", "-out", "id.p12", "-passout",
        "pass:pw",
    ]);
    let mut req = request(dir.path(), PresetId::GoogleWorkspace);
    req.signing = Some(Signing::Pkcs12 {
        path: keys.path().join("id.p12"),
        password: SecretString::from("pw".to_string()),
    });
    let report = export(req).unwrap();
    assert_eq!(report.signed_by.as_deref(), Some("CN=Example IT"));
    for p in &report.profiles {
        let out = std::process::Command::new("openssl")
            .args(["smime", "-verify", "-inform", "der", "-noverify", "-in"])
            .arg(dir.path().join(&p.file))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            p.file,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("<plist"));
    }
}

#[test]
fn a_bad_destination_or_no_accounts_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut req = request(dir.path(), PresetId::GenericImap);
    req.destination = Destination::preset(PresetId::GenericImap);
    assert!(matches!(export(req), Err(ExportError::Destination(_))));
    let mut req = request(dir.path(), PresetId::Fastmail);
    req.accounts.clear();
    assert!(matches!(export(req), Err(ExportError::NoAccounts)));
}
