//! Phase 8, Profiles: a `.mobileconfig` for every mail user, pointing their Macs, iPhones and iPads
//! at the new host the way it takes sign-in today (the destination's [`SignIn`]). Maps the
//! discovered accounts and the destination onto `ferry-profiles`, takes passwords from the vault
//! only when the admin asks and the host takes one, signs if asked, and writes the export folder:
//! the profiles, `manifest.csv` and `all-profiles.plist` (every profile in one file). The report
//! says per profile what people will be asked for, and notes what each host means for devices.

use std::path::{Path, PathBuf};

use ferry_discover::{AccountState, Inventory};
use ferry_profiles::{
    HostSettings, ImapAccount, ImapSignIn, MailAuth, NativeAccount, ProfileOptions,
    ProfilePassword, ProfileRequest, ProfileUser, Prompt, Server, Signer,
};
use ferry_vault::Vault;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::destination::{AuthMethod, ClientAccount, Destination, Security, SignIn};

pub use ferry_profiles::{Organization, ProfileError};

/// File name of the CSV manifest in the export folder.
pub const MANIFEST: &str = "manifest.csv";
/// File name of the combined file (every profile, for MDMs that import many at once).
pub const COMBINED: &str = "all-profiles.plist";

/// One person who gets a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ProfileAccount {
    /// The old server's short name: stable between exports, so it keys the profile's UUIDs.
    pub key: String,
    /// The address on the new host.
    pub address: String,
    /// Full name shown in sent mail.
    pub display_name: String,
}

/// Who gets a profile, from a discovery: every active mail account, with its primary address and
/// its directory full name (the short name where the directory has none). Forwarding and disabled
/// accounts are left out (nobody reads mail there) and returned as the second list.
pub fn accounts_from_inventory(inventory: &Inventory) -> (Vec<ProfileAccount>, Vec<String>) {
    let mut accounts = Vec::new();
    let mut skipped = Vec::new();
    for account in &inventory.accounts {
        let address = account.addresses.first();
        match (account.state, address) {
            (AccountState::Active, Some(address)) => accounts.push(ProfileAccount {
                key: account.short_name.clone(),
                address: address.clone(),
                display_name: account
                    .real_name
                    .clone()
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or_else(|| account.short_name.clone()),
            }),
            _ => skipped.push(account.short_name.clone()),
        }
    }
    (accounts, skipped)
}

/// How to sign the profiles.
pub enum Signing {
    /// A PKCS#12 (.p12 / .pfx) file and its password.
    Pkcs12 {
        path: PathBuf,
        password: SecretString,
    },
    /// An identity in the macOS Keychain, by its certificate's common name or email address.
    #[cfg(target_os = "macos")]
    Keychain { identity: String },
}

/// One export.
pub struct ExportRequest<'a> {
    /// The folder to write into (created if missing).
    pub out_dir: PathBuf,
    /// Stable id of this migration: with the account key it seeds every UUID, so re-exports
    /// replace the profiles on devices instead of adding second copies.
    pub migration_id: String,
    pub organization: Organization,
    pub destination: Destination,
    pub accounts: Vec<ProfileAccount>,
    /// `Some` = put each account's password into its profile, read from this vault (key: the
    /// destination's IMAP host and the account's login there). `None` = no passwords.
    pub passwords: Option<&'a dyn Vault>,
    pub signing: Option<Signing>,
    /// With Google, add the IMAP account next to the Google one on iPhones and iPads (refused
    /// where the host takes no password over IMAP, as Microsoft 365).
    pub imap_with_native: bool,
    /// With Microsoft 365, also give Macs an Exchange Web Services account. Only for tenants that
    /// still allow EWS for Apple Mail: Exchange Online blocks it by default from 1 October 2026
    /// and switches it off on 1 April 2027.
    pub ews_on_mac: bool,
}

/// What a person is asked for when installing a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum UserPrompt {
    /// Their password for the new host.
    Password,
    /// An app password they make at the new host first.
    AppPassword,
    /// Sign-in on the host's own page after installing (no password in the profile).
    HostSignIn,
}

