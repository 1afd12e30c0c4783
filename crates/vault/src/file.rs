//! An encrypted password file, for Linux machines without a Secret Service (a server, a container,
//! an SSH session).
//!
//! Layout (all integers big-endian):
//! `"FERRYVLT"` · version 1 · scrypt log₂N, r, p · 16-byte salt · 32-byte passphrase check ·
//! 24-byte nonce · XChaCha20-Poly1305 ciphertext of a JSON list of entries, with everything before
//! the ciphertext as associated data.
//!
//! scrypt stretches the passphrase into 64 bytes: the first 32 are the key, the last 32 are stored
//! as the check. That lets Ferry tell a wrong passphrase from a damaged file: a wrong passphrase gives
//! a different check; a right check with a failing tag means the file was altered. The key is
//! derived once when the file is opened, so each later write costs one encryption, not one scrypt.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretString};
use zeroize::{Zeroize, Zeroizing};

use crate::{check_key, normalize_host, Entry, Secret, Vault, VaultError};

const MAGIC: &[u8; 8] = b"FERRYVLT";
const VERSION: u8 = 1;
const SALT_LEN: usize = 16;
const CHECK_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 8 + 1 + 1 + 4 + 4 + SALT_LEN + CHECK_LEN;
// Refuse absurd cost parameters from a damaged file rather than trying to allocate gigabytes.
const MAX_LOG_N: u8 = 22;
const MAX_R: u32 = 64;
const MAX_P: u32 = 16;

/// scrypt's cost. The default (N = 2¹⁶, r = 8, p = 1: 64 MiB, a fraction of a second) is paid once
/// per opening; tests may choose less.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    pub log_n: u8,
    pub r: u32,
    pub p: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams {
            log_n: 16,
            r: 8,
            p: 1,
        }
    }
}

struct Header {
    params: KdfParams,
    salt: [u8; SALT_LEN],
    check: [u8; CHECK_LEN],
}

impl Header {
    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(self.params.log_n);
        out.extend_from_slice(&self.params.r.to_be_bytes());
        out.extend_from_slice(&self.params.p.to_be_bytes());
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(&self.check);
        out
    }
}

struct State {
    header: Header,
    key: Zeroizing<[u8; 32]>,
    entries: BTreeMap<(String, String), Secret>,
}

/// The password file. Reads are served from memory after opening; every change rewrites the file
/// atomically (temp file, fsync, rename) with mode 0600.
pub struct FileVault {
    path: PathBuf,
    state: Mutex<State>,
}

#[derive(serde::Serialize)]
struct StoredRef<'a> {
    host: &'a str,
    user: &'a str,
    secret: &'a str,
}

#[derive(serde::Deserialize)]
struct Stored {
    host: String,
    user: String,
    secret: String,
}

fn derive(
    passphrase: &SecretString,
    salt: &[u8],
    params: KdfParams,
) -> Result<(Zeroizing<[u8; 32]>, [u8; CHECK_LEN]), String> {
    let scrypt_params = scrypt::Params::new(params.log_n, params.r, params.p, 64)
        .map_err(|e| format!("invalid scrypt parameters: {e}"))?;
    let mut out = Zeroizing::new([0u8; 64]);
    scrypt::scrypt(
        passphrase.expose_secret().as_bytes(),
        salt,
        &scrypt_params,
        &mut out[..],
    )
    .map_err(|e| format!("scrypt: {e}"))?;
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&out[..32]);
    let mut check = [0u8; CHECK_LEN];
    check.copy_from_slice(&out[32..]);
    Ok((key, check))
}

