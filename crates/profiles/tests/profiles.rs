//! Generated profiles against Apple's own schema, read back with `plist`; the fixture's bmueller;
//! stable UUIDs; passwords only when asked; manifest and combined file.

mod common;

use common::*;
use ferry_profiles::schema::Schema;
use ferry_profiles::{
    build_all, combined_plist, manifest_csv, HostSettings, Profile, ProfileError, ProfileOptions,
    ProfilePassword, ProfileRequest, Prompt, Target, EAS, EWS, GOOGLE, MAIL,
};
use plist::{Dictionary, Value};
use secrecy::SecretString;

const MIGRATION: &str = "3b7d6c1e-migration";
const PASSWORD: &str = "correct horse battery staple";

fn requests(with_password: bool) -> Vec<ProfileRequest> {
    users()
        .into_iter()
        .map(|user| ProfileRequest {
            user,
            password: with_password
                .then(|| ProfilePassword(SecretString::from(PASSWORD.to_string()))),
        })
        .collect()
}

fn parse(profile: &Profile) -> Dictionary {
    match Value::from_reader(std::io::Cursor::new(&profile.bytes)) {
        Ok(Value::Dictionary(d)) => d,
        other => panic!("{} does not parse back: {other:?}", profile.file_name),
    }
}

fn payloads(doc: &Dictionary) -> Vec<Dictionary> {
    doc["PayloadContent"]
        .as_array()
        .expect("PayloadContent array")
        .iter()
        .map(|v| v.as_dictionary().expect("payload dict").clone())
        .collect()
}

fn s<'a>(d: &'a Dictionary, key: &str) -> &'a str {
    d.get(key)
        .and_then(Value::as_string)
        .unwrap_or_else(|| panic!("{key} missing or not a string in {d:?}"))
}

#[test]
fn every_payload_kind_and_host_passes_apples_schema() {
    let schema = Schema::load(&schema_dir()).expect("Apple's schema YAML");
    let mut kinds_seen = std::collections::BTreeSet::new();
    for (name, host) in all_hosts() {
        for with_password in [false, true] {
            for imap_with_native in [false, true] {
                let options = ProfileOptions { imap_with_native };
                let built = build_all(MIGRATION, &org(), &host, &requests(with_password), &options);
                // Exchange Online takes no password anywhere a profile could hold one.
                let oauth_only = host.imap_sign_in.is_none();
                let profiles = match built {
                    Err(ProfileError::ImapRefused { .. }) if oauth_only && imap_with_native => {
                        continue
                    }
                    Err(ProfileError::PasswordNotTaken { .. }) if oauth_only && with_password => {
                        continue
                    }
                    other => other.unwrap_or_else(|e| panic!("{name}: {e}")),
                };
                assert!(!profiles.is_empty());
                for p in &profiles {
                    let problems = schema.check(&p.bytes, p.target.apple_platforms());
                    assert!(
                        problems.is_empty(),
                        "{name} {} (password {with_password}, imap too {imap_with_native}): {problems:#?}",
                        p.file_name
                    );
                    let doc = parse(p);
                    for payload in payloads(&doc) {
                        kinds_seen.insert(s(&payload, "PayloadType").to_string());
                    }
                }
            }
        }
    }
    let expected: std::collections::BTreeSet<String> = [MAIL, EWS, EAS, GOOGLE]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(kinds_seen, expected);
}

/// A change to a good profile (outer dictionary, its mail payload).
type Change = Box<dyn Fn(&mut Dictionary, &mut Dictionary)>;

