//! Inputs shared by the profile tests: the fixture's people and one host of each kind.
#![allow(dead_code)] // each test file uses a different part

use ferry_profiles::{
    HostSettings, ImapAccount, ImapSignIn, MailAuth, NativeAccount, Organization, ProfileUser,
    Security, Server,
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
        imap_sign_in: Some(ImapSignIn::Password),
        native: None,
    }
}

/// An IMAP host that takes app passwords only (as Fastmail does).
pub fn app_password_host() -> HostSettings {
    HostSettings {
        name: "Fastmail".into(),
        imap_sign_in: Some(ImapSignIn::AppPassword {
            requires: Some("the plan includes IMAP".into()),
            page: Some("Settings → Privacy & Security → App passwords".into()),
        }),
        ..imap_only()
    }
}

/// Exchange Online as it is: OAuth only, no password over IMAP; EWS on Macs when `ews_on_mac`.
pub fn exchange_online(ews_on_mac: bool) -> HostSettings {
    HostSettings {
        name: "Microsoft 365".into(),
        imap_sign_in: None,
        native: Some(NativeAccount::Exchange {
            host: "outlook.office365.com".into(),
            oauth: true,
            ews_on_mac,
        }),
        ..imap_only()
    }
}

/// An Exchange server that still takes passwords (on premises), with EWS for Macs.
pub fn exchange_with_passwords() -> HostSettings {
    HostSettings {
        name: "mail.example.net".into(),
        native: Some(NativeAccount::Exchange {
            host: "mail.example.net".into(),
            oauth: false,
            ews_on_mac: true,
        }),
        ..imap_only()
    }
}

/// Google Workspace as it is: app passwords over IMAP, the Google account on iPhones and iPads.
pub fn google() -> HostSettings {
    HostSettings {
        name: "Google Workspace".into(),
        imap_sign_in: Some(ImapSignIn::AppPassword {
            requires: Some("2-Step Verification is on for the Google account".into()),
            page: Some("https://myaccount.google.com/apppasswords".into()),
        }),
        native: Some(NativeAccount::Google),
        ..imap_only()
    }
}

/// Every host kind the crate can write for.
pub fn all_hosts() -> Vec<(&'static str, HostSettings)> {
    vec![
        ("imap", imap_only()),
        ("app-password", app_password_host()),
        ("exchange-online", exchange_online(false)),
        ("exchange-online-ews", exchange_online(true)),
        ("exchange-password", exchange_with_passwords()),
        ("google", google()),
    ]
}
