//! Phases 4, 5, 7 and 9: copy every account's mail (initial, delta, final sync) and verify it.
//!
//! Turns what the admin gave (URLs, an accounts file, passwords from the environment or the
//! vault) into account pairs for the engine (`ferry-sync`), runs several accounts at once, and
//! returns one report. Passwords are `SecretString`s from the moment they are read.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ferry_imap::{Credentials, Endpoint, Security};
use ferry_sync::any::AnySource;
use ferry_sync::imap::ImapSide;
use ferry_sync::maildir::MaildirSource;
use ferry_sync::mapping::MappingRules;
use ferry_sync::report::{AccountSummary, Verification};
use ferry_sync::{ProgressFn, StateDb, SyncOptions};
use futures::stream::{self, StreamExt};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Why a sync could not be set up. Each says what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum SyncSetupError {
    #[error("{url:?} is not an IMAP URL: {reason}. Write imaps://USER@HOST:PORT (TLS) or imap://USER@HOST:PORT (STARTTLS)")]
    BadUrl { url: String, reason: String },
    #[error("{url:?}: plaintext IMAP is only allowed with --allow-plaintext and only to a loopback address (127.0.0.1, ::1, localhost); use imaps:// or STARTTLS")]
    PlaintextRefused { url: String },
    #[error("no password for {which} {user:?} at {host}: set {env} in the environment (never on the command line), or store it in the password vault with `ferry credentials set` (FERRY_VAULT / FERRY_VAULT_FILE choose the store)")]
    NoPassword {
        which: &'static str,
        user: String,
        host: String,
        env: &'static str,
    },
    #[error("no password for {which} {user:?} at {host}: {env} is not set and the password vault could not be read ({reason}); set {env}, or fix the vault (FERRY_VAULT, FERRY_VAULT_FILE, FERRY_VAULT_PASSPHRASE)")]
    Vault {
        which: &'static str,
        user: String,
        host: String,
        env: &'static str,
        reason: String,
    },
    #[error("{path}, line {line}: {reason}")]
    AccountsFile {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the source Maildir store {path}: {reason}")]
    Maildir { path: PathBuf, reason: String },
    // Transparent: "{0}" with a source would print the message twice in an error chain.
    #[error(transparent)]
    Sync(#[from] ferry_sync::SyncError),
}

/// One IMAP side as given by a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapUrl {
    pub endpoint: Endpoint,
    /// The user from the URL, if any (`imaps://HOST:993` has none: the accounts file gives it).
    pub user: Option<String>,
}

/// A loopback address (also in brackets or IPv4-mapped) or `localhost`: the hosts plain TCP may
/// go to. The same rule as ferry-imap's, which enforces it on every connection; checked here too
/// so that a wrong URL or accounts line is named before anything starts.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `imaps://USER@HOST:PORT` (TLS) or `imap://USER@HOST:PORT` (STARTTLS; plain TCP only
/// with `allow_plaintext` and to a loopback address). The user may be percent-encoded
/// (`jane%40example.com`). A password in the URL is refused: passwords never go in argv.
pub fn parse_imap_url(url: &str, allow_plaintext: bool) -> Result<ImapUrl, SyncSetupError> {
    // Whatever is wrong, the error must not repeat a password someone put in the URL.
    let shown = match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((user, host)) if user.contains(':') => {
                format!(
                    "{scheme}://{}:***@{host}",
                    user.split(':').next().unwrap_or("")
                )
            }
            _ => url.to_string(),
        },
        None => url.to_string(),
    };
    let bad = |reason: &str| SyncSetupError::BadUrl {
        url: shown.clone(),
        reason: reason.to_string(),
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
    let (security, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "imaps" => (Security::Tls, 993),
        "imap" => (Security::StartTls, 143),
        _ => return Err(bad("the scheme must be imaps or imap")),
    };
    let rest = rest.trim_end_matches('/');
    let (userinfo, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    if userinfo.is_some_and(|u| u.contains(':')) {
        return Err(bad(
            "a password in the URL would be visible to every user of this computer; set FERRY_SOURCE_PASSWORD / FERRY_DEST_PASSWORD instead",
        ));
    }
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let (h, after) = h.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad("the port is not a number"))?,
            None => default_port,
        };
        (h.to_string(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse().map_err(|_| bad("the port is not a number"))?,
            ),
            None => (hostport.to_string(), default_port),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let security = if security == Security::StartTls && allow_plaintext {
        if !is_loopback(&host) {
            return Err(SyncSetupError::PlaintextRefused { url: shown });
        }
        Security::Plain
    } else {
        security
    };
    Ok(ImapUrl {
        endpoint: Endpoint {
            host,
            port,
            security,
            pinned_sha256: None,
        },
        user: userinfo.map(percent_decode).filter(|u| !u.is_empty()),
    })
}

