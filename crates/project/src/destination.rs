//! The new mail host (phase 2): presets for the common hosts and a generic IMAP host. Holds what
//! the sync engine needs (IMAP endpoint, login method, the host's limits) and what the profiles
//! need (SMTP endpoint, the native account type Apple devices should use).
//!
//! The limits are the hosts' published figures, each with where it is published; `None` where a
//! host publishes none (the engine then goes by the server's own APPENDLIMIT / rejections and a
//! conservative connection count). The sign-in each host accepts today is data too ([`SignIn`]):
//! the profiles, the app and the CLI read it rather than guess from the preset.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Which preset a destination started from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum PresetId {
    GoogleWorkspace,
    Microsoft365,
    Fastmail,
    GenericImap,
}

impl PresetId {
    pub const ALL: [PresetId; 4] = [
        PresetId::GoogleWorkspace,
        PresetId::Microsoft365,
        PresetId::Fastmail,
        PresetId::GenericImap,
    ];

    /// The name used on the command line (`--dest-preset`).
    pub fn slug(self) -> &'static str {
        match self {
            PresetId::GoogleWorkspace => "google",
            PresetId::Microsoft365 => "m365",
            PresetId::Fastmail => "fastmail",
            PresetId::GenericImap => "imap",
        }
    }

    pub fn from_slug(slug: &str) -> Option<PresetId> {
        PresetId::ALL.into_iter().find(|p| p.slug() == slug)
    }
}

/// Transport security of one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum Security {
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    Tls,
    /// Plain connect, then STARTTLS (IMAP 143, submission 587).
    StartTls,
    /// No encryption (test servers, or a host on a trusted link only).
    Plain,
}

/// One server: host, port, security.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub security: Security,
}

impl Endpoint {
    pub fn new(host: &str, port: u16, security: Security) -> Endpoint {
        Endpoint {
            host: host.to_string(),
            port,
            security,
        }
    }
}

/// How people (and Ferry) sign in to the new host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum AuthMethod {
    /// The account's own password (IMAP LOGIN / AUTHENTICATE PLAIN).
    Password,
    /// A per-app password the user creates at the host (Fastmail; Google with 2-step verification).
    AppPassword,
    /// OAuth 2.0 sign-in (XOAUTH2); the host refuses plain passwords.
    OAuth2,
}

/// What the login name on the new host is, given the user's address there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum LoginName {
    /// The full address ("jane.doe@example.com").
    Address,
    /// The part before the '@' ("jane.doe").
    LocalPart,
}

/// The account type Apple devices should get for this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", tag = "kind")]
#[ts(export)]
pub enum ClientAccount {
    /// IMAP + SMTP (`com.apple.mail.managed`).
    Imap,
    /// Exchange at `host`: ActiveSync on iOS/iPadOS. Macs get Exchange Web Services only when the
    /// admin says the tenant still serves it (Exchange Online turns EWS off from October 2026).
    Exchange { host: String },
    /// Google account on iOS/iPadOS (OAuth sign-in); IMAP on macOS.
    Google,
}

/// The host's limits that the sync engine must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Limits {
    /// Largest message the host accepts through IMAP APPEND, in bytes.
    #[ts(type = "number | null")]
    pub max_message_size: Option<u64>,
    /// Simultaneous IMAP connections the host allows one user. The users' own mail clients count
    /// against it too, so the engine should stay below it.
    pub max_connections_per_user: Option<u32>,
    /// Bytes one account may upload through IMAP per day. A copy that reaches it stops and goes on
    /// in the next window. (Older project files lack it: `None`, see [`Destination::normalized`].)
    #[serde(default)]
    #[ts(type = "number | null")]
    pub daily_upload_bytes: Option<u64>,
}

/// What a host accepts today when someone signs in over IMAP and SMTP: from its documentation,
/// not from what once worked. Profiles, the app and the CLI read it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SignIn {
    /// The methods the host accepts, preferred first. Empty only in project files written before
    /// Ferry kept this ([`Destination::normalized`] fills it in).
    pub accepted: Vec<AuthMethod>,
    /// What must be true before the host gives out app passwords, as a person reads it
    /// ("2-Step Verification is on for the account").
    pub app_password_requires: Option<String>,
    /// Where people make an app password.
    pub app_password_page: Option<String>,
}