impl UserPrompt {
    /// Short words for a list ("app password").
    pub fn words(self) -> &'static str {
        match self {
            UserPrompt::Password => "password",
            UserPrompt::AppPassword => "app password",
            UserPrompt::HostSignIn => "sign-in on the host's page",
        }
    }
}

/// One written profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ExportedProfile {
    pub user: String,
    pub address: String,
    /// "all", "mac" or "ios".
    pub target: String,
    pub file: String,
    pub payload_types: Vec<String>,
    pub contains_password: bool,
    /// What the person installing is asked for (empty: nothing, the password is inside).
    pub asks_for: Vec<UserPrompt>,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ExportReport {
    pub out_dir: String,
    pub profiles: Vec<ExportedProfile>,
    pub manifest: String,
    pub combined: String,
    /// True when at least one file holds a password in clear: the UI and CLI must say so.
    pub contains_passwords: bool,
    /// The signer's subject, when signed.
    pub signed_by: Option<String>,
    /// What this host means for people's devices, a sentence each (shown after the list).
    pub notes: Vec<String>,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no accounts to export profiles for; run discovery first (or name the users)")]
    NoAccounts,
    #[error(transparent)]
    Destination(#[from] crate::destination::DestinationError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("cannot read the password of {user} at {host} from the vault: {source}")]
    Vault {
        user: String,
        host: String,
        #[source]
        source: ferry_vault::VaultError,
    },
    #[error(
        "no {what} stored at {host} for: {users}; store them first (phase 3, Credentials), or \
         export without passwords"
    )]
    MissingPasswords {
        /// "password" or "app password".
        what: &'static str,
        host: String,
        users: String,
    },
    #[error(
        "{host} signs people in on its own page and takes no password in a profile; export \
         without passwords (people sign in after installing)"
    )]
    PasswordsNotTaken { host: String },
    #[error(
        "{host} takes no password over IMAP and SMTP, and Mail on Apple devices can sign in to \
         IMAP with nothing else; export without the extra IMAP account"
    )]
    ImapNotTaken { host: String },
    #[error(
        "{host} has no Exchange account type, so there is no Exchange Web Services account for \
         Macs; export without it"
    )]
    NoExchange { host: String },
    #[error("cannot read the signing identity {path}: {source}")]
    ReadIdentity {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}; check that the folder is writable")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The profile crate's view of the destination. `ews_on_mac`: see [`ExportRequest::ews_on_mac`].
pub fn host_settings(destination: &Destination, ews_on_mac: bool) -> HostSettings {
    let sign_in = &destination.sign_in;
    let server = |e: &crate::destination::Endpoint| Server {
        host: e.host.clone(),
        port: e.port,
        security: match e.security {
            Security::Tls => ferry_profiles::Security::Tls,
            Security::StartTls => ferry_profiles::Security::StartTls,
            Security::Plain => ferry_profiles::Security::None,
        },
        // Apple's mail payload signs in to IMAP/SMTP with a password only (an app password is one).
        auth: MailAuth::Password,
    };
    HostSettings {
        name: destination.name.clone(),
        imap: ImapAccount {
            incoming: server(&destination.imap),
            outgoing: server(&destination.smtp),
            path_prefix: destination.imap_path_prefix.clone(),
        },
        imap_sign_in: imap_sign_in(sign_in),
        native: match &destination.client_account {
            ClientAccount::Imap => None,
            ClientAccount::Exchange { host } => Some(NativeAccount::Exchange {
                host: host.clone(),
                oauth: sign_in.accepts(AuthMethod::OAuth2),
                ews_on_mac,
            }),
            ClientAccount::Google => Some(NativeAccount::Google),
        },
    }
}

fn imap_sign_in(sign_in: &SignIn) -> Option<ImapSignIn> {
    match sign_in.device_password()? {
        AuthMethod::AppPassword => Some(ImapSignIn::AppPassword {
            requires: sign_in.app_password_requires.clone(),
            page: sign_in.app_password_page.clone(),
        }),
        _ => Some(ImapSignIn::Password),
    }
}

