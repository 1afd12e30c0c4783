//! Phase 3, credentials: which password store to use, importing a password file into it (and
//! scrubbing the file afterwards), setting one password, and checking every login on both sides.
//! The stores and the checks themselves live in `ferry-vault`; this module decides what goes where.

use std::io::Write;
use std::path::{Path, PathBuf};

use ferry_vault::import::{self, BadLine, Role};
use ferry_vault::{Backend, Entry, Secret, Vault, VaultError};
use secrecy::SecretString;
use serde::Serialize;
use ts_rs::TS;

pub use ferry_vault::check::{
    AdminForm, CheckOptions, LoginCheck, LoginMethod, LoginTarget, Server, Side, Status,
};

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("{path}: {source}")]
    Import {
        path: String,
        #[source]
        source: import::ImportError,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} does not name the {side} server (lines {lines}); give it with --{flag} HOST and import again"
    )]
    NoHost {
        path: String,
        side: &'static str,
        flag: &'static str,
        lines: String,
    },
    #[error("cannot overwrite and delete {path}: {source}; delete it by hand, it holds passwords in clear")]
    Scrub {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("account list line {line}: {reason}")]
    BadAccount { line: usize, reason: String },
}

// ---------------------------------------------------------------------------------------------
// Which store

/// The admin's choice of password store (`FERRY_VAULT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaultChoice {
    /// macOS: the Keychain. Linux: the Secret Service when one runs, else the encrypted file.
    Auto,
    Keychain,
    SecretService,
    File,
}

impl VaultChoice {
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Some(VaultChoice::Auto),
            "keychain" => Some(VaultChoice::Keychain),
            "secret-service" | "secret_service" | "secretservice" => {
                Some(VaultChoice::SecretService)
            }
            "file" => Some(VaultChoice::File),
            _ => None,
        }
    }
}

/// Where the encrypted password file lives unless told otherwise: beside the user's other
/// application data (`$XDG_DATA_HOME/ferry`, `~/.local/share/ferry`, or on macOS
/// `~/Library/Application Support/Ferry`).
pub fn default_vault_file() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    if cfg!(target_os = "macos") {
        return home.join("Library/Application Support/Ferry/passwords.ferry-vault");
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home.join(".local/share"));
    data.join("ferry/passwords.ferry-vault")
}

