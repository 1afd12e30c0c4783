//! Mail still arriving at the old server (phase 11): from the store (message files that arrived
//! after the cut-over) and from the logs (Postfix deliveries to Dovecot, Dovecot LDA lines, SMTP
//! attempts the server refused). Gives the last delivery per account and overall, what arrived
//! after the cut-over (each message once, whether the logs, the store or both show it), and
//! whether the server has been quiet for N hours.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use ferry_discover::store::{folder_name, role_of};
use ferry_discover::FolderRole;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{CutoverError, Result};
use crate::logs::{
    self, Follower, LogDelivery, LogKind, LogYear, LogZone, RejectedAttempt, YearSource,
};

/// "Quiet for 72 h" = safe to switch the old server off.
pub const DEFAULT_QUIET_HOURS: u32 = 72;

/// Where the store of the old server keeps mail, below its root.
pub const STORE_DIR: &str = "Library/Server/Mail/Data/mail";
pub const POSTFIX_LOG: &str = "var/log/mail.log";
pub const DOVECOT_LOG: &str = "Library/Logs/Mail/mail-info.log";

/// What the quiet time counts from, and why; part of every report.
pub const QUIET_RULE: &str = "Quiet time counts from the last delivery or the last refused SMTP \
attempt, whichever is later: a refused attempt is a sender that still reaches the old server \
(its MX record cached or written into its configuration), and that sender's mail is delayed or \
lost once the old server is off.";

/// A Postfix line and a Dovecot line this far apart (same account, no conflicting Message-ID)
/// are one message; a log line and a store file too.
const PAIR_WINDOW_SECS: i64 = 120;

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

/// A message file that appeared in the store after the cut-over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StoreArrival {
    pub account: String,
    /// `INBOX`, or the folder's name (`Sent Messages`, `Rechnungen/2018`, `Entwürfe Kunden`).
    pub folder: String,
    pub file: String,
    #[ts(type = "string")]
    pub at: DateTime<Utc>,
    /// The file's Message-ID without `<>`, when it has one.
    pub message_id: Option<String>,
    /// The logs show its delivery too.
    pub logged: bool,
}