#[test]
fn the_schema_check_catches_what_it_should() {
    let schema = Schema::load(&schema_dir()).expect("Apple's schema YAML");
    let profiles = build_all(
        MIGRATION,
        &org(),
        &imap_only(),
        &requests(false),
        &ProfileOptions::default(),
    )
    .unwrap();
    let good = parse(&profiles[0]);
    let broken = |change: &dyn Fn(&mut Dictionary, &mut Dictionary)| -> Vec<String> {
        let mut doc = good.clone();
        let mut mail = payloads(&doc)[0].clone();
        change(&mut doc, &mut mail);
        doc.insert(
            "PayloadContent".into(),
            Value::Array(vec![Value::Dictionary(mail)]),
        );
        let mut bytes = Vec::new();
        plist::to_writer_xml(&mut bytes, &Value::Dictionary(doc)).unwrap();
        schema.check(&bytes, &["macOS", "iOS"])
    };
    let cases: Vec<(&str, Change)> = vec![
        (
            "is not in the schema",
            Box::new(|_, m| {
                m.insert(
                    "IncomingMailServerColour".into(),
                    Value::String("red".into()),
                );
            }),
        ),
        (
            "expected <integer>",
            Box::new(|_, m| {
                m.insert(
                    "IncomingMailServerPortNumber".into(),
                    Value::String("993".into()),
                );
            }),
        ),
        (
            "required key IncomingMailServerHostName is missing",
            Box::new(|_, m| {
                m.remove("IncomingMailServerHostName");
            }),
        ),
        (
            "not in its rangelist",
            Box::new(|_, m| {
                m.insert(
                    "IncomingMailServerAuthentication".into(),
                    Value::String("EmailAuthOAuth".into()),
                );
            }),
        ),
        (
            "not in its rangelist",
            Box::new(|d, _| {
                d.insert("PayloadVersion".into(), Value::Integer(2.into()));
            }),
        ),
        (
            "PreventMove: not supported on macOS",
            Box::new(|_, m| {
                m.insert("PreventMove".into(), Value::Boolean(true));
            }),
        ),
        (
            "payload type not supported on macOS",
            Box::new(|_, m| {
                m.insert("PayloadType".into(), Value::String(GOOGLE.into()));
                m.retain(|k, _| k.starts_with("Payload") || k == "EmailAddress");
            }),
        ),
        (
            "ConsentText.default: expected <string>",
            Box::new(|d, _| {
                let mut consent = Dictionary::new();
                consent.insert("default".into(), Value::Integer(1.into()));
                d.insert("ConsentText".into(), Value::Dictionary(consent));
            }),
        ),
        (
            "is not unique",
            Box::new(|d, m| {
                m.insert("PayloadUUID".into(), d["PayloadUUID"].clone());
            }),
        ),
        (
            "does not match",
            Box::new(|_, m| {
                // A key with a `format` in the schema (a UUID).
                m.insert(
                    "SMIMESigningCertificateUUID".into(),
                    Value::String("not-a-uuid".into()),
                );
            }),
        ),
    ];
    for (expect, change) in cases {
        let problems = broken(&*change);
        assert!(
            problems.iter().any(|p| p.contains(expect)),
            "expected a problem containing {expect:?}, got {problems:#?}"
        );
    }
    // The unchanged profile is clean, so the problems above come from the changes.
    assert!(broken(&|_, _| {}).is_empty());
}

