//! Inputs shared by the profile tests: the fixture's people and one host of each kind.
#![allow(dead_code)] // each test file uses a different part

use ferry_profiles::{
    HostSettings, ImapAccount, MailAuth, NativeAccount, Organization, ProfileUser, Security, Server,
};
use std::path::PathBuf;

/// Apple's schema, as copied into the shared oracles next to the repository.
pub fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/oracles/apple-device-management")
}

pub fn org() -> Organization {
    // '&' and 'ü' on purpose: XML escaping and UTF-8 in what the person installing reads.
    Organization {
        name: "Müller & Doe GmbH".into(),
        domain: "example.org".into(),
    }
}

pub fn users() -> Vec<ProfileUser> {
    vec![
        ProfileUser {
            key: "jdoe".into(),
            address: "jane.doe@example.com".into(),
            display_name: "Jane Doe".into(),
            login: "jane.doe@example.com".into(),
        },
        ProfileUser {
            key: "bmueller".into(),
            address: "bjoern.mueller@example.org".into(),
            display_name: "Björn Müller".into(),
            login: "bjoern.mueller@example.org".into(),
        },
    ]
}

pub fn imap_only() -> HostSettings {
    HostSettings {
        name: "mail.example.net".into(),
        imap: ImapAccount {
            incoming: Server {
                host: "imap.example.net".into(),
                port: 993,
                security: Security::Tls,
                auth: MailAuth::Password,
            },
            outgoing: Server {
                host: "smtp.example.net".into(),
                port: 587,
                security: Security::StartTls,
                auth: MailAuth::Password,
            },
            path_prefix: Some("INBOX".into()),
        },
        native: None,
    }
}

pub fn exchange(oauth: bool) -> HostSettings {
    HostSettings {
        name: "Microsoft 365".into(),
        native: Some(NativeAccount::Exchange {
            host: "outlook.office365.com".into(),
            oauth,
        }),
        ..imap_only()
    }
}

pub fn google() -> HostSettings {
    HostSettings {
        name: "Google Workspace".into(),
        native: Some(NativeAccount::Google),
        ..imap_only()
    }
}

/// Every host kind the crate can write for.
pub fn all_hosts() -> Vec<(&'static str, HostSettings)> {
    vec![
        ("imap", imap_only()),
        ("exchange-oauth", exchange(true)),
        ("exchange-password", exchange(false)),
        ("google", google()),
    ]
}
