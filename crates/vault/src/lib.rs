//! Credentials at rest: one [`Vault`] trait (get, set, delete a password by host and user) and its
//! backends — the macOS Keychain, the Secret Service (GNOME Keyring, KWallet) or an encrypted file on
//! Linux, and memory for tests — plus the parser for password files that admins already have
//! ([`import`]).
//!
//! A password is a [`Secret`]: its `Debug`, `Display` and `Serialize` never show it, so it cannot end
//! up in a log line, a panic message, a report or a state file by accident.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

pub mod check;
pub mod file;
pub mod import;
pub mod memory;

#[cfg(target_os = "macos")]
pub mod keychain;
#[cfg(target_os = "linux")]
pub mod secret_service;

pub use file::{FileVault, KdfParams};
pub use memory::MemoryVault;

/// What a [`Secret`] shows instead of itself, wherever it is printed or serialized.
pub const REDACTED: &str = "[redacted]";

/// A password. Printing, debugging or serializing it yields [`REDACTED`]; the only way to the
/// characters is [`Secret::expose`], which callers use at the last moment (the IMAP login, the
/// vault's own storage). Its memory is wiped when it is dropped.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Takes ownership of the string without copying it.
    pub fn new(value: String) -> Self {
        Secret(SecretString::from(value))
    }

    /// The password itself, for the one place that must send or store it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn is_empty(&self) -> bool {
        self.0.expose_secret().is_empty()
    }

    /// A copy as `secrecy::SecretString`, the type `ferry-imap` takes.
    pub fn to_secret_string(&self) -> SecretString {
        SecretString::from(self.0.expose_secret().to_owned())
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

impl From<SecretString> for Secret {
    fn from(value: SecretString) -> Self {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

/// A password typed in the app arrives as a JSON string. The redaction marker itself is refused, so
/// that a serialized-then-deserialized value can never become the stored password.
impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        if value == REDACTED {
            return Err(serde::de::Error::custom(
                "a redacted password cannot be used as a password; enter the real one",
            ));
        }
        Ok(Secret::new(value))
    }
}

/// Why the vault could not answer. Every message names the store and says what to do; none ever
/// contains a password.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(
        "the passphrase does not open the password file {path}: check it (FERRY_VAULT_PASSPHRASE or \
         the prompt), or move the file away to start a new one"
    )]
    WrongPassphrase { path: String },
    #[error(
        "the password file {path} is damaged ({reason}); restore it from a backup or move it away \
         and import the passwords again"
    )]
    Corrupted { path: String, reason: String },
    #[error("cannot {action} the password file {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the {backend} is not available ({reason}); start it, or use the encrypted file store \
         (FERRY_VAULT=file)"
    )]
    Unavailable {
        backend: &'static str,
        reason: String,
    },
    #[error("the {backend} is locked and did not unlock; unlock it (log in to the desktop, or run `gnome-keyring-daemon --unlock`) and try again")]
    Locked { backend: &'static str },
    #[error("the {backend} refused the request: {reason}")]
    Backend {
        backend: &'static str,
        reason: String,
    },
    #[error("a password needs a host and a user name (got host {host:?}, user {user:?})")]
    InvalidKey { host: String, user: String },
    #[error("an empty passphrase cannot protect the password file; choose one")]
    EmptyPassphrase,
}

/// A store of passwords, one per (host, user). Host names compare case-insensitively; user names
/// exactly, as servers differ there.
pub trait Vault: Send + Sync {
    fn get(&self, host: &str, user: &str) -> Result<Option<Secret>, VaultError>;
    fn set(&self, host: &str, user: &str, secret: &Secret) -> Result<(), VaultError>;
    /// Returns whether there was something to delete.
    fn delete(&self, host: &str, user: &str) -> Result<bool, VaultError>;
    /// Stores many at once; the file backend overrides it to write the file once.
    fn set_many(&self, entries: &[Entry]) -> Result<(), VaultError> {
        for entry in entries {
            self.set(&entry.host, &entry.user, &entry.secret)?;
        }
        Ok(())
    }
    /// Where the passwords live, in words for the admin ("the macOS Keychain, items named …").
    fn describe(&self) -> String;
}

/// One password with its key, for [`Vault::set_many`].
#[derive(Debug, Clone)]
pub struct Entry {
    pub host: String,
    pub user: String,
    pub secret: Secret,
}

