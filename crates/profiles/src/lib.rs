//! Apple configuration profiles (`.mobileconfig`) that point Macs, iPhones and iPads at the new
//! mail host: `com.apple.mail.managed` (IMAP + SMTP), and for hosts with a native account type the
//! Exchange (`com.apple.ews.account` on macOS, `com.apple.eas.account` on iOS) or Google
//! (`com.apple.google-oauth`) payloads. UUIDs are stable per (migration, user, payload), so a
//! re-exported profile replaces the installed one. Optional CMS signing from a PKCS#12 identity.
//!
//! This crate owns the bytes only: it reads no vault (a password comes in only when the admin asks
//! for it) and writes no files.

mod export;
mod model;
mod payload;
mod profile;
#[cfg(feature = "schema")]
pub mod schema;
mod sign;

pub use export::{combined_plist, manifest_csv};
pub use model::{
    HostSettings, ImapAccount, MailAuth, NativeAccount, Organization, ProfileOptions,
    ProfilePassword, ProfileUser, Security, Server, Target,
};
pub use payload::{EAS, EWS, GOOGLE, MAIL};
pub use profile::{build_all, build_user, stable_uuid, PayloadInfo, Profile, ProfileRequest};
#[cfg(target_os = "macos")]
pub use sign::sign_with_keychain_identity;
pub use sign::Signer;

/// Everything that can go wrong while making profiles; each message says what, for whom, and what
/// to do.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("profile for user {user:?}: the {what} is empty; fill it in before exporting")]
    Empty { what: &'static str, user: String },
    #[error("profile for user {user:?}: {address:?} is not an email address")]
    BadAddress { user: String, address: String },
    #[error(
        "organization domain {domain:?} is not a DNS name like example.com (ASCII letters, digits, \
         '-'; use the punycode form of an international name); profile identifiers are built from it"
    )]
    BadDomain { domain: String },
    #[error(
        "users {first:?} and {second:?} would both get the file {file_name:?} (and the same profile \
         identifier); rename one of them"
    )]
    Collision {
        first: String,
        second: String,
        file_name: String,
    },
    #[error("profile for user {user:?}: cannot write the plist: {source}")]
    Plist {
        user: String,
        #[source]
        source: plist::Error,
    },
    #[error("signing identity {origin}: {reason}")]
    Pkcs12 { origin: String, reason: String },
    #[error("cannot sign the profile: {0}")]
    Sign(String),
    #[error("cannot write the manifest: {0}")]
    Manifest(String),
}
