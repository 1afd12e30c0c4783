//! The app's side of `ferry_project::host::ProjectHost`: the system clock (or `FERRY_NOW`, to
//! rehearse the 72-hour wait), the password store the environment chooses (the Keychain on a Mac;
//! `FERRY_VAULT`, `FERRY_VAULT_FILE` and `FERRY_VAULT_PASSPHRASE` as for the CLI), the system's
//! DNS resolvers (or `FERRY_DNS_RESOLVERS`, `ip:port` separated by commas: each asked on its own,
//! as the CLI's `--resolver`).
//!
//! Where no system password store runs (Linux without a Secret Service), the passwords live in an
//! encrypted file. Its passphrase comes from `FERRY_VAULT_PASSPHRASE` when that is set (tests, the
//! demo; it wins), else from the admin through the app's dialog: kept here in memory only, for as
//! long as the app runs, and never sent back to the web view. Until it is given, opening the vault
//! fails with [`OpenVaultError::Locked`] and the UI asks for it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use ferry_project::credentials::{open_vault, CredentialsError, VaultChoice};
use ferry_project::host::{OpenVaultError, ProjectHost, VaultLocked};
use ferry_project::passphrase::{PassphraseError, Unlocked, MIN_PASSPHRASE_CHARS};
use ferry_vault::{Vault, VaultError};
use secrecy::SecretString;
use serde::Serialize;
use ts_rs::TS;

/// Which password store, and the password file's passphrase when the environment gives it.
pub struct VaultSettings {
    pub choice: VaultChoice,
    /// The password file (`None`: `ferry_project::credentials::default_vault_file`).
    pub file: Option<PathBuf>,
    /// `FERRY_VAULT_PASSPHRASE`, read once at start; it wins over one typed in the dialog.
    pub env_passphrase: Option<SecretString>,
}

impl VaultSettings {
    pub fn from_env() -> Self {
        VaultSettings {
            choice: std::env::var("FERRY_VAULT")
                .ok()
                .and_then(|v| VaultChoice::parse(&v))
                .unwrap_or(VaultChoice::Auto),
            file: std::env::var_os("FERRY_VAULT_FILE").map(PathBuf::from),
            env_passphrase: std::env::var("FERRY_VAULT_PASSPHRASE")
                .ok()
                .filter(|p| !p.is_empty())
                .map(SecretString::from),
        }
    }
}

/// Where the passwords are kept, as the passphrase dialog needs it (no passphrase in it, ever).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct VaultStatus {
    /// The encrypted password file, when it is the store here (no system password store runs on
    /// this computer); `None` with the Keychain or a Secret Service.
    pub file: Option<String>,
    /// Whether that file is there yet (enter its passphrase) or not (choose one).
    pub file_exists: bool,
    /// Whether the commands that need a password wait for the file's passphrase.
    pub locked: bool,
    /// The shortest passphrase a new file takes, in characters.
    pub min_length: u32,
}

pub struct AppHost {
    now: Option<DateTime<Utc>>,
    vault: VaultSettings,
    /// The passphrase the admin gave in the dialog (checked against the file first).
    passphrase: Mutex<Option<SecretString>>,
    dns: ferry_cutover::dns::DnsOptions,
}

