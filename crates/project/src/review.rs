//! Phase 5, review: per account and folder, the source against the destination (counts and
//! sizes), every message that did not make it with the reason and what to do, a retry of just
//! those, and a way to keep a message the new host refuses for good: delivered wrapped (a short
//! note with the original attached unchanged) or exported to an mbox file.
//!
//! A resolution is recorded in the sync ledger (`ferry_sync::state`, the `resolution` table): the
//! message then counts as settled there, so no later sync sends it again, and the review and the
//! final report count such messages apart.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use chrono::{DateTime, FixedOffset, Utc};
use ferry_sync::any::AnySource;
use ferry_sync::identity::Identity;
use ferry_sync::imap::ImapSide;
use ferry_sync::maildir::MaildirSource;
use ferry_sync::mapping::{self, ListedFolder, MappingRules, Namespace};
use ferry_sync::report::Verification;
use ferry_sync::side::{AppendRequest, Destination, Source};
use ferry_sync::state::{FailureRow, ResolutionDone, ResolutionHow, ResolutionRow};
use ferry_sync::{account_key, ErrorClass, ProgressFn, SideError, StateDb};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ts_rs::TS;

use crate::sync::{default_state_path, AccountPair, RunOptions, SourceSpec, SyncReport};

/// Why a review, retry or resolution could not be done. Each says what and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Setup(#[from] crate::sync::SyncSetupError),
    #[error(transparent)]
    Sync(#[from] ferry_sync::SyncError),
    #[error("no failed message {key} is on record in the folder {folder:?} of {account}: it was copied or kept another way since; review again to see what is left")]
    NotFailed {
        account: String,
        folder: String,
        key: String,
    },
    #[error("the message {key} of the folder {folder:?} is no longer on the old server (deleted, or the folder was rebuilt); run the sync again, then review")]
    SourceGone { folder: String, key: String },
    #[error("the folder {folder:?} is not copied by this migration (excluded, or not on the old server any more); include it, run the sync, then review")]
    NotMapped { folder: String },
    #[error("the message {key} of the folder {folder:?} failed for a passing reason ({reason}), not because the new server refuses it: run the sync again (or retry the failed messages), it copies only what is missing")]
    NotRefused {
        folder: String,
        key: String,
        reason: String,
    },
    #[error("the wrapped message would be {size} bytes and the new server takes at most {limit} bytes: export it to an mbox file instead")]
    WrappedTooBig { size: u64, limit: u64 },
    #[error("the new server refused the wrapped message too ({reason}): export it to an mbox file instead")]
    WrapRefused { reason: String },
    #[error(
        "cannot write the mbox file {path}: {reason}; choose a file in a folder you can write to"
    )]
    Mbox { path: PathBuf, reason: String },
    #[error("the old server: {0}; check that it is running and reachable, then try again")]
    Source(String),
    #[error(
        "the new server: {0}; check the connection and try again (nothing is delivered twice)"
    )]
    Dest(String),
}

pub type Result<T, E = ReviewError> = std::result::Result<T, E>;

/// How a refused message was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum ResolutionKind {
    /// Delivered as the attachment of a short note, in the same folder, same flags and date.
    Wrapped,
    /// Written to an mbox file (to import elsewhere, or to keep).
    Mbox,
}

impl From<ResolutionHow> for ResolutionKind {
    fn from(h: ResolutionHow) -> Self {
        match h {
            ResolutionHow::Wrapped => ResolutionKind::Wrapped,
            ResolutionHow::Mbox => ResolutionKind::Mbox,
        }
    }
}

/// A message of the old server that is not on the new one (and not kept another way).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FailedMessage {
    pub account: String,
    /// The folder on the old server.
    pub folder: String,
    pub uid: Option<u32>,
    /// The message's key in the ledger (its UID, or its file name in a Maildir store).
    pub key: String,
    pub size: u64,
    pub subject: Option<String>,
    pub date: Option<String>,
    /// `None`: no attempt is on record (new mail, or a run that stopped): the next sync copies it.
    pub class: Option<ErrorClass>,
    /// Why, in the server's own words (or "not copied yet").
    pub reason: String,
    pub advice: String,
    /// The ways to keep it if the new server refuses it for good (empty: run the sync again).
    pub can_resolve: Vec<ResolutionKind>,
}

/// A refused message kept another way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ResolvedMessage {
    pub account: String,
    pub folder: String,
    pub uid: Option<u32>,
    pub key: String,
    pub size: u64,
    pub subject: Option<String>,
    pub date: Option<String>,
    pub class: ErrorClass,
    /// Why the new server refused it, in its own words.
    pub reason: String,
    pub how: ResolutionKind,
    /// Where the wrapped message is (its folder on the new server, and UID when known).
    pub dest_folder: Option<String>,
    pub dest_uid: Option<u32>,
    /// The mbox file it was written to.
    pub mbox_path: Option<String>,
    /// When (RFC 3339).
    pub at: String,
}

/// One destination folder: what the old server's folders hold against what is there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FolderReview {
    /// The old server's folders copied into this one (usually one).
    pub sources: Vec<String>,
    pub dest: String,
    pub source_messages: u64,
    pub source_bytes: u64,
    /// Everything in the destination folder.
    pub dest_messages: u64,
    pub dest_bytes: u64,
    /// Destination messages that are copies of the source's.
    pub dest_matching: u64,
    /// Destination messages from elsewhere (new mail, wrapped notes).
    pub dest_other: u64,
    /// Source messages not on the destination and not kept another way.
    pub missing: u64,
    /// Source messages kept another way (wrapped or in an mbox file).
    pub resolved: u64,
}