/// Where the source mail is read from.
#[derive(Debug, Clone)]
pub enum SourceSpec {
    Imap(ImapAccount),
    /// A Dovecot Maildir++ store on disk (one user's mail folder).
    Maildir(PathBuf),
}

/// One IMAP account: where and who. `Debug` never shows the password.
#[derive(Clone)]
pub struct ImapAccount {
    pub endpoint: Endpoint,
    pub user: String,
    /// Unused when `oauth` is set.
    pub password: SecretString,
    /// Sign in with OAuth 2.0 tokens from this source instead of the password (hosts that take
    /// no password over IMAP: Microsoft 365, Google Workspace).
    pub oauth: Option<std::sync::Arc<dyn ferry_imap::AccessTokenSource>>,
}

impl ImapAccount {
    /// How to log in: the OAuth source when there is one, else the password.
    pub fn credentials(&self) -> Credentials {
        match &self.oauth {
            Some(source) => Credentials::oauth(self.user.clone(), source.clone()),
            None => Credentials::new(self.user.clone(), self.password.clone()),
        }
    }
}

impl std::fmt::Debug for ImapAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapAccount")
            .field("endpoint", &self.endpoint)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("oauth", &self.oauth.as_ref().map(|s| s.describe()))
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct AccountPair {
    pub source: SourceSpec,
    pub dest: ImapAccount,
}

/// The password of `user` at `host`: the environment variable's value (`env_value`, read from
/// `env` by the caller) when set, else the vault's entry for (host, user). `vault` is opened only
/// when needed (it may ask for a passphrase); its failure is reported, not hidden.
pub fn resolve_password(
    which: &'static str,
    env: &'static str,
    env_value: Option<SecretString>,
    host: &str,
    user: &str,
    vault: impl FnOnce() -> Result<Box<dyn ferry_vault::Vault>, String>,
) -> Result<SecretString, SyncSetupError> {
    if let Some(p) = env_value {
        return Ok(p);
    }
    let vault_err = |reason: String| SyncSetupError::Vault {
        which,
        user: user.to_string(),
        host: host.to_string(),
        env,
        reason,
    };
    let vault = vault().map_err(vault_err)?;
    match vault.get(host, user) {
        Ok(Some(secret)) if !secret.is_empty() => Ok(secret.to_secret_string()),
        Ok(_) => Err(SyncSetupError::NoPassword {
            which,
            user: user.to_string(),
            host: host.to_string(),
            env,
        }),
        Err(e) => Err(vault_err(e.to_string())),
    }
}

