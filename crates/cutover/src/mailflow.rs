//! Mail still arriving at the old server (phase 11): from the store (message files that arrived
//! after the cut-over) and from the logs (Postfix deliveries to Dovecot, Dovecot LDA lines). Gives
//! the last delivery per account and overall, and whether the server has been quiet for N hours.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{CutoverError, Result};
use crate::logs::{self, Follower, LogDelivery, LogKind, LogZone};

/// "Quiet for 72 h" = safe to switch the old server off.
pub const DEFAULT_QUIET_HOURS: u32 = 72;

/// Where the store of the old server keeps mail, below its root.
pub const STORE_DIR: &str = "Library/Server/Mail/Data/mail";
pub const POSTFIX_LOG: &str = "var/log/mail.log";
pub const DOVECOT_LOG: &str = "Library/Logs/Mail/mail-info.log";

/// One account's Maildir on the old server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StoreAccount {
    /// Short name (as in the logs).
    pub name: String,
    #[ts(type = "string")]
    pub dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct MailflowOptions {
    /// The old server's root folder (`/` on the server itself).
    pub root: PathBuf,
    /// Accounts to scan; empty = every store folder under `STORE_DIR`, named by the `users/`
    /// links when present.
    pub accounts: Vec<StoreAccount>,
    /// When the MX was switched; arrivals after it are late mail for the next delta sync.
    pub cutover: Option<DateTime<Utc>>,
    pub quiet_hours: u32,
    pub zone: LogZone,
    /// Year of the last line of the current logs, when the file times cannot be trusted (copies).
    pub year_of_last_line: Option<i32>,
}

impl MailflowOptions {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            accounts: Vec::new(),
            cutover: None,
            quiet_hours: DEFAULT_QUIET_HOURS,
            zone: LogZone::Local,
            year_of_last_line: None,
        }
    }
}

/// A message file that arrived in the store after the cut-over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StoreArrival {
    pub account: String,
    /// `INBOX`, or the Maildir++ folder name without its leading dot (`Sent Messages`).
    pub folder: String,
    pub file: String,
    #[ts(type = "string")]
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AccountFlow {
    pub account: String,
    #[ts(type = "string | null")]
    pub last_delivery: Option<DateTime<Utc>>,
    /// Deliveries in the logs after the cut-over.
    pub logged_since_cutover: u32,
    /// Message files in the store after the cut-over.
    pub stored_since_cutover: u32,
}

/// The mail-flow state: input of the decommission checklist.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MailflowReport {
    #[ts(type = "string")]
    pub checked_at: DateTime<Utc>,
    #[ts(type = "string | null")]
    pub cutover: Option<DateTime<Utc>>,
    #[ts(type = "string | null")]
    pub last_delivery: Option<DateTime<Utc>>,
    /// Seconds since the last delivery.
    #[ts(type = "number | null")]
    pub quiet_for_secs: Option<i64>,
    pub quiet_hours: u32,
    /// No delivery for `quiet_hours`.
    pub quiet: bool,
    pub accounts: Vec<AccountFlow>,
    /// Store files after the cut-over: the next delta or final sync copies them.
    pub late_arrivals: Vec<StoreArrival>,
    /// SMTP connections from other machines after the cut-over (senders with a cached old MX).
    pub inbound_since_cutover: u32,
    #[ts(type = "string | null")]
    pub last_inbound: Option<DateTime<Utc>>,
    /// Log files read, relative to the root.
    pub logs_read: Vec<String>,
    pub warnings: Vec<String>,
}

/// The arrival time of a Maildir file: the leading number of its name (when Dovecot stored it),
/// else its modification time.
fn arrival_time(path: &Path, name: &str) -> Option<DateTime<Utc>> {
    let lead: String = name.chars().take_while(|c| c.is_ascii_digit()).collect();
    if lead.len() >= 9 && name[lead.len()..].starts_with('.') {
        if let Some(t) = lead
            .parse::<i64>()
            .ok()
            .and_then(|s| Utc.timestamp_opt(s, 0).single())
        {
            return Some(t);
        }
    }
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .map(DateTime::<Utc>::from)
}