impl SignIn {
    /// Whether the host accepts `method`.
    pub fn accepts(&self, method: AuthMethod) -> bool {
        self.accepted.contains(&method)
    }

    /// The password kind Mail on Apple devices can sign in to IMAP/SMTP with (Apple's mail
    /// payload knows no OAuth): the preferred one the host accepts, or `None` when the host takes
    /// no password there at all (Exchange Online).
    pub fn device_password(&self) -> Option<AuthMethod> {
        self.accepted
            .iter()
            .copied()
            .find(|m| matches!(m, AuthMethod::Password | AuthMethod::AppPassword))
    }
}

/// The new mail host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Destination {
    pub preset: PresetId,
    /// Human-readable name ("Microsoft 365", or the IMAP host name for a generic host).
    pub name: String,
    pub imap: Endpoint,
    pub smtp: Endpoint,
    pub auth: AuthMethod,
    pub login: LoginName,
    /// IMAP personal namespace prefix clients must use, if the host needs one (e.g. "INBOX").
    pub imap_path_prefix: Option<String>,
    pub limits: Limits,
    pub client_account: ClientAccount,
    /// The sign-in the host accepts today.
    #[serde(default)]
    pub sign_in: SignIn,
    /// What the admin needs before choosing this host, a few short lines for the preset's card.
    #[serde(default)]
    pub needs: Vec<String>,
}