#[test]
fn bmuellers_profile_is_right() {
    let profiles = build_all(
        MIGRATION,
        &org(),
        &imap_only(),
        &requests(false),
        &ProfileOptions::default(),
    )
    .unwrap();
    let p = profiles
        .iter()
        .find(|p| p.user_key == "bmueller")
        .expect("bmueller's profile");
    assert_eq!(p.file_name, "bmueller.mobileconfig");
    assert_eq!(p.target, Target::Any);
    assert!(!p.contains_password && !p.signed);
    let text = std::str::from_utf8(&p.bytes).expect("UTF-8 XML");
    assert!(text.starts_with("<?xml"));
    // Plain UTF-8 in the file, not mangled or escaped to ASCII.
    assert!(text.contains("<string>Björn Müller</string>"), "{text}");
    assert!(text.contains("Müller &amp; Doe GmbH"), "{text}");
    for key in ["<key>IncomingPassword</key>", "<key>OutgoingPassword</key>"] {
        assert!(!text.contains(key), "no password unless asked: {text}");
    }

    let doc = parse(p);
    assert_eq!(s(&doc, "PayloadType"), "Configuration");
    assert_eq!(doc["PayloadVersion"].as_signed_integer(), Some(1));
    assert_eq!(
        s(&doc, "PayloadIdentifier"),
        "org.example.ferry.mail.bmueller"
    );
    assert_eq!(s(&doc, "PayloadUUID"), p.uuid.to_string().to_uppercase());
    assert_eq!(s(&doc, "PayloadOrganization"), "Müller & Doe GmbH");
    assert_eq!(
        s(&doc, "PayloadDisplayName"),
        "Müller & Doe GmbH mail: bjoern.mueller@example.org"
    );
    let description = s(&doc, "PayloadDescription");
    for part in [
        "bjoern.mueller@example.org",
        "Björn Müller",
        "mail.example.net",
        "you are asked for your password for mail.example.net.",
    ] {
        assert!(description.contains(part), "{description}");
    }
    assert!(doc.get("TargetDeviceType").is_none());
    assert_eq!(p.asks_for, [Prompt::Password]);

    let content = payloads(&doc);
    assert_eq!(content.len(), 1);
    let mail = &content[0];
    let expect_str = [
        ("PayloadType", MAIL),
        ("PayloadIdentifier", "org.example.ferry.mail.bmueller.imap"),
        ("PayloadOrganization", "Müller & Doe GmbH"),
        ("EmailAccountType", "EmailTypeIMAP"),
        ("EmailAccountName", "Björn Müller"),
        (
            "EmailAccountDescription",
            "Müller & Doe GmbH (bjoern.mueller@example.org)",
        ),
        ("EmailAddress", "bjoern.mueller@example.org"),
        ("IncomingMailServerHostName", "imap.example.net"),
        ("IncomingMailServerUsername", "bjoern.mueller@example.org"),
        ("IncomingMailServerAuthentication", "EmailAuthPassword"),
        ("IncomingMailServerIMAPPathPrefix", "INBOX"),
        ("OutgoingMailServerHostName", "smtp.example.net"),
        ("OutgoingMailServerUsername", "bjoern.mueller@example.org"),
        ("OutgoingMailServerAuthentication", "EmailAuthPassword"),
    ];
    for (key, value) in expect_str {
        assert_eq!(s(mail, key), value, "{key}");
    }
    assert_eq!(
        mail["IncomingMailServerPortNumber"].as_signed_integer(),
        Some(993)
    );
    assert_eq!(
        mail["OutgoingMailServerPortNumber"].as_signed_integer(),
        Some(587)
    );
    assert_eq!(mail["IncomingMailServerUseSSL"].as_boolean(), Some(true));
    assert_eq!(mail["OutgoingMailServerUseSSL"].as_boolean(), Some(true));
    assert_eq!(
        mail["OutgoingPasswordSameAsIncomingPassword"].as_boolean(),
        Some(true)
    );
    assert_eq!(
        s(mail, "PayloadUUID"),
        p.payloads[0].uuid.to_string().to_uppercase()
    );
}

#[test]
fn a_re_export_yields_the_same_uuids_and_bytes() {
    for (name, host) in all_hosts() {
        let first = build_all(
            MIGRATION,
            &org(),
            &host,
            &requests(false),
            &ProfileOptions::default(),
        )
        .unwrap();
        // Users in another order, as a later discovery might list them.
        let mut reversed = requests(false);
        reversed.reverse();
        let again = build_all(
            MIGRATION,
            &org(),
            &host,
            &reversed,
            &ProfileOptions::default(),
        )
        .unwrap();
        assert_eq!(first.len(), again.len(), "{name}");
        for p in &first {
            let q = again
                .iter()
                .find(|q| q.file_name == p.file_name)
                .unwrap_or_else(|| panic!("{name}: {} missing on re-export", p.file_name));
            assert_eq!((p.uuid, &p.identifier), (q.uuid, &q.identifier), "{name}");
            assert_eq!(p.payloads, q.payloads, "{name}");
            assert_eq!(
                p.bytes, q.bytes,
                "{name}: unsigned re-export is byte for byte the same"
            );
        }
        // Another migration gets other UUIDs, so two projects never replace each other's profiles.
        let other = build_all(
            "another-migration",
            &org(),
            &host,
            &requests(false),
            &ProfileOptions::default(),
        )
        .unwrap();
        for (p, q) in first.iter().zip(&other) {
            assert_ne!(p.uuid, q.uuid);
            assert_ne!(p.payloads[0].uuid, q.payloads[0].uuid);
        }
        // Every UUID in one export is distinct.
        let mut all: Vec<_> = first
            .iter()
            .flat_map(|p| std::iter::once(p.uuid).chain(p.payloads.iter().map(|i| i.uuid)))
            .collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "{name}: duplicate UUIDs");
    }
}

fn types(p: &Profile) -> Vec<&'static str> {
    p.payloads.iter().map(|i| i.payload_type).collect()
}

fn find<'a>(profiles: &'a [Profile], user: &str, target: Target) -> &'a Profile {
    profiles
        .iter()
        .find(|p| p.user_key == user && p.target == target)
        .unwrap_or_else(|| panic!("no {target:?} profile for {user}"))
}

fn build(host: &HostSettings, imap_with_native: bool) -> Vec<Profile> {
    build_all(
        MIGRATION,
        &org(),
        host,
        &requests(false),
        &ProfileOptions { imap_with_native },
    )
    .unwrap()
}

