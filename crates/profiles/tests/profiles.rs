//! Generated profiles against Apple's own schema, read back with `plist`; the fixture's bmueller;
//! stable UUIDs; passwords only when asked; manifest and combined file.

mod common;

use common::*;
use ferry_profiles::schema::Schema;
use ferry_profiles::{
    build_all, combined_plist, manifest_csv, Profile, ProfileOptions, ProfilePassword,
    ProfileRequest, Target, EAS, EWS, GOOGLE, MAIL,
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
                let profiles =
                    build_all(MIGRATION, &org(), &host, &requests(with_password), &options)
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
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
        "org.example.ferry.mail.bmueller.all"
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
        "asked for your password",
    ] {
        assert!(description.contains(part), "{description}");
    }
    assert!(doc.get("TargetDeviceType").is_none());

    let content = payloads(&doc);
    assert_eq!(content.len(), 1);
    let mail = &content[0];
    let expect_str = [
        ("PayloadType", MAIL),
        (
            "PayloadIdentifier",
            "org.example.ferry.mail.bmueller.all.imap",
        ),
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

#[test]
fn native_hosts_get_one_profile_per_device_family_with_its_payloads() {
    let types = |p: &Profile| {
        p.payloads
            .iter()
            .map(|i| i.payload_type)
            .collect::<Vec<_>>()
    };
    let m365 = build_all(
        MIGRATION,
        &org(),
        &exchange(true),
        &requests(false),
        &ProfileOptions::default(),
    )
    .unwrap();
    let mac = m365
        .iter()
        .find(|p| p.user_key == "jdoe" && p.target == Target::Mac)
        .unwrap();
    let ios = m365
        .iter()
        .find(|p| p.user_key == "jdoe" && p.target == Target::IPhoneIPad)
        .unwrap();
    assert_eq!(types(mac), [EWS]);
    assert_eq!(types(ios), [EAS]);
    assert_eq!(mac.file_name, "jdoe-mac.mobileconfig");
    let mac_doc = parse(mac);
    assert_eq!(mac_doc["TargetDeviceType"].as_signed_integer(), Some(5));
    assert_eq!(s(&mac_doc, "PayloadScope"), "User");
    assert_eq!(parse(ios)["TargetDeviceType"].as_signed_integer(), Some(1));
    let ews = &payloads(&mac_doc)[0];
    assert_eq!(s(ews, "Host"), "outlook.office365.com");
    assert_eq!(ews["OAuth"].as_boolean(), Some(true));
    assert!(s(&mac_doc, "PayloadDescription").contains("sign in"));

    let with_imap = build_all(
        MIGRATION,
        &org(),
        &exchange(true),
        &requests(false),
        &ProfileOptions {
            imap_with_native: true,
        },
    )
    .unwrap();
    let mac2 = with_imap
        .iter()
        .find(|p| p.user_key == "jdoe" && p.target == Target::Mac)
        .unwrap();
    assert_eq!(types(mac2), [EWS, MAIL]);
    // Adding the IMAP account leaves the Exchange payload's identity alone.
    assert_eq!(mac2.payloads[0], mac.payloads[0]);
    assert_eq!(mac2.uuid, mac.uuid);

    let g = build_all(
        MIGRATION,
        &org(),
        &google(),
        &requests(false),
        &ProfileOptions::default(),
    )
    .unwrap();
    let gmac = g
        .iter()
        .find(|p| p.user_key == "bmueller" && p.target == Target::Mac)
        .unwrap();
    let gios = g
        .iter()
        .find(|p| p.user_key == "bmueller" && p.target == Target::IPhoneIPad)
        .unwrap();
    assert_eq!(types(gmac), [MAIL]);
    assert_eq!(types(gios), [GOOGLE]);
    let google_payload = &payloads(&parse(gios))[0];
    assert_eq!(s(google_payload, "AccountName"), "Björn Müller");
    assert_eq!(
        s(google_payload, "EmailAddress"),
        "bjoern.mueller@example.org"
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
        )
        .unwrap();
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
                assert!(s(&doc, "PayloadDescription").contains("contains the password"));
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
    let profiles = build_all(
        MIGRATION,
        &org(),
        &exchange(true),
        &requests(false),
        &ProfileOptions::default(),
    )
    .unwrap();
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
    }

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