/// Opens the chosen store. `passphrase` is asked only when the encrypted file is used (the CLI
/// reads `FERRY_VAULT_PASSPHRASE` or prompts; the app shows a dialog).
pub fn open_vault(
    choice: VaultChoice,
    file: Option<&Path>,
    passphrase: &mut dyn FnMut(&Path) -> Result<SecretString, VaultError>,
) -> Result<Box<dyn Vault>, CredentialsError> {
    let path = file
        .map(Path::to_path_buf)
        .unwrap_or_else(default_vault_file);
    let mut open_file = |path: PathBuf| -> Result<Box<dyn Vault>, CredentialsError> {
        let passphrase = passphrase(&path)?;
        Ok(ferry_vault::open(Backend::File { path, passphrase })?)
    };
    match choice {
        VaultChoice::Keychain => Ok(ferry_vault::open(Backend::Keychain)?),
        VaultChoice::SecretService => Ok(ferry_vault::open(Backend::SecretService)?),
        VaultChoice::File => open_file(path),
        VaultChoice::Auto if cfg!(target_os = "macos") => Ok(ferry_vault::open(Backend::Keychain)?),
        VaultChoice::Auto => match ferry_vault::open(Backend::SecretService) {
            Ok(vault) => Ok(vault),
            Err(VaultError::Unavailable { .. }) => {
                tracing::info!("no Secret Service on this session; using the encrypted file");
                open_file(path)
            }
            Err(other) => Err(other.into()),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Import

/// Hosts for the logins a password file does not place on a server.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub source_host: Option<String>,
    pub destination_host: Option<String>,
    /// Which side a plain `address,password` list is for.
    pub plain_side: Option<Side>,
}

/// One password stored by an import (no password in it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct StoredLogin {
    pub line: usize,
    pub side: Side,
    pub host: String,
    pub user: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ImportedBadLine {
    pub line: usize,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ImportReport {
    pub file: String,
    /// The format found, in words.
    pub format: String,
    pub stored: Vec<StoredLogin>,
    pub bad_lines: Vec<ImportedBadLine>,
    /// Where the passwords now live, in words.
    pub stored_in: String,
}

/// Reads a password file, stores every good line's passwords in `vault` (all at once, or none when
/// a host is missing), and reports bad lines by number.
pub fn import_file(
    path: &Path,
    vault: &dyn Vault,
    options: &ImportOptions,
) -> Result<ImportReport, CredentialsError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| CredentialsError::Read {
        path: shown.clone(),
        source,
    })?;
    let text = zeroize::Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
    drop(zeroize::Zeroizing::new(bytes));
    let parsed = import::parse(&text).map_err(|source| CredentialsError::Import {
        path: shown.clone(),
        source,
    })?;

    let mut entries = Vec::new();
    let mut stored = Vec::new();
    let mut missing: [(Vec<usize>, &'static str, &'static str); 2] = [
        (Vec::new(), "source", "source-host"),
        (Vec::new(), "destination", "dest-host"),
    ];
    for credential in parsed.credentials {
        let side = match credential.role {
            Role::Source => Side::Source,
            Role::Destination => Side::Destination,
            Role::Unspecified => options.plain_side.unwrap_or(Side::Destination),
        };
        let given = match side {
            Side::Source => &options.source_host,
            Side::Destination => &options.destination_host,
        };
        let host = match credential.host.clone().or_else(|| given.clone()) {
            Some(host) => host,
            None => {
                missing[usize::from(side == Side::Destination)]
                    .0
                    .push(credential.line);
                continue;
            }
        };
        stored.push(StoredLogin {
            line: credential.line,
            side,
            host: host.clone(),
            user: credential.user.clone(),
        });
        entries.push(Entry {
            host,
            user: credential.user,
            secret: credential.secret,
        });
    }
    for (lines, side, flag) in &missing {
        if !lines.is_empty() {
            return Err(CredentialsError::NoHost {
                path: shown,
                side,
                flag,
                lines: lines
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    vault.set_many(&entries)?;
    Ok(ImportReport {
        file: shown,
        format: parsed.format.describe().to_owned(),
        stored,
        bad_lines: parsed
            .bad_lines
            .into_iter()
            .map(|BadLine { line, reason }| ImportedBadLine { line, reason })
            .collect(),
        stored_in: vault.describe(),
    })
}

/// Overwrites the file with zeros (flushed to disk), then deletes it: the clear-text passwords
/// should not outlive the import. (On SSDs and copy-on-write filesystems the old blocks may
/// survive the overwrite; deleting still removes the file from every listing and backup to come.)
/// A symbolic link at `path` is refused (its target may be any file the admin can write).
pub fn scrub_file(path: &Path) -> Result<(), CredentialsError> {
    let scrub = || -> std::io::Result<()> {
        let mut file = ferry_safeio::fs::open_existing_for_write(path)?;
        let len = file.metadata()?.len();
        let zeros = [0u8; 8192];
        let mut left = len;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            file.write_all(&zeros[..n])?;
            left -= n as u64;
        }
        file.sync_all()?;
        drop(file);
        std::fs::remove_file(path)
    };
    scrub().map_err(|source| CredentialsError::Scrub {
        path: path.display().to_string(),
        source,
    })
}

/// Stores one password.
pub fn set_password(
    vault: &dyn Vault,
    host: &str,
    user: &str,
    secret: &Secret,
) -> Result<String, CredentialsError> {
    vault.set(host, user, secret)?;
    Ok(vault.describe())
}

// ---------------------------------------------------------------------------------------------
// Check

/// One account of the migration: its address, and its login names on each side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct AccountRef {
    pub address: String,
    /// The login on the old server (its short name there); `None` when only the destination counts.
    pub source_user: Option<String>,
    /// The login on the new host.
    pub destination_user: String,
}

/// Parses an account list: one account per line, `DEST_LOGIN` or `SOURCE_LOGIN,DEST_LOGIN`
/// (e.g. `jdoe,jdoe@example.com`). Blank lines and `#` comments are skipped.
pub fn parse_account_list(text: &str) -> Result<Vec<AccountRef>, CredentialsError> {
    let mut accounts = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        accounts.push(
            parse_account(line).map_err(|reason| CredentialsError::BadAccount {
                line: i + 1,
                reason,
            })?,
        );
    }
    Ok(accounts)
}

/// One account as `DEST_LOGIN` or `SOURCE_LOGIN,DEST_LOGIN`.
pub fn parse_account(spec: &str) -> Result<AccountRef, String> {
    let fields: Vec<&str> = spec.split(',').map(str::trim).collect();
    let (source, dest) = match fields.as_slice() {
        [dest] => (None, *dest),
        [source, dest] => (Some(*source), *dest),
        _ => {
            return Err(format!(
                "expected DEST_LOGIN or SOURCE_LOGIN,DEST_LOGIN, found {} fields",
                fields.len()
            ))
        }
    };
    if dest.is_empty() || source.is_some_and(str::is_empty) {
        return Err("a login name is empty".into());
    }
    Ok(AccountRef {
        address: dest.to_owned(),
        source_user: source.map(str::to_owned),
        destination_user: dest.to_owned(),
    })
}

/// What to check: the servers of both sides (no source when it is read from the store on disk).
#[derive(Debug, Clone)]
pub struct CheckPlan {
    pub source: Option<Server>,
    pub destination: Server,
    pub accounts: Vec<AccountRef>,
    pub options: CheckOptions,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct CheckReport {
    pub results: Vec<LoginCheck>,
    pub ok: usize,
    pub problems: usize,
    /// The source is read from the store on disk: no source logins were needed.
    pub source_from_store: bool,
}

/// Logs in to the destination (and the source, when it is an IMAP server) for every account.
pub async fn check(plan: &CheckPlan, vault: &dyn Vault) -> CheckReport {
    let mut servers = std::collections::BTreeMap::new();
    servers.insert(Side::Destination, plan.destination.clone());
    if let Some(source) = &plan.source {
        servers.insert(Side::Source, source.clone());
    }
    let mut targets = Vec::new();
    for account in &plan.accounts {
        targets.push(LoginTarget {
            account: account.address.clone(),
            side: Side::Destination,
            user: account.destination_user.clone(),
        });
        if plan.source.is_some() {
            targets.push(LoginTarget {
                account: account.address.clone(),
                side: Side::Source,
                user: account
                    .source_user
                    .clone()
                    .unwrap_or_else(|| account.destination_user.clone()),
            });
        }
    }
    let results = ferry_vault::check::check_logins(vault, &servers, &targets, plan.options).await;
    let ok = results.iter().filter(|r| r.status == Status::Ok).count();
    CheckReport {
        problems: results.len() - ok,
        ok,
        results,
        source_from_store: plan.source.is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_vault::MemoryVault;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn scrub_overwrites_the_file_itself_never_a_link_target() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let victim = write(dir.path(), "victim.txt", "the admin's own file\n");
        let link = dir.path().join("passwords.txt");
        symlink(&victim, &link).unwrap();
        let err = scrub_file(&link).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot overwrite and delete {}: {}; delete it by hand, it holds passwords in clear",
                link.display(),
                ferry_safeio::fs::symlink_refused()
            )
        );
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            "the admin's own file\n"
        );
        // A real file is overwritten and deleted.
        let real = write(dir.path(), "pw.txt", "a@example.com,Secret-1\n");
        scrub_file(&real).unwrap();
        assert!(!real.exists());
    }

    #[test]
    fn import_imapsync_places_both_sides() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "pw.txt",
            "mac.example.com;jdoe;S-1;imap.new.example;jdoe@example.com;D-1;\nbad;line\n",
        );
        let vault = MemoryVault::new();
        let report = import_file(&path, &vault, &ImportOptions::default()).unwrap();
        assert_eq!(report.stored.len(), 2);
        assert_eq!(report.bad_lines.len(), 1);
        assert_eq!(report.bad_lines[0].line, 2);
        assert_eq!(
            vault
                .get("mac.example.com", "jdoe")
                .unwrap()
                .unwrap()
                .expose(),
            "S-1"
        );
        assert_eq!(
            vault
                .get("imap.new.example", "jdoe@example.com")
                .unwrap()
                .unwrap()
                .expose(),
            "D-1"
        );
        assert!(report.stored_in.contains("memory"));
        let json = serde_json::to_string(&report).unwrap();
        assert!(!json.contains("S-1") && !json.contains("D-1"));
    }

    #[test]
    fn import_without_hosts_needs_them_and_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "ms.csv",
            "EmailAddress,UserName,Password\njdoe@example.com,jdoe,M-1\n",
        );
        let vault = MemoryVault::new();
        let err = import_file(&path, &vault, &ImportOptions::default()).unwrap_err();
        assert!(err.to_string().contains("--source-host"), "{err}");
        assert!(vault.get("mac.example.com", "jdoe").unwrap().is_none());
        let options = ImportOptions {
            source_host: Some("mac.example.com".into()),
            ..ImportOptions::default()
        };
        let report = import_file(&path, &vault, &options).unwrap();
        assert_eq!(report.stored[0].side, Side::Source);
        assert_eq!(
            vault
                .get("mac.example.com", "jdoe")
                .unwrap()
                .unwrap()
                .expose(),
            "M-1"
        );
    }

    #[test]
    fn plain_list_goes_to_the_side_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "p.csv", "jdoe@example.com,P-1\n");
        let vault = MemoryVault::new();
        let options = ImportOptions {
            destination_host: Some("imap.new.example".into()),
            ..ImportOptions::default()
        };
        let report = import_file(&path, &vault, &options).unwrap();
        assert_eq!(report.stored[0].side, Side::Destination);
        assert!(vault
            .get("imap.new.example", "jdoe@example.com")
            .unwrap()
            .is_some());
    }

    #[test]
    fn scrub_overwrites_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "p.csv", "jdoe@example.com,P-1\n");
        scrub_file(&path).unwrap();
        assert!(!path.exists());
        assert!(scrub_file(&path).is_err());
    }

    #[test]
    fn account_lists() {
        let accounts =
            parse_account_list("# who\njdoe,jdoe@example.com\n\nasmith@example.com\n").unwrap();
        assert_eq!(accounts.len(), 2);
        assert_eq!(accounts[0].source_user.as_deref(), Some("jdoe"));
        assert_eq!(accounts[1].source_user, None);
        let err = parse_account_list("a,b,c\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn vault_choice_words() {
        assert_eq!(VaultChoice::parse("FILE"), Some(VaultChoice::File));
        assert_eq!(VaultChoice::parse(""), Some(VaultChoice::Auto));
        assert_eq!(VaultChoice::parse("nope"), None);
    }
}
