//! Apple configuration profiles (`.mobileconfig`) that point Macs, iPhones and iPads at the new
//! mail host: `com.apple.mail.managed` (IMAP + SMTP), and for hosts with a native account type the
//! Exchange (`com.apple.eas.account` on iOS, `com.apple.ews.account` on macOS where the host still
//! serves EWS) or Google (`com.apple.google-oauth`) payloads. Each host is set up the way it takes
//! sign-in today, and each profile says what the person will be asked for. One
//! `PayloadIdentifier` per user, whatever the host: a re-export (for another host too) replaces
//! the installed profile. UUIDs are stable per (migration, user, device family, payload).
//! Optional CMS signing from a PKCS#12 identity.
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
    HostSettings, ImapAccount, ImapSignIn, MailAuth, NativeAccount, Organization, ProfileOptions,
    ProfilePassword, ProfileUser, Prompt, Security, Server, Target,
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
    #[error(
        "{host} takes no password over IMAP and SMTP, and Mail on Apple devices has no other way \
         to sign in there; export without the extra IMAP account"
    )]
    ImapRefused { host: String },
    #[error(
        "{host} has no account type Apple devices can sign in to: it takes no password over \
         IMAP and SMTP and has no native account type"
    )]
    NothingToSetUp { host: String },
    #[error(
        "profile for user {user:?}: {host} signs people in on its own page, so no profile can hold \
         a password; export without passwords"
    )]
    PasswordNotTaken { user: String, host: String },
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