#[test]
fn native_hosts_get_one_profile_per_device_family_with_its_payloads() {
    let m365 = build(&exchange_online(true), false);
    let mac = find(&m365, "jdoe", Target::Mac);
    let ios = find(&m365, "jdoe", Target::IPhoneIPad);
    assert_eq!(types(mac), [EWS]);
    assert_eq!(types(ios), [EAS]);
    assert_eq!(mac.file_name, "jdoe-mac.mobileconfig");
    assert_eq!(ios.file_name, "jdoe-ios.mobileconfig");
    let mac_doc = parse(mac);
    assert_eq!(mac_doc["TargetDeviceType"].as_signed_integer(), Some(5));
    assert_eq!(s(&mac_doc, "PayloadScope"), "User");
    assert_eq!(parse(ios)["TargetDeviceType"].as_signed_integer(), Some(1));
    let ews = &payloads(&mac_doc)[0];
    assert_eq!(s(ews, "Host"), "outlook.office365.com");
    assert_eq!(ews["OAuth"].as_boolean(), Some(true));
    assert_eq!(mac.asks_for, [Prompt::HostSignIn]);
    let description = s(&mac_doc, "PayloadDescription");
    for part in [
        "After installing, you are asked to sign in on Microsoft 365's own page",
        "no password goes into this profile",
        "1 April 2027",
        "Outlook for Mac",
    ] {
        assert!(description.contains(part), "{description}");
    }

    // An Exchange server that takes passwords gets the IMAP account next to Exchange when asked,
    // and adding it leaves the Exchange payload's identity alone.
    let plain = build(&exchange_with_passwords(), false);
    let with_imap = build(&exchange_with_passwords(), true);
    let (mac1, mac2) = (
        find(&plain, "jdoe", Target::Mac),
        find(&with_imap, "jdoe", Target::Mac),
    );
    assert_eq!(types(mac1), [EWS]);
    assert_eq!(types(mac2), [EWS, MAIL]);
    assert_eq!(mac2.payloads[0], mac1.payloads[0]);
    assert_eq!(mac2.uuid, mac1.uuid);
    assert_eq!(
        types(find(&with_imap, "jdoe", Target::IPhoneIPad)),
        [EAS, MAIL]
    );

    let g = build(&google(), false);
    let gmac = find(&g, "bmueller", Target::Mac);
    let gios = find(&g, "bmueller", Target::IPhoneIPad);
    assert_eq!(types(gmac), [MAIL]);
    assert_eq!(types(gios), [GOOGLE]);
    assert_eq!(gios.asks_for, [Prompt::HostSignIn]);
    let google_payload = &payloads(&parse(gios))[0];
    assert_eq!(s(google_payload, "AccountName"), "Björn Müller");
    assert_eq!(
        s(google_payload, "EmailAddress"),
        "bjoern.mueller@example.org"
    );
    let gios_imap = build(&google(), true);
    let both = find(&gios_imap, "bmueller", Target::IPhoneIPad);
    assert_eq!(types(both), [GOOGLE, MAIL]);
    assert_eq!(both.asks_for, [Prompt::AppPassword, Prompt::HostSignIn]);
}

/// Bug: Google Mac profiles set up IMAP/SMTP with password sign-in, which Google refuses for
/// Workspace accounts; the person must be told to use an app password, and where to make one.
#[test]
fn google_macs_are_told_to_enter_an_app_password() {
    let profiles = build(&google(), false);
    let mac = find(&profiles, "bmueller", Target::Mac);
    assert_eq!(mac.asks_for, [Prompt::AppPassword]);
    let doc = parse(mac);
    let description = s(&doc, "PayloadDescription");
    assert!(
        description.ends_with(
            "While installing, you are asked for a password: enter an app password for Google \
             Workspace, not your usual password, which Google Workspace refuses for mail apps. \
             Make one at https://myaccount.google.com/apppasswords; it can be made only when \
             2-Step Verification is on for the Google account."
        ),
        "{description}"
    );
    assert!(!description.contains("your password for"), "{description}");
    // Shown before installing too, in the consent dialog.
    let consent = doc["ConsentText"].as_dictionary().expect("ConsentText");
    let text = consent["default"].as_string().unwrap();
    assert!(
        text.starts_with("While installing, you are asked for a password: enter an app password")
    );
    assert!(description.ends_with(text), "{text}");
}