/// A destination that cannot be used as it is.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DestinationError {
    #[error("the {what} host of the destination is empty; enter the host name of the new server")]
    MissingHost { what: &'static str },
    #[error("the {what} host {host:?} of the destination is not a host name or IP address")]
    BadHost { what: &'static str, host: String },
    #[error("the {what} port of the destination is 0; enter the server's port (IMAP 993, SMTP 465 or 587)")]
    BadPort { what: &'static str },
    #[error("unknown destination preset {0:?}; use one of google, m365, fastmail, imap")]
    UnknownPreset(String),
}

impl Destination {
    /// The preset's settings. For [`PresetId::GenericImap`] the hosts are empty: fill them in, or
    /// use [`Destination::generic`].
    pub fn preset(id: PresetId) -> Destination {
        match id {
            PresetId::GoogleWorkspace => Destination {
                preset: id,
                name: "Google Workspace".into(),
                imap: Endpoint::new("imap.gmail.com", 993, Security::Tls),
                smtp: Endpoint::new("smtp.gmail.com", 465, Security::Tls),
                auth: AuthMethod::OAuth2,
                login: LoginName::Address,
                imap_path_prefix: None,
                limits: Limits {
                    // Gmail Help, attachment limits: mail up to 25 MB can be sent and up to 50 MB
                    // received; imap.gmail.com advertises APPENDLIMIT=35651584 (34 MiB), the
                    // lower of what an IMAP upload can be, so that is the figure here.
                    max_message_size: Some(35_651_584),
                    // Gmail Help, "Too many simultaneous connections": 15 simultaneous IMAP
                    // connections per account (people's own mail apps included).
                    max_connections_per_user: Some(15),
                    // Google Workspace Admin Help, "Gmail bandwidth limits"
                    // (support.google.com/a/answer/1071518): "Upload via IMAP: 500 MB" per day
                    // per account; past it Google stops IMAP uploads for the account for a while.
                    // Decimal MB, the smaller reading.
                    daily_upload_bytes: Some(500_000_000),
                },
                client_account: ClientAccount::Google,
                // Google Workspace Updates blog (29 September 2023) and Admin Help, "Transition
                // from less secure apps to OAuth": since 30 September 2024 Workspace accounts
                // refuse the account password over IMAP, SMTP, CalDAV and CardDAV; OAuth ("Sign
                // in with Google") works, and app passwords, which need 2-Step Verification
                // (Google Account Help, "Sign in with app passwords").
                sign_in: SignIn {
                    accepted: vec![AuthMethod::OAuth2, AuthMethod::AppPassword],
                    app_password_requires: Some(
                        "2-Step Verification is on for the Google account".into(),
                    ),
                    app_password_page: Some("https://myaccount.google.com/apppasswords".into()),
                },
                needs: vec![
                    "A Google Workspace super admin".into(),
                    "A Google Cloud service account with domain-wide delegation for the scope \
                     https://mail.google.com/ and its key (Ferry copies mail with it: no \
                     passwords of the people)"
                        .into(),
                    "On Macs, each person makes a Google app password (needs 2-Step \
                     Verification); iPhones and iPads sign in to Google directly"
                        .into(),
                ],
            },
            PresetId::Microsoft365 => Destination {
                preset: id,
                name: "Microsoft 365".into(),
                imap: Endpoint::new("outlook.office365.com", 993, Security::Tls),
                smtp: Endpoint::new("smtp.office365.com", 587, Security::StartTls),
                auth: AuthMethod::OAuth2,
                login: LoginName::Address,
                imap_path_prefix: None,
                limits: Limits {
                    // Microsoft 365 service description, "Exchange Online limits", message
                    // limits: a mailbox receives up to 36 MB by default (sends 35 MB); admins can
                    // raise it to 150 MB. IMAP migrations are held to the same limit.
                    max_message_size: Some(37_748_736),
                    // "Exchange Online throttling and limits FAQ" (Exchange developer blog): 20
                    // concurrent IMAP connections per user; the limits page itself lists none.
                    max_connections_per_user: Some(20),
                    // No daily upload budget is published: Exchange Online throttles instead and
                    // says how long to wait ("Suggested Backoff Time").
                    daily_upload_bytes: None,
                },
                client_account: ClientAccount::Exchange {
                    host: "outlook.office365.com".into(),
                },
                // Microsoft Learn, "Deprecation of Basic authentication in Exchange Online":
                // passwords over IMAP, POP, EAS and EWS were turned off from October 2022 (for
                // good in January 2023); SMTP AUTH with a password is off by default for existing
                // tenants from the end of December 2026 (Exchange Team blog, 27 January 2026).
                // What remains is OAuth 2.0.
                sign_in: SignIn {
                    accepted: vec![AuthMethod::OAuth2],
                    app_password_requires: None,
                    app_password_page: None,
                },
                needs: vec![
                    "A Microsoft 365 global admin".into(),
                    "An app registration in Microsoft Entra with the IMAP.AccessAsApp \
                     permission (admin consent) and a client secret or certificate"
                        .into(),
                    "That app's Exchange service principal with access to each mailbox".into(),
                    "People sign in on their devices with their Microsoft 365 account: no \
                     passwords are collected"
                        .into(),
                ],
            },
            PresetId::Fastmail => Destination {
                preset: id,
                name: "Fastmail".into(),
                imap: Endpoint::new("imap.fastmail.com", 993, Security::Tls),
                smtp: Endpoint::new("smtp.fastmail.com", 465, Security::Tls),
                auth: AuthMethod::AppPassword,
                login: LoginName::Address,
                imap_path_prefix: None,
                // Fastmail Help, "Account limits", lists storage, identities and fetch accounts
                // but no message size, connection count or upload budget; the engine goes by
                // the server's APPENDLIMIT and its answers.
                limits: Limits {
                    max_message_size: None,
                    max_connections_per_user: None,
                    daily_upload_bytes: None,
                },
                client_account: ClientAccount::Imap,
                // Fastmail Help, "IMAP, POP, and SMTP": every IMAP, POP and SMTP connection needs
                // its own app password; the normal password is refused. Basic plans have no IMAP.
                sign_in: SignIn {
                    accepted: vec![AuthMethod::AppPassword],
                    app_password_requires: Some(
                        "the Fastmail plan includes IMAP, which Basic plans do not".into(),
                    ),
                    app_password_page: Some("Fastmail Settings → Privacy & Security".into()),
                },
                needs: vec![
                    "A Fastmail plan with IMAP access (not Basic)".into(),
                    "An app password for each person (Fastmail Settings → Privacy & Security)"
                        .into(),
                ],
            },
            PresetId::GenericImap => Destination::generic("", ""),
        }
    }

    /// A generic IMAP host: IMAPS on 993 and submission with STARTTLS on 587, password login.
    pub fn generic(imap_host: &str, smtp_host: &str) -> Destination {
        Destination {
            preset: PresetId::GenericImap,
            name: imap_host.to_string(),
            imap: Endpoint::new(imap_host, 993, Security::Tls),
            smtp: Endpoint::new(smtp_host, 587, Security::StartTls),
            auth: AuthMethod::Password,
            login: LoginName::Address,
            imap_path_prefix: None,
            limits: Limits {
                max_message_size: None,
                max_connections_per_user: None,
                daily_upload_bytes: None,
            },
            client_account: ClientAccount::Imap,
            sign_in: SignIn {
                accepted: vec![AuthMethod::Password],
                app_password_requires: None,
                app_password_page: None,
            },
            needs: vec![
                "The IMAP and SMTP server names of the new host".into(),
                "Each person's password on the new host".into(),
            ],
        }
    }

    /// This destination with what Ferry knows of its preset filled in where a project file written
    /// by an older Ferry left it out (sign-in, the needs list, the daily upload budget). Choices
    /// the admin made (hosts, ports, login, message size) are kept.
    pub fn normalized(mut self) -> Destination {
        let preset = match self.preset {
            PresetId::GenericImap => Destination::generic("", ""),
            other => Destination::preset(other),
        };
        if self.sign_in.accepted.is_empty() {
            self.sign_in = preset.sign_in;
        }
        if self.needs.is_empty() {
            self.needs = preset.needs;
        }
        if self.limits.daily_upload_bytes.is_none() {
            self.limits.daily_upload_bytes = preset.limits.daily_upload_bytes;
        }
        self
    }

    /// Every preset, for the wizard's list.
    pub fn presets() -> Vec<Destination> {
        PresetId::ALL.into_iter().map(Destination::preset).collect()
    }

    /// The login name on the new host for `address`.
    pub fn login_for(&self, address: &str) -> String {
        match self.login {
            LoginName::Address => address.to_string(),
            LoginName::LocalPart => address
                .rsplit_once('@')
                .map_or(address, |(local, _)| local)
                .to_string(),
        }
    }

    /// Checks that the hosts and ports are usable.
    pub fn validate(&self) -> Result<(), DestinationError> {
        for (what, endpoint) in [("IMAP", &self.imap), ("SMTP", &self.smtp)] {
            let host = endpoint.host.trim();
            if host.is_empty() {
                return Err(DestinationError::MissingHost { what });
            }
            let host_ok = host.parse::<std::net::IpAddr>().is_ok()
                || host.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !host_ok {
                return Err(DestinationError::BadHost {
                    what,
                    host: endpoint.host.clone(),
                });
            }
            if endpoint.port == 0 {
                return Err(DestinationError::BadPort { what });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_complete_and_valid() {
        for id in PresetId::ALL {
            assert_eq!(PresetId::from_slug(id.slug()), Some(id));
            let d = Destination::preset(id);
            assert_eq!(d.preset, id);
            if id == PresetId::GenericImap {
                assert_eq!(
                    d.validate(),
                    Err(DestinationError::MissingHost { what: "IMAP" })
                );
            } else {
                d.validate().unwrap();
                assert_eq!(d.imap.port, 993);
                assert_eq!(d.imap.security, Security::Tls);
            }
        }
        assert_eq!(PresetId::from_slug("exchange"), None);
        let m365 = Destination::preset(PresetId::Microsoft365);
        assert_eq!(m365.auth, AuthMethod::OAuth2);
        assert_eq!(m365.limits.max_connections_per_user, Some(20));
        assert!(matches!(
            m365.client_account,
            ClientAccount::Exchange { .. }
        ));
        assert_eq!(
            Destination::preset(PresetId::GoogleWorkspace).client_account,
            ClientAccount::Google
        );
    }

    #[test]
    fn presets_carry_their_documented_limits() {
        let limits = |id| Destination::preset(id).limits;
        assert_eq!(
            limits(PresetId::GoogleWorkspace),
            Limits {
                max_message_size: Some(35_651_584),
                max_connections_per_user: Some(15),
                daily_upload_bytes: Some(500_000_000),
            }
        );
        assert_eq!(
            limits(PresetId::Microsoft365),
            Limits {
                max_message_size: Some(37_748_736),
                max_connections_per_user: Some(20),
                daily_upload_bytes: None,
            }
        );
        let none = Limits {
            max_message_size: None,
            max_connections_per_user: None,
            daily_upload_bytes: None,
        };
        assert_eq!(limits(PresetId::Fastmail), none);
        assert_eq!(limits(PresetId::GenericImap), none);
    }

    #[test]
    fn presets_say_which_sign_in_their_host_accepts_today() {
        let sign_in = |id| Destination::preset(id).sign_in;
        let m365 = sign_in(PresetId::Microsoft365);
        assert_eq!(m365.accepted, [AuthMethod::OAuth2]);
        assert_eq!(m365.device_password(), None);
        let google = sign_in(PresetId::GoogleWorkspace);
        assert_eq!(
            google.accepted,
            [AuthMethod::OAuth2, AuthMethod::AppPassword]
        );
        assert_eq!(google.device_password(), Some(AuthMethod::AppPassword));
        assert!(!google.accepts(AuthMethod::Password));
        assert_eq!(
            google.app_password_page.as_deref(),
            Some("https://myaccount.google.com/apppasswords")
        );
        let fastmail = sign_in(PresetId::Fastmail);
        assert_eq!(fastmail.device_password(), Some(AuthMethod::AppPassword));
        assert!(!fastmail.accepts(AuthMethod::Password));
        assert_eq!(
            sign_in(PresetId::GenericImap).device_password(),
            Some(AuthMethod::Password)
        );
        for id in PresetId::ALL {
            let d = Destination::preset(id);
            assert!(d.needs.len() >= 2, "{id:?}: {:?}", d.needs);
            // The app shows these lines: no command-line flags in them.
            assert!(d.needs.iter().all(|n| !n.contains("--")), "{id:?}");
        }
    }

    #[test]
    fn an_older_project_file_gets_the_preset_facts_back() {
        // A destination as Ferry stored it before sign-in, needs and the upload budget existed.
        let mut json =
            serde_json::to_value(Destination::preset(PresetId::GoogleWorkspace)).unwrap();
        let object = json.as_object_mut().unwrap();
        object.remove("signIn");
        object.remove("needs");
        object["limits"]
            .as_object_mut()
            .unwrap()
            .remove("dailyUploadBytes");
        object["imap"]["port"] = 1993.into();
        let old: Destination = serde_json::from_value(json).unwrap();
        assert!(old.sign_in.accepted.is_empty());
        assert_eq!(old.limits.daily_upload_bytes, None);
        let now = old.normalized();
        let preset = Destination::preset(PresetId::GoogleWorkspace);
        assert_eq!(now.sign_in, preset.sign_in);
        assert_eq!(now.needs, preset.needs);
        assert_eq!(now.limits, preset.limits);
        assert_eq!(now.imap.port, 1993, "the admin's own settings stay");
    }

    #[test]
    fn generic_hosts_are_checked() {
        Destination::generic("mail.example.net", "192.0.2.7")
            .validate()
            .unwrap();
        let bad = Destination::generic("mail example.net", "smtp.example.net");
        assert!(matches!(
            bad.validate(),
            Err(DestinationError::BadHost { what: "IMAP", .. })
        ));
        let mut no_port = Destination::generic("a.example", "b.example");
        no_port.smtp.port = 0;
        assert_eq!(
            no_port.validate(),
            Err(DestinationError::BadPort { what: "SMTP" })
        );
    }

    #[test]
    fn login_names() {
        let mut d = Destination::generic("a.example", "b.example");
        assert_eq!(d.login_for("jane@example.com"), "jane@example.com");
        d.login = LoginName::LocalPart;
        assert_eq!(d.login_for("jane@example.com"), "jane");
    }

    #[test]
    fn serializes_for_the_ui_in_camel_case() {
        let json = serde_json::to_value(Destination::preset(PresetId::Microsoft365)).unwrap();
        assert_eq!(json["preset"], "microsoft365");
        assert_eq!(json["limits"]["maxMessageSize"], 37_748_736);
        assert_eq!(json["clientAccount"]["kind"], "exchange");
        assert_eq!(json["limits"]["dailyUploadBytes"], serde_json::Value::Null);
        assert_eq!(json["signIn"]["accepted"], serde_json::json!(["oAuth2"]));
        let back: Destination = serde_json::from_value(json).unwrap();
        assert_eq!(back, Destination::preset(PresetId::Microsoft365));
    }
}