impl FileVault {
    /// Opens the file at `path`, or prepares a new one there (written on the first change) if none
    /// exists. `params` applies only to a new file; an existing one keeps its own.
    pub fn open_or_create(
        path: &Path,
        passphrase: &SecretString,
        params: KdfParams,
    ) -> Result<Self, VaultError> {
        if passphrase.expose_secret().is_empty() {
            return Err(VaultError::EmptyPassphrase);
        }
        match std::fs::read(path) {
            Ok(bytes) => Self::open_bytes(path, passphrase, &bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let mut salt = [0u8; SALT_LEN];
                OsRng.fill_bytes(&mut salt);
                let (key, check) =
                    derive(passphrase, &salt, params).map_err(|reason| VaultError::Backend {
                        backend: "password file",
                        reason,
                    })?;
                Ok(FileVault {
                    path: path.to_owned(),
                    state: Mutex::new(State {
                        header: Header {
                            params,
                            salt,
                            check,
                        },
                        key,
                        entries: BTreeMap::new(),
                    }),
                })
            }
            Err(source) => Err(VaultError::Io {
                action: "read",
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Whether a password file is at `path` (a missing file is `false`; a folder in the way or an
    /// unreadable parent is an error). Reads no contents and needs no passphrase.
    pub fn exists(path: &Path) -> Result<bool, VaultError> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => Err(VaultError::Io {
                action: "read",
                path: path.display().to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::IsADirectory,
                    "it is a folder, not a file",
                ),
            }),
            Ok(_) => Ok(true),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(VaultError::Io {
                action: "read",
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Opens the file at `path` only if it exists: a passphrase is checked against it without
    /// anything being written (a wrong one is [`VaultError::WrongPassphrase`]; a missing file an
    /// [`VaultError::Io`] of kind `NotFound`).
    pub fn open_existing(path: &Path, passphrase: &SecretString) -> Result<Self, VaultError> {
        if passphrase.expose_secret().is_empty() {
            return Err(VaultError::EmptyPassphrase);
        }
        let bytes = std::fs::read(path).map_err(|source| VaultError::Io {
            action: "read",
            path: path.display().to_string(),
            source,
        })?;
        Self::open_bytes(path, passphrase, &bytes)
    }

    /// Creates a new, empty password file at `path` protected by `passphrase`, and writes it at
    /// once (so the file and its passphrase exist from now on, even before a first password). A
    /// file already there is left alone: [`VaultError::Io`] of kind `AlreadyExists`.
    pub fn create(
        path: &Path,
        passphrase: &SecretString,
        params: KdfParams,
    ) -> Result<Self, VaultError> {
        if Self::exists(path)? {
            return Err(VaultError::Io {
                action: "create",
                path: path.display().to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "a password file is already there",
                ),
            });
        }
        let vault = Self::open_or_create(path, passphrase, params)?;
        {
            let state = vault.lock();
            vault.write(&state, &BTreeMap::new())?;
        }
        Ok(vault)
    }

    fn open_bytes(
        path: &Path,
        passphrase: &SecretString,
        bytes: &[u8],
    ) -> Result<Self, VaultError> {
        let shown = path.display().to_string();
        let corrupted = |reason: &str| VaultError::Corrupted {
            path: shown.clone(),
            reason: reason.to_owned(),
        };
        if bytes.len() < 8 || &bytes[..8] != MAGIC {
            return Err(corrupted("it is not a Ferry password file"));
        }
        if bytes.len() < HEADER_LEN + NONCE_LEN + 16 {
            return Err(corrupted("it is truncated"));
        }
        if bytes[8] != VERSION {
            return Err(corrupted(&format!(
                "format version {} is not one this Ferry reads",
                bytes[8]
            )));
        }
        let params = KdfParams {
            log_n: bytes[9],
            r: u32::from_be_bytes([bytes[10], bytes[11], bytes[12], bytes[13]]),
            p: u32::from_be_bytes([bytes[14], bytes[15], bytes[16], bytes[17]]),
        };
        if params.log_n == 0
            || params.log_n > MAX_LOG_N
            || params.r == 0
            || params.r > MAX_R
            || params.p == 0
            || params.p > MAX_P
        {
            return Err(corrupted("its key-derivation parameters are out of range"));
        }
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&bytes[18..18 + SALT_LEN]);
        let mut stored_check = [0u8; CHECK_LEN];
        stored_check.copy_from_slice(&bytes[18 + SALT_LEN..HEADER_LEN]);
        let (key, check) = derive(passphrase, &salt, params).map_err(|r| corrupted(&r))?;
        if !constant_time_eq(&check, &stored_check) {
            return Err(VaultError::WrongPassphrase { path: shown });
        }
        let nonce = XNonce::from_slice(&bytes[HEADER_LEN..HEADER_LEN + NONCE_LEN]);
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&key[..]));
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    nonce,
                    Payload {
                        msg: &bytes[HEADER_LEN + NONCE_LEN..],
                        aad: &bytes[..HEADER_LEN],
                    },
                )
                .map_err(|_| corrupted("its contents fail the integrity check"))?,
        );
        let stored: Vec<Stored> = serde_json::from_slice(&plain)
            .map_err(|_| corrupted("its decrypted contents are not a list of passwords"))?;
        let entries = stored
            .into_iter()
            .map(|s| ((s.host, s.user), Secret::new(s.secret)))
            .collect();
        Ok(FileVault {
            path: path.to_owned(),
            state: Mutex::new(State {
                header: Header {
                    params,
                    salt,
                    check,
                },
                key,
                entries,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn io(&self, action: &'static str, source: std::io::Error) -> VaultError {
        VaultError::Io {
            action,
            path: self.path.display().to_string(),
            source,
        }
    }

    /// Encrypts `entries` and replaces the file; the in-memory map is updated only after the write
    /// succeeded, so memory and disk never disagree.
    fn write(
        &self,
        state: &State,
        entries: &BTreeMap<(String, String), Secret>,
    ) -> Result<(), VaultError> {
        let list: Vec<StoredRef<'_>> = entries
            .iter()
            .map(|((host, user), secret)| StoredRef {
                host,
                user,
                secret: secret.expose(),
            })
            .collect();
        // Reserve enough up front so the buffer never reallocates and leaves copies behind.
        let room = entries
            .iter()
            .map(|((h, u), s)| 2 * (h.len() + u.len() + s.expose().len()) + 64)
            .sum::<usize>()
            + 16;
        let mut plain = Zeroizing::new(Vec::with_capacity(room));
        serde_json::to_writer(&mut *plain, &list).map_err(|e| VaultError::Backend {
            backend: "password file",
            reason: format!("cannot encode the entries: {e}"),
        })?;
        let header = state.header.bytes();
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&state.key[..]));
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: &plain,
                    aad: &header,
                },
            )
            .map_err(|_| VaultError::Backend {
                backend: "password file",
                reason: "encryption failed".into(),
            })?;
        plain.zeroize();

        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            ferry_safeio::fs::create_private_dir_all(dir)
                .map_err(|e| self.io("create the folder of", e))?;
        }
        let mut bytes = Vec::with_capacity(header.len() + nonce.len() + sealed.len());
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(nonce.as_slice());
        bytes.extend_from_slice(&sealed);
        // A new temp file (O_EXCL, 0600: a link planted at its name cannot redirect the write),
        // fsync, rename over the vault; a link at the vault's own name is refused.
        ferry_safeio::fs::write_replace(&self.path, &bytes, ferry_safeio::fs::PRIVATE_FILE)
            .map_err(|e| self.io("write", e))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Vault for FileVault {
    fn get(&self, host: &str, user: &str) -> Result<Option<Secret>, VaultError> {
        check_key(host, user)?;
        Ok(self
            .lock()
            .entries
            .get(&(normalize_host(host), user.to_owned()))
            .cloned())
    }

    fn set(&self, host: &str, user: &str, secret: &Secret) -> Result<(), VaultError> {
        self.set_many(&[Entry {
            host: host.to_owned(),
            user: user.to_owned(),
            secret: secret.clone(),
        }])
    }

    fn set_many(&self, new: &[Entry]) -> Result<(), VaultError> {
        for entry in new {
            check_key(&entry.host, &entry.user)?;
        }
        let mut state = self.lock();
        let mut entries = state.entries.clone();
        for entry in new {
            entries.insert(
                (normalize_host(&entry.host), entry.user.clone()),
                entry.secret.clone(),
            );
        }
        self.write(&state, &entries)?;
        state.entries = entries;
        Ok(())
    }

    fn delete(&self, host: &str, user: &str) -> Result<bool, VaultError> {
        check_key(host, user)?;
        let mut state = self.lock();
        let key = (normalize_host(host), user.to_owned());
        if !state.entries.contains_key(&key) {
            return Ok(false);
        }
        let mut entries = state.entries.clone();
        entries.remove(&key);
        self.write(&state, &entries)?;
        state.entries = entries;
        Ok(true)
    }

    fn describe(&self) -> String {
        format!(
            "the encrypted file {} (scrypt + XChaCha20-Poly1305; open it with your passphrase)",
            self.path.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Cheap parameters keep the tests fast; the format and code paths are the same.
    const FAST: KdfParams = KdfParams {
        log_n: 10,
        r: 8,
        p: 1,
    };

    fn pass(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    fn filled(dir: &Path) -> PathBuf {
        let path = dir.join("sub/vault.ferry");
        let vault = FileVault::open_or_create(&path, &pass("correct horse"), FAST).unwrap();
        vault
            .set(
                "mail.example.com",
                "jdoe",
                &Secret::new("Pw-Jdoe-481516".into()),
            )
            .unwrap();
        vault
            .set_many(&[
                Entry {
                    host: "imap.new.example".into(),
                    user: "jdoe@example.com".into(),
                    secret: Secret::new("Pw-New-2342".into()),
                },
                Entry {
                    host: "imap.new.example".into(),
                    user: "asmith@example.com".into(),
                    secret: Secret::new("Pw-Asmith-77".into()),
                },
            ])
            .unwrap();
        path
    }

    #[test]
    fn round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = filled(dir.path());
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for needle in ["Pw-Jdoe-481516", "Pw-New-2342", "jdoe", "example"] {
            assert!(!text.contains(needle), "{needle} is in clear in the file");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let vault = FileVault::open_or_create(&path, &pass("correct horse"), FAST).unwrap();
        assert_eq!(
            vault
                .get("MAIL.example.com", "jdoe")
                .unwrap()
                .unwrap()
                .expose(),
            "Pw-Jdoe-481516"
        );
        assert_eq!(
            vault
                .get("imap.new.example", "asmith@example.com")
                .unwrap()
                .unwrap()
                .expose(),
            "Pw-Asmith-77"
        );
        assert!(vault
            .delete("imap.new.example", "asmith@example.com")
            .unwrap());
        assert!(!vault
            .delete("imap.new.example", "asmith@example.com")
            .unwrap());
        let again = FileVault::open_or_create(&path, &pass("correct horse"), FAST).unwrap();
        assert!(again
            .get("imap.new.example", "asmith@example.com")
            .unwrap()
            .is_none());
        assert!(again
            .get("imap.new.example", "jdoe@example.com")
            .unwrap()
            .is_some());
        // No temp files are left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("vault.ferry")]);
    }

    #[test]
    fn a_planted_symlink_is_never_written_through() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let path = filled(dir.path());
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, b"the admin's own file\n").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
        // The temp name the vault used to write (and truncate) without O_EXCL.
        let old_temp = path.with_extension(format!("tmp-{}", std::process::id()));
        symlink(&victim, &old_temp).unwrap();
        let vault = FileVault::open_or_create(&path, &pass("correct horse"), FAST).unwrap();
        vault
            .set("mail.example.com", "asmith", &Secret::new("Pw-2".into()))
            .unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"the admin's own file\n");
        assert_eq!(
            std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777,
            0o644
        );
        std::fs::remove_file(&old_temp).unwrap();
        // A link at the vault's own name (to where a vault could be created): refused, and
        // nothing is created at its target.
        let target = dir.path().join("elsewhere.ferry");
        let linked = dir.path().join("sub/linked.ferry");
        symlink(&target, &linked).unwrap();
        let err = FileVault::open_or_create(&linked, &pass("correct horse"), FAST)
            .and_then(|v| v.set("h", "u", &Secret::new("p".into())))
            .expect_err("writing through a link must fail");
        assert_eq!(
            err.to_string(),
            format!(
                "cannot write the password file {}: {}",
                linked.display(),
                ferry_safeio::fs::symlink_refused()
            )
        );
        assert!(!target.exists());
        assert_eq!(std::fs::read(&victim).unwrap(), b"the admin's own file\n");
    }

    #[test]
    fn wrong_passphrase_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let path = filled(dir.path());
        let err = FileVault::open_or_create(&path, &pass("correct horsE"), FAST)
            .err()
            .expect("a wrong passphrase must not open the file");
        assert!(matches!(err, VaultError::WrongPassphrase { .. }), "{err}");
        assert!(
            err.to_string().contains("passphrase does not open"),
            "{err}"
        );
        assert!(err.to_string().contains(&path.display().to_string()));
    }

    #[test]
    fn corrupted_files_are_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let path = filled(dir.path());
        let good = std::fs::read(&path).unwrap();
        let open = |bytes: &[u8]| {
            std::fs::write(&path, bytes).unwrap();
            FileVault::open_or_create(&path, &pass("correct horse"), FAST)
                .err()
                .expect("a damaged file must not open")
        };
        // A flipped bit in the ciphertext: the passphrase is right, the contents are not.
        let mut flipped = good.clone();
        let last = flipped.len() - 5;
        flipped[last] ^= 0x01;
        let err = open(&flipped);
        assert!(matches!(err, VaultError::Corrupted { .. }), "{err}");
        assert!(err.to_string().contains("integrity"), "{err}");
        // A flipped bit in the salt changes the derived key: indistinguishable from a wrong
        // passphrase, and reported as one.
        let mut salt = good.clone();
        salt[20] ^= 0x01;
        assert!(matches!(open(&salt), VaultError::WrongPassphrase { .. }));
        // A changed cost parameter is covered by the tag or by the range check.
        let mut cost = good.clone();
        cost[9] = 40;
        let err = open(&cost);
        assert!(err.to_string().contains("out of range"), "{err}");
        // Truncation, someone else's file, an empty file.
        let err = open(&good[..good.len() / 3]);
        assert!(matches!(err, VaultError::Corrupted { .. }), "{err}");
        let err = open(b"host,user,password\n");
        assert!(
            err.to_string().contains("not a Ferry password file"),
            "{err}"
        );
        let err = open(b"");
        assert!(matches!(err, VaultError::Corrupted { .. }), "{err}");
        // The good bytes still open.
        std::fs::write(&path, &good).unwrap();
        FileVault::open_or_create(&path, &pass("correct horse"), FAST).unwrap();
    }