/// Counts of messages kept another way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ResolvedCounts {
    pub wrapped: u64,
    pub mbox: u64,
}

impl ResolvedCounts {
    pub fn add(&mut self, how: ResolutionKind) {
        match how {
            ResolutionKind::Wrapped => self.wrapped += 1,
            ResolutionKind::Mbox => self.mbox += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.wrapped + self.mbox
    }

    /// "3 delivered wrapped, 1 exported to mbox" ("" when none).
    pub fn text(&self) -> String {
        let mut parts = Vec::new();
        if self.wrapped > 0 {
            parts.push(format!("{} delivered wrapped", self.wrapped));
        }
        if self.mbox > 0 {
            parts.push(format!("{} exported to mbox", self.mbox));
        }
        parts.join(", ")
    }
}

/// One account's review.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AccountReview {
    /// The ledger's name of the pair (`source => destination`).
    pub account: String,
    pub folders: Vec<FolderReview>,
    pub source_messages: u64,
    pub source_bytes: u64,
    pub dest_messages: u64,
    pub dest_bytes: u64,
    pub missing: u64,
    pub failures: Vec<FailedMessage>,
    pub resolved: Vec<ResolvedMessage>,
    pub resolved_counts: ResolvedCounts,
    /// Why this account could not be compared (the ledger's failures are listed all the same).
    pub error: Option<String>,
}

/// The review of every account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Review {
    pub accounts: Vec<AccountReview>,
    pub source_messages: u64,
    pub source_bytes: u64,
    pub dest_messages: u64,
    pub dest_bytes: u64,
    /// Source messages not on the destination and not kept another way.
    pub missing: u64,
    /// Messages with a failure on record.
    pub failed: u64,
    pub resolved: ResolvedCounts,
    /// `resolved` in words: "3 delivered wrapped, 1 exported to mbox".
    pub resolved_text: String,
    /// Every account compared, nothing missing.
    pub ok: bool,
}

/// What one destination folder holds, measured (sizes are not part of the engine's verification).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderSizes {
    pub dest: String,
    pub source_bytes: u64,
    pub dest_messages: u64,
    pub dest_bytes: u64,
}

/// What was measured of one account, for [`review_account`].
#[derive(Debug, Clone, Default)]
pub struct AccountFacts {
    pub account: String,
    pub verification: Option<Verification>,
    pub sizes: Vec<FolderSizes>,
    pub error: Option<String>,
}

fn class_of(name: &str) -> ErrorClass {
    serde_json::from_value(serde_json::Value::String(name.to_string())).unwrap_or(ErrorClass::Other)
}

fn failed_message(account: &str, f: &FailureRow) -> FailedMessage {
    let class = class_of(&f.class);
    FailedMessage {
        account: account.to_string(),
        folder: f.source_folder.clone(),
        uid: f.source_uid,
        key: f.source_key.clone(),
        size: f.size,
        subject: f.subject.clone(),
        date: f.date.clone(),
        class: Some(class),
        reason: f.server_text.clone(),
        advice: class.advice().to_string(),
        can_resolve: resolutions_for(class),
    }
}

/// Which ways of keeping a message make sense for a failure of this kind: a connection or
/// throttling problem is not a refusal (run again); a message too big cannot be wrapped (the
/// wrapped one is bigger still).
fn resolutions_for(class: ErrorClass) -> Vec<ResolutionKind> {
    match class {
        ErrorClass::TooBig => vec![ResolutionKind::Mbox],
        ErrorClass::Rejected | ErrorClass::Other => {
            vec![ResolutionKind::Wrapped, ResolutionKind::Mbox]
        }
        ErrorClass::OverQuota => vec![ResolutionKind::Mbox],
        ErrorClass::Connection | ErrorClass::Throttled | ErrorClass::Login | ErrorClass::Gone => {
            Vec::new()
        }
    }
}

fn resolved_message(r: &ResolutionRow) -> ResolvedMessage {
    ResolvedMessage {
        account: r.account.clone(),
        folder: r.failure.source_folder.clone(),
        uid: r.failure.source_uid,
        key: r.failure.source_key.clone(),
        size: r.failure.size,
        subject: r.failure.subject.clone(),
        date: r.failure.date.clone(),
        class: class_of(&r.failure.class),
        reason: r.failure.server_text.clone(),
        how: r.how.into(),
        dest_folder: r.dest_folder.clone(),
        dest_uid: r.dest_uid,
        mbox_path: r.mbox_path.clone(),
        at: r.at.clone(),
    }
}