/// Gives the password of a login an accounts file names without one: called with ("source" or
/// "destination", host, login); the error says what to do and becomes the line's error.
pub type PasswordLookup<'a> =
    dyn FnMut(&'static str, &str, &str) -> Result<SecretString, String> + 'a;

/// Parses an accounts file: imapsync's `host1;user1;password1;host2;user2;password2` lines, or
/// Microsoft's CSV with the header `EmailAddress,UserName,Password` (source login `UserName` /
/// `Password` on the `--source` host, destination `EmailAddress` on the `--dest` host). A
/// password the file does not give (every destination one in Microsoft's format, an empty field
/// elsewhere) comes from `password_for`. Blank lines and `#` comments are skipped. Hosts in
/// imapsync lines may carry a port (`host:993`); security and pinning come from the templates.
pub fn parse_accounts(
    path: &Path,
    text: &str,
    source_template: Option<&ImapUrl>,
    dest_template: Option<&ImapUrl>,
    password_for: &mut PasswordLookup<'_>,
) -> Result<Vec<AccountPair>, SyncSetupError> {
    let err = |line: usize, reason: String| SyncSetupError::AccountsFile {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let endpoint_for = |host: &str, template: Option<&ImapUrl>| -> Result<Endpoint, String> {
        let bad_port = || format!("bad port in {host:?}");
        let (h, port) = if let Some(inside) = host.strip_prefix('[') {
            // An IPv6 address with a port: `[::1]:993`.
            let (h, after) = inside
                .split_once(']')
                .ok_or_else(|| format!("unclosed '[' in {host:?}"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p.parse::<u16>().map_err(|_| bad_port())?),
                None if after.is_empty() => None,
                None => return Err(bad_port()),
            };
            (h.to_string(), port)
        } else {
            match host.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (
                    h.to_string(),
                    Some(p.parse::<u16>().map_err(|_| bad_port())?),
                ),
                _ => (host.to_string(), None),
            }
        };
        let mut ep = match template {
            Some(t) => t.endpoint.clone(),
            None => Endpoint::tls(h.clone(), 993),
        };
        // The template's plain TCP (--allow-plaintext with a loopback URL) must not carry over
        // to another computer named in the file: its passwords would cross the network in clear.
        if ep.security == Security::Plain && !is_loopback(&h) {
            return Err(format!(
                "{h} is not this computer, and plain connections (without TLS) are only allowed \
                 to a loopback address (127.0.0.1, ::1, localhost); use imaps:// or imap:// \
                 (STARTTLS) without --allow-plaintext for this host"
            ));
        }
        if template.is_none_or(|t| !t.endpoint.host.eq_ignore_ascii_case(&h)) {
            // Another host than the template's: its pin cannot apply.
            if template.is_some() {
                ep.pinned_sha256 = None;
            }
            ep.host = h;
        }
        if let Some(p) = port {
            ep.port = p;
        }
        Ok(ep)
    };
    let mut out = Vec::new();
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let Some((first_no, first)) = lines.next() else {
        return Ok(out);
    };
    let header: Vec<String> = first
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    if header.iter().any(|c| c == "emailaddress") {
        let col = |name: &str| header.iter().position(|c| c == name);
        let (Some(ce), Some(cu), Some(cp)) =
            (col("emailaddress"), col("username"), col("password"))
        else {
            return Err(err(
                first_no,
                "the Microsoft format needs the columns EmailAddress, UserName, Password".into(),
            ));
        };
        let src = source_template.ok_or_else(|| {
            err(
                first_no,
                "the Microsoft format needs --source imaps://HOST:PORT for the source host".into(),
            )
        })?;
        let dst = dest_template.ok_or_else(|| {
            err(
                first_no,
                "the Microsoft format needs --dest imaps://HOST:PORT for the destination host"
                    .into(),
            )
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        for (i, rec) in reader.records().enumerate() {
            let rec = rec.map_err(|e| err(i + 1, e.to_string()))?;
            if i < first_no || rec.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            if rec.get(0).is_some_and(|f| f.trim_start().starts_with('#')) {
                continue;
            }
            let get = |c: usize| rec.get(c).map(str::trim).unwrap_or("");
            let (email, user, pw) = (get(ce), get(cu), get(cp));
            if email.is_empty() || user.is_empty() {
                return Err(err(
                    i + 1,
                    "EmailAddress and UserName must not be empty".into(),
                ));
            }
            // The row's password is the source login's (Microsoft's meaning of the column).
            let source_password = if pw.is_empty() {
                password_for("source", &src.endpoint.host, user).map_err(|r| err(i + 1, r))?
            } else {
                SecretString::from(pw.to_string())
            };
            let dest_password = password_for("destination", &dst.endpoint.host, email)
                .map_err(|r| err(i + 1, r))?;
            out.push(AccountPair {
                source: SourceSpec::Imap(ImapAccount {
                    endpoint: src.endpoint.clone(),
                    user: user.to_string(),
                    password: source_password,
                    oauth: None,
                }),
                dest: ImapAccount {
                    endpoint: dst.endpoint.clone(),
                    user: email.to_string(),
                    password: dest_password,
                    oauth: None,
                },
            });
        }
        return Ok(out);
    }
    for (no, line) in std::iter::once((first_no, first)).chain(lines) {
        let mut f: Vec<&str> = line.split(';').collect();
        // imapsync's lines usually end with ';'. Only one final ';' is a terminator: in
        // `h1;u1;p1;h2;u2;` the sixth field (password2) is empty, and comes from the vault.
        if f.len() > 6 && f.last().is_some_and(|l| l.trim().is_empty()) {
            f.pop();
        }
        if f.len() != 6 {
            return Err(err(
                no,
                format!(
                    "expected host1;user1;password1;host2;user2;password2 (6 fields), found {}",
                    f.len()
                ),
            ));
        }
        let src = endpoint_for(f[0].trim(), source_template).map_err(|r| err(no, r))?;
        let dst = endpoint_for(f[3].trim(), dest_template).map_err(|r| err(no, r))?;
        let mut given = |which, ep: &Endpoint, user: &str, pw: &str| {
            if pw.is_empty() {
                password_for(which, &ep.host, user).map_err(|r| err(no, r))
            } else {
                Ok(SecretString::from(pw.to_string()))
            }
        };
        let source_password = given("source", &src, f[1].trim(), f[2])?;
        let dest_password = given("destination", &dst, f[4].trim(), f[5])?;
        out.push(AccountPair {
            source: SourceSpec::Imap(ImapAccount {
                endpoint: src,
                user: f[1].trim().to_string(),
                password: source_password,
                oauth: None,
            }),
            dest: ImapAccount {
                endpoint: dst,
                user: f[4].trim().to_string(),
                password: dest_password,
                oauth: None,
            },
        });
    }
    Ok(out)
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub sync: SyncOptions,
    /// IMAP connections per side per account.
    pub connections: usize,
    /// Accounts synced at once.
    pub parallel_accounts: usize,
    /// The state file; `None`: [`default_state_path`] for the first destination.
    pub state: Option<PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            sync: SyncOptions::default(),
            connections: 4,
            parallel_accounts: 2,
            state: None,
        }
    }
}

/// `$FERRY_STATE_DIR`, else the platform's data folder, then `sync-<host>.sqlite`.
pub fn default_state_path(dest_host: &str) -> PathBuf {
    let base = std::env::var_os("FERRY_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| ".".into());
            if cfg!(target_os = "macos") {
                home.join("Library/Application Support/Ferry")
            } else {
                std::env::var_os("XDG_DATA_HOME")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| home.join(".local/share"))
                    .join("ferry")
            }
        });
    let safe: String = dest_host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    base.join(format!("sync-{safe}.sqlite"))
}