/// One message the logs show delivered into an account: a Postfix line, a Dovecot line, or both
/// paired (by Message-ID, else by account and time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LoggedMessage {
    #[ts(type = "string")]
    pub at: DateTime<Utc>,
    pub account: String,
    /// The address the sender used, when Postfix logged it.
    pub address: Option<String>,
    pub message_id: Option<String>,
    /// Postfix's queue id, when Postfix logged it.
    pub queue_id: Option<String>,
    /// The folder Dovecot stored it into, when Dovecot logged it.
    pub mailbox: Option<String>,
    pub in_postfix_log: bool,
    pub in_dovecot_log: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AccountFlow {
    pub account: String,
    /// The newest delivery: from the logs, or a file in a folder mail is delivered to (INBOX,
    /// Junk, folders the logs show deliveries into); never Sent, Drafts, Trash, Archive, Notes.
    #[ts(type = "string | null")]
    pub last_delivery: Option<DateTime<Utc>>,
    /// Messages the logs show delivered after the cut-over (each once, whichever logs show it).
    pub logged_since_cutover: u32,
    /// Message files delivered into the store after the cut-over.
    pub stored_since_cutover: u32,
    /// Messages that arrived after the cut-over: in the store, or only in the logs.
    pub arrived_since_cutover: u32,
    /// Files written after the cut-over into folders mail is not delivered to (sent, drafts,
    /// moved): someone still uses the old server.
    pub written_since_cutover: u32,
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
    /// The newest SMTP attempt the old server refused or threw away, whenever it was.
    pub last_rejected: Option<RejectedAttempt>,
    /// Seconds since the last delivery or refused attempt, whichever is later ([`QUIET_RULE`]).
    #[ts(type = "number | null")]
    pub quiet_for_secs: Option<i64>,
    pub quiet_hours: u32,
    /// Neither a delivery nor a refused attempt for `quiet_hours`.
    pub quiet: bool,
    /// What the quiet time counts from, and why ([`QUIET_RULE`]).
    pub quiet_rule: String,
    pub accounts: Vec<AccountFlow>,
    /// Messages that arrived after the cut-over: `late_arrivals` plus `logged_not_stored`, and
    /// the sum of the accounts' `arrived_since_cutover`.
    pub arrived_since_cutover: u32,
    /// Store files delivered after the cut-over: the next delta or final sync copies them.
    pub late_arrivals: Vec<StoreArrival>,
    /// Deliveries after the cut-over that the logs show but the store has no file for (not
    /// written yet, or deleted since): the next sync cannot copy them from the store.
    pub logged_not_stored: Vec<LoggedMessage>,
    /// Store files written after the cut-over in folders mail is not delivered to (Sent, Drafts,
    /// moved messages): someone still uses the old server; the next sync copies them too.
    pub written_since_cutover: Vec<StoreArrival>,
    /// SMTP attempts the old server refused or threw away after the cut-over: senders that still
    /// reach it.
    pub rejected_since_cutover: Vec<RejectedAttempt>,
    /// SMTP connections from other machines after the cut-over (senders with a cached old MX).
    pub inbound_since_cutover: u32,
    #[ts(type = "string | null")]
    pub last_inbound: Option<DateTime<Utc>>,
    /// Log files read, relative to the root.
    pub logs_read: Vec<String>,
    /// How each log's lines, which carry no year, were given one.
    pub log_years: Vec<LogYear>,
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

/// The Message-ID header of a message file (without `<>`), read from its header only.
fn message_id_of(path: &Path) -> Option<String> {
    let mut head = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(64 * 1024)
        .read_to_end(&mut head)
        .ok()?;
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r')).peekable();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if !name.eq_ignore_ascii_case("message-id") {
            continue;
        }
        let mut value = value.trim().to_string();
        // A folded header goes on in lines that start with white space.
        while let Some(next) = lines.next_if(|l| l.starts_with([' ', '\t'])) {
            value.push_str(next.trim());
        }
        let id = value
            .split_once('<')
            .and_then(|(_, v)| v.split_once('>'))
            .map_or(value.as_str(), |(id, _)| id)
            .trim();
        return (!id.is_empty()).then(|| id.to_string());
    }
    None
}

/// A message file of the store.
struct StoreFile {
    folder: String,
    /// The folder is one mail is delivered to.
    delivered: bool,
    file: String,
    path: PathBuf,
    at: DateTime<Utc>,
}

/// Whether mail is delivered into a folder: INBOX and Junk always; Sent, Drafts, Trash, Archive
/// and Notes never (people put messages there); other folders when the logs show a delivery into
/// them (sieve `fileinto`), as folder names in the logs use the namespace separator.
fn is_delivery_folder(folder: &str, logged_targets: Option<&HashSet<String>>) -> bool {
    match role_of(folder) {
        Some(FolderRole::Inbox | FolderRole::Junk) => true,
        Some(_) => false,
        None => logged_targets.is_some_and(|t| t.contains(folder)),
    }
}