/// Builds one account's review from what was measured and the ledger's failures and
/// resolutions. A message kept another way is counted apart, never as missing; a missing message
/// without a failure on record is listed as "not copied yet".
pub fn review_account(
    facts: &AccountFacts,
    failures: &[FailureRow],
    resolutions: &[ResolutionRow],
) -> AccountReview {
    let account = facts.account.as_str();
    let done: Vec<&ResolutionRow> = resolutions
        .iter()
        .filter(|r| r.done && r.account == account)
        .collect();
    let resolved_keys: BTreeSet<(&str, &str)> = done
        .iter()
        .map(|r| {
            (
                r.failure.source_folder.as_str(),
                r.failure.source_key.as_str(),
            )
        })
        .collect();
    let mut out = AccountReview {
        account: account.to_string(),
        error: facts.error.clone(),
        ..Default::default()
    };
    for r in &done {
        out.resolved_counts.add(r.how.into());
        out.resolved.push(resolved_message(r));
    }
    // With a verification, a failure on record counts only while its message is still missing
    // (one deleted on the old server since, or copied by other means, is not).
    let still_missing: Option<BTreeSet<(&str, &str)>> = facts.verification.as_ref().map(|v| {
        v.folders
            .iter()
            .flat_map(|f| f.missing.iter())
            .map(|m| (m.folder.as_str(), m.key.as_str()))
            .collect()
    });
    let mut listed: BTreeSet<(String, String)> = BTreeSet::new();
    for f in failures {
        let key = (f.source_folder.as_str(), f.source_key.as_str());
        if resolved_keys.contains(&key) || still_missing.as_ref().is_some_and(|m| !m.contains(&key))
        {
            continue;
        }
        listed.insert((f.source_folder.clone(), f.source_key.clone()));
        out.failures.push(failed_message(account, f));
    }
    if let Some(v) = &facts.verification {
        let sizes: HashMap<&str, &FolderSizes> =
            facts.sizes.iter().map(|s| (s.dest.as_str(), s)).collect();
        for fv in &v.folders {
            let mut folder = FolderReview {
                sources: fv.sources.clone(),
                dest: fv.dest.clone(),
                source_messages: fv.source_messages,
                dest_matching: fv.dest_matching,
                dest_other: fv.dest_other,
                dest_messages: fv.dest_matching + fv.dest_other,
                // The engine's verification sets resolved messages apart itself.
                resolved: fv.resolved,
                ..Default::default()
            };
            if let Some(s) = sizes.get(fv.dest.as_str()) {
                folder.source_bytes = s.source_bytes;
                folder.dest_bytes = s.dest_bytes;
                folder.dest_messages = s.dest_messages;
            }
            for m in &fv.missing {
                if resolved_keys.contains(&(m.folder.as_str(), m.key.as_str())) {
                    folder.resolved += 1;
                    continue;
                }
                folder.missing += 1;
                if listed.insert((m.folder.clone(), m.key.clone())) {
                    out.failures.push(FailedMessage {
                        account: account.to_string(),
                        folder: m.folder.clone(),
                        uid: m.uid,
                        key: m.key.clone(),
                        size: m.size,
                        subject: None,
                        date: None,
                        class: None,
                        reason: "not copied yet".into(),
                        advice: "run the sync again: it copies only what is missing".into(),
                        can_resolve: Vec::new(),
                    });
                }
            }
            out.source_messages += folder.source_messages;
            out.source_bytes += folder.source_bytes;
            out.dest_messages += folder.dest_messages;
            out.dest_bytes += folder.dest_bytes;
            out.missing += folder.missing;
            out.folders.push(folder);
        }
    }
    out
}

/// Puts the accounts' reviews together with the totals.
pub fn review_of(accounts: Vec<AccountReview>) -> Review {
    let mut r = Review {
        ok: true,
        ..Default::default()
    };
    for a in &accounts {
        r.source_messages += a.source_messages;
        r.source_bytes += a.source_bytes;
        r.dest_messages += a.dest_messages;
        r.dest_bytes += a.dest_bytes;
        r.missing += a.missing;
        r.failed += a.failures.iter().filter(|f| f.class.is_some()).count() as u64;
        r.resolved.wrapped += a.resolved_counts.wrapped;
        r.resolved.mbox += a.resolved_counts.mbox;
        if a.error.is_some() || a.missing > 0 || !a.failures.is_empty() {
            r.ok = false;
        }
    }
    r.resolved_text = r.resolved.text();
    r.accounts = accounts;
    r
}

// ---------------------------------------------------------------------------------------------
// The sides of a pair, as the sync builds them

fn state_path(opts: &RunOptions, pairs: &[AccountPair]) -> PathBuf {
    opts.state.clone().unwrap_or_else(|| {
        default_state_path(
            pairs
                .first()
                .map_or("none", |p| p.dest.endpoint.host.as_str()),
        )
    })
}

fn source_of(spec: &SourceSpec, connections: usize) -> Result<AnySource> {
    Ok(match spec {
        SourceSpec::Imap(a) => AnySource::Imap(crate::sync::imap_side(a, connections, None)),
        SourceSpec::Maildir(p) => {
            AnySource::Maildir(MaildirSource::open(p, Default::default()).map_err(|e| {
                crate::sync::SyncSetupError::Maildir {
                    path: p.clone(),
                    reason: e.text,
                }
            })?)
        }
    })
}

struct Sides {
    source: Arc<AnySource>,
    dest: Arc<ImapSide>,
    account: String,
}

fn sides(pair: &AccountPair, opts: &RunOptions) -> Result<Sides> {
    let source = Arc::new(source_of(&pair.source, opts.connections.max(1))?);
    let dest = Arc::new(crate::sync::imap_side(
        &pair.dest,
        opts.connections.max(1),
        opts.sync.max_message_size,
    ));
    let account = account_key(source.as_ref(), dest.as_ref());
    Ok(Sides {
        source,
        dest,
        account,
    })
}