/// The result of a run over all accounts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SyncReport {
    pub accounts: Vec<AccountSummary>,
    pub copied: u64,
    pub already_there: u64,
    pub skipped: u64,
    pub failed: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub messages_per_second: f64,
    pub bytes_per_second: f64,
    /// Every account complete (every message on the destination or skipped on purpose).
    pub complete: bool,
    /// Accounts stopped by an error (login, state file, connection).
    pub fatal: u64,
    pub state_file: String,
}

impl SyncReport {
    /// The run over all accounts from each account's summary; `seconds` of wall-clock time.
    pub fn of(summaries: Vec<AccountSummary>, state: &Path, seconds: f64) -> SyncReport {
        let mut r = SyncReport {
            state_file: state.display().to_string(),
            seconds,
            ..Default::default()
        };
        for s in &summaries {
            r.copied += s.copied;
            r.already_there += s.already_there;
            r.skipped += s.skipped;
            r.failed += s.failed;
            r.bytes += s.bytes;
            r.fatal += u64::from(s.fatal.is_some());
        }
        r.complete = summaries.iter().all(AccountSummary::complete);
        r.accounts = summaries;
        if seconds > 0.0 {
            r.messages_per_second = r.copied as f64 / seconds;
            r.bytes_per_second = r.bytes as f64 / seconds;
        }
        r
    }

    /// 0: complete; 2: some messages failed (a re-run copies only what is missing); 1: an account
    /// could not be synced at all.
    pub fn exit_code(&self) -> u8 {
        if self.fatal > 0 {
            1
        } else if self.failed > 0 {
            2
        } else {
            0
        }
    }
}

pub(crate) fn imap_side(a: &ImapAccount, connections: usize, max_size: Option<u64>) -> ImapSide {
    ImapSide::new(a.endpoint.clone(), a.credentials(), connections).with_max_message_size(max_size)
}

pub(crate) fn source_of(
    spec: &SourceSpec,
    connections: usize,
) -> Result<AnySource, SyncSetupError> {
    Ok(match spec {
        SourceSpec::Imap(a) => AnySource::Imap(imap_side(a, connections, None)),
        SourceSpec::Maildir(p) => {
            AnySource::Maildir(MaildirSource::open(p, Default::default()).map_err(|e| {
                SyncSetupError::Maildir {
                    path: p.clone(),
                    reason: e.text,
                }
            })?)
        }
    })
}