/// Every message file of one account's Maildir++ store with its arrival time.
fn scan_store(
    account: &StoreAccount,
    logged_targets: Option<&HashSet<String>>,
) -> Result<Vec<StoreFile>> {
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
                let folder = folder_name(folder).unwrap_or_else(|_| folder.to_string());
                folders.push((folder, entry.path()));
            }
        }
    }
    for (folder, dir) in folders {
        let delivered = is_delivery_folder(&folder, logged_targets);
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
                    out.push(StoreFile {
                        folder: folder.clone(),
                        delivered,
                        file: name,
                        path: f.path(),
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

fn seconds_apart(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    (a - b).num_seconds().abs()
}

/// Conflicting only when both have a Message-ID and they differ.
fn ids_agree(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// One message per delivery: a Postfix line and a Dovecot line for the same message become one,
/// paired first by account and Message-ID, then by account and time (lines without a
/// Message-ID, or whose queue's `cleanup` line is not in the logs read).
pub fn merge_logged(deliveries: &[LogDelivery]) -> Vec<LoggedMessage> {
    let mut messages: Vec<LoggedMessage> = deliveries
        .iter()
        .filter(|d| d.kind == LogKind::Postfix)
        .map(|d| LoggedMessage {
            at: d.at,
            account: d.account.clone(),
            address: d.address.clone(),
            message_id: d.message_id.clone(),
            queue_id: d.queue_id.clone(),
            mailbox: None,
            in_postfix_log: true,
            in_dovecot_log: false,
        })
        .collect();
    messages.sort_by_key(|m| m.at);
    // Postfix messages per account, by time.
    let mut by_account: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, m) in messages.iter().enumerate() {
        by_account.entry(m.account.clone()).or_default().push(i);
    }
    let postfix_count = messages.len();
    let mut paired = vec![false; postfix_count];
    let dovecot: Vec<&LogDelivery> = deliveries
        .iter()
        .filter(|d| d.kind == LogKind::Dovecot)
        .collect();
    let mut left = vec![true; dovecot.len()];
    for by_id in [true, false] {
        for (di, d) in dovecot.iter().enumerate() {
            if !left[di] || (by_id && d.message_id.is_none()) {
                continue;
            }
            let Some(candidates) = by_account.get(&d.account) else {
                continue;
            };
            let start = candidates.partition_point(|&i| {
                messages[i].at < d.at - chrono::Duration::seconds(PAIR_WINDOW_SECS)
            });
            let best = candidates[start..]
                .iter()
                .copied()
                .take_while(|&i| {
                    messages[i].at <= d.at + chrono::Duration::seconds(PAIR_WINDOW_SECS)
                })
                .filter(|&i| !paired[i])
                .filter(|&i| {
                    let p = messages[i].message_id.as_deref();
                    if by_id {
                        p == d.message_id.as_deref()
                    } else {
                        ids_agree(p, d.message_id.as_deref())
                    }
                })
                .min_by_key(|&i| seconds_apart(messages[i].at, d.at));
            if let Some(i) = best {
                paired[i] = true;
                left[di] = false;
                let m = &mut messages[i];
                m.in_dovecot_log = true;
                m.mailbox = d.mailbox.clone();
                m.message_id = m.message_id.take().or_else(|| d.message_id.clone());
                // Dovecot logs when the message is in the store; Postfix after the pipe returns.
                m.at = m.at.min(d.at);
            }
        }
    }
    for (di, d) in dovecot.iter().enumerate() {
        if left[di] {
            messages.push(LoggedMessage {
                at: d.at,
                account: d.account.clone(),
                address: None,
                message_id: d.message_id.clone(),
                queue_id: None,
                mailbox: d.mailbox.clone(),
                in_postfix_log: false,
                in_dovecot_log: true,
            });
        }
    }
    messages.sort_by(|a, b| (a.at, &a.account).cmp(&(b.at, &b.account)));
    messages
}

/// What was read of one log so far.
struct LogState {
    rel: String,
    anchor: Option<logs::YearAnchor>,
    lines: usize,
    unparsed: usize,
    left_out_feb_29: usize,
    left_out_events: usize,
    left_out_year: Option<i32>,
}

impl LogState {
    fn add(&mut self, log: &logs::ParsedLog) {
        self.lines += log.lines;
        self.unparsed += log.unparsed;
        self.left_out_feb_29 += log.left_out_feb_29;
        self.left_out_events += log.left_out_events;
        self.left_out_year = self.left_out_year.or(log.left_out_year);
    }

    fn year(&self) -> Option<LogYear> {
        let anchor = self.anchor?;
        Some(LogYear {
            log: self.rel.clone(),
            year_of_last_line: anchor.year_of_last_line,
            source: anchor.source,
            file_time: anchor.file_time,
            left_out_feb_29: self.left_out_feb_29 as u32,
            left_out_events: self.left_out_events as u32,
        })
    }

    /// Warnings in a person's words, without the caller's way of naming the year (a CLI flag,
    /// a field in the app): the caller adds that.
    fn warnings(&self, zone: LogZone) -> Vec<String> {
        let mut out = Vec::new();
        let rel = &self.rel;
        if self.unparsed > 0 {
            out.push(format!(
                "{rel}: {} of {} lines without a timestamp were skipped",
                self.unparsed, self.lines
            ));
        }
        if let Some(anchor) = self.anchor {
            let year = anchor.year_of_last_line;
            match (anchor.source, anchor.file_time) {
                (YearSource::Given, _) => {}
                (YearSource::FileTime, Some(t)) => out.push(format!(
                    "{rel} has no year in its lines: they were dated as if its last line were \
                     from {year}, the year the file was last changed ({}). If the log was copied \
                     from the old server, that time may be the copy's: name the year of the \
                     log's last line.",
                    logs::naive_in_zone(t, zone).format("%Y-%m-%d")
                )),
                _ => out.push(format!(
                    "{rel} has no year in its lines and no file time: they were dated by today's \
                     date, as if its last line were from {year}. Name the year of the log's last \
                     line."
                )),
            }
        }
        if self.left_out_feb_29 > 0 {
            let n = self.left_out_feb_29;
            let year = self.left_out_year.map_or_else(String::new, |y| {
                format!(" in {y}, which is not a leap year,")
            });
            let (lines, verb) = if n == 1 {
                ("1 line".to_string(), "was")
            } else {
                (format!("{n} lines"), "were")
            };
            let events = match self.left_out_events {
                0 => String::new(),
                1 => " (1 of them a delivery or refused attempt)".to_string(),
                k => format!(" ({k} of them deliveries or refused attempts)"),
            };
            out.push(format!(
                "{rel}: {lines} dated 29 February cannot be{year} and {verb} left out{events}. \
                 The year is wrong: name the year of the log's last line."
            ));
        }
        out
    }
}

/// Watches the old server: a first full read, then `poll` reads what was appended to the logs
/// and what arrived in the store since.
pub struct MailflowWatch {
    options: MailflowOptions,
    accounts: Vec<StoreAccount>,
    deliveries: Vec<LogDelivery>,
    rejected: Vec<RejectedAttempt>,
    inbound: Vec<DateTime<Utc>>,
    followers: Vec<(usize, Follower)>,
    log_states: Vec<LogState>,
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
            rejected: Vec::new(),
            inbound: Vec::new(),
            followers: Vec::new(),
            log_states: Vec::new(),
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
                me.warn(format!("no {rel} (nor its rotations) under the root"));
                continue;
            }
            match logs::parse_anchored(&path, kind, me.options.zone, me.options.year_of_last_line) {
                Ok((log, files, anchor, follower)) => {
                    let mut state = LogState {
                        rel: rel.to_string(),
                        anchor,
                        lines: 0,
                        unparsed: 0,
                        left_out_feb_29: 0,
                        left_out_events: 0,
                        left_out_year: None,
                    };
                    state.add(&log);
                    me.take(log);
                    me.logs_read.extend(files.iter().map(|f| {
                        f.strip_prefix(&me.options.root)
                            .unwrap_or(f)
                            .to_string_lossy()
                            .into_owned()
                    }));
                    me.followers.push((me.log_states.len(), follower));
                    me.log_states.push(state);
                }
                // One unreadable rotation must not hide the rest: report it and go on.
                Err(e) => me.warn(e.to_string()),
            }
        }
        Ok(me)
    }

    fn warn(&mut self, warning: String) {
        if !self.warnings.contains(&warning) {
            self.warnings.push(warning);
        }
    }

    fn take(&mut self, log: logs::ParsedLog) {
        self.deliveries.extend(log.deliveries);
        self.rejected.extend(log.rejected);
        self.inbound.extend(log.inbound.into_iter().map(|(t, _)| t));
    }

    /// Reads new log lines and rescans the store; the report as of `now`.
    pub fn poll(&mut self, now: DateTime<Utc>) -> MailflowReport {
        let mut read = Vec::new();
        let mut failed = Vec::new();
        for (state, f) in &mut self.followers {
            match f.poll() {
                Ok(log) => read.push((*state, log)),
                Err(e) => failed.push(e.to_string()),
            }
        }
        for (state, log) in read {
            self.log_states[state].add(&log);
            self.take(log);
        }
        for e in failed {
            self.warn(e);
        }
        self.report(now)
    }

    /// Every delivery line read from the logs so far (a message Postfix and Dovecot both logged
    /// is here twice; [`Self::logged_messages`] has it once).
    pub fn deliveries(&self) -> &[LogDelivery] {
        &self.deliveries
    }

    /// Every delivered message the logs show, each once.
    pub fn logged_messages(&self) -> Vec<LoggedMessage> {
        merge_logged(&self.deliveries)
    }

    fn report(&self, now: DateTime<Utc>) -> MailflowReport {
        let cutover = self.options.cutover;
        let after_cutover = |t: DateTime<Utc>| cutover.is_some_and(|c| t > c);
        let mut warnings = self.warnings.clone();
        for state in &self.log_states {
            for w in state.warnings(self.options.zone) {
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
            }
        }
        let messages = merge_logged(&self.deliveries);
        // Folders the logs show deliveries into, per account, named as the store names them.
        let mut targets: HashMap<&str, HashSet<String>> = HashMap::new();
        for m in &messages {
            if let Some(mailbox) = &m.mailbox {
                targets
                    .entry(&m.account)
                    .or_default()
                    .insert(mailbox.replace('.', "/"));
            }
        }
        let mut per: BTreeMap<String, AccountFlow> = BTreeMap::new();
        fn entry<'a>(
            per: &'a mut BTreeMap<String, AccountFlow>,
            name: &str,
        ) -> &'a mut AccountFlow {
            per.entry(name.to_string()).or_insert_with(|| AccountFlow {
                account: name.to_string(),
                last_delivery: None,
                logged_since_cutover: 0,
                stored_since_cutover: 0,
                arrived_since_cutover: 0,
                written_since_cutover: 0,
            })
        }
        let mut logged_late: Vec<&LoggedMessage> = Vec::new();
        for m in &messages {
            let a = entry(&mut per, &m.account);
            a.last_delivery = a.last_delivery.max(Some(m.at));
            if after_cutover(m.at) {
                a.logged_since_cutover += 1;
                logged_late.push(m);
            }
        }
        let mut files_late: Vec<(String, StoreFile)> = Vec::new();
        for account in &self.accounts {
            let a = entry(&mut per, &account.name);
            match scan_store(account, targets.get(account.name.as_str())) {
                Ok(files) => {
                    for f in files {
                        if f.delivered {
                            a.last_delivery = a.last_delivery.max(Some(f.at));
                        }
                        if after_cutover(f.at) {
                            files_late.push((account.name.clone(), f));
                        }
                    }
                }
                Err(e) => {
                    let w = e.to_string();
                    if !warnings.contains(&w) {
                        warnings.push(w);
                    }
                }
            }
        }
        let (late_arrivals, logged_not_stored, written) = pair_with_store(&logged_late, files_late);
        for l in &late_arrivals {
            let a = entry(&mut per, &l.account);
            a.stored_since_cutover += 1;
            a.arrived_since_cutover += 1;
        }
        for m in &logged_not_stored {
            entry(&mut per, &m.account).arrived_since_cutover += 1;
        }
        for w in &written {
            entry(&mut per, &w.account).written_since_cutover += 1;
        }
        let last_delivery = per.values().filter_map(|a| a.last_delivery).max();
        let last_rejected = self.rejected.iter().max_by_key(|r| r.at).cloned();
        let last_traffic = last_delivery.max(last_rejected.as_ref().map(|r| r.at));
        let quiet_for_secs = last_traffic.map(|t| (now - t).num_seconds().max(0));
        let quiet_needed = i64::from(self.options.quiet_hours) * 3600;
        let quiet = match quiet_for_secs {
            Some(q) => q >= quiet_needed,
            // No delivery anywhere: quiet only if there were logs to read at all.
            None => !self.logs_read.is_empty(),
        };
        let mut rejected_since_cutover: Vec<RejectedAttempt> = self
            .rejected
            .iter()
            .filter(|r| after_cutover(r.at))
            .cloned()
            .collect();
        rejected_since_cutover.sort_by_key(|r| r.at);
        let inbound_since_cutover = self.inbound.iter().filter(|t| after_cutover(**t)).count();
        MailflowReport {
            checked_at: now,
            cutover,
            last_delivery,
            last_rejected,
            quiet_for_secs,
            quiet_hours: self.options.quiet_hours,
            quiet,
            quiet_rule: QUIET_RULE.to_string(),
            accounts: per.into_values().collect(),
            arrived_since_cutover: (late_arrivals.len() + logged_not_stored.len()) as u32,
            late_arrivals,
            logged_not_stored,
            written_since_cutover: written,
            rejected_since_cutover,
            inbound_since_cutover: inbound_since_cutover as u32,
            last_inbound: self.inbound.iter().max().copied(),
            logs_read: self.logs_read.clone(),
            log_years: self.log_states.iter().filter_map(LogState::year).collect(),
            warnings,
        }
    }
}