fn src_text(e: SideError) -> ReviewError {
    ReviewError::Source(e.text)
}

fn dst_text(e: SideError) -> ReviewError {
    ReviewError::Dest(e.text)
}

/// The folder plan of a pair, as the sync makes it.
async fn plan_of(s: &Sides, rules: &MappingRules) -> Result<mapping::FolderPlan> {
    let sfolders = s.source.folders().await.map_err(src_text)?;
    let sns = s.source.namespace().await.map_err(src_text)?;
    let dfolders = Destination::folders(s.dest.as_ref())
        .await
        .map_err(dst_text)?;
    let dns = Destination::namespace(s.dest.as_ref())
        .await
        .map_err(dst_text)?;
    let listed: Vec<ListedFolder> = sfolders.into_iter().map(|f| f.folder).collect();
    Ok(mapping::plan(&listed, &sns, &dfolders, &dns, rules))
}

/// Bytes on both sides, per destination folder.
async fn measure(s: &Sides, rules: &MappingRules) -> Result<Vec<FolderSizes>> {
    let plan = plan_of(s, rules).await?;
    let existing: BTreeSet<String> = Destination::folders(s.dest.as_ref())
        .await
        .map_err(dst_text)?
        .into_iter()
        .map(|f| f.name)
        .collect();
    let mut by_dest: BTreeMap<String, FolderSizes> = BTreeMap::new();
    for m in &plan.folders {
        let entry = by_dest
            .entry(m.dest.clone())
            .or_insert_with(|| FolderSizes {
                dest: m.dest.clone(),
                ..Default::default()
            });
        let metas = s.source.list(&m.source, 1).await.map_err(src_text)?;
        entry.source_bytes += metas.iter().map(|x| x.size).sum::<u64>();
    }
    for (dest, entry) in by_dest.iter_mut() {
        if existing.contains(dest) {
            let on_dest = s.dest.identities(dest, 1).await.map_err(dst_text)?;
            entry.dest_messages = on_dest.len() as u64;
            entry.dest_bytes = on_dest.iter().map(|d| d.size).sum();
        }
    }
    Ok(by_dest.into_values().collect())
}

/// Reviews every pair: the engine's verification (by identity, counted), sizes on both sides,
/// and the ledger's failures and resolutions. Reads only; may run while nothing syncs.
pub async fn run_review(pairs: Vec<AccountPair>, opts: RunOptions) -> Result<Review> {
    let path = state_path(&opts, &pairs);
    let state = Arc::new(Mutex::new(StateDb::open_read_only(&path)?));
    let mut accounts = Vec::new();
    for pair in &pairs {
        let s = sides(pair, &opts)?;
        let mut facts = AccountFacts {
            account: s.account.clone(),
            ..Default::default()
        };
        match ferry_sync::verify_account(
            s.source.clone(),
            s.dest.clone(),
            Some(state.clone()),
            &opts.sync.rules,
        )
        .await
        {
            Ok(v) => facts.verification = Some(v),
            Err(e) => facts.error = Some(e.to_string()),
        }
        if facts.error.is_none() {
            match measure(&s, &opts.sync.rules).await {
                Ok(sizes) => facts.sizes = sizes,
                Err(e) => facts.error = Some(e.to_string()),
            }
        }
        let (failures, resolutions) = {
            let db = state.lock().unwrap_or_else(|p| p.into_inner());
            (db.failures(&s.account)?, db.resolutions(Some(&s.account))?)
        };
        accounts.push(review_account(&facts, &failures, &resolutions));
    }
    Ok(review_of(accounts))
}

// ---------------------------------------------------------------------------------------------
// Retry

/// One earlier failure and what the retry made of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RetriedMessage {
    pub before: FailedMessage,
    /// On the destination now.
    pub copied: bool,
    /// Still failing: the latest reason (may differ from the one before).
    pub now: Option<FailedMessage>,
}

/// What a retry did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RetryReport {
    /// (account, old server's folder) visited: only those with failures.
    pub folders: Vec<(String, String)>,
    /// One sync report per account retried.
    pub runs: Vec<SyncReport>,
    pub messages: Vec<RetriedMessage>,
    /// Earlier failures copied now.
    pub now_copied: u64,
    pub still_failing: u64,
    /// "2 of 3 messages copied now; 1 still fails" (or "nothing to retry").
    pub summary: String,
}

/// The path of a source folder as include patterns see it: without the namespace prefix,
/// `/`-separated (as `ferry_sync::mapping` compares them).
fn include_path(folder: &ListedFolder, ns: &Namespace) -> String {
    if folder.name.eq_ignore_ascii_case("INBOX") {
        return "INBOX".into();
    }
    let delim = folder.delimiter.unwrap_or(ns.delimiter);
    let stripped = match folder.name.get(..ns.prefix.len()) {
        Some(p) if !ns.prefix.is_empty() && p.eq_ignore_ascii_case(&ns.prefix) => {
            &folder.name[ns.prefix.len()..]
        }
        _ => folder.name.as_str(),
    };
    let mut parts: Vec<&str> = stripped.split(delim).collect();
    if parts
        .first()
        .is_some_and(|p| p.eq_ignore_ascii_case("INBOX"))
    {
        parts[0] = "INBOX";
    }
    parts.join("/")
}