/// `read_only` (dry run, verify): the ledger copied into memory, nothing written anywhere; else
/// the file, locked against a second writing run for as long as the run lasts.
pub(crate) fn open_state(
    opts: &RunOptions,
    pairs: &[AccountPair],
    read_only: bool,
) -> Result<(Arc<Mutex<StateDb>>, PathBuf), SyncSetupError> {
    let path = opts.state.clone().unwrap_or_else(|| {
        default_state_path(
            pairs
                .first()
                .map_or("none", |p| p.dest.endpoint.host.as_str()),
        )
    });
    let db = if read_only {
        StateDb::open_read_only(&path)?
    } else {
        StateDb::open(&path)?
    };
    Ok((Arc::new(Mutex::new(db)), path))
}

/// Syncs every pair, `parallel_accounts` at a time. Never fails for one account's sake: each
/// account's problems are in its summary.
pub async fn run_sync(
    pairs: Vec<AccountPair>,
    opts: RunOptions,
    progress: ProgressFn,
) -> Result<SyncReport, SyncSetupError> {
    let started = std::time::Instant::now();
    let (state, path) = open_state(&opts, &pairs, opts.sync.dry_run)?;
    let summaries: Vec<AccountSummary> = stream::iter(pairs)
        .map(|pair| {
            let state = state.clone();
            let progress = progress.clone();
            let opts = opts.clone();
            async move {
                let dest = Arc::new(imap_side(
                    &pair.dest,
                    opts.connections,
                    opts.sync.max_message_size,
                ));
                match source_of(&pair.source, opts.connections) {
                    Ok(src) => {
                        ferry_sync::sync_account(
                            Arc::new(src),
                            dest,
                            state,
                            opts.sync.clone(),
                            progress,
                        )
                        .await
                    }
                    Err(e) => AccountSummary {
                        account: format!("{:?}", pair.source),
                        fatal: Some(e.to_string()),
                        ..Default::default()
                    },
                }
            }
        })
        .buffer_unordered(opts.parallel_accounts.max(1))
        .collect()
        .await;
    Ok(SyncReport::of(
        summaries,
        &path,
        started.elapsed().as_secs_f64(),
    ))
}

/// Verification of every pair.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct VerifyReport {
    pub accounts: Vec<Verification>,
    /// Accounts that could not be verified, with the reason.
    pub errors: Vec<String>,
    pub missing: u64,
    pub ok: bool,
}

