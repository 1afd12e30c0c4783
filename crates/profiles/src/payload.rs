//! The plist shapes of a configuration profile and of each payload Ferry writes, key for key as in
//! Apple's schema (apple/device-management `mdm/profiles`). Optional keys are left out when unset.

use secrecy::{ExposeSecret, SecretString};
use serde::{Serialize, Serializer};

pub const MAIL: &str = "com.apple.mail.managed";
pub const EWS: &str = "com.apple.ews.account";
pub const EAS: &str = "com.apple.eas.account";
pub const GOOGLE: &str = "com.apple.google-oauth";

/// Keys every payload carries (`CommonPayloadKeys.yaml`).
#[derive(Debug, Serialize)]
pub struct Common {
    #[serde(rename = "PayloadType")]
    pub payload_type: &'static str,
    #[serde(rename = "PayloadVersion")]
    pub payload_version: i64,
    #[serde(rename = "PayloadIdentifier")]
    pub identifier: String,
    #[serde(rename = "PayloadUUID")]
    pub uuid: String,
    #[serde(rename = "PayloadDisplayName")]
    pub display_name: String,
    #[serde(rename = "PayloadDescription")]
    pub description: String,
    #[serde(rename = "PayloadOrganization")]
    pub organization: String,
}

/// The outer profile (`TopLevel.yaml`).
#[derive(Debug, Serialize)]
pub struct ProfileDoc {
    #[serde(rename = "PayloadType")]
    pub payload_type: &'static str,
    #[serde(rename = "PayloadVersion")]
    pub payload_version: i64,
    #[serde(rename = "PayloadIdentifier")]
    pub identifier: String,
    #[serde(rename = "PayloadUUID")]
    pub uuid: String,
    #[serde(rename = "PayloadDisplayName")]
    pub display_name: String,
    #[serde(rename = "PayloadDescription")]
    pub description: String,
    #[serde(rename = "PayloadOrganization")]
    pub organization: String,
    /// Shown in a dialog the person must agree to before the profile installs: what they will be
    /// asked for. Keyed by language; "default" is used where none matches.
    #[serde(rename = "ConsentText", skip_serializing_if = "Option::is_none")]
    pub consent_text: Option<std::collections::BTreeMap<&'static str, String>>,
    #[serde(rename = "PayloadScope", skip_serializing_if = "Option::is_none")]
    pub scope: Option<&'static str>,
    #[serde(rename = "TargetDeviceType", skip_serializing_if = "Option::is_none")]
    pub target_device_type: Option<i64>,
    #[serde(rename = "PayloadContent")]
    pub content: Vec<plist::Value>,
}

/// One payload dictionary: the common keys, then the payload type's own. (Merged as values rather
/// than with `#[serde(flatten)]`, under which the plist serializer writes `Option`s as
/// `{Some: ...}` dictionaries.)
pub fn payload_dict<T: Serialize>(common: &Common, own: &T) -> Result<plist::Value, plist::Error> {
    let mut dict = match plist::to_value(common)? {
        plist::Value::Dictionary(d) => d,
        _ => plist::Dictionary::new(),
    };
    if let plist::Value::Dictionary(rest) = plist::to_value(own)? {
        for (key, value) in rest {
            dict.insert(key, value);
        }
    }
    Ok(plist::Value::Dictionary(dict))
}

/// `com.apple.mail.managed`: an IMAP account with its SMTP server.
#[derive(Debug, Serialize)]
pub struct MailPayload<'a> {
    #[serde(rename = "EmailAccountType")]
    pub account_type: &'static str,
    #[serde(rename = "EmailAccountDescription")]
    pub account_description: String,
    #[serde(rename = "EmailAccountName")]
    pub account_name: String,
    #[serde(rename = "EmailAddress")]
    pub address: String,
    #[serde(rename = "IncomingMailServerHostName")]
    pub in_host: String,
    #[serde(rename = "IncomingMailServerPortNumber")]
    pub in_port: i64,
    #[serde(rename = "IncomingMailServerUseSSL")]
    pub in_ssl: bool,
    #[serde(rename = "IncomingMailServerUsername")]
    pub in_username: String,
    #[serde(rename = "IncomingMailServerAuthentication")]
    pub in_auth: &'static str,
    #[serde(
        rename = "IncomingMailServerIMAPPathPrefix",
        skip_serializing_if = "Option::is_none"
    )]
    pub in_path_prefix: Option<String>,
    #[serde(
        rename = "IncomingPassword",
        skip_serializing_if = "Option::is_none",
        serialize_with = "secret"
    )]
    pub in_password: Option<&'a SecretString>,
    #[serde(rename = "OutgoingMailServerHostName")]
    pub out_host: String,
    #[serde(rename = "OutgoingMailServerPortNumber")]
    pub out_port: i64,
    #[serde(rename = "OutgoingMailServerUseSSL")]
    pub out_ssl: bool,
    #[serde(rename = "OutgoingMailServerUsername")]
    pub out_username: String,
    #[serde(rename = "OutgoingMailServerAuthentication")]
    pub out_auth: &'static str,
    #[serde(
        rename = "OutgoingPassword",
        skip_serializing_if = "Option::is_none",
        serialize_with = "secret"
    )]
    pub out_password: Option<&'a SecretString>,
    /// Asks once for both servers on an interactive install; only set when no password is included.
    #[serde(
        rename = "OutgoingPasswordSameAsIncomingPassword",
        skip_serializing_if = "Option::is_none"
    )]
    pub out_same_password: Option<bool>,
}

/// `com.apple.ews.account`: Exchange Web Services on macOS.
#[derive(Debug, Serialize)]
pub struct EwsPayload<'a> {
    #[serde(rename = "EmailAddress")]
    pub address: String,
    #[serde(rename = "Host")]
    pub host: String,
    #[serde(rename = "SSL")]
    pub ssl: bool,
    #[serde(rename = "OAuth")]
    pub oauth: bool,
    #[serde(rename = "UserName")]
    pub username: String,
    #[serde(
        rename = "Password",
        skip_serializing_if = "Option::is_none",
        serialize_with = "secret"
    )]
    pub password: Option<&'a SecretString>,
}

/// `com.apple.eas.account`: Exchange ActiveSync on iPhone and iPad.
#[derive(Debug, Serialize)]
pub struct EasPayload<'a> {
    /// Days of past mail on the device; 0 = all. Apple's default is 7, which would hide almost
    /// all of the migrated mail.
    #[serde(rename = "MailNumberOfPastDaysToSync")]
    pub mail_past_days: i64,
    #[serde(rename = "EmailAddress")]
    pub address: String,
    #[serde(rename = "Host")]
    pub host: String,
    #[serde(rename = "SSL")]
    pub ssl: bool,
    #[serde(rename = "OAuth")]
    pub oauth: bool,
    #[serde(rename = "UserName")]
    pub username: String,
    #[serde(
        rename = "Password",
        skip_serializing_if = "Option::is_none",
        serialize_with = "secret"
    )]
    pub password: Option<&'a SecretString>,
}

/// `com.apple.google-oauth`: a Google account; the user signs in after installing.
#[derive(Debug, Serialize)]
pub struct GooglePayload {
    #[serde(rename = "AccountDescription")]
    pub account_description: String,
    #[serde(rename = "AccountName")]
    pub account_name: String,
    #[serde(rename = "EmailAddress")]
    pub address: String,
}

// serde calls this only for `Some` (the `None` case is skipped above).
fn secret<S: Serializer>(value: &Option<&SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(secret) => s.serialize_str(secret.expose_secret()),
        None => s.serialize_none(),
    }
}
