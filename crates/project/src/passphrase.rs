//! The encrypted password file's passphrase, for a computer without a system password store (Linux
//! without a Secret Service): whether the file is there yet, the shortest passphrase a new file
//! takes, and unlocking — a passphrase checked against the file (nothing written), or the file
//! created with a new one. The app asks for the passphrase in a dialog and keeps it in memory; the
//! CLI reads `FERRY_VAULT_PASSPHRASE` or prompts.

use std::path::{Path, PathBuf};

use ferry_vault::{FileVault, KdfParams, VaultError};
use secrecy::{ExposeSecret, SecretString};

/// The shortest passphrase a new password file takes, in characters. (An existing file opens
/// with whatever passphrase it was made with.)
pub const MIN_PASSPHRASE_CHARS: usize = 10;

/// Why a passphrase did not unlock the password file.
#[derive(Debug, thiserror::Error)]
pub enum PassphraseError {
    #[error("a passphrase for a new password file needs at least {min} characters")]
    TooShort { min: usize },
    #[error("the passphrase does not open the password file {}", path.display())]
    Wrong { path: PathBuf },
    #[error(transparent)]
    Vault(VaultError),
}

/// What unlocking did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlocked {
    /// The passphrase opens the file that was there.
    Opened,
    /// There was no file: it was created (empty) with this passphrase.
    Created,
}

/// Whether the password file at `path` is there yet.
pub fn file_exists(path: &Path) -> Result<bool, VaultError> {
    FileVault::exists(path)
}

/// Checks `passphrase` against the password file at `path` without writing it; when there is no
/// file yet, creates it (empty) with `passphrase`, which must then have at least
/// [`MIN_PASSPHRASE_CHARS`] characters.
pub fn unlock(path: &Path, passphrase: &SecretString) -> Result<Unlocked, PassphraseError> {
    unlock_with(path, passphrase, KdfParams::default())
}

/// [`unlock`] with the key-derivation cost of a new file given (tests choose a cheap one).
pub fn unlock_with(
    path: &Path,
    passphrase: &SecretString,
    params: KdfParams,
) -> Result<Unlocked, PassphraseError> {
    let vault_error = |e: VaultError| match e {
        VaultError::WrongPassphrase { .. } => PassphraseError::Wrong {
            path: path.to_path_buf(),
        },
        other => PassphraseError::Vault(other),
    };
    if file_exists(path).map_err(PassphraseError::Vault)? {
        FileVault::open_existing(path, passphrase).map_err(vault_error)?;
        return Ok(Unlocked::Opened);
    }
    if passphrase.expose_secret().chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(PassphraseError::TooShort {
            min: MIN_PASSPHRASE_CHARS,
        });
    }
    FileVault::create(path, passphrase, params).map_err(vault_error)?;
    Ok(Unlocked::Created)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_vault::{Secret, Vault};

    const FAST: KdfParams = KdfParams {
        log_n: 10,
        r: 8,
        p: 1,
    };

    fn pass(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn a_first_passphrase_creates_the_file_and_then_opens_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferry/passwords.ferry-vault");
        assert!(!file_exists(&path).unwrap());
        let err = unlock_with(&path, &pass("nine char"), FAST).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a passphrase for a new password file needs at least 10 characters"
        );
        assert!(!path.exists());
        assert_eq!(
            unlock_with(&path, &pass("ten chars!"), FAST).unwrap(),
            Unlocked::Created
        );
        assert!(file_exists(&path).unwrap());
        assert_eq!(
            unlock_with(&path, &pass("ten chars!"), FAST).unwrap(),
            Unlocked::Opened
        );
        // Characters, not bytes: ten letters of which some take two bytes are long enough...
        let other = dir.path().join("other.ferry-vault");
        assert_eq!(
            unlock_with(&other, &pass("äöüäöüäöüä"), FAST).unwrap(),
            Unlocked::Created
        );
        // ...and nine that take more than ten bytes are not.
        let third = dir.path().join("third.ferry-vault");
        assert!(matches!(
            unlock_with(&third, &pass("äöüäöüäöü"), FAST),
            Err(PassphraseError::TooShort { min: 10 })
        ));
    }

    #[test]
    fn a_wrong_passphrase_is_typed_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.ferry-vault");
        unlock_with(&path, &pass("the right passphrase"), FAST).unwrap();
        FileVault::open_existing(&path, &pass("the right passphrase"))
            .unwrap()
            .set("imap.example.com", "jdoe", &Secret::new("Pw-1".into()))
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        let err = unlock_with(&path, &pass("the wrong passphrase"), FAST).unwrap_err();
        assert!(
            matches!(&err, PassphraseError::Wrong { path: p } if *p == path),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "the passphrase does not open the password file {}",
                path.display()
            )
        );
        // An existing file opens with its own passphrase, however short (no length rule).
        assert!(matches!(
            unlock_with(&path, &pass("short"), FAST),
            Err(PassphraseError::Wrong { .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }
}