/// Runs the sync again for just the accounts and folders with failures on record (the other
/// folders are not visited), and tells what changed for each of those messages. A re-run copies
/// only what is missing: nothing is copied twice.
pub async fn retry(
    pairs: Vec<AccountPair>,
    opts: RunOptions,
    progress: ProgressFn,
) -> Result<RetryReport> {
    let path = state_path(&opts, &pairs);
    let mut report = RetryReport::default();
    let before: Vec<(usize, Vec<FailureRow>, String)> = {
        let db = StateDb::open_read_only(&path)?;
        let mut v = Vec::new();
        for (i, pair) in pairs.iter().enumerate() {
            let s = sides(pair, &opts)?;
            let failures = db.failures(&s.account)?;
            if !failures.is_empty() {
                v.push((i, failures, s.account));
            }
        }
        v
    };
    for (i, failures, account) in before {
        let pair = &pairs[i];
        let s = sides(pair, &opts)?;
        let ns = s.source.namespace().await.map_err(src_text)?;
        let listed = s.source.folders().await.map_err(src_text)?;
        let wanted: BTreeSet<&str> = failures.iter().map(|f| f.source_folder.as_str()).collect();
        let mut include = Vec::new();
        for f in listed
            .iter()
            .filter(|f| wanted.contains(f.folder.name.as_str()))
        {
            include.push(include_path(&f.folder, &ns));
            report
                .folders
                .push((account.clone(), f.folder.name.clone()));
        }
        // A folder with failures that the source no longer lists: nothing to visit; its
        // messages show as still failing below.
        if !include.is_empty() {
            let mut run_opts = opts.clone();
            run_opts.state = Some(path.clone());
            run_opts.sync.rules.include = include;
            let run = crate::sync::run_sync(vec![pair.clone()], run_opts, progress.clone()).await?;
            report.runs.push(run);
        }
        let db = StateDb::open_read_only(&path)?;
        let after: HashMap<(String, String), FailureRow> = db
            .failures(&account)?
            .into_iter()
            .map(|f| ((f.source_folder.clone(), f.source_key.clone()), f))
            .collect();
        let mut settled_by_folder: HashMap<String, BTreeSet<String>> = HashMap::new();
        for f in &failures {
            if !settled_by_folder.contains_key(&f.source_folder) {
                let keys = db.settled_keys(&account, &f.source_folder, f.source_uidvalidity)?;
                settled_by_folder.insert(f.source_folder.clone(), keys.into_iter().collect());
            }
            let copied = settled_by_folder[&f.source_folder].contains(&f.source_key);
            let now = after
                .get(&(f.source_folder.clone(), f.source_key.clone()))
                .map(|row| failed_message(&account, row));
            if copied {
                report.now_copied += 1;
            } else {
                report.still_failing += 1;
            }
            report.messages.push(RetriedMessage {
                before: failed_message(&account, f),
                copied,
                now,
            });
        }
    }
    let total = report.now_copied + report.still_failing;
    report.summary = if total == 0 {
        "nothing to retry: no failed message is on record".into()
    } else if total == 1 && report.still_failing == 0 {
        "the failed message is copied now".into()
    } else if total == 1 {
        "the failed message still fails".into()
    } else if report.still_failing == 0 {
        format!("all {total} failed messages are copied now")
    } else {
        format!(
            "{} of {total} failed messages copied now; {} still {}",
            report.now_copied,
            report.still_failing,
            if report.still_failing == 1 {
                "fails"
            } else {
                "fail"
            }
        )
    };
    Ok(report)
}

// ---------------------------------------------------------------------------------------------
// Keeping a refused message: wrapped, or in an mbox file

/// Which message: its folder on the old server and its key in the ledger ([`FailedMessage`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MessageRef {
    pub folder: String,
    pub key: String,
}

/// How to keep a refused message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum ResolveChoice {
    /// Deliver it wrapped: a short note saying why, the original attached unchanged.
    Wrapped,
    /// Append it to this mbox file (created when missing).
    Mbox { path: String },
}

/// What the note of a wrapped message says about the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapFacts {
    pub subject: Option<String>,
    pub sender_name: Option<String>,
    pub sender_address: Option<String>,
    pub date: Option<String>,
    pub folder: String,
    /// Why the new server refused it, in a person's words.
    pub why: String,
}

impl WrapFacts {
    /// Subject, sender and date as the original's header says (encoded words decoded).
    pub fn of(original: &[u8], folder: &str, why: String) -> WrapFacts {
        let (subject, sender_name, date, sender_address) = describe(original);
        WrapFacts {
            subject,
            sender_name,
            sender_address,
            date,
            folder: folder.to_string(),
            why,
        }
    }

    fn sender_shown(&self) -> Option<String> {
        match (&self.sender_name, &self.sender_address) {
            (Some(n), Some(a)) => Some(format!("{n} <{a}>")),
            (Some(n), None) => Some(n.clone()),
            (None, Some(a)) => Some(a.clone()),
            (None, None) => None,
        }
    }
}

/// Why, in a person's words: the kind of refusal, then the server's own words.
pub fn why_refused(class: ErrorClass, server_text: &str, size: u64) -> String {
    let kind = match class {
        ErrorClass::TooBig => format!(
            "It is larger ({}) than the new server accepts.",
            crate::report::human_bytes(size)
        ),
        ErrorClass::OverQuota => "The mailbox on the new server was full.".to_string(),
        _ => "The new server refused to store it as it was.".to_string(),
    };
    format!("{kind} The server said: \"{}\"", server_text.trim())
}