/// Pairs the deliveries the logs show after the cut-over with the store's files after it: by
/// account and Message-ID (in any folder: the user may have moved it already), then by account and
/// time (folders mail is delivered to). Returns (files delivered, deliveries with no file, files
/// written in other folders).
fn pair_with_store(
    logged: &[&LoggedMessage],
    files: Vec<(String, StoreFile)>,
) -> (Vec<StoreArrival>, Vec<LoggedMessage>, Vec<StoreArrival>) {
    let mut files: Vec<(String, StoreFile, Option<String>)> = files
        .into_iter()
        .map(|(account, f)| {
            let id = message_id_of(&f.path);
            (account, f, id)
        })
        .collect();
    // Delivered folders first, so a message id found in INBOX and Sent pairs with INBOX.
    files.sort_by(|a, b| {
        (!a.1.delivered, a.1.at, &a.0, &a.1.file).cmp(&(!b.1.delivered, b.1.at, &b.0, &b.1.file))
    });
    let mut file_paired = vec![false; files.len()];
    let mut message_paired = vec![false; logged.len()];
    for by_id in [true, false] {
        for (mi, m) in logged.iter().enumerate() {
            if message_paired[mi] || (by_id && m.message_id.is_none()) {
                continue;
            }
            let best = files
                .iter()
                .enumerate()
                .filter(|(fi, (account, f, id))| {
                    !file_paired[*fi]
                        && *account == m.account
                        && if by_id {
                            id.as_deref() == m.message_id.as_deref()
                        } else {
                            f.delivered
                                && seconds_apart(f.at, m.at) <= PAIR_WINDOW_SECS
                                && ids_agree(id.as_deref(), m.message_id.as_deref())
                        }
                })
                .min_by_key(|(_, (_, f, _))| (!f.delivered, seconds_apart(f.at, m.at)))
                .map(|(fi, _)| fi);
            if let Some(fi) = best {
                file_paired[fi] = true;
                message_paired[mi] = true;
            }
        }
    }
    let mut arrivals = Vec::new();
    let mut written = Vec::new();
    for ((account, f, message_id), logged) in files.into_iter().zip(file_paired) {
        let arrival = StoreArrival {
            account,
            folder: f.folder,
            file: f.file,
            at: f.at,
            message_id,
            logged,
        };
        if f.delivered || logged {
            arrivals.push(arrival);
        } else {
            written.push(arrival);
        }
    }
    let order = |a: &StoreArrival, b: &StoreArrival| {
        (a.at, &a.account, &a.file).cmp(&(b.at, &b.account, &b.file))
    };
    arrivals.sort_by(order);
    written.sort_by(order);
    let not_stored = logged
        .iter()
        .zip(message_paired)
        .filter(|(_, paired)| !paired)
        .map(|(m, _)| (*m).clone())
        .collect();
    (arrivals, not_stored, written)
}

/// One look at the old server's mail flow.
pub fn check(options: MailflowOptions, now: DateTime<Utc>) -> Result<MailflowReport> {
    let mut watch = MailflowWatch::start(options)?;
    Ok(watch.poll(now))
}