/// Verifies every pair (reads only; the state file, when present, gives the reasons).
pub async fn run_verify(
    pairs: Vec<AccountPair>,
    opts: RunOptions,
    rules: MappingRules,
) -> Result<VerifyReport, SyncSetupError> {
    // Reads only: allowed while a sync runs (see `ferry_sync::state::StateLock`).
    let (state, _) = open_state(&opts, &pairs, true)?;
    let mut report = VerifyReport::default();
    for pair in pairs {
        let dest = Arc::new(imap_side(&pair.dest, opts.connections, None));
        let src = match source_of(&pair.source, opts.connections) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                report.errors.push(e.to_string());
                continue;
            }
        };
        match ferry_sync::verify_account(src, dest, Some(state.clone()), &rules).await {
            Ok(v) => {
                report.missing += v.missing;
                report.accounts.push(v);
            }
            Err(e) => report.errors.push(e.to_string()),
        }
    }
    report.ok = report.errors.is_empty() && report.missing == 0;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_imap_url("imaps://jane%40example.com@mail.example.com:993", false).unwrap();
        assert_eq!(u.user.as_deref(), Some("jane@example.com"));
        assert_eq!(u.endpoint.security, Security::Tls);
        assert_eq!(
            (u.endpoint.host.as_str(), u.endpoint.port),
            ("mail.example.com", 993)
        );
        let u = parse_imap_url("imap://bob@host", false).unwrap();
        assert_eq!(
            (u.endpoint.security, u.endpoint.port),
            (Security::StartTls, 143)
        );
        let u = parse_imap_url("imap://bob@127.0.0.1:1143", true).unwrap();
        assert_eq!(u.endpoint.security, Security::Plain);
        assert!(matches!(
            parse_imap_url("imap://bob@mail.example.com:143", true),
            Err(SyncSetupError::PlaintextRefused { .. })
        ));
        let e = parse_imap_url("imaps://bob:secret@host", false).unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
        assert!(parse_imap_url("http://host", false).is_err());
        assert!(parse_imap_url("imaps://host:x", false).is_err());
        let u = parse_imap_url("imaps://[::1]:993", false).unwrap();
        assert_eq!((u.endpoint.host.as_str(), u.user), ("::1", None));
    }

    #[test]
    fn imapsync_accounts_file() {
        let dst = parse_imap_url("imaps://new.example.net:993", false).unwrap();
        let mut dst = dst;
        dst.endpoint.pinned_sha256 = Some("ab".repeat(32));
        let text = "# comment\n\nold.example.com;jdoe;pw1;new.example.net;jane@example.net;pw2\nold.example.com:1993;asmith;p;w;other.example.net;arthur;pw3;\n";
        let mut none = |_: &'static str, _: &str, _: &str| -> Result<SecretString, String> {
            Err("no password".into())
        };
        let r = parse_accounts(Path::new("a.txt"), text, None, Some(&dst), &mut none);
        // The second line has 7 fields (a ';' inside a password is not supported by the format).
        assert!(
            matches!(r, Err(SyncSetupError::AccountsFile { line: 4, .. })),
            "{r:?}"
        );
        let text = "old.example.com;jdoe;pw1;new.example.net;jane@example.net;pw2\nold.example.com:1993;asmith;p3;other.example.net;arthur;pw3;\n";
        let r = parse_accounts(Path::new("a.txt"), text, None, Some(&dst), &mut none).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].dest.endpoint.pinned_sha256, dst.endpoint.pinned_sha256);
        assert_eq!(
            r[1].dest.endpoint.pinned_sha256, None,
            "a pin is for its own host only"
        );
        match &r[1].source {
            SourceSpec::Imap(a) => assert_eq!((a.endpoint.port, a.user.as_str()), (1993, "asmith")),
            other => panic!("{other:?}"),
        }
        assert!(
            !format!("{r:?}").contains("pw1"),
            "Debug never shows a password"
        );
    }

    #[test]
    fn imapsync_lines_with_an_empty_last_password_take_it_from_the_vault() {
        use secrecy::ExposeSecret;
        let dst = parse_imap_url("imaps://new.example.net:993", false).unwrap();
        let mut asked = Vec::new();
        let mut vault = |which: &'static str, host: &str, user: &str| {
            asked.push(format!("{which} {host} {user}"));
            Ok(SecretString::from(format!("vault-{user}")))
        };
        // With and without the final ';', one or both passwords empty.
        let text = "old.example.com;jdoe;pw1;new.example.net;jane@example.net;
                    old.example.com;asmith;pw2;new.example.net;arthur@example.net
";
        let mut any = |_: &'static str, _: &str, _: &str| -> Result<SecretString, String> {
            Ok(SecretString::from("x".to_string()))
        };
        let r = parse_accounts(Path::new("a.txt"), text, None, Some(&dst), &mut any);
        match r {
            Err(SyncSetupError::AccountsFile {
                line: 2, reason, ..
            }) => assert_eq!(
                reason,
                "expected host1;user1;password1;host2;user2;password2 (6 fields), found 5"
            ),
            other => panic!("a line of 5 fields must be refused: {other:?}"),
        }
        let text = "old.example.com;jdoe;pw1;new.example.net;jane@example.net;
                    old.example.com;asmith;;new.example.net;arthur@example.net;;
                    old.example.com;bm;pw3;new.example.net;bm@example.net;pw4;