/// Refuses, before any vault is opened, an export the host cannot honour: passwords for a host
/// that signs people in on its own page, an IMAP account where the host takes no password over
/// IMAP, an Exchange Web Services account for a host without Exchange.
pub fn check_choices(
    destination: &Destination,
    with_passwords: bool,
    imap_with_native: bool,
    ews_on_mac: bool,
) -> Result<(), ExportError> {
    let destination = destination.clone().normalized();
    let device_password = destination.sign_in.device_password();
    let host = || destination.name.clone();
    if with_passwords && device_password.is_none() {
        return Err(ExportError::PasswordsNotTaken { host: host() });
    }
    let native = !matches!(destination.client_account, ClientAccount::Imap);
    if imap_with_native && native && device_password.is_none() {
        return Err(ExportError::ImapNotTaken { host: host() });
    }
    if ews_on_mac && !matches!(destination.client_account, ClientAccount::Exchange { .. }) {
        return Err(ExportError::NoExchange { host: host() });
    }
    Ok(())
}

/// What the host means for people's devices, a sentence each, for the end of the report.
fn notes(destination: &Destination, ews_on_mac: bool, with_passwords: bool) -> Vec<String> {
    let sign_in = &destination.sign_in;
    let name = &destination.name;
    let mut notes = Vec::new();
    let make_app_password = || {
        let mut s = String::new();
        if let Some(page) = &sign_in.app_password_page {
            s.push_str(&format!(" Each person makes one at {page}"));
            if let Some(requires) = &sign_in.app_password_requires {
                s.push_str(&format!(" (only when {requires})"));
            }
            s.push('.');
        }
        s
    };
    match &destination.client_account {
        ClientAccount::Exchange { .. } if sign_in.accepts(AuthMethod::OAuth2) => {
            notes.push(format!(
                "iPhones and iPads get an Exchange ActiveSync account with all past mail; people \
                 sign in on {name}'s own page after installing, and no profile holds a password."
            ));
            if ews_on_mac {
                notes.push(
                    "Macs get an Exchange Web Services account: it works only while the tenant \
                     allows EWS for Apple Mail, and stops on 1 April 2027, when Microsoft \
                     switches EWS off in Exchange Online; then use Outlook for Mac."
                        .into(),
                );
            } else {
                notes.push(
                    "Macs get no profile: Apple Mail reaches Microsoft 365 only through Exchange \
                     Web Services, which Exchange Online blocks by default since 1 October 2026 \
                     and switches off on 1 April 2027, and it cannot sign in to Microsoft 365 \
                     over IMAP with a password. On Macs, use Outlook for Mac with the Microsoft \
                     365 account. A Mail profile from an earlier export stays on a Mac until \
                     removed."
                        .into(),
                );
            }
        }
        ClientAccount::Google => {
            notes.push(if with_passwords {
                format!(
                    "Macs get an IMAP account (Apple has no Google account payload for macOS) \
                     holding the app password stored for each person; {name} refuses the usual \
                     password in mail apps."
                )
            } else {
                format!(
                    "Macs get an IMAP account (Apple has no Google account payload for macOS): \
                     Mail asks for a Google app password, as {name} refuses the usual password \
                     in mail apps.{}",
                    make_app_password()
                )
            });
            notes.push(
                "iPhones and iPads get a Google account: people sign in on Google's own page \
                 after installing. Apple's schema says this payload installs through MDM, or \
                 Apple Configurator on supervised devices."
                    .into(),
            );
        }
        _ => match sign_in.device_password() {
            Some(AuthMethod::AppPassword) if !with_passwords => notes.push(format!(
                "People are asked for an app password while installing: {name} refuses the \
                 usual password in mail apps.{}",
                make_app_password()
            )),
            Some(AuthMethod::Password) if !with_passwords => notes.push(format!(
                "People are asked for their password for {name} while installing."
            )),
            _ => {}
        },
    }
    notes
}