fn message_parser() -> mail_parser::MessageParser {
    mail_parser::MessageParser::default()
}

/// Subject, sender's name, date and sender's address of a message, decoded for people (encoded
/// words, folded lines).
fn describe(
    original: &[u8],
) -> (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
) {
    let Some(msg) = message_parser().parse_headers(original) else {
        return (None, None, None, None);
    };
    let subject = msg.subject().map(str::to_string);
    let first = msg.from().and_then(|a| a.first());
    let name = first.and_then(|a| a.name()).map(str::to_string);
    let address = first.and_then(|a| a.address()).map(str::to_string);
    let date = msg.date().map(|d| d.to_rfc822());
    (subject, name, date, address)
}

/// Header value as printable ASCII: kept when it is, else RFC 2047 encoded words (UTF-8, base64)
/// of at most 75 characters each, on folded lines. Line ends and controls become spaces.
fn header_value(value: &str) -> String {
    let clean: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean: String = clean.chars().take(300).collect();
    if clean.is_ascii() && clean.len() <= 900 {
        return clean;
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in clean.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| {
            format!(
                "=?UTF-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

fn base64_lines(bytes: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 76 * 2 + 2);
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push_str("\r\n");
    }
    out
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The wrapped message: `multipart/mixed`, a short `text/plain` note (UTF-8) saying what the
/// original is and why it was refused, and the original's bytes unchanged as a `message/rfc822`
/// attachment. The attachment is base64-encoded: the only form that carries bytes the host
/// refused (NUL, bare CR, 8-bit or malformed header lines) past its checks; decoded, it is the
/// original byte for byte. `seed` names the message in the ledger: the same seed and original
/// give the same bytes (and Message-ID), so a delivery cut short is found again, not repeated.
pub fn wrap_message(
    original: &[u8],
    facts: &WrapFacts,
    internal_date: Option<DateTime<FixedOffset>>,
    seed: &str,
) -> Vec<u8> {
    let digest = {
        let mut h = Sha256::new();
        h.update(seed.as_bytes());
        h.update([0]);
        h.update(original);
        hex_of(&h.finalize())
    };
    let boundary = format!("ferry-wrapped-{}", &digest[..24]);
    let from = match facts.sender_address.as_deref().filter(|a| {
        a.is_ascii()
            && a.contains('@')
            && !a
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>\"(),;:\\[]".contains(c))
    }) {
        Some(a) => match facts.sender_name.as_deref().map(str::trim) {
            Some(name) if !name.is_empty() && name != a => {
                let name: String = name.chars().filter(|c| !c.is_control()).collect();
                if name.is_ascii() {
                    let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
                    format!("\"{quoted}\" <{a}>")
                } else {
                    // Encoded words stand alone, never inside quotes (RFC 2047, 5).
                    format!("{} <{a}>", header_value(&name))
                }
            }
            _ => format!("<{a}>"),
        },
        None => "Ferry <ferry@invalid>".to_string(),
    };
    let date = facts
        .date
        .clone()
        .or_else(|| internal_date.map(|d| d.to_rfc2822()))
        .unwrap_or_else(|| "Thu, 01 Jan 1970 00:00:00 +0000".to_string());
    let subject = facts.subject.as_deref().unwrap_or("(no subject)");
    let note = format!(
        "The new mail server refused to store this message as it was, so it was delivered\r\n\
         this way during the move: the original message is attached, unchanged.\r\n\
         Open the attachment to read it.\r\n\
         \r\n\
         Subject: {subject}\r\n\
         From:    {sender}\r\n\
         Date:    {date_shown}\r\n\
         Folder:  {folder} (on the old server)\r\n\
         \r\n\
         Why it was refused: {why}\r\n",
        sender = facts
            .sender_shown()
            .unwrap_or_else(|| "(unknown sender)".into()),
        date_shown = facts.date.as_deref().unwrap_or("(no date)"),
        folder = facts.folder,
        why = facts.why,
    );
    // Control characters of the original's headers must not reach the note as bare CR or NUL.
    let note: String = note
        .chars()
        .map(|c| {
            if c.is_control() && c != '\r' && c != '\n' {
                ' '
            } else {
                c
            }
        })
        .collect();
    let mut out = Vec::with_capacity(original.len() * 4 / 3 + 2048);
    let mut line = |s: &str| {
        out.extend_from_slice(s.as_bytes());
        out.extend_from_slice(b"\r\n");
    };
    line(&format!("From: {from}"));
    line(&format!("Date: {}", header_value(&date)));
    line(&format!(
        "Subject: {}",
        header_value(&format!("[original attached] {subject}"))
    ));
    line(&format!(
        "Message-ID: <wrapped.{}@ferry.invalid>",
        &digest[..32]
    ));
    line("MIME-Version: 1.0");
    line("X-Ferry-Wrapped: the original message is attached unchanged");
    line(&format!(
        "Content-Type: multipart/mixed; boundary=\"{boundary}\""
    ));
    line("");
    line("This is a message in MIME format: the original is attached.");
    line("");
    line(&format!("--{boundary}"));
    line("Content-Type: text/plain; charset=utf-8");
    line("Content-Transfer-Encoding: base64");
    line("");
    out.extend_from_slice(base64_lines(note.as_bytes()).as_bytes());
    let mut line = |s: &str| {
        out.extend_from_slice(s.as_bytes());
        out.extend_from_slice(b"\r\n");
    };
    line(&format!("--{boundary}"));
    line("Content-Type: message/rfc822; name=\"original.eml\"");
    line("Content-Disposition: attachment; filename=\"original.eml\"");
    line("Content-Transfer-Encoding: base64");
    line("");
    out.extend_from_slice(base64_lines(original).as_bytes());
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

/// Keeps one refused message of `pair`: delivered wrapped in the same destination folder with
/// the same flags and INTERNALDATE, or appended to an mbox file (mboxrd). Recorded in the ledger
/// before and after, so that asking again (or after a crash) never delivers it twice; a message
/// already kept is returned as it was kept. Takes the ledger's lock: refused while a sync runs.
pub async fn resolve(
    pair: &AccountPair,
    opts: &RunOptions,
    message: &MessageRef,
    choice: &ResolveChoice,
) -> Result<ResolvedMessage> {
    let s = sides(pair, opts)?;
    let path = state_path(opts, std::slice::from_ref(pair));
    let db = StateDb::open(&path)?;
    let earlier: Option<ResolutionRow> = db
        .resolutions(Some(&s.account))?
        .into_iter()
        .find(|r| r.failure.source_folder == message.folder && r.failure.source_key == message.key);
    if let Some(r) = earlier.as_ref().filter(|r| r.done) {
        return Ok(resolved_message(r));
    }
    let failure = match db
        .failures(&s.account)?
        .into_iter()
        .find(|f| f.source_folder == message.folder && f.source_key == message.key)
    {
        Some(f) => f,
        None => match &earlier {
            Some(r) => r.failure.clone(),
            None => {
                return Err(ReviewError::NotFailed {
                    account: s.account.clone(),
                    folder: message.folder.clone(),
                    key: message.key.clone(),
                })
            }
        },
    };
    let class = class_of(&failure.class);
    // A wrapped copy is still tried for a message too big for the host: the size check below
    // names the way out. Passing failures (connection, throttling, login) are not refusals.
    if resolutions_for(class).is_empty() {
        return Err(ReviewError::NotRefused {
            folder: message.folder.clone(),
            key: message.key.clone(),
            reason: failure.server_text.clone(),
        });
    }
    let gone = || ReviewError::SourceGone {
        folder: message.folder.clone(),
        key: message.key.clone(),
    };
    let status = s.source.status(&message.folder).await.map_err(src_text)?;
    if status.uid_validity != failure.source_uidvalidity {
        return Err(gone());
    }
    let meta = s
        .source
        .list(&message.folder, failure.source_uid.unwrap_or(1))
        .await
        .map_err(src_text)?
        .into_iter()
        .find(|m| m.key == message.key)
        .ok_or_else(gone)?;
    let original = s
        .source
        .fetch(&message.folder, std::slice::from_ref(&meta))
        .await
        .map_err(src_text)?
        .into_iter()
        .next()
        .ok_or_else(gone)?
        .bytes;
    let plan = plan_of(&s, &opts.sync.rules).await?;
    let mapped = plan
        .folders
        .iter()
        .find(|m| m.source == message.folder)
        .ok_or_else(|| ReviewError::NotMapped {
            folder: message.folder.clone(),
        })?;
    let dest_folder = mapped.dest.clone();
    let flags: Vec<String> = meta
        .flags
        .iter()
        .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
        .cloned()
        .collect();
    let done = |dest_uid| ResolutionDone {
        identity: Identity::of(&original).0,
        flags: flags.clone(),
        dest_folder: dest_folder.clone(),
        dest_uid,
    };
    match choice {
        ResolveChoice::Wrapped => {
            let mut facts = WrapFacts::of(
                &original,
                &message.folder,
                why_refused(class, &failure.server_text, failure.size),
            );
            facts.subject = facts.subject.or_else(|| failure.subject.clone());
            facts.date = facts.date.or_else(|| failure.date.clone());
            let seed = format!(
                "{}\0{}\0{}\0{}",
                s.account, failure.source_folder, failure.source_uidvalidity, failure.source_key
            );
            let wrapped = wrap_message(&original, &facts, meta.internal_date, &seed);
            let limit = match (opts.sync.max_message_size, s.dest.max_message_size()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if let Some(limit) = limit.filter(|l| wrapped.len() as u64 > *l) {
                return Err(ReviewError::WrappedTooBig {
                    size: wrapped.len() as u64,
                    limit,
                });
            }
            let identity = Identity::of(&wrapped).0;
            if mapped.create {
                s.dest.create(&dest_folder).await.map_err(dst_text)?;
            }
            // A delivery started earlier and not confirmed: look for it before sending again.
            let mut landed = None;
            if earlier
                .as_ref()
                .is_some_and(|r| r.delivered_identity.as_deref() == Some(identity.as_str()))
            {
                let dst_status = Destination::status(s.dest.as_ref(), &dest_folder)
                    .await
                    .map_err(dst_text)?;
                landed = s
                    .dest
                    .identities(&dest_folder, 1)
                    .await
                    .map_err(dst_text)?
                    .into_iter()
                    .find(|d| d.identity.0 == identity)
                    .map(|d| Some((dst_status.uid_validity, d.uid)));
            }
            let dest_uid = match landed {
                Some(uid) => uid,
                None => {
                    db.begin_resolution(
                        &s.account,
                        &failure,
                        ResolutionHow::Wrapped,
                        Some(&dest_folder),
                        None,
                        Some(&identity),
                    )?;
                    let request = AppendRequest {
                        flags: &flags,
                        internal_date: meta.internal_date,
                        bytes: &wrapped,
                    };
                    let result = s
                        .dest
                        .append_many(&dest_folder, std::slice::from_ref(&request))
                        .await
                        .map_err(dst_text)?;
                    match result.into_iter().next() {
                        Some(Ok(uid)) => uid.map(|u| (u.uid_validity, u.uid)),
                        Some(Err(e)) if e.class.transient() => return Err(dst_text(e)),
                        Some(Err(e)) => return Err(ReviewError::WrapRefused { reason: e.text }),
                        None => {
                            return Err(ReviewError::Dest(
                                "the server did not answer the delivery".into(),
                            ))
                        }
                    }
                }
            };
            db.finish_resolution(
                &s.account,
                &failure.source_folder,
                failure.source_uidvalidity,
                &failure.source_key,
                &done(dest_uid),
            )?;
        }
        ResolveChoice::Mbox { path: mbox } => {
            let mbox_path = PathBuf::from(mbox);
            let mbox_err = |reason: String| ReviewError::Mbox {
                path: mbox_path.clone(),
                reason,
            };
            let already = earlier
                .as_ref()
                .is_some_and(|r| r.mbox_path.as_deref() == Some(mbox.as_str()))
                && mbox_holds(&mbox_path, &original).map_err(&mbox_err)?;
            if !already {
                db.begin_resolution(
                    &s.account,
                    &failure,
                    ResolutionHow::Mbox,
                    Some(&dest_folder),
                    Some(mbox),
                    None,
                )?;
                let (_, _, _, address) = describe(&original);
                let when: DateTime<Utc> = meta
                    .internal_date
                    .map(|d| d.with_timezone(&Utc))
                    .unwrap_or_else(Utc::now);
                append_mbox(
                    &mbox_path,
                    address.as_deref().unwrap_or(""),
                    when,
                    &original,
                )
                .map_err(&mbox_err)?;
            }
            db.finish_resolution(
                &s.account,
                &failure.source_folder,
                failure.source_uidvalidity,
                &failure.source_key,
                &done(None),
            )?;
        }
    }
    let row = db
        .resolutions(Some(&s.account))?
        .into_iter()
        .find(|r| r.failure.source_folder == message.folder && r.failure.source_key == message.key)
        .ok_or_else(|| ReviewError::NotFailed {
            account: s.account.clone(),
            folder: message.folder.clone(),
            key: message.key.clone(),
        })?;
    Ok(resolved_message(&row))
}

fn append_mbox(
    path: &Path,
    sender: &str,
    when: DateTime<Utc>,
    message: &[u8],
) -> Result<(), String> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        ferry_safeio::fs::create_private_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let mut file = ferry_safeio::fs::open_append(path, ferry_safeio::fs::PRIVATE_FILE)
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(message.len() + 128);
    ferry_cutover::mbox::write_message(&mut buf, sender, when, message)
        .map_err(|e| e.to_string())?;
    file.write_all(&buf).map_err(|e| e.to_string())?;
    file.sync_all().map_err(|e| e.to_string())
}

/// Whether the mbox file already holds this message (a write not recorded as finished).
fn mbox_holds(path: &Path, message: &[u8]) -> Result<bool, String> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e.to_string()),
    };
    let mut wanted = message.to_vec();
    if !wanted.ends_with(b"\n") {
        wanted.push(b'\n');
    }
    Ok(ferry_cutover::mbox::parse(&data)
        .unwrap_or_default()
        .iter()
        .any(|m| m.bytes == wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_in_words() {
        let mut c = ResolvedCounts::default();
        assert_eq!(c.text(), "");
        for _ in 0..3 {
            c.add(ResolutionKind::Wrapped);
        }
        c.add(ResolutionKind::Mbox);
        assert_eq!(c.text(), "3 delivered wrapped, 1 exported to mbox");
    }

    #[test]
    fn header_values_are_ascii_and_fold() {
        assert_eq!(header_value("plain"), "plain");
        assert_eq!(header_value("a\r\nBcc: x"), "a  Bcc: x");
        let v = header_value(&"é".repeat(40));
        assert!(v.is_ascii(), "{v}");
        assert!(v.lines().all(|l| l.len() <= 76), "{v}");
        assert!(v.starts_with("=?UTF-8?B?"), "{v}");
    }

    #[test]
    fn include_paths_strip_the_prefix_and_use_slashes() {
        let ns = Namespace {
            prefix: "INBOX.".into(),
            delimiter: '.',
        };
        let f = |name: &str| ListedFolder {
            name: name.into(),
            delimiter: Some('.'),
            special_use: None,
            no_select: false,
        };
        assert_eq!(
            include_path(&f("INBOX.Projects.2024"), &ns),
            "Projects/2024"
        );
        assert_eq!(include_path(&f("INBOX"), &ns), "INBOX");
        let flat = Namespace {
            prefix: String::new(),
            delimiter: '.',
        };
        assert_eq!(include_path(&f("Archive.Old"), &flat), "Archive/Old");
        assert!(mapping::pattern_matches(
            &include_path(&f("Archive.Old"), &flat),
            "Archive/Old"
        ));
    }
}
