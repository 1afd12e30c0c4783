//! The new mail host (phase 2): presets for the common hosts and a generic IMAP host. Holds what
//! the sync engine needs (IMAP endpoint, login method, the host's limits) and what the profiles
//! need (SMTP endpoint, the native account type Apple devices should use).
//!
//! The limits are the hosts' published figures; `None` where a host publishes none (the engine
//! then goes by the server's own APPENDLIMIT / rejections and a conservative connection count).

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
    /// Exchange with OAuth: EWS on macOS, ActiveSync on iOS/iPadOS, at `host`.
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
            // Google: imap.gmail.com / smtp.gmail.com; Gmail advertises APPENDLIMIT=35651584 and
            // allows 15 simultaneous IMAP connections per account.
            PresetId::GoogleWorkspace => Destination {
                preset: id,
                name: "Google Workspace".into(),
                imap: Endpoint::new("imap.gmail.com", 993, Security::Tls),
                smtp: Endpoint::new("smtp.gmail.com", 465, Security::Tls),
                auth: AuthMethod::OAuth2,
                login: LoginName::Address,
                imap_path_prefix: None,
                limits: Limits {
                    max_message_size: Some(35_651_584),
                    max_connections_per_user: Some(15),
                },
                client_account: ClientAccount::Google,
            },
            // Exchange Online: a mailbox's default MaxReceiveSize is 36 MB (37,748,736 bytes;
            // admins may raise it to 150 MB) and IMAP allows 20 concurrent connections per user.
            PresetId::Microsoft365 => Destination {
                preset: id,
                name: "Microsoft 365".into(),
                imap: Endpoint::new("outlook.office365.com", 993, Security::Tls),
                smtp: Endpoint::new("smtp.office365.com", 587, Security::StartTls),
                auth: AuthMethod::OAuth2,
                login: LoginName::Address,
                imap_path_prefix: None,
                limits: Limits {
                    max_message_size: Some(37_748_736),
                    max_connections_per_user: Some(20),
                },
                client_account: ClientAccount::Exchange {
                    host: "outlook.office365.com".into(),
                },
            },
            // Fastmail: TLS only (no STARTTLS), app passwords, full address as user name; it
            // publishes no message-size or connection figure.
            PresetId::Fastmail => Destination {
                preset: id,
                name: "Fastmail".into(),
                imap: Endpoint::new("imap.fastmail.com", 993, Security::Tls),
                smtp: Endpoint::new("smtp.fastmail.com", 465, Security::Tls),
                auth: AuthMethod::AppPassword,
                login: LoginName::Address,
                imap_path_prefix: None,
                limits: Limits {
                    max_message_size: None,
                    max_connections_per_user: None,
                },
                client_account: ClientAccount::Imap,
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
            },
            client_account: ClientAccount::Imap,
        }
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
        let back: Destination = serde_json::from_value(json).unwrap();
        assert_eq!(back, Destination::preset(PresetId::Microsoft365));
    }
}