/// Builds, signs and writes every profile, the manifest and the combined file.
pub fn export(request: ExportRequest<'_>) -> Result<ExportReport, ExportError> {
    if request.accounts.is_empty() {
        return Err(ExportError::NoAccounts);
    }
    let destination = request.destination.clone().normalized();
    destination.validate()?;
    check_choices(
        &destination,
        request.passwords.is_some(),
        request.imap_with_native,
        request.ews_on_mac,
    )?;
    let host = host_settings(&destination, request.ews_on_mac);
    let mut requests = Vec::new();
    let mut missing = Vec::new();
    for account in &request.accounts {
        let login = destination.login_for(&account.address);
        let password = match request.passwords {
            None => None,
            Some(vault) => {
                let found = vault
                    .get(&destination.imap.host, &login)
                    .map_err(|source| ExportError::Vault {
                        user: login.clone(),
                        host: destination.imap.host.clone(),
                        source,
                    })?;
                if found.is_none() {
                    missing.push(login.clone());
                }
                found.map(|s| ProfilePassword(s.to_secret_string()))
            }
        };
        requests.push(ProfileRequest {
            user: ProfileUser {
                key: account.key.clone(),
                address: account.address.clone(),
                display_name: account.display_name.clone(),
                login,
            },
            password,
        });
    }
    if !missing.is_empty() {
        return Err(ExportError::MissingPasswords {
            what: match destination.sign_in.device_password() {
                Some(AuthMethod::AppPassword) => "app password",
                _ => "password",
            },
            host: destination.imap.host.clone(),
            users: missing.join(", "),
        });
    }
    let options = ProfileOptions {
        imap_with_native: request.imap_with_native,
    };
    let mut profiles = ferry_profiles::build_all(
        &request.migration_id,
        &request.organization,
        &host,
        &requests,
        &options,
    )?;
    let signed_by = match &request.signing {
        None => None,
        Some(Signing::Pkcs12 { path, password }) => {
            let der = std::fs::read(path).map_err(|source| ExportError::ReadIdentity {
                path: path.display().to_string(),
                source,
            })?;
            let signer = Signer::from_pkcs12(&der, password, &path.display().to_string())?;
            for profile in &mut profiles {
                profile.sign(&signer)?;
            }
            Some(signer.subject())
        }
        #[cfg(target_os = "macos")]
        Some(Signing::Keychain { identity }) => {
            for profile in &mut profiles {
                profile.bytes =
                    ferry_profiles::sign_with_keychain_identity(&profile.bytes, identity)?;
                profile.signed = true;
            }
            Some(identity.clone())
        }
    };

    let dir = &request.out_dir;
    std::fs::create_dir_all(dir).map_err(|source| ExportError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let mut written = Vec::new();
    for profile in &profiles {
        write(
            &dir.join(&profile.file_name),
            &profile.bytes,
            profile.contains_password,
        )?;
        written.push(ExportedProfile {
            user: profile.user_key.clone(),
            address: profile.address.clone(),
            target: profile.target.slug().to_string(),
            file: profile.file_name.clone(),
            payload_types: profile
                .payloads
                .iter()
                .map(|p| p.payload_type.to_string())
                .collect(),
            contains_password: profile.contains_password,
            asks_for: profile
                .asks_for
                .iter()
                .map(|p| match p {
                    Prompt::Password => UserPrompt::Password,
                    Prompt::AppPassword => UserPrompt::AppPassword,
                    Prompt::HostSignIn => UserPrompt::HostSignIn,
                })
                .collect(),
        });
    }
    let contains_passwords = profiles.iter().any(|p| p.contains_password);
    write(
        &dir.join(MANIFEST),
        &ferry_profiles::manifest_csv(&profiles)?,
        false,
    )?;
    write(
        &dir.join(COMBINED),
        &ferry_profiles::combined_plist(&profiles)?,
        contains_passwords,
    )?;
    Ok(ExportReport {
        out_dir: dir.display().to_string(),
        profiles: written,
        manifest: MANIFEST.to_string(),
        combined: COMBINED.to_string(),
        contains_passwords,
        signed_by,
        notes: notes(&destination, request.ews_on_mac, contains_passwords),
    })
}

/// Writes a file; one holding a password is readable by its owner only.
fn write(path: &Path, bytes: &[u8], private: bool) -> Result<(), ExportError> {
    let err = |source| ExportError::Write {
        path: path.display().to_string(),
        source,
    };
    // A new file with its mode (whatever an earlier export left), renamed over the old one; a
    // symbolic link at the name is refused, never written through (the folder is the admin's
    // choice, the profile may hold a password).
    let mode = if private {
        ferry_safeio::fs::PRIVATE_FILE
    } else {
        0o644
    };
    ferry_safeio::fs::write_replace(path, bytes, mode).map_err(err)
}