";
        let r = parse_accounts(Path::new("a.txt"), text, None, Some(&dst), &mut vault).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(
            asked,
            [
                "destination new.example.net jane@example.net",
                "source old.example.com asmith",
                "destination new.example.net arthur@example.net",
            ]
        );
        assert_eq!(r[0].dest.password.expose_secret(), "vault-jane@example.net");
        match &r[0].source {
            SourceSpec::Imap(a) => assert_eq!(a.password.expose_secret(), "pw1"),
            other => panic!("{other:?}"),
        }
        assert_eq!(r[2].dest.password.expose_secret(), "pw4");
    }

    #[test]
    fn plain_tcp_from_a_loopback_template_never_reaches_a_host_named_in_the_file() {
        let src = parse_imap_url("imap://127.0.0.1:1143", true).unwrap();
        let dst = parse_imap_url("imap://[::1]:2143", true).unwrap();
        assert_eq!(src.endpoint.security, Security::Plain);
        let mut pw = |_: &'static str, _: &str, user: &str| -> Result<SecretString, String> {
            Ok(SecretString::from(format!("pw-{user}")))
        };
        // Loopback in every spelling keeps plain TCP.
        let text = "127.0.0.1:1143;a;p;localhost:2143;b;p
[::1]:1143;c;p;::1;d;p
";
        let r = parse_accounts(Path::new("a.txt"), text, Some(&src), Some(&dst), &mut pw);
        let r = r.unwrap();
        assert!(r
            .iter()
            .all(|p| p.dest.endpoint.security == Security::Plain));
        // Another computer, on either side, by name or address: refused with the line.
        for (text, host) in [
            (
                "mail.example.com;a;p;127.0.0.1;b;p
",
                "mail.example.com",
            ),
            (
                "127.0.0.1;a;p;192.0.2.7:143;b;p
",
                "192.0.2.7",
            ),
            (
                "127.0.0.1;a;p;localhost.example.com;b;p
",
                "localhost.example.com",
            ),
        ] {
            match parse_accounts(Path::new("a.txt"), text, Some(&src), Some(&dst), &mut pw) {
                Err(SyncSetupError::AccountsFile { line: 1, reason, .. }) => assert_eq!(
                    reason,
                    format!("{host} is not this computer, and plain connections (without TLS) are only allowed to a loopback address (127.0.0.1, ::1, localhost); use imaps:// or imap:// (STARTTLS) without --allow-plaintext for this host")
                ),
                other => panic!("{text}: {other:?}"),
            }
        }
        // A TLS template is not affected.
        let tls = parse_imap_url("imaps://127.0.0.1:993", false).unwrap();
        let r = parse_accounts(
            Path::new("a.txt"),
            "mail.example.com;a;p;new.example.net;b;p
",
            Some(&tls),
            Some(&tls),
            &mut pw,
        )
        .unwrap();
        assert_eq!(r[0].dest.endpoint.security, Security::Tls);
    }

    #[test]
    fn microsoft_accounts_file() {
        let src = parse_imap_url("imaps://old.example.com:993", false).unwrap();
        let dst = parse_imap_url("imaps://new.example.net", false).unwrap();
        let text = "EmailAddress,UserName,Password\njane@example.net,jdoe,\"pw,1\"\narthur@example.net,asmith,pw2\n";
        // Destination passwords per account, asked for by (host, address).
        let mut asked = Vec::new();
        let mut per_account = |which: &'static str, host: &str, user: &str| {
            asked.push(format!("{which} {host} {user}"));
            Ok(SecretString::from(format!("dest-{user}")))
        };
        let r = parse_accounts(
            Path::new("m.csv"),
            text,
            Some(&src),
            Some(&dst),
            &mut per_account,
        )
        .unwrap();
        assert_eq!(
            asked,
            [
                "destination new.example.net jane@example.net",
                "destination new.example.net arthur@example.net"
            ]
        );
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].dest.user, "jane@example.net");
        {
            use secrecy::ExposeSecret;
            assert_eq!(
                r[1].dest.password.expose_secret(),
                "dest-arthur@example.net"
            );
        }
        match &r[0].source {
            SourceSpec::Imap(a) => {
                use secrecy::ExposeSecret;
                assert_eq!(
                    (a.user.as_str(), a.password.expose_secret()),
                    ("jdoe", "pw,1")
                );
            }
            other => panic!("{other:?}"),
        }
        let mut admin = |_: &'static str, _: &str, _: &str| -> Result<SecretString, String> {
            Ok(SecretString::from("admin".to_string()))
        };
        assert!(parse_accounts(Path::new("m.csv"), text, None, Some(&dst), &mut admin).is_err());
        // A missing password is that line's error, in the lookup's words.
        let mut none = |_: &'static str, _: &str, user: &str| -> Result<SecretString, String> {
            Err(format!("no password for {user}"))
        };
        let e = parse_accounts(Path::new("m.csv"), text, Some(&src), Some(&dst), &mut none)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2") && e.contains("jane@example.net"),
            "{e}"
        );
        // An empty Password cell: the source password is looked up too.
        let text = "EmailAddress,UserName,Password\njane@example.net,jdoe,\n";
        let mut asked = Vec::new();
        let mut record = |which: &'static str, host: &str, user: &str| {
            asked.push(format!("{which} {host} {user}"));
            Ok(SecretString::from("x".to_string()))
        };
        parse_accounts(
            Path::new("m.csv"),
            text,
            Some(&src),
            Some(&dst),
            &mut record,
        )
        .unwrap();
        assert_eq!(
            asked,
            [
                "source old.example.com jdoe",
                "destination new.example.net jane@example.net"
            ]
        );
    }

    #[test]
    fn passwords_come_from_the_environment_first_then_the_vault() {
        use ferry_vault::{MemoryVault, Secret, Vault};
        use secrecy::ExposeSecret;
        let memory = || -> Result<Box<dyn Vault>, String> {
            let v = MemoryVault::new();
            v.set(
                "Mail.Example.net",
                "alice",
                &Secret::new("from-vault".into()),
            )
            .unwrap();
            Ok(Box::new(v))
        };
        let env = Some(SecretString::from("from-env".to_string()));
        let pw = resolve_password(
            "destination",
            "FERRY_DEST_PASSWORD",
            env,
            "mail.example.net",
            "alice",
            || -> Result<Box<dyn Vault>, String> {
                panic!("the vault must not be opened when the environment has the password")
            },
        )
        .unwrap();
        assert_eq!(pw.expose_secret(), "from-env");
        // Host names compare case-insensitively, as in `ferry credentials`.
        let pw = resolve_password(
            "destination",
            "FERRY_DEST_PASSWORD",
            None,
            "mail.example.net",
            "alice",
            memory,
        )
        .unwrap();
        assert_eq!(pw.expose_secret(), "from-vault");
        let err = resolve_password(
            "source",
            "FERRY_SOURCE_PASSWORD",
            None,
            "mail.example.net",
            "bob",
            memory,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("FERRY_SOURCE_PASSWORD"), "{err}");
        assert!(err.contains("ferry credentials set"), "{err}");
        assert!(
            err.contains("\"bob\"") && err.contains("mail.example.net"),
            "{err}"
        );
        let err = resolve_password("source", "FERRY_SOURCE_PASSWORD", None, "h", "bob", || {
            Err("wrong passphrase".to_string())
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("wrong passphrase") && err.contains("FERRY_SOURCE_PASSWORD"),
            "{err}"
        );
    }

    #[test]
    fn passwords_from_the_encrypted_file_vault() {
        use ferry_vault::{Backend, Secret};
        use secrecy::ExposeSecret;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwords.ferry-vault");
        let passphrase = SecretString::from("correct horse".to_string());
        let open = || {
            ferry_vault::open(Backend::File {
                path: path.clone(),
                passphrase: passphrase.clone(),
            })
            .map_err(|e| e.to_string())
        };
        open()
            .unwrap()
            .set("imap.example.org", "jdoe", &Secret::new("s3cret".into()))
            .unwrap();
        let pw = resolve_password(
            "source",
            "FERRY_SOURCE_PASSWORD",
            None,
            "imap.example.org",
            "jdoe",
            open,
        )
        .unwrap();
        assert_eq!(pw.expose_secret(), "s3cret");
        // A wrong passphrase is reported as a vault problem, naming the environment variable too.
        let wrong = || {
            ferry_vault::open(Backend::File {
                path: path.clone(),
                passphrase: SecretString::from("wrong".to_string()),
            })
            .map_err(|e| e.to_string())
        };
        let err = resolve_password(
            "source",
            "FERRY_SOURCE_PASSWORD",
            None,
            "imap.example.org",
            "jdoe",
            wrong,
        )
        .unwrap_err();
        assert!(matches!(err, SyncSetupError::Vault { .. }), "{err}");
    }

    #[test]
    fn default_state_path_is_per_destination() {
        let p = default_state_path("new.example.net");
        assert!(
            p.to_string_lossy().ends_with("sync-new.example.net.sqlite"),
            "{p:?}"
        );
        assert_ne!(default_state_path("a"), default_state_path("b"));
    }
}