/// The Keychain item's service (and the Secret Service item's `service` attribute) for a host.
pub fn service_name(host: &str) -> String {
    format!("Ferry: {}", normalize_host(host))
}

pub(crate) fn normalize_host(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

pub(crate) fn check_key(host: &str, user: &str) -> Result<(), VaultError> {
    if normalize_host(host).is_empty() || user.trim().is_empty() {
        return Err(VaultError::InvalidKey {
            host: host.to_owned(),
            user: user.to_owned(),
        });
    }
    Ok(())
}

/// Which store to open; [`open`] turns it into a [`Vault`].
#[derive(Debug)]
pub enum Backend {
    /// The macOS Keychain (login keychain of the user running Ferry).
    Keychain,
    /// The Secret Service on the session bus (`DBUS_SESSION_BUS_ADDRESS`).
    SecretService,
    /// An encrypted file, key derived from the passphrase; created on first write.
    File {
        path: std::path::PathBuf,
        passphrase: SecretString,
    },
    /// Lost when the process ends; for tests.
    Memory,
}

/// Opens the chosen store. The Keychain exists only on macOS and the Secret Service only on Linux;
/// asking for either elsewhere is an [`VaultError::Unavailable`].
pub fn open(backend: Backend) -> Result<Box<dyn Vault>, VaultError> {
    match backend {
        #[cfg(target_os = "macos")]
        Backend::Keychain => Ok(Box::new(keychain::KeychainVault)),
        #[cfg(not(target_os = "macos"))]
        Backend::Keychain => Err(VaultError::Unavailable {
            backend: "macOS Keychain",
            reason: "this is not macOS".into(),
        }),
        #[cfg(target_os = "linux")]
        Backend::SecretService => Ok(Box::new(secret_service::SecretServiceVault::connect()?)),
        #[cfg(not(target_os = "linux"))]
        Backend::SecretService => Err(VaultError::Unavailable {
            backend: "Secret Service",
            reason: "it exists on Linux only".into(),
        }),
        Backend::File { path, passphrase } => Ok(Box::new(FileVault::open_or_create(
            &path,
            &passphrase,
            KdfParams::default(),
        )?)),
        Backend::Memory => Ok(Box::new(MemoryVault::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints_itself() {
        let secret = Secret::new("hunter2-Zq9".into());
        assert_eq!(format!("{secret}"), REDACTED);
        assert_eq!(format!("{secret:?}"), format!("Secret({REDACTED})"));
        assert_eq!(format!("{secret:#?}"), format!("Secret({REDACTED})"));
        let json = serde_json::to_string(&secret).unwrap();
        assert_eq!(json, format!("\"{REDACTED}\""));
        assert_eq!(secret.expose(), "hunter2-Zq9");
    }

    #[test]
    fn secret_inside_a_struct_stays_hidden() {
        #[derive(Debug, serde::Serialize)]
        struct Login {
            user: String,
            password: Secret,
        }
        let login = Login {
            user: "jdoe".into(),
            password: Secret::new("pA55-unique-77".into()),
        };
        assert!(!format!("{login:?}").contains("pA55"));
        assert!(!serde_json::to_string(&login).unwrap().contains("pA55"));
    }

    #[test]
    fn deserialize_takes_a_string_but_refuses_the_marker() {
        let secret: Secret = serde_json::from_str("\"typed-in\"").unwrap();
        assert_eq!(secret.expose(), "typed-in");
        let err = serde_json::from_str::<Secret>(&format!("\"{REDACTED}\"")).unwrap_err();
        assert!(err.to_string().contains("redacted password"), "{err}");
    }

    #[test]
    fn service_names_are_normalized() {
        assert_eq!(service_name("Mail.Example.COM."), "Ferry: mail.example.com");
        assert!(check_key("", "jdoe").is_err());
        assert!(check_key("mail.example.com", " ").is_err());
        assert!(check_key("mail.example.com", "jdoe").is_ok());
    }

    #[test]
    fn error_messages_say_what_to_do() {
        let err = VaultError::WrongPassphrase {
            path: "/tmp/v".into(),
        };
        assert!(err.to_string().contains("/tmp/v"));
        assert!(err.to_string().contains("FERRY_VAULT_PASSPHRASE"));
    }
}