    #[test]
    fn empty_passphrase_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = FileVault::open_or_create(&dir.path().join("v"), &pass(""), FAST)
            .err()
            .unwrap();
        assert!(matches!(err, VaultError::EmptyPassphrase));
    }

    #[test]
    fn exists_tells_a_missing_file_from_one_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/v.ferry");
        assert!(!FileVault::exists(&path).unwrap());
        let err = FileVault::exists(dir.path()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot read the password file {}: it is a folder, not a file",
                dir.path().display()
            )
        );
        let filled = filled(dir.path());
        assert!(FileVault::exists(&filled).unwrap());
    }

    #[test]
    fn open_existing_checks_the_passphrase_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = filled(dir.path());
        let before = std::fs::read(&path).unwrap();
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        let err = FileVault::open_existing(&path, &pass("correct horsE"))
            .err()
            .unwrap();
        assert!(
            matches!(&err, VaultError::WrongPassphrase { path: p } if *p == path.display().to_string()),
            "{err}"
        );
        let vault = FileVault::open_existing(&path, &pass("correct horse")).unwrap();
        assert_eq!(
            vault
                .get("mail.example.com", "jdoe")
                .unwrap()
                .unwrap()
                .expose(),
            "Pw-Jdoe-481516"
        );
        drop(vault);
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            modified
        );
        // No file: nothing is created.
        let missing = dir.path().join("none.ferry");
        let err = FileVault::open_existing(&missing, &pass("correct horse"))
            .err()
            .unwrap();
        assert!(
            matches!(&err, VaultError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
            "{err}"
        );
        assert!(!missing.exists());
    }

    #[test]
    fn create_writes_an_empty_file_at_once_and_never_replaces_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/new.ferry");
        let vault = FileVault::create(&path, &pass("a new passphrase"), FAST).unwrap();
        assert!(vault.get("h", "u").unwrap().is_none());
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], MAGIC);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // It opens with that passphrase only.
        FileVault::open_existing(&path, &pass("a new passphrase")).unwrap();
        assert!(matches!(
            FileVault::open_existing(&path, &pass("another one")),
            Err(VaultError::WrongPassphrase { .. })
        ));
        // A second create leaves the first file as it was.
        let err = FileVault::create(&path, &pass("another one"), FAST)
            .err()
            .unwrap();
        assert!(
            matches!(&err, VaultError::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }

    #[test]
    fn nothing_is_written_until_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v");
        let vault = FileVault::open_or_create(&path, &pass("pp"), FAST).unwrap();
        assert!(vault.get("h", "u").unwrap().is_none());
        assert!(!path.exists());
        assert!(vault.describe().contains(&path.display().to_string()));
    }
}
