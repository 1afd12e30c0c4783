//! The files an export writes besides the profiles: a CSV manifest for MDM import and one combined
//! file holding every profile. Bytes only; the caller writes them.

use crate::profile::Profile;
use crate::ProfileError;

/// `manifest.csv`: one row per profile file.
/// Columns: user, address, target, file, profile_identifier, profile_uuid, payload_uuids
/// (`<PayloadType>=<UUID>` separated by spaces), contains_password, signed, asks_for (what the
/// person installing is asked for: `password`, `app-password`, `host-sign-in`, separated by
/// spaces; empty when nothing).
pub fn manifest_csv(profiles: &[Profile]) -> Result<Vec<u8>, ProfileError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| ProfileError::Manifest(e.to_string());
    out.write_record([
        "user",
        "address",
        "target",
        "file",
        "profile_identifier",
        "profile_uuid",
        "payload_uuids",
        "contains_password",
        "signed",
        "asks_for",
    ])
    .map_err(csv_err)?;
    for p in profiles {
        let payloads = p
            .payloads
            .iter()
            .map(|i| format!("{}={}", i.payload_type, upper(i.uuid)))
            .collect::<Vec<_>>()
            .join(" ");
        out.write_record([
            p.user_key.as_str(),
            p.address.as_str(),
            p.target.slug(),
            p.file_name.as_str(),
            p.identifier.as_str(),
            &upper(p.uuid),
            &payloads,
            if p.contains_password { "yes" } else { "no" },
            if p.signed { "yes" } else { "no" },
            &p.asks_for
                .iter()
                .map(|a| match a {
                    crate::Prompt::Password => "password",
                    crate::Prompt::AppPassword => "app-password",
                    crate::Prompt::HostSignIn => "host-sign-in",
                })
                .collect::<Vec<_>>()
                .join(" "),
        ])
        .map_err(csv_err)?;
    }
    out.into_inner()
        .map_err(|e| ProfileError::Manifest(e.to_string()))
}

/// The combined file for MDMs that import many profiles at once: an XML plist array with one
/// dictionary per profile (`User`, `EmailAddress`, `Target`, `FileName`, `PayloadIdentifier`,
/// `PayloadUUID`, `ContainsPassword`, `Signed`, and `Profile`: the exact bytes of the
/// `.mobileconfig` file, signed or not).
pub fn combined_plist(profiles: &[Profile]) -> Result<Vec<u8>, ProfileError> {
    use plist::{Dictionary, Value};
    let items: Vec<Value> = profiles
        .iter()
        .map(|p| {
            let mut d = Dictionary::new();
            d.insert("User".into(), Value::String(p.user_key.clone()));
            d.insert("EmailAddress".into(), Value::String(p.address.clone()));
            d.insert("Target".into(), Value::String(p.target.slug().into()));
            d.insert("FileName".into(), Value::String(p.file_name.clone()));
            d.insert(
                "PayloadIdentifier".into(),
                Value::String(p.identifier.clone()),
            );
            d.insert("PayloadUUID".into(), Value::String(upper(p.uuid)));
            d.insert(
                "ContainsPassword".into(),
                Value::Boolean(p.contains_password),
            );
            d.insert("Signed".into(), Value::Boolean(p.signed));
            d.insert("Profile".into(), Value::Data(p.bytes.clone()));
            Value::Dictionary(d)
        })
        .collect();
    let mut out = Vec::new();
    plist::to_writer_xml(&mut out, &Value::Array(items))
        .map_err(|e| ProfileError::Manifest(e.to_string()))?;
    Ok(out)
}

fn upper(uuid: uuid::Uuid) -> String {
    uuid.hyphenated().to_string().to_ascii_uppercase()
}