impl AppHost {
    pub fn from_env() -> Self {
        AppHost {
            now: std::env::var("FERRY_NOW")
                .ok()
                .and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok())
                .map(|t| t.with_timezone(&Utc)),
            dns: ferry_cutover::dns::DnsOptions {
                resolvers: std::env::var("FERRY_DNS_RESOLVERS")
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|r| r.trim().parse().ok())
                    .collect(),
                ..Default::default()
            },
            ..AppHost::new(VaultSettings::from_env())
        }
    }

    /// The system clock and resolvers, and the password store `vault` names.
    pub fn new(vault: VaultSettings) -> Self {
        AppHost {
            now: None,
            vault,
            passphrase: Mutex::new(None),
            dns: Default::default(),
        }
    }

    fn remembered(&self) -> Option<SecretString> {
        self.passphrase
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn forget(&self) {
        *self.passphrase.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The password file when it is the store here: the same choice as opening the vault makes
    /// (a Secret Service that answers is used instead), without opening the file.
    fn password_file(&self) -> Result<Option<PathBuf>, CredentialsError> {
        let mut file = None;
        let chosen = open_vault(
            self.vault.choice,
            self.vault.file.as_deref(),
            &mut |path: &Path| {
                file = Some(path.to_path_buf());
                Err(VaultError::Unavailable {
                    backend: "password file",
                    reason: "only asked which store is used".into(),
                })
            },
        );
        match (file, chosen) {
            (Some(path), _) => Ok(Some(path)),
            (None, Ok(_)) => Ok(None),
            (None, Err(e)) => Err(e),
        }
    }

    /// Whether commands wait for the password file's passphrase, and where that file is.
    pub fn vault_status(&self) -> Result<VaultStatus, CredentialsError> {
        let file = self.password_file()?;
        let file_exists = match &file {
            Some(path) => ferry_project::passphrase::file_exists(path)?,
            None => false,
        };
        Ok(VaultStatus {
            locked: file.is_some()
                && self.vault.env_passphrase.is_none()
                && self.remembered().is_none(),
            file: file.map(|p| p.display().to_string()),
            file_exists,
            min_length: MIN_PASSPHRASE_CHARS as u32,
        })
    }

    /// The password file waiting for its passphrase, if it is (no key derivation: cheap).
    pub fn locked(&self) -> Option<VaultLocked> {
        let status = self.vault_status().ok()?;
        status.locked.then(|| VaultLocked {
            path: PathBuf::from(status.file.unwrap_or_default()),
            exists: status.file_exists,
        })
    }

    /// Checks `passphrase` against the password file (or creates the file with it when there is
    /// none yet) and keeps it in memory for this run of the app.
    pub fn unlock(&self, passphrase: SecretString) -> Result<Unlocked, UnlockError> {
        let path = self
            .password_file()
            .map_err(UnlockError::Store)?
            .ok_or(UnlockError::NoFile)?;
        if self.vault.env_passphrase.is_some() {
            return Err(UnlockError::FromEnvironment);
        }
        let unlocked = ferry_project::passphrase::unlock(&path, &passphrase)?;
        *self.passphrase.lock().unwrap_or_else(|e| e.into_inner()) = Some(passphrase);
        Ok(unlocked)
    }
}

/// Why a passphrase given in the dialog was not kept.
#[derive(Debug, thiserror::Error)]
pub enum UnlockError {
    #[error("no password file is used here: {0}")]
    Store(CredentialsError),
    #[error("Ferry uses the system's password store here; it needs no passphrase")]
    NoFile,
    #[error("the password file's passphrase is set in the environment of this run of Ferry (FERRY_VAULT_PASSPHRASE)")]
    FromEnvironment,
    #[error(transparent)]
    Passphrase(#[from] PassphraseError),
}

impl ProjectHost for AppHost {
    fn now(&self) -> DateTime<Utc> {
        self.now.unwrap_or_else(Utc::now)
    }

    fn vault(&self) -> Result<Box<dyn Vault>, String> {
        self.open_vault().map_err(|e| e.to_string())
    }

    fn open_vault(&self) -> Result<Box<dyn Vault>, OpenVaultError> {
        let mut waiting = None;
        let mut given_in_dialog = false;
        let opened = open_vault(
            self.vault.choice,
            self.vault.file.as_deref(),
            &mut |path: &Path| {
                if let Some(env) = &self.vault.env_passphrase {
                    return Ok(env.clone());
                }
                if let Some(typed) = self.remembered() {
                    given_in_dialog = true;
                    return Ok(typed);
                }
                waiting = Some(path.to_path_buf());
                Err(VaultError::Unavailable {
                    backend: "password file",
                    reason: "its passphrase has not been given".into(),
                })
            },
        );
        match opened {
            Ok(vault) => Ok(vault),
            Err(_) if waiting.is_some() => {
                let path = waiting.unwrap_or_default();
                Err(OpenVaultError::Locked(VaultLocked {
                    exists: ferry_project::passphrase::file_exists(&path).unwrap_or(true),
                    path,
                }))
            }
            // The file changed under the app (another passphrase): ask again.
            Err(CredentialsError::Vault(VaultError::WrongPassphrase { path }))
                if given_in_dialog =>
            {
                self.forget();
                Err(OpenVaultError::Locked(VaultLocked {
                    path: PathBuf::from(path),
                    exists: true,
                }))
            }
            Err(e) => Err(OpenVaultError::Failed(e.to_string())),
        }
    }

    fn dns_options(&self) -> ferry_cutover::dns::DnsOptions {
        self.dns.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_vault::Secret;

    fn file_host(file: &Path, env: Option<&str>) -> AppHost {
        AppHost::new(VaultSettings {
            choice: VaultChoice::File,
            file: Some(file.to_path_buf()),
            env_passphrase: env.map(|p| SecretString::from(p.to_string())),
        })
    }

    fn locked(result: Result<Box<dyn Vault>, OpenVaultError>) -> VaultLocked {
        match result {
            Err(OpenVaultError::Locked(l)) => l,
            Err(e) => panic!("expected a locked vault, got {e}"),
            Ok(v) => panic!("expected a locked vault, it opened: {}", v.describe()),
        }
    }

    #[test]
    fn without_a_passphrase_the_vault_is_locked_and_a_first_one_creates_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ferry/passwords.ferry-vault");
        let host = file_host(&file, None);
        let status = host.vault_status().unwrap();
        assert_eq!(
            status,
            VaultStatus {
                file: Some(file.display().to_string()),
                file_exists: false,
                locked: true,
                min_length: 10,
            }
        );
        assert_eq!(
            locked(host.open_vault()),
            VaultLocked {
                path: file.clone(),
                exists: false
            }
        );
        assert_eq!(
            host.locked(),
            Some(VaultLocked {
                path: file.clone(),
                exists: false
            })
        );
        // Too short for a new file: nothing created, still locked.
        let err = host
            .unlock(SecretString::from("short".to_string()))
            .unwrap_err();
        assert!(
            matches!(
                err,
                UnlockError::Passphrase(PassphraseError::TooShort { min: 10 })
            ),
            "{err}"
        );
        assert!(!file.exists());
        assert!(host.vault_status().unwrap().locked);
        assert_eq!(
            host.unlock(SecretString::from("first passphrase".to_string()))
                .unwrap(),
            Unlocked::Created
        );
        assert!(file.exists());
        assert_eq!(
            host.vault_status().unwrap(),
            VaultStatus {
                file: Some(file.display().to_string()),
                file_exists: true,
                locked: false,
                min_length: 10,
            }
        );
        assert_eq!(host.locked(), None);
        host.open_vault()
            .unwrap()
            .set("imap.example.com", "jdoe", &Secret::new("Pw-Jdoe-1".into()))
            .unwrap();
        // The file holds the password encrypted, not in clear.
        let bytes = std::fs::read(&file).unwrap();
        assert!(!bytes.windows(9).any(|w| w == b"Pw-Jdoe-1"));
        assert!(!bytes.windows(4).any(|w| w == b"jdoe"));
    }

    #[test]
    fn a_wrong_passphrase_is_refused_and_the_right_one_opens_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.ferry-vault");
        {
            let first = file_host(&file, None);
            first
                .unlock(SecretString::from("the right passphrase".to_string()))
                .unwrap();
            first
                .open_vault()
                .unwrap()
                .set("imap.example.com", "jdoe", &Secret::new("Pw-Jdoe-1".into()))
                .unwrap();
        }
        // The app starts again: the passphrase is not remembered across runs.
        let host = file_host(&file, None);
        assert_eq!(
            locked(host.open_vault()),
            VaultLocked {
                path: file.clone(),
                exists: true
            }
        );
        let err = host
            .unlock(SecretString::from("the wrong passphrase".to_string()))
            .unwrap_err();
        assert!(
            matches!(&err, UnlockError::Passphrase(PassphraseError::Wrong { path }) if *path == file),
            "{err}"
        );
        assert!(host.vault_status().unwrap().locked);
        assert_eq!(
            host.unlock(SecretString::from("the right passphrase".to_string()))
                .unwrap(),
            Unlocked::Opened
        );
        let secret = host
            .open_vault()
            .unwrap()
            .get("imap.example.com", "jdoe")
            .unwrap()
            .unwrap();
        assert_eq!(secret.expose(), "Pw-Jdoe-1");
    }

    #[test]
    fn the_environment_passphrase_wins() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.ferry-vault");
        let host = file_host(&file, Some("env passphrase"));
        assert!(!host.vault_status().unwrap().locked);
        assert_eq!(host.locked(), None);
        host.open_vault()
            .unwrap()
            .set("imap.example.com", "jdoe", &Secret::new("Pw-1".into()))
            .unwrap();
        // A passphrase typed in the dialog does not replace it (nor create a file of its own).
        let err = host
            .unlock(SecretString::from("typed passphrase".to_string()))
            .unwrap_err();
        assert!(matches!(err, UnlockError::FromEnvironment), "{err}");
        ferry_vault::FileVault::open_existing(
            &file,
            &SecretString::from("env passphrase".to_string()),
        )
        .unwrap();
        // A wrong passphrase in the environment is an error that says so, not a dialog.
        let wrong = file_host(&file, Some("not the env passphrase"));
        match wrong.open_vault() {
            Err(OpenVaultError::Failed(message)) => assert_eq!(
                message,
                VaultError::WrongPassphrase {
                    path: file.display().to_string()
                }
                .to_string()
            ),
            Err(e) => panic!("expected a failure, got {e}"),
            Ok(_) => panic!("a wrong passphrase opened the file"),
        }
        assert!(!wrong.vault_status().unwrap().locked);
    }

    #[test]
    fn a_file_changed_under_the_app_asks_again() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.ferry-vault");
        let host = file_host(&file, None);
        host.unlock(SecretString::from("first passphrase".to_string()))
            .unwrap();
        // Someone replaces the file with one of another passphrase.
        std::fs::remove_file(&file).unwrap();
        ferry_project::passphrase::unlock(
            &file,
            &SecretString::from("another passphrase".to_string()),
        )
        .unwrap();
        assert_eq!(
            locked(host.open_vault()),
            VaultLocked {
                path: file.clone(),
                exists: true
            }
        );
        assert!(host.vault_status().unwrap().locked);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_chosen_system_store_is_never_a_passphrase_dialog() {
        // The Keychain chosen on Linux: an error that names it, never a locked file.
        let host = AppHost::new(VaultSettings {
            choice: VaultChoice::Keychain,
            file: None,
            env_passphrase: None,
        });
        let err = host.vault_status().unwrap_err();
        assert_eq!(
            err.to_string(),
            "the macOS Keychain is not available (this is not macOS); start it, or use the encrypted file store (FERRY_VAULT=file)"
        );
        assert_eq!(host.locked(), None);
        assert!(matches!(host.open_vault(), Err(OpenVaultError::Failed(_))));
        assert!(matches!(
            host.unlock(SecretString::from("some passphrase".to_string())),
            Err(UnlockError::Store(_))
        ));
    }
}
