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
        ews_on_mac: false,
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
        for (imap_with_native, ews_on_mac) in [(false, false), (true, false), (false, true)] {
            let dir = tempfile::tempdir().unwrap();
            let mut req = request(dir.path(), preset);
            req.imap_with_native = imap_with_native;
            req.ews_on_mac = ews_on_mac;
            let report = match (preset, export(req)) {
                (PresetId::Microsoft365, Err(ExportError::ImapNotTaken { .. }))
                    if imap_with_native =>
                {
                    continue
                }
                (PresetId::Microsoft365, result) => result.unwrap(),
                (_, Err(ExportError::NoExchange { .. })) if ews_on_mac => continue,
                (_, result) => result.unwrap_or_else(|e| panic!("{preset:?}: {e}")),
            };
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
        Some("com.example.ferry.mail.bmueller")
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
        Err(e @ ExportError::MissingPasswords { .. }) => {
            let text = e.to_string();
            assert!(
                text.starts_with("no app password stored at imap.fastmail.com for: "),
                "{text}"
            );
            assert!(text.contains("bjoern.mueller@example.org"), "{text}")
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
}

/// Bug: Microsoft 365 with passwords asked for demanded them from the vault and then wrote none.
/// Now it is refused, before the vault is read, and nothing is written.
#[test]
fn passwords_for_microsoft_365_are_refused_not_dropped() {
    let vault = MemoryVault::new();
    let dir = tempfile::tempdir().unwrap();
    let mut req = request(dir.path(), PresetId::Microsoft365);
    for account in &req.accounts {
        vault
            .set(
                "outlook.office365.com",
                &account.address,
                &Secret::new("unused".into()),
            )
            .unwrap();
    }
    req.passwords = Some(&vault);
    match export(req) {
        Err(e @ ExportError::PasswordsNotTaken { .. }) => assert_eq!(
            e.to_string(),
            "Microsoft 365 signs people in on its own page and takes no password in a profile; \
             export without passwords (people sign in after installing)"
        ),
        other => panic!("expected PasswordsNotTaken, got {other:?}"),
    }
    assert!(!dir.path().join("manifest.csv").exists());
    // An empty vault gets the same answer: no "no password stored" for a host that takes none.
    let empty = MemoryVault::new();
    let mut req = request(dir.path(), PresetId::Microsoft365);
    req.passwords = Some(&empty);
    assert!(matches!(
        export(req),
        Err(ExportError::PasswordsNotTaken { .. })
    ));
}

/// Bug: Microsoft 365 with the extra IMAP account wrote IMAP/SMTP with password sign-in, which
/// Exchange Online refuses.
#[test]
fn microsoft_365_refuses_the_extra_imap_account() {
    let dir = tempfile::tempdir().unwrap();
    let mut req = request(dir.path(), PresetId::Microsoft365);
    req.imap_with_native = true;
    match export(req) {
        Err(e @ ExportError::ImapNotTaken { .. }) => assert!(
            e.to_string()
                .starts_with("Microsoft 365 takes no password over IMAP and SMTP"),
            "{e}"
        ),
        other => panic!("expected ImapNotTaken, got {other:?}"),
    }
    assert!(!dir.path().join("manifest.csv").exists());
}

fn profile_doc(dir: &Path, file: &str) -> plist::Dictionary {
    Value::from_file(dir.join(file))
        .unwrap()
        .into_dictionary()
        .unwrap()
}

/// Bug: a re-export for another host gave each user other profile identifiers, so devices added
/// a second account instead of replacing the profile. Every host, every device file: one
/// identifier per user.
#[test]
fn a_re_export_for_another_host_keeps_each_users_identifier() {
    let mut seen: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    let mut files = 0;
    for preset in [
        PresetId::Fastmail,
        PresetId::GoogleWorkspace,
        PresetId::Microsoft365,
        PresetId::GenericImap,
    ] {
        for ews_on_mac in [false, true] {
            if ews_on_mac && preset != PresetId::Microsoft365 {
                continue;
            }
            let dir = tempfile::tempdir().unwrap();
            let mut req = request(dir.path(), preset);
            req.ews_on_mac = ews_on_mac;
            let report = export(req).unwrap();
            for p in &report.profiles {
                let doc = profile_doc(dir.path(), &p.file);
                let id = doc["PayloadIdentifier"].as_string().unwrap().to_string();
                seen.entry(p.user.clone()).or_default().insert(id);
                files += 1;
            }
            for row in manifest(dir.path()) {
                seen.entry(row[0].clone())
                    .or_default()
                    .insert(row[4].clone());
            }
        }
    }
    assert!(files > 12, "{files}");
    let expected: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        ["asmith", "bmueller", "jdoe"]
            .into_iter()
            .map(|u| {
                (
                    u.to_string(),
                    [format!("com.example.ferry.mail.{u}")]
                        .into_iter()
                        .collect(),
                )
            })
            .collect();
    assert_eq!(seen, expected);
}

#[test]
fn each_host_says_what_people_are_asked_for() {
    use ferry_project::profiles::UserPrompt;
    let asks = |preset: PresetId, ews_on_mac: bool| {
        let dir = tempfile::tempdir().unwrap();
        let mut req = request(dir.path(), preset);
        req.ews_on_mac = ews_on_mac;
        let report = export(req).unwrap();
        let by_target: Vec<(String, Vec<UserPrompt>)> = report
            .profiles
            .iter()
            .filter(|p| p.user == "bmueller")
            .map(|p| (p.target.clone(), p.asks_for.clone()))
            .collect();
        (by_target, report.notes)
    };
    let (fastmail, notes) = asks(PresetId::Fastmail, false);
    assert_eq!(
        fastmail,
        [("all".to_string(), vec![UserPrompt::AppPassword])]
    );
    assert_eq!(
        notes,
        [
            "People are asked for an app password while installing: Fastmail refuses the usual \
          password in mail apps. Each person makes one at Fastmail Settings → Privacy & Security \
          (only when the Fastmail plan includes IMAP, which Basic plans do not)."
        ]
    );
    let (google, notes) = asks(PresetId::GoogleWorkspace, false);
    assert_eq!(
        google,
        [
            ("mac".to_string(), vec![UserPrompt::AppPassword]),
            ("ios".to_string(), vec![UserPrompt::HostSignIn]),
        ]
    );
    assert!(
        notes[0].contains("https://myaccount.google.com/apppasswords"),
        "{notes:?}"
    );
    let (m365, notes) = asks(PresetId::Microsoft365, false);
    assert_eq!(m365, [("ios".to_string(), vec![UserPrompt::HostSignIn])]);
    assert!(notes[1].starts_with("Macs get no profile: "), "{notes:?}");
    assert!(notes[1].contains("1 April 2027"), "{notes:?}");
    let (m365_ews, notes) = asks(PresetId::Microsoft365, true);
    assert_eq!(
        m365_ews,
        [
            ("mac".to_string(), vec![UserPrompt::HostSignIn]),
            ("ios".to_string(), vec![UserPrompt::HostSignIn]),
        ]
    );
    assert!(
        notes[1].starts_with("Macs get an Exchange Web Services account"),
        "{notes:?}"
    );
    let (generic, _) = asks(PresetId::GenericImap, false);
    assert_eq!(generic, [("all".to_string(), vec![UserPrompt::Password])]);
    // The notes are shown by the app too: no command-line flags in them.
    for preset in PresetId::ALL {
        for note in asks(preset, false).1 {
            assert!(!note.contains("--"), "{note}");
        }
    }
}

/// Bug: iPhones showed only the last 7 days of the migrated mail over Exchange ActiveSync.
#[test]
fn microsoft_365_iphones_get_all_past_mail() {
    let dir = tempfile::tempdir().unwrap();
    let report = export(request(dir.path(), PresetId::Microsoft365)).unwrap();
    let ios = report
        .profiles
        .iter()
        .find(|p| p.user == "jdoe" && p.target == "ios")
        .unwrap();
    let doc = profile_doc(dir.path(), &ios.file);
    let eas = doc["PayloadContent"].as_array().unwrap()[0]
        .as_dictionary()
        .unwrap();
    assert_eq!(
        eas["PayloadType"].as_string(),
        Some("com.apple.eas.account")
    );
    assert_eq!(
        eas["MailNumberOfPastDaysToSync"].as_signed_integer(),
        Some(0)
    );
    assert_eq!(eas["OAuth"].as_boolean(), Some(true));
    assert!(eas.get("Password").is_none());
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