/// Every message file of one account's Maildir++ store with its arrival time.
fn scan_store(account: &StoreAccount) -> Result<Vec<StoreArrival>> {
    let mut out = Vec::new();
    let mut folders = vec![("INBOX".to_string(), account.dir.clone())];
    let entries = std::fs::read_dir(&account.dir).map_err(|source| CutoverError::Read {
        path: account.dir.clone(),
        source,
    })?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(folder) = name.strip_prefix('.') {
            if !folder.is_empty() && folder != "." && entry.path().is_dir() {
                folders.push((folder.to_string(), entry.path()));
            }
        }
    }
    for (folder, dir) in folders {
        for sub in ["new", "cur"] {
            let Ok(files) = std::fs::read_dir(dir.join(sub)) else {
                continue;
            };
            for f in files.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                if let Some(at) = arrival_time(&f.path(), &name) {
                    out.push(StoreArrival {
                        account: account.name.clone(),
                        folder: folder.clone(),
                        file: name,
                        at,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Store folders under `root/STORE_DIR`, named by the `users/<short> -> ../<GUID>` links when
/// they exist (the links are a convenience Apple keeps; discovery's accounts take precedence).
pub fn default_accounts(root: &Path) -> Vec<StoreAccount> {
    let store = root.join(STORE_DIR);
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    if let Ok(links) = std::fs::read_dir(store.join("users")) {
        for l in links.flatten() {
            if let Ok(target) = std::fs::read_link(l.path()) {
                if let Some(guid) = target.file_name() {
                    names.insert(
                        guid.to_string_lossy().into_owned(),
                        l.file_name().to_string_lossy().into_owned(),
                    );
                }
            }
        }
    }
    let mut out: Vec<StoreAccount> = std::fs::read_dir(&store)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter(|e| e.file_name() != "users")
        .map(|e| {
            let dir_name = e.file_name().to_string_lossy().into_owned();
            StoreAccount {
                name: names.get(&dir_name).cloned().unwrap_or(dir_name),
                dir: e.path(),
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Watches the old server: a first full read, then `poll` reads what was appended to the logs
/// and what arrived in the store since.
pub struct MailflowWatch {
    options: MailflowOptions,
    accounts: Vec<StoreAccount>,
    deliveries: Vec<LogDelivery>,
    inbound: Vec<DateTime<Utc>>,
    followers: Vec<Follower>,
    logs_read: Vec<String>,
    warnings: Vec<String>,
}

impl MailflowWatch {
    /// Reads the logs (with rotations) and prepares to follow them.
    pub fn start(options: MailflowOptions) -> Result<Self> {
        let accounts = if options.accounts.is_empty() {
            default_accounts(&options.root)
        } else {
            options.accounts.clone()
        };
        let mut me = Self {
            accounts,
            deliveries: Vec::new(),
            inbound: Vec::new(),
            followers: Vec::new(),
            logs_read: Vec::new(),
            warnings: Vec::new(),
            options,
        };
        for (rel, kind) in [
            (POSTFIX_LOG, LogKind::Postfix),
            (DOVECOT_LOG, LogKind::Dovecot),
        ] {
            let path = me.options.root.join(rel);
            if logs::log_files(&path).is_empty() {
                me.warnings
                    .push(format!("no {rel} (nor its rotations) under the root"));
                continue;
            }
            match logs::parse_and_follow(&path, kind, me.options.zone, me.options.year_of_last_line)
            {
                Ok((log, files, follower)) => {
                    if log.unparsed > 0 {
                        me.warnings.push(format!(
                            "{rel}: {} of {} lines without a timestamp were skipped",
                            log.unparsed, log.lines
                        ));
                    }
                    me.deliveries.extend(log.deliveries);
                    me.inbound.extend(log.inbound.into_iter().map(|(t, _)| t));
                    me.logs_read.extend(files.iter().map(|f| {
                        f.strip_prefix(&me.options.root)
                            .unwrap_or(f)
                            .to_string_lossy()
                            .into_owned()
                    }));
                    me.followers.push(follower);
                }
                // One unreadable rotation must not hide the rest: report it and go on.
                Err(e) => me.warnings.push(e.to_string()),
            }
        }
        Ok(me)
    }

    /// Reads new log lines and rescans the store; the report as of `now`.
    pub fn poll(&mut self, now: DateTime<Utc>) -> MailflowReport {
        for f in &mut self.followers {
            match f.poll() {
                Ok(log) => {
                    self.deliveries.extend(log.deliveries);
                    self.inbound.extend(log.inbound.into_iter().map(|(t, _)| t));
                }
                Err(e) => self.warnings.push(e.to_string()),
            }
        }
        self.report(now)
    }

    /// Every delivery read from the logs so far.
    pub fn deliveries(&self) -> &[LogDelivery] {
        &self.deliveries
    }

    fn report(&self, now: DateTime<Utc>) -> MailflowReport {
        let cutover = self.options.cutover;
        let mut warnings = self.warnings.clone();
        let mut per: BTreeMap<String, AccountFlow> = BTreeMap::new();
        let entry = |per: &mut BTreeMap<String, AccountFlow>, name: &str| {
            per.entry(name.to_string())
                .or_insert_with(|| AccountFlow {
                    account: name.to_string(),
                    last_delivery: None,
                    logged_since_cutover: 0,
                    stored_since_cutover: 0,
                })
                .clone()
        };
        for d in &self.deliveries {
            let mut a = entry(&mut per, &d.account);
            a.last_delivery = a.last_delivery.max(Some(d.at));
            if cutover.is_some_and(|c| d.at > c) {
                a.logged_since_cutover += 1;
            }
            per.insert(d.account.clone(), a);
        }
        let mut late = Vec::new();
        for account in &self.accounts {
            let mut a = entry(&mut per, &account.name);
            match scan_store(account) {
                Ok(files) => {
                    for f in files {
                        a.last_delivery = a.last_delivery.max(Some(f.at));
                        if cutover.is_some_and(|c| f.at > c) {
                            a.stored_since_cutover += 1;
                            late.push(f);
                        }
                    }
                }
                Err(e) => warnings.push(e.to_string()),
            }
            per.insert(account.name.clone(), a);
        }
        late.sort_by(|a, b| (a.at, &a.account, &a.file).cmp(&(b.at, &b.account, &b.file)));
        let last_delivery = per.values().filter_map(|a| a.last_delivery).max();
        let quiet_for_secs = last_delivery.map(|t| (now - t).num_seconds().max(0));
        let quiet_needed = i64::from(self.options.quiet_hours) * 3600;
        let quiet = match quiet_for_secs {
            Some(q) => q >= quiet_needed,
            // No delivery anywhere: quiet only if there were logs to read at all.
            None => !self.logs_read.is_empty(),
        };
        let inbound_after: Vec<&DateTime<Utc>> = self
            .inbound
            .iter()
            .filter(|t| cutover.is_none_or(|c| **t > c))
            .collect();
        MailflowReport {
            checked_at: now,
            cutover,
            last_delivery,
            quiet_for_secs,
            quiet_hours: self.options.quiet_hours,
            quiet,
            accounts: per.into_values().collect(),
            late_arrivals: late,
            inbound_since_cutover: if cutover.is_some() {
                inbound_after.len() as u32
            } else {
                0
            },
            last_inbound: self.inbound.iter().max().copied(),
            logs_read: self.logs_read.clone(),
            warnings,
        }
    }
}

/// One look at the old server's mail flow.
pub fn check(options: MailflowOptions, now: DateTime<Utc>) -> Result<MailflowReport> {
    let mut watch = MailflowWatch::start(options)?;
    Ok(watch.poll(now))
}
