//! What a profile is made from: plain input types, filled by the project layer from the discovered
//! accounts and the chosen destination. Nothing here knows where the values came from.

use secrecy::SecretString;

/// The organization that hands out the profiles: shown to the person installing, and the root of
/// every `PayloadIdentifier` (in reverse DNS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// Human-readable name, e.g. "Example GmbH".
    pub name: String,
    /// The organization's DNS domain, e.g. "example.com".
    pub domain: String,
}

/// One person who gets a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileUser {
    /// Stable key of the account across exports (the old server's short name, e.g. "bmueller").
    /// Part of every UUID and identifier, so it must not change between re-exports.
    pub key: String,
    /// The address the account sends from on the new host.
    pub address: String,
    /// Full name shown in sent mail ("Björn Müller").
    pub display_name: String,
    /// The name the user logs in with on the new host (often the address).
    pub login: String,
}

/// Transport security of one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    Tls,
    /// Plain connect, then STARTTLS (IMAP 143, submission 587). Apple's "Use SSL" covers both.
    StartTls,
    /// No encryption at all.
    None,
}

/// How a mail client authenticates to one server, in the terms of `com.apple.mail.managed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailAuth {
    None,
    Password,
    CramMd5,
    Ntlm,
    HttpMd5,
}

impl MailAuth {
    pub(crate) fn apple_name(self) -> &'static str {
        match self {
            MailAuth::None => "EmailAuthNone",
            MailAuth::Password => "EmailAuthPassword",
            MailAuth::CramMd5 => "EmailAuthCRAMMD5",
            MailAuth::Ntlm => "EmailAuthNTLM",
            MailAuth::HttpMd5 => "EmailAuthHTTPMD5",
        }
    }
}

/// One server a mail client talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub auth: MailAuth,
}

/// IMAP in, SMTP out: the `com.apple.mail.managed` account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapAccount {
    pub incoming: Server,
    pub outgoing: Server,
    /// IMAP path prefix (e.g. "INBOX" on Courier/Cyrus-style hosts); `None` when the host needs none.
    pub path_prefix: Option<String>,
}

/// What Mail on Apple devices types in to sign in to the host's IMAP and SMTP servers. Apple's
/// mail payload knows passwords only (no OAuth), so a host that refuses passwords there has no
/// IMAP account on devices at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImapSignIn {
    /// The account's own password.
    Password,
    /// An app password the person makes at the host; the account's own password is refused.
    AppPassword {
        /// What must be true before the host gives one out, as a person reads it.
        requires: Option<String>,
        /// Where to make one (a web address or a place in the host's settings).
        page: Option<String>,
    },
}

/// A native account type that some hosts prefer over IMAP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NativeAccount {
    /// Exchange: `com.apple.eas.account` on iOS/iPadOS, and `com.apple.ews.account` on macOS
    /// when `ews_on_mac`.
    Exchange {
        /// EWS / ActiveSync host, e.g. "outlook.office365.com".
        host: String,
        /// Sign in with OAuth (Microsoft 365 accepts nothing else); no password is then ever written.
        oauth: bool,
        /// Whether Macs get an Exchange Web Services account. Apple Mail on macOS speaks Exchange
        /// only through EWS, which Exchange Online blocks by default from 1 October 2026 (unless
        /// the tenant allows it) and shuts off on 1 April 2027; without it Macs get no profile.
        ews_on_mac: bool,
    },
    /// Google: `com.apple.google-oauth` on iOS/iPadOS (Apple has no such payload for macOS, where
    /// the IMAP account is used). Never carries credentials.
    Google,
}

/// Everything about the new host that a profile needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSettings {
    /// Human-readable name of the new host ("Microsoft 365", "mail.example.net").
    pub name: String,
    pub imap: ImapAccount,
    /// How devices sign in to `imap`; `None` when the host takes no password there (then no
    /// device gets an IMAP account).
    pub imap_sign_in: Option<ImapSignIn>,
    pub native: Option<NativeAccount>,
}

/// What the person installing a profile is asked for, then or right after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Prompt {
    /// Their password for the host.
    Password,
    /// An app password they make at the host first.
    AppPassword,
    /// Sign-in on the host's own page (OAuth), after installing.
    HostSignIn,
}

/// Choices made per export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileOptions {
    /// With a native account, also add the IMAP account (only where the host takes a password
    /// over IMAP, e.g. Google's app passwords). Off by default: two accounts for one mailbox
    /// confuse people.
    pub imap_with_native: bool,
}

/// A password the admin chose to put into one profile. Only ever passed in for that purpose.
pub struct ProfilePassword(pub SecretString);

impl std::fmt::Debug for ProfilePassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProfilePassword(<redacted>)")
    }
}

/// The device family a profile is meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// Macs, iPhones and iPads alike (IMAP only).
    Any,
    /// Macs (`TargetDeviceType` 5).
    Mac,
    /// iPhones and iPads (`TargetDeviceType` 1).
    IPhoneIPad,
}

impl Target {
    /// Short stable name, used in file names, identifiers and UUID seeds.
    pub fn slug(self) -> &'static str {
        match self {
            Target::Any => "all",
            Target::Mac => "mac",
            Target::IPhoneIPad => "ios",
        }
    }

    /// Apple's platform names (as in the schema's `supportedOS`) the profile is installed on.
    pub fn apple_platforms(self) -> &'static [&'static str] {
        match self {
            Target::Any => &["macOS", "iOS"],
            Target::Mac => &["macOS"],
            Target::IPhoneIPad => &["iOS"],
        }
    }

    pub(crate) fn device_type(self) -> Option<i64> {
        match self {
            Target::Any => None,
            Target::Mac => Some(5),
            Target::IPhoneIPad => Some(1),
        }
    }

    pub(crate) fn human(self) -> &'static str {
        match self {
            Target::Any => "Mac, iPhone and iPad",
            Target::Mac => "Mac",
            Target::IPhoneIPad => "iPhone and iPad",
        }
    }
}