/// Bug: Fastmail profiles said "password" while Fastmail takes only app passwords.
#[test]
fn app_password_hosts_ask_for_an_app_password() {
    let profiles = build(&app_password_host(), false);
    let p = find(&profiles, "jdoe", Target::Any);
    assert_eq!(p.asks_for, [Prompt::AppPassword]);
    let description = s(&parse(p), "PayloadDescription").to_string();
    assert!(
        description.contains(
            "enter an app password for Fastmail, not your usual password, which Fastmail refuses \
             for mail apps. Make one at Settings → Privacy & Security → App passwords; it can be \
             made only when the plan includes IMAP."
        ),
        "{description}"
    );
    // With the app password inside, the profile says that instead of asking.
    let with = build_all(
        MIGRATION,
        &org(),
        &app_password_host(),
        &requests(true),
        &ProfileOptions::default(),
    )
    .unwrap();
    let p = find(&with, "jdoe", Target::Any);
    assert!(p.contains_password && p.asks_for.is_empty());
    let description = s(&parse(p), "PayloadDescription").to_string();
    assert!(
        description.ends_with(
            "This profile holds your app password: keep the file private and delete it once \
             installed."
        ),
        "{description}"
    );
}

/// Bug: Microsoft 365 with the extra IMAP account set up IMAP/SMTP with a password, which
/// Exchange Online refuses; Apple's mail payload has no OAuth, so it must be refused.
#[test]
fn exchange_online_refuses_the_extra_imap_account() {
    let err = build_all(
        MIGRATION,
        &org(),
        &exchange_online(false),
        &requests(false),
        &ProfileOptions {
            imap_with_native: true,
        },
    )
    .unwrap_err();
    assert!(matches!(err, ProfileError::ImapRefused { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Microsoft 365 takes no password over IMAP and SMTP, and Mail on Apple devices has no \
         other way to sign in there; export without the extra IMAP account"
    );
}

/// Bug: the ActiveSync payload had no MailNumberOfPastDaysToSync, so iPhones showed only the
/// last 7 days (Apple's default) of the migrated mail.
#[test]
fn activesync_shows_all_past_mail() {
    for host in [exchange_online(false), exchange_with_passwords()] {
        let profiles = build(&host, false);
        for p in profiles.iter().filter(|p| p.target == Target::IPhoneIPad) {
            let eas = &payloads(&parse(p))[0];
            assert_eq!(s(eas, "PayloadType"), EAS);
            assert_eq!(
                eas["MailNumberOfPastDaysToSync"].as_signed_integer(),
                Some(0),
                "{}",
                p.file_name
            );
        }
    }
}

/// Exchange Online blocks EWS by default from 1 October 2026 and ends it on 1 April 2027: Macs
/// get an Exchange profile only when the admin says the tenant still allows it.
#[test]
fn exchange_online_macs_get_a_profile_only_with_ews() {
    let without = build(&exchange_online(false), false);
    assert!(
        without.iter().all(|p| p.target == Target::IPhoneIPad),
        "{:?}",
        without.iter().map(|p| &p.file_name).collect::<Vec<_>>()
    );
    assert_eq!(without.len(), users().len());
    let with = build(&exchange_online(true), false);
    assert_eq!(with.len(), 2 * users().len());
}

/// Bug: a profile exported for one host and then for another got another PayloadIdentifier, so
/// the device added a second account instead of replacing the first.
#[test]
fn one_identifier_per_user_whatever_the_host() {
    let identifiers = |host: &HostSettings| -> Vec<(String, String)> {
        let mut ids: Vec<(String, String)> = build(host, false)
            .into_iter()
            .map(|p| {
                let doc = parse(&p);
                assert_eq!(s(&doc, "PayloadIdentifier"), p.identifier);
                (p.user_key, p.identifier)
            })
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    let expected = vec![
        (
            "bmueller".to_string(),
            "org.example.ferry.mail.bmueller".to_string(),
        ),
        (
            "jdoe".to_string(),
            "org.example.ferry.mail.jdoe".to_string(),
        ),
    ];
    for (name, host) in all_hosts() {
        assert_eq!(identifiers(&host), expected, "{name}");
    }
}

/// Bug (crate level): a password for a host that signs in on its own page was silently dropped.
#[test]
fn a_password_for_an_oauth_only_host_is_refused() {
    let err = build_all(
        MIGRATION,
        &org(),
        &exchange_online(true),
        &requests(true),
        &ProfileOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "profile for user \"jdoe\": Microsoft 365 signs people in on its own page, so no profile \
         can hold a password; export without passwords"
    );
}

#[test]
fn passwords_only_when_asked_and_never_with_oauth() {
    let has_password = |p: &Profile| String::from_utf8_lossy(&p.bytes).contains(PASSWORD);
    for (name, host) in all_hosts() {
        let without = build_all(
            MIGRATION,
            &org(),
            &host,
            &requests(false),
            &ProfileOptions::default(),
        )
        .unwrap();
        assert!(
            without
                .iter()
                .all(|p| !p.contains_password && !has_password(p)),
            "{name}"
        );
        let with = build_all(
            MIGRATION,
            &org(),
            &host,
            &requests(true),
            &ProfileOptions::default(),
        );
        let with = match with {
            Err(ProfileError::PasswordNotTaken { .. }) if host.imap_sign_in.is_none() => continue,
            other => other.unwrap_or_else(|e| panic!("{name}: {e}")),
        };
        for p in &with {
            assert_eq!(
                p.contains_password,
                has_password(p),
                "{name} {}",
                p.file_name
            );
            let doc = parse(p);
            for payload in payloads(&doc) {
                let oauth = payload.get("OAuth").and_then(Value::as_boolean) == Some(true);
                let ptype = s(&payload, "PayloadType");
                let keys: Vec<&str> = payload.keys().map(String::as_str).collect();
                let carries = keys.iter().any(|k| {
                    k.ends_with("Password") && *k != "OutgoingPasswordSameAsIncomingPassword"
                });
                let expected = ptype == MAIL || (!oauth && (ptype == EWS || ptype == EAS));
                assert_eq!(carries, expected, "{name} {ptype}: {keys:?}");
            }
            if p.contains_password {
                assert!(s(&doc, "PayloadDescription").contains("This profile holds your"));
            }
        }
    }
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let mut reqs = requests(false);
    reqs[1].user.address = "bjoern.mueller".into();
    let err = build_all(
        MIGRATION,
        &org(),
        &imap_only(),
        &reqs,
        &ProfileOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not an email address"), "{err}");

    let mut reqs = requests(false);
    reqs[1].user.key = "JDoe".into(); // same file name as jdoe once lowercased
    let err = build_all(
        MIGRATION,
        &org(),
        &imap_only(),
        &reqs,
        &ProfileOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("rename one of them"), "{err}");

    let mut org = org();
    org.domain = "localhost".into();
    let err = build_all(
        MIGRATION,
        &org,
        &imap_only(),
        &requests(false),
        &ProfileOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not a DNS name"), "{err}");
}

#[test]
fn manifest_and_combined_file_list_every_profile() {
    let profiles = build(&exchange_online(true), false);
    let csv_bytes = manifest_csv(&profiles).unwrap();
    let mut reader = csv::Reader::from_reader(csv_bytes.as_slice());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "user");
    assert_eq!(&headers[6], "payload_uuids");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), profiles.len());
    for (row, p) in rows.iter().zip(&profiles) {
        assert_eq!(&row[0], p.user_key);
        assert_eq!(&row[1], p.address);
        assert_eq!(&row[3], p.file_name);
        assert_eq!(&row[5], p.uuid.to_string().to_uppercase());
        for info in &p.payloads {
            assert!(row[6].contains(&format!(
                "{}={}",
                info.payload_type,
                info.uuid.to_string().to_uppercase()
            )));
        }
        assert_eq!(&row[7], "no");
        assert_eq!(&row[9], "host-sign-in");
    }
    let google = build(&google(), true);
    let rows: Vec<csv::StringRecord> =
        csv::Reader::from_reader(manifest_csv(&google).unwrap().as_slice())
            .records()
            .map(Result::unwrap)
            .collect();
    let asks: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| &r[0] == "jdoe")
        .map(|r| (&r[2], &r[9]))
        .collect();
    assert_eq!(
        asks,
        [
            ("mac", "app-password"),
            ("ios", "app-password host-sign-in")
        ]
    );

    let combined =
        Value::from_reader(std::io::Cursor::new(combined_plist(&profiles).unwrap())).unwrap();
    let items = combined.as_array().unwrap();
    assert_eq!(items.len(), profiles.len());
    for (item, p) in items.iter().zip(&profiles) {
        let d = item.as_dictionary().unwrap();
        assert_eq!(s(d, "FileName"), p.file_name);
        assert_eq!(d["Profile"].as_data(), Some(p.bytes.as_slice()));
    }
}
