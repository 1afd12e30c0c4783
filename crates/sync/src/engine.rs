//! The engine: one account pair at a time (callers run several accounts at once), folders grouped
//! by destination folder, each group in order, groups in parallel; within a folder, batches of
//! messages read and appended on several connections at once, bounded in count and bytes.
//!
//! Exactly once: every APPEND is preceded by a committed intent row and followed by a
//! confirmation. Intents left open by a crash or a cut connection are settled at the start of the
//! next round by looking at the destination (identity of the messages above the UID floor recorded
//! with the intent), never by copying blindly.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use crate::error::{ErrorClass, SideError, SyncError};
use crate::identity::{self, pair_up, Identity, IdentityCounter};
use crate::mapping::{self, FolderMapping, MappingRules};
use crate::report::{AccountSummary, FolderSummary, MessageFailure, Progress};
use crate::side::{AppendRequest, Destination, FetchedMessage, FolderStatus, MessageMeta, Source};
use crate::state::{flags_text, CopiedRow, FailureRow, FolderState, Intent, StateDb};

/// Tuning and behaviour of a run.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    pub rules: MappingRules,
    /// Show the plan and the counts; write nothing anywhere.
    pub dry_run: bool,
    /// Messages per source fetch.
    pub batch_messages: usize,
    /// Bytes per source fetch (a batch closes at whichever limit comes first).
    pub batch_bytes: u64,
    /// Batches in flight per account (should not exceed the connections of either side).
    pub parallel: usize,
    /// Destination folders worked on at once.
    pub parallel_folders: usize,
    /// A limit below the destination's own (e.g. a provider preset's).
    pub max_message_size: Option<u64>,
    /// Rounds after transient failures (connection lost, throttled).
    pub retry_rounds: u32,
    /// First back-off after a transient failure (doubles each round).
    pub backoff: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            rules: MappingRules::default(),
            dry_run: false,
            batch_messages: 100,
            // Bounds memory: `parallel` batches of this size at most are read and not yet appended.
            batch_bytes: 8 * 1024 * 1024,
            parallel: 4,
            parallel_folders: 2,
            max_message_size: None,
            retry_rounds: 4,
            backoff: Duration::from_millis(500),
        }
    }
}

pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// The state DB is shared by accounts and tasks; calls are short and never held across an await.
pub type SharedState = Arc<Mutex<StateDb>>;

/// Account key in the state DB: which source goes to which destination.
pub fn account_key<S: Source, D: Destination>(source: &S, dest: &D) -> String {
    format!("{} => {}", source.account(), dest.account())
}

struct Ctx<S, D> {
    source: Arc<S>,
    dest: Arc<D>,
    state: SharedState,
    opts: SyncOptions,
    progress: ProgressFn,
    account: String,
    counters: Counters,
    /// Batches read and not yet appended, across all folders of the account: `parallel` at most.
    /// Folders worked on at once share it, so a batch never sits in memory waiting for a
    /// connection: memory stays within `parallel` x `batch_bytes` (or the largest message).
    batches_in_flight: tokio::sync::Semaphore,
}

#[derive(Default)]
struct Counters {
    copied: AtomicU64,
    bytes: AtomicU64,
    already: AtomicU64,
    skipped: AtomicU64,
    failed: AtomicU64,
    recovered: AtomicU64,
    total_messages: AtomicU64,
    total_bytes: AtomicU64,
    /// Per source folder: messages copied again because the destination folder lost them.
    recopied: Mutex<BTreeMap<String, u64>>,
    /// A transient failure happened: another round is worth it. Holds the longest wait asked.
    transient: Mutex<Option<Duration>>,
}

impl<S: Source, D: Destination> Ctx<S, D> {
    fn db<T>(&self, f: impl FnOnce(&StateDb) -> Result<T, SyncError>) -> Result<T, SyncError> {
        let guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&guard)
    }

    fn src_err(&self, error: SideError) -> SyncError {
        SyncError::Source {
            source_name: self.source.describe(),
            error,
        }
    }

    fn dst_err(&self, error: SideError) -> SyncError {
        SyncError::Destination {
            dest: self.dest.describe(),
            error,
        }
    }

    fn note_transient(&self, e: &SideError) {
        let mut t = self
            .counters
            .transient
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let wait = e.wait.unwrap_or_default();
        *t = Some(t.map_or(wait, |w| w.max(wait)));
    }

    /// Flag changes that could not be sent are tried again by the next round (when the failure
    /// was transient) or the next run: the ledger still holds the old flags or mod-sequence.
    fn flags_not_sent(&self, folder: &str, e: &SyncError) {
        tracing::warn!(folder, error = %e, "flag changes not sent; retried later");
        if let SyncError::Source { error, .. } | SyncError::Destination { error, .. } = e {
            if error.class.transient() {
                self.note_transient(error);
            }
        }
    }

    fn emit(&self, p: Progress) {
        (self.progress)(&p);
    }

    fn fail(
        &self,
        folder: &str,
        uidvalidity: u32,
        meta: &MessageMeta,
        headers: Option<&[u8]>,
        class: ErrorClass,
        text: &str,
    ) -> Result<(), SyncError> {
        let row = FailureRow {
            source_folder: folder.to_string(),
            source_uidvalidity: uidvalidity,
            source_key: meta.key.clone(),
            source_uid: meta.uid,
            size: meta.size,
            class: class_name(class).to_string(),
            subject: headers.and_then(identity::subject),
            date: headers.and_then(identity::date_header),
            server_text: text.to_string(),
        };
        if !self.opts.dry_run {
            self.db(|db| db.record_failure(&self.account, &row))?;
        }
        if class == ErrorClass::TooBig {
            self.counters.skipped.fetch_add(1, Ordering::Relaxed);
        } else {
            self.counters.failed.fetch_add(1, Ordering::Relaxed);
        }
        self.emit(Progress::Failed {
            failure: failure_of(&self.account, &row),
        });
        Ok(())
    }
}

fn class_name(c: ErrorClass) -> &'static str {
    match c {
        ErrorClass::TooBig => "too_big",
        ErrorClass::OverQuota => "over_quota",
        ErrorClass::Rejected => "rejected",
        ErrorClass::Connection => "connection",
        ErrorClass::Throttled => "throttled",
        ErrorClass::Login => "login",
        ErrorClass::Gone => "gone",
        ErrorClass::Other => "other",
    }
}

fn class_of(name: &str) -> ErrorClass {
    match name {
        "too_big" => ErrorClass::TooBig,
        "over_quota" => ErrorClass::OverQuota,
        "rejected" => ErrorClass::Rejected,
        "connection" => ErrorClass::Connection,
        "throttled" => ErrorClass::Throttled,
        "login" => ErrorClass::Login,
        "gone" => ErrorClass::Gone,
        _ => ErrorClass::Other,
    }
}

fn failure_of(account: &str, r: &FailureRow) -> MessageFailure {
    let class = class_of(&r.class);
    MessageFailure {
        account: account.to_string(),
        folder: r.source_folder.clone(),
        uid: r.source_uid,
        key: r.source_key.clone(),
        size: r.size,
        subject: r.subject.clone(),
        date: r.date.clone(),
        class,
        server_text: r.server_text.clone(),
        advice: class.advice().to_string(),
    }
}

/// Syncs one account pair. Never panics on server behaviour; a fatal problem ends up in
/// `summary.fatal` (and the caller's exit status), per-message problems in `summary.failures`.
pub async fn sync_account<S: Source, D: Destination>(
    source: Arc<S>,
    dest: Arc<D>,
    state: SharedState,
    opts: SyncOptions,
    progress: ProgressFn,
) -> AccountSummary {
    let started = Instant::now();
    let account = account_key(source.as_ref(), dest.as_ref());
    let opts_parallel = opts.parallel.max(1);
    let ctx = Arc::new(Ctx {
        source: source.clone(),
        dest: dest.clone(),
        state,
        opts,
        progress,
        account: account.clone(),
        counters: Counters::default(),
        batches_in_flight: tokio::sync::Semaphore::new(opts_parallel),
    });
    let mut summary = AccountSummary {
        account: account.clone(),
        source: source.describe(),
        dest: dest.describe(),
        dry_run: ctx.opts.dry_run,
        ..Default::default()
    };
    let run_id = if ctx.opts.dry_run {
        None
    } else {
        match ctx.db(|db| db.start_run(&account)) {
            Ok(id) => Some(id),
            Err(e) => {
                summary.fatal = Some(e.to_string());
                return summary;
            }
        }
    };
    if let Err(e) = run(&ctx, &mut summary).await {
        summary.fatal = Some(e.to_string());
    }
    let c = &ctx.counters;
    summary.copied = c.copied.load(Ordering::Relaxed);
    summary.bytes = c.bytes.load(Ordering::Relaxed);
    summary.already_there = c.already.load(Ordering::Relaxed);
    summary.skipped = c.skipped.load(Ordering::Relaxed);
    summary.recovered = c.recovered.load(Ordering::Relaxed);
    summary.recopied_after_dest_reset = c
        .recopied
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .sum();
    summary.seconds = started.elapsed().as_secs_f64();
    if summary.seconds > 0.0 {
        summary.messages_per_second = summary.copied as f64 / summary.seconds;
        summary.bytes_per_second = summary.bytes as f64 / summary.seconds;
    }
    if !ctx.opts.dry_run {
        // The open failures are the truth after this run, whichever run recorded them.
        if let Ok(rows) = ctx.db(|db| db.failures(&account)) {
            summary.failures = rows.iter().map(|r| failure_of(&account, r)).collect();
        }
    }
    summary.failed = summary
        .failures
        .iter()
        .filter(|f| f.class != ErrorClass::TooBig)
        .count() as u64;
    if let Some(id) = run_id {
        let json = serde_json::to_string(&summary).unwrap_or_default();
        let _ = ctx.db(|db| db.finish_run(id, &json));
    }
    ctx.emit(Progress::AccountDone {
        account,
        complete: summary.complete(),
    });
    summary
}

async fn run<S: Source, D: Destination>(
    ctx: &Arc<Ctx<S, D>>,
    summary: &mut AccountSummary,
) -> Result<(), SyncError> {
    let (sfolders, sns, dfolders, dns) = futures::try_join!(
        async { ctx.source.folders().await.map_err(|e| ctx.src_err(e)) },
        async { ctx.source.namespace().await.map_err(|e| ctx.src_err(e)) },
        async { ctx.dest.folders().await.map_err(|e| ctx.dst_err(e)) },
        async { ctx.dest.namespace().await.map_err(|e| ctx.dst_err(e)) },
    )?;
    let listed: Vec<_> = sfolders.iter().map(|f| f.folder.clone()).collect();
    let plan = mapping::plan(&listed, &sns, &dfolders, &dns, &ctx.opts.rules);
    summary.plan = plan.clone();
    ctx.emit(Progress::Planned {
        account: ctx.account.clone(),
        folders: plan.folders.len() as u32,
    });
    let subscribed: HashSet<&str> = sfolders
        .iter()
        .filter(|f| f.subscribed)
        .map(|f| f.folder.name.as_str())
        .collect();

    if !ctx.opts.dry_run {
        ctx.db(|db| db.put_mapping(&ctx.account, &plan))?;
        let mut created = HashSet::new();
        for m in plan.folders.iter().filter(|m| m.create) {
            if created.insert(m.dest.clone()) {
                ctx.dest.create(&m.dest).await.map_err(|e| ctx.dst_err(e))?;
            }
        }
        // Subscriptions travel once, the first time a folder is synced.
        for m in &plan.folders {
            if subscribed.contains(m.source.as_str())
                && ctx.db(|db| db.folder(&ctx.account, &m.source))?.is_none()
            {
                if let Err(e) = ctx.dest.subscribe(&m.dest).await {
                    tracing::warn!(folder = %m.dest, error = %e, "subscribe failed");
                }
            }
        }
    }

    // Group by destination folder: folders that merge into one are done one after the other,
    // so that matching against what the destination already holds sees the other's copies.
    let mut groups: BTreeMap<String, Vec<FolderMapping>> = BTreeMap::new();
    for m in &plan.folders {
        groups.entry(m.dest.clone()).or_default().push(m.clone());
    }
    let created: HashSet<String> = plan
        .folders
        .iter()
        .filter(|m| m.create)
        .map(|m| m.dest.clone())
        .collect();

    let mut folder_summaries: HashMap<String, FolderSummary> = HashMap::new();
    let rounds = if ctx.opts.dry_run {
        1
    } else {
        ctx.opts.retry_rounds.max(1)
    };
    let mut backoff = ctx.opts.backoff;
    for round in 0..rounds {
        *ctx.counters
            .transient
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
        if !ctx.opts.dry_run {
            match settle_pending(ctx).await {
                Ok(()) => {}
                Err(e) if e.class().transient() => {
                    tracing::warn!(error = %e, "settling open intents failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        let results: Vec<Result<Vec<FolderSummary>, SyncError>> = stream::iter(groups.values())
            .map(|group| {
                let ctx = ctx.clone();
                let created = &created;
                async move {
                    let mut out = Vec::new();
                    if let Some(first) = group.first() {
                        check_dest_reset(&ctx, &first.dest).await?;
                    }
                    for m in group {
                        out.push(sync_folder(&ctx, m, created.contains(&m.dest)).await?);
                    }
                    Ok(out)
                }
            })
            .buffer_unordered(ctx.opts.parallel_folders.max(1))
            .collect()
            .await;
        for r in results {
            match r {
                Ok(list) => {
                    for fs in list {
                        let entry = folder_summaries.entry(fs.source.clone()).or_default();
                        if round == 0 {
                            *entry = fs;
                        } else {
                            entry.copied += fs.copied;
                            entry.already_there += fs.already_there;
                            entry.skipped += fs.skipped;
                            entry.failed = fs.failed;
                            entry.bytes += fs.bytes;
                            entry.unchanged &= fs.unchanged;
                            entry.flags_updated += fs.flags_updated;
                        }
                    }
                }
                Err(e) if e.class().transient() => ctx.note_transient(&match &e {
                    SyncError::Source { error, .. } | SyncError::Destination { error, .. } => {
                        error.clone()
                    }
                    SyncError::State { .. } => SideError::new(ErrorClass::Other, e.to_string()),
                }),
                Err(e) => return Err(e),
            }
        }
        let transient = *ctx
            .counters
            .transient
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match transient {
            None => break,
            Some(wait) if round + 1 < rounds => {
                let wait = wait.max(backoff);
                tracing::info!(
                    round,
                    wait_ms = wait.as_millis() as u64,
                    "transient failures; another round"
                );
                tokio::time::sleep(wait).await;
                backoff *= 2;
            }
            Some(_) => {
                return Err(SyncError::Destination {
                    dest: ctx.dest.describe(),
                    error: SideError::new(
                        ErrorClass::Connection,
                        format!("connections kept failing after {rounds} rounds"),
                    ),
                })
            }
        }
    }
    let mut list: Vec<FolderSummary> = folder_summaries.into_values().collect();
    {
        let recopied = ctx
            .counters
            .recopied
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for fs in &mut list {
            fs.recopied_after_dest_reset = recopied.get(&fs.source).copied().unwrap_or(0);
        }
    }
    list.sort_by(|a, b| a.source.cmp(&b.source));
    summary.folders = list;
    Ok(())
}

/// Settles intents left open by an earlier crash or a cut connection: a message whose identity
/// is found on the destination above the intent's UID floor (and not already claimed by another
/// ledger row) was appended; the others were not and are dropped, to be copied normally.
async fn settle_pending<S: Source, D: Destination>(ctx: &Arc<Ctx<S, D>>) -> Result<(), SyncError> {
    let pending = ctx.db(|db| db.pending_intents(&ctx.account))?;
    if pending.is_empty() {
        return Ok(());
    }
    let mut by_dest: BTreeMap<String, Vec<crate::state::PendingIntent>> = BTreeMap::new();
    for (d, p) in pending {
        by_dest.entry(d).or_default().push(p);
    }
    for (dest_folder, intents) in by_dest {
        let status = match ctx.dest.status(&dest_folder).await {
            Ok(s) => s,
            Err(e) if e.class == ErrorClass::Rejected => {
                // The folder does not exist (any more): nothing of these intents landed.
                drop_intents(ctx, &intents, &[])?;
                continue;
            }
            Err(e) => return Err(ctx.dst_err(e)),
        };
        let claimed =
            ctx.db(|db| db.claimed_dest_uids(&ctx.account, &dest_folder, status.uid_validity))?;
        let floor = intents
            .iter()
            .filter_map(|i| i.dest_uid_floor)
            .min()
            .unwrap_or(1);
        let on_dest = ctx
            .dest
            .identities(&dest_folder, floor.max(1))
            .await
            .map_err(|e| ctx.dst_err(e))?;
        let mut counter = IdentityCounter::new();
        for m in on_dest.into_iter().filter(|m| !claimed.contains(&m.uid)) {
            counter.add(m.identity, m.uid, m.size);
        }
        let wanted: Vec<(Identity, usize, u64)> = intents
            .iter()
            .enumerate()
            .map(|(i, p)| (Identity(p.identity.clone()), i, p.size))
            .collect();
        let (pairs, _) = pair_up(wanted, &mut counter);
        let found: Vec<(usize, u32)> = pairs;
        ctx.counters
            .recovered
            .fetch_add(found.len() as u64, Ordering::Relaxed);
        tracing::info!(folder = %dest_folder, open = intents.len(), found = found.len(), "settled open intents");
        drop_intents(
            ctx,
            &intents,
            &found
                .iter()
                .map(|(i, uid)| (*i, status.uid_validity, *uid))
                .collect::<Vec<_>>(),
        )?;
    }
    Ok(())
}

/// Confirms the found intents (index, dest uidvalidity, dest uid) and deletes the rest.
fn drop_intents<S: Source, D: Destination>(
    ctx: &Arc<Ctx<S, D>>,
    intents: &[crate::state::PendingIntent],
    found: &[(usize, u32, u32)],
) -> Result<(), SyncError> {
    let found_map: HashMap<usize, (u32, u32)> =
        found.iter().map(|(i, v, u)| (*i, (*v, *u))).collect();
    type Settlement = (Vec<(String, Option<(u32, u32)>)>, Vec<String>);
    let mut per_folder: BTreeMap<(String, u32), Settlement> = BTreeMap::new();
    for (i, p) in intents.iter().enumerate() {
        let e = per_folder
            .entry((p.source_folder.clone(), p.source_uidvalidity))
            .or_default();
        match found_map.get(&i) {
            Some(uid) => e.0.push((p.source_key.clone(), Some(*uid))),
            None => e.1.push(p.source_key.clone()),
        }
    }
    for ((folder, uv), (copied, not)) in per_folder {
        ctx.db(|db| db.settle(&ctx.account, &folder, uv, &copied, &not))?;
    }
    Ok(())
}

/// Syncs one source folder into its destination folder.
async fn sync_folder<S: Source, D: Destination>(
    ctx: &Arc<Ctx<S, D>>,
    m: &FolderMapping,
    dest_is_new: bool,
) -> Result<FolderSummary, SyncError> {
    let mut fs = FolderSummary {
        source: m.source.clone(),
        dest: m.dest.clone(),
        ..Default::default()
    };
    let prev = ctx.db(|db| db.folder(&ctx.account, &m.source))?;
    // Taken before anything is listed, so that a change made while this run lists shows next time.
    let token = ctx
        .source
        .change_token(&m.source)
        .await
        .map_err(|e| ctx.src_err(e))?;
    if let (Some(p), Some(t)) = (&prev, token) {
        if p.complete && p.source_token == Some(t) {
            fs.unchanged = true;
            fs.source_messages = p.source_messages.unwrap_or(0);
            return Ok(fs);
        }
    }
    let status = ctx
        .source
        .status(&m.source)
        .await
        .map_err(|e| ctx.src_err(e))?;
    fs.source_messages = status.messages;
    // Flag changes on messages copied earlier (CONDSTORE): sent before anything new is copied.
    // Until they are all on the destination the old HIGHESTMODSEQ stays recorded, so a failed
    // attempt is repeated by the next round or run.
    let mut record_modseq = status.highest_modseq;
    if let Some(p) = &prev {
        if let (true, Some(old), Some(new)) = (
            p.source_uidvalidity == status.uid_validity,
            p.source_highestmodseq,
            status.highest_modseq,
        ) {
            if new > old {
                let highest_copied = p.source_uidnext.unwrap_or(1).saturating_sub(1);
                match sync_flags(ctx, m, status.uid_validity, highest_copied, old).await {
                    Ok(n) => fs.flags_updated = n,
                    Err(e) => {
                        ctx.flags_not_sent(&m.source, &e);
                        record_modseq = Some(old);
                    }
                }
                // Only flags changed: record the new HIGHESTMODSEQ and stop (no listing).
                if p.complete
                    && p.source_uidnext == status.uid_next
                    && p.source_messages == Some(status.messages)
                {
                    if !ctx.opts.dry_run && record_modseq != p.source_highestmodseq {
                        let mut st = p.clone();
                        st.source_highestmodseq = record_modseq;
                        ctx.db(|db| db.put_folder(&ctx.account, &m.source, &st))?;
                    }
                    return Ok(fs);
                }
            }
        }
    }
    if let Some(p) = &prev {
        if p.complete
            && p.source_uidvalidity == status.uid_validity
            && p.source_uidnext == status.uid_next
            && p.source_messages == Some(status.messages)
            && p.source_highestmodseq == status.highest_modseq
            // Without mod-sequences the counters do not show flag changes.
            && !ctx.source.lists_current_flags()
        {
            fs.unchanged = true;
            return Ok(fs);
        }
    }
    // A new UIDVALIDITY: the same mail under new UIDs. Re-identify, never re-copy.
    let mut from_uid = 1;
    match &prev {
        Some(p) if p.source_uidvalidity != status.uid_validity && !ctx.opts.dry_run => {
            reidentify(ctx, &m.source, p.source_uidvalidity, status.uid_validity).await?;
        }
        Some(p) if p.source_uidvalidity != status.uid_validity => {}
        Some(p) => from_uid = p.source_uidnext.unwrap_or(1).max(1),
        None => {}
    }
    let uv = status.uid_validity;
    let compare = ctx.source.lists_current_flags();
    let listed = ctx
        .source
        .list(&m.source, if compare { 1 } else { from_uid })
        .await
        .map_err(|e| ctx.src_err(e))?;
    // Flag changes of a source without mod-sequences: its listing against the ledger.
    let mut flags_sent = true;
    if compare && prev.is_some() {
        match compare_flags(ctx, m, uv, &listed).await {
            Ok(n) => fs.flags_updated += n,
            Err(e) => {
                ctx.flags_not_sent(&m.source, &e);
                flags_sent = false;
            }
        }
    }
    let settled = ctx.db(|db| db.settled_keys(&ctx.account, &m.source, uv))?;
    let mut todo: Vec<MessageMeta> = listed
        .into_iter()
        .filter(|x| x.uid.is_none_or(|u| u >= from_uid) && !settled.contains(&x.key))
        .collect();
    todo.sort_by_key(|x| x.uid.unwrap_or(u32::MAX));
    if compare
        && flags_sent
        && todo.is_empty()
        && fs.flags_updated == 0
        && prev.as_ref().is_some_and(|p| {
            p.complete && p.source_uidvalidity == uv && p.source_messages == Some(status.messages)
        })
    {
        // Listed (the token could not vouch for it) and found as it was.
        fs.unchanged = true;
    }

    // What the destination already holds and the ledger does not account for: match by identity.
    let mut dest_floor: Option<u32> = None;
    if !todo.is_empty() && !dest_is_new {
        let dst = ctx.dest.status(&m.dest).await.map_err(|e| ctx.dst_err(e))?;
        let claimed = ctx.db(|db| db.claimed_dest_uids(&ctx.account, &m.dest, dst.uid_validity))?;
        dest_floor = dst.uid_next;
        if dst.messages as usize > claimed.len() {
            let on_dest = ctx
                .dest
                .identities(&m.dest, 1)
                .await
                .map_err(|e| ctx.dst_err(e))?;
            let mut counter = IdentityCounter::new();
            for d in on_dest.into_iter().filter(|d| !claimed.contains(&d.uid)) {
                counter.add(d.identity, d.uid, d.size);
            }
            if counter.total() > 0 {
                let headers = ctx
                    .source
                    .identity_headers(&m.source, &todo)
                    .await
                    .map_err(|e| ctx.src_err(e))?;
                let ids: HashMap<String, Identity> = headers
                    .iter()
                    .map(|(k, h)| (k.clone(), Identity::of(h)))
                    .collect();
                let wanted: Vec<(Identity, usize, u64)> = todo
                    .iter()
                    .enumerate()
                    .filter_map(|(i, x)| ids.get(&x.key).map(|id| (id.clone(), i, x.size)))
                    .collect();
                let (pairs, _) = pair_up(wanted, &mut counter);
                let present: HashSet<usize> = pairs.iter().map(|(i, _)| *i).collect();
                if !ctx.opts.dry_run && !pairs.is_empty() {
                    let rows: Vec<_> = pairs
                        .iter()
                        .map(|(i, uid)| {
                            let x = &todo[*i];
                            (
                                x.key.clone(),
                                x.uid,
                                x.size,
                                ids[&x.key].0.clone(),
                                Some((dst.uid_validity, *uid)),
                                x.flags.clone(),
                            )
                        })
                        .collect();
                    ctx.db(|db| db.record_present(&ctx.account, &m.source, uv, &m.dest, &rows))?;
                }
                fs.already_there = pairs.len() as u64;
                ctx.counters
                    .already
                    .fetch_add(fs.already_there, Ordering::Relaxed);
                todo = todo
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| !present.contains(i))
                    .map(|(_, x)| x)
                    .collect();
            }
        }
    }

    // Too big for the destination: skipped, listed with size, date and subject.
    let limit = match (ctx.opts.max_message_size, ctx.dest.max_message_size()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(limit) = limit {
        let (big, rest): (Vec<_>, Vec<_>) = todo.into_iter().partition(|x| x.size > limit);
        todo = rest;
        if !big.is_empty() {
            let headers: HashMap<String, Vec<u8>> = ctx
                .source
                .identity_headers(&m.source, &big)
                .await
                .unwrap_or_default()
                .into_iter()
                .collect();
            for x in &big {
                ctx.fail(
                    &m.source,
                    uv,
                    x,
                    headers.get(&x.key).map(Vec::as_slice),
                    ErrorClass::TooBig,
                    &format!(
                        "{} bytes; the destination accepts at most {limit} bytes",
                        x.size
                    ),
                )?;
            }
            fs.skipped = big.len() as u64;
        }
    }

    let total_bytes: u64 = todo.iter().map(|x| x.size).sum();
    ctx.counters
        .total_messages
        .fetch_add(todo.len() as u64, Ordering::Relaxed);
    ctx.counters
        .total_bytes
        .fetch_add(total_bytes, Ordering::Relaxed);
    ctx.emit(Progress::FolderStarted {
        account: ctx.account.clone(),
        folder: m.source.clone(),
        messages: todo.len() as u64,
        bytes: total_bytes,
    });
    if ctx.opts.dry_run {
        fs.copied = todo.len() as u64;
        fs.bytes = total_bytes;
        // The account's totals ("would copy N") come from the counters, as in a real run.
        ctx.counters.copied.fetch_add(fs.copied, Ordering::Relaxed);
        ctx.counters.bytes.fetch_add(total_bytes, Ordering::Relaxed);
        return Ok(fs);
    }

    // Batches: bounded in count and bytes; several in flight.
    let mut batches: Vec<Vec<MessageMeta>> = Vec::new();
    let mut cur: Vec<MessageMeta> = Vec::new();
    let mut cur_bytes = 0u64;
    for x in todo {
        if !cur.is_empty()
            && (cur.len() >= ctx.opts.batch_messages || cur_bytes + x.size > ctx.opts.batch_bytes)
        {
            batches.push(std::mem::take(&mut cur));
            cur_bytes = 0;
        }
        cur_bytes += x.size;
        cur.push(x);
    }
    if !cur.is_empty() {
        batches.push(cur);
    }
    let started = Instant::now();
    let floor = Arc::new(Mutex::new(dest_floor));
    let outcomes: Vec<Result<BatchOutcome, SyncError>> = stream::iter(batches)
        .map(|b| {
            let ctx = ctx.clone();
            let floor = floor.clone();
            async move { copy_batch(&ctx, m, uv, b, &floor, started).await }
        })
        .buffer_unordered(ctx.opts.parallel.max(1))
        .collect()
        .await;
    let mut unsettled_min: Option<u32> = None;
    let mut unsettled_no_uid = false;
    let mut first_err: Option<SyncError> = None;
    for o in outcomes {
        match o {
            Ok(b) => {
                fs.copied += b.copied;
                fs.bytes += b.bytes;
                fs.failed += b.failed;
                for u in b.unsettled {
                    match u {
                        Some(u) => unsettled_min = Some(unsettled_min.map_or(u, |m: u32| m.min(u))),
                        None => unsettled_no_uid = true,
                    }
                }
            }
            Err(e) => {
                if first_err.is_none() {
                    first_err = Some(e);
                }
                unsettled_no_uid = true;
            }
        }
    }
    // The watermark moves only past settled messages; too-big skips count as settled (they are
    // listed, and a re-run would only skip them again).
    let complete = unsettled_min.is_none() && !unsettled_no_uid;
    let new_state = FolderState {
        dest_folder: m.dest.clone(),
        source_uidvalidity: uv,
        source_uidnext: match unsettled_min {
            Some(u) => Some(u),
            None if unsettled_no_uid => Some(from_uid),
            None => status.uid_next,
        },
        source_messages: Some(status.messages),
        source_highestmodseq: record_modseq,
        source_token: token.filter(|_| complete && flags_sent),
        complete,
    };
    ctx.db(|db| db.put_folder(&ctx.account, &m.source, &new_state))?;
    ctx.emit(Progress::FolderDone {
        account: ctx.account.clone(),
        folder: m.source.clone(),
    });
    if let Some(e) = first_err {
        return Err(e);
    }
    Ok(fs)
}

#[derive(Default)]
struct BatchOutcome {
    copied: u64,
    bytes: u64,
    failed: u64,
    /// Source UIDs (None: no UID) not settled by this batch: failed, or left for the next round.
    unsettled: Vec<Option<u32>>,
}

async fn copy_batch<S: Source, D: Destination>(
    ctx: &Arc<Ctx<S, D>>,
    m: &FolderMapping,
    uv: u32,
    batch: Vec<MessageMeta>,
    floor: &Mutex<Option<u32>>,
    started: Instant,
) -> Result<BatchOutcome, SyncError> {
    let mut out = BatchOutcome::default();
    // Held until the batch is appended (or given up); the semaphore is never closed.
    let _slot = ctx.batches_in_flight.acquire().await;
    let fetched: Vec<FetchedMessage> = match ctx.source.fetch(&m.source, &batch).await {
        Ok(f) => f,
        Err(e) if e.class.transient() => {
            ctx.note_transient(&e);
            out.unsettled = batch.iter().map(|x| x.uid).collect();
            return Ok(out);
        }
        Err(e) => {
            for x in &batch {
                ctx.fail(&m.source, uv, x, None, e.class, &e.text)?;
                out.unsettled.push(x.uid);
            }
            out.failed = batch.len() as u64;
            return Ok(out);
        }
    };
    // Messages that vanished from the source between listing and reading are not failures.
    let floor_now = {
        let db_max = ctx.db(|db| db.max_dest_uid(&ctx.account, &m.dest))?;
        let f = *floor.lock().unwrap_or_else(|p| p.into_inner());
        match (db_max.map(|u| u + 1), f) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    };
    let intents: Vec<Intent> = fetched
        .iter()
        .map(|f| Intent {
            source_key: f.meta.key.clone(),
            source_uid: f.meta.uid,
            size: f.bytes.len() as u64,
            identity: Identity::of(&f.bytes).0,
            dest_uid_floor: floor_now,
            flags: f.meta.flags.clone(),
        })
        .collect();
    ctx.db(|db| db.write_intents(&ctx.account, &m.source, uv, &m.dest, &intents))?;
    let mut copied: Vec<(String, Option<(u32, u32)>)> = Vec::new();
    let mut not_appended: Vec<String> = Vec::new();
    let flags: Vec<Vec<String>> = fetched
        .iter()
        .map(|f| {
            f.meta
                .flags
                .iter()
                .filter(|fl| !fl.eq_ignore_ascii_case("\\Recent"))
                .cloned()
                .collect()
        })
        .collect();
    let requests: Vec<AppendRequest<'_>> = fetched
        .iter()
        .zip(&flags)
        .map(|(f, fl)| AppendRequest {
            flags: fl,
            internal_date: f.meta.internal_date,
            bytes: &f.bytes,
        })
        .collect();
    match ctx.dest.append_many(&m.dest, &requests).await {
        Err(e) => {
            // Any of them may or may not have landed: the intents stay open and are settled
            // (found on the destination, or dropped and copied again) at the next round.
            ctx.note_transient(&e);
            out.unsettled.extend(fetched.iter().map(|f| f.meta.uid));
        }
        Ok(results) => {
            for (f, r) in fetched.iter().zip(results) {
                match r {
                    Ok(uid) => {
                        if let Some(u) = uid {
                            let mut fl = floor.lock().unwrap_or_else(|p| p.into_inner());
                            *fl = Some(fl.map_or(u.uid + 1, |x| x.max(u.uid + 1)));
                        }
                        copied.push((f.meta.key.clone(), uid.map(|u| (u.uid_validity, u.uid))));
                        out.copied += 1;
                        out.bytes += f.bytes.len() as u64;
                    }
                    Err(e) if e.class.transient() => {
                        ctx.note_transient(&e);
                        out.unsettled.push(f.meta.uid);
                    }
                    Err(e) => {
                        not_appended.push(f.meta.key.clone());
                        // A too-big skip is final (listed in the failures); others are retried.
                        if e.class != ErrorClass::TooBig {
                            out.unsettled.push(f.meta.uid);
                            out.failed += 1;
                        }
                        let class = if e.class == ErrorClass::Gone {
                            ErrorClass::Rejected
                        } else {
                            e.class
                        };
                        ctx.fail(&m.source, uv, &f.meta, Some(&f.bytes), class, &e.text)?;
                    }
                }
            }
        }
    }
    ctx.db(|db| db.settle(&ctx.account, &m.source, uv, &copied, &not_appended))?;
    let c = &ctx.counters;
    let done = c.copied.fetch_add(out.copied, Ordering::Relaxed) + out.copied;
    let bytes_done = c.bytes.fetch_add(out.bytes, Ordering::Relaxed) + out.bytes;
    let secs = started.elapsed().as_secs_f64();
    ctx.emit(Progress::Copied {
        account: ctx.account.clone(),
        folder: m.source.clone(),
        messages_done: done,
        bytes_done,
        messages_total: c.total_messages.load(Ordering::Relaxed),
        bytes_total: c.total_bytes.load(Ordering::Relaxed),
        bytes_per_second: if secs > 0.0 {
            bytes_done as f64 / secs
        } else {
            0.0
        },
    });
    Ok(out)
}

/// Sends the source's flag changes since `since_modseq` (messages up to `highest_copied`) to
/// the destination messages they were copied to. Returns how many messages were updated (in a
/// dry run: would be).
async fn sync_flags<S: Source, D: Destination>(
    ctx: &Arc<Ctx<S, D>>,
    m: &FolderMapping,
    uv: u32,
    highest_copied: u32,
    since_modseq: u64,
) -> Result<u64, SyncError> {
    if !ctx.dest.can_store_flags() || highest_copied == 0 {
        return Ok(0);
    }
    let Some(changes) = ctx
        .source
        .flag_changes(&m.source, highest_copied, since_modseq)
        .await
        .map_err(|e| ctx.src_err(e))?
    else {
        return Ok(0);
    };
    // An IMAP source's message key is its UID as text.
    let changes: Vec<(String, Vec<String>)> = changes
        .into_iter()
        .map(|(uid, flags)| (uid.to_string(), flags))
        .collect();
    let rows = ctx.db(|db| db.copied_rows(&ctx.account, &m.source, uv))?;
    let updated = send_flags(ctx, m, uv, &rows, changes).await?;
    tracing::info!(folder = %m.source, updated, "flag changes sent");
    Ok(updated)
}

/// Flag changes of a source without mod-sequences: the current flags of the listed messages
/// against those recorded when they were copied. Rows recorded before flags were kept get the
/// current flags as their baseline (the destination's flags are left as they are).
async fn compare_flags<S: Source, D: Destination>(
    ctx: &Arc<Ctx<S, D>>,
    m: &FolderMapping,
    uv: u32,
    listed: &[MessageMeta],
) -> Result<u64, SyncError> {
    if !ctx.dest.can_store_flags() {
        return Ok(0);
    }
    let rows = ctx.db(|db| db.copied_rows(&ctx.account, &m.source, uv))?;
    let mut changes = Vec::new();
    let mut baseline = Vec::new();
    for x in listed {
        let Some(row) = rows.get(&x.key) else {
            continue;
        };
        let now = flags_text(&x.flags);
        match &row.flags {
            Some(was) if flags_text(was) == now => {}
            Some(_) => changes.push((x.key.clone(), x.flags.clone())),
            None => baseline.push((x.key.clone(), x.flags.clone())),
        }
    }
    if !baseline.is_empty() && !ctx.opts.dry_run {
        ctx.db(|db| db.set_flags(&ctx.account, &m.source, uv, &baseline))?;
    }
    if changes.is_empty() {
        return Ok(0);
    }
    let updated = send_flags(ctx, m, uv, &rows, changes).await?;
    tracing::info!(folder = %m.source, updated, "flag changes found by comparison sent");
    Ok(updated)
}

/// Sets the given source messages' flags (by source key) on the destination messages they were
/// copied to, and records them in the ledger once the destination has them. The one way flags
/// reach copied messages, whichever way the changes were found. Keywords the destination folder
/// cannot keep are dropped by [`Destination::store_flags`].
async fn send_flags<S: Source, D: Destination>(
    ctx: &Arc<Ctx<S, D>>,
    m: &FolderMapping,
    uv: u32,
    rows: &HashMap<String, CopiedRow>,
    changes: Vec<(String, Vec<String>)>,
) -> Result<u64, SyncError> {
    // Grouped by destination folder and UIDVALIDITY (a folder's rows normally share one).
    type Group = (crate::side::FlagChanges, Vec<(String, Vec<String>)>);
    let mut per_dest: BTreeMap<(String, u32), Group> = BTreeMap::new();
    for (key, flags) in changes {
        let Some(row) = rows.get(&key) else {
            continue;
        };
        if let (Some(duv), Some(duid)) = (row.dest_uidvalidity, row.dest_uid) {
            let g = per_dest.entry((row.dest_folder.clone(), duv)).or_default();
            g.0.push((duid, flags.clone()));
            g.1.push((key, flags));
        }
    }
    let mut updated = 0;
    for ((folder, duv), (list, by_key)) in per_dest {
        if ctx.opts.dry_run {
            updated += list.len() as u64;
            continue;
        }
        let n = ctx
            .dest
            .store_flags(&folder, duv, &list)
            .await
            .map_err(|e| ctx.dst_err(e))?;
        // 0: the destination folder has another UIDVALIDITY now; the ledger keeps the old
        // flags so that the change is sent again once the rows are re-bound.
        if n > 0 {
            ctx.db(|db| db.set_flags(&ctx.account, &m.source, uv, &by_key))?;
        }
        updated += n;
    }
    Ok(updated)
}

/// A destination folder deleted and recreated (or the host restored) has a new UIDVALIDITY: the
/// destination UIDs in the ledger mean nothing there any more. The ledger's messages still on
/// the destination are found again by identity (size as tie-breaker) and re-bound to their new
/// UIDs; the others are dropped from the ledger and their source folders listed in full, so that
/// exactly those are copied again (counted as `recopied_after_dest_reset`). Never copies twice:
/// a message found is not copied, and one not found is not on the destination.
async fn check_dest_reset<S: Source, D: Destination>(
    ctx: &Arc<Ctx<S, D>>,
    dest: &str,
) -> Result<(), SyncError> {
    if !ctx.db(|db| db.has_dest_uids(&ctx.account, dest))? {
        return Ok(());
    }
    let status = match ctx.dest.status(dest).await {
        Ok(s) => s,
        // A dry run does not create folders: the folder is gone, and would be created empty.
        // (UIDVALIDITY 0 is never a real one: every row counts as stale.)
        Err(e) if ctx.opts.dry_run && e.class == ErrorClass::Rejected => FolderStatus {
            uid_validity: 0,
            ..FolderStatus::default()
        },
        Err(e) => return Err(ctx.dst_err(e)),
    };
    let stale = ctx.db(|db| db.stale_dest_rows(&ctx.account, dest, status.uid_validity))?;
    if stale.is_empty() {
        return Ok(());
    }
    let claimed = ctx.db(|db| db.claimed_dest_uids(&ctx.account, dest, status.uid_validity))?;
    let on_dest = if status.messages > 0 {
        ctx.dest
            .identities(dest, 1)
            .await
            .map_err(|e| ctx.dst_err(e))?
    } else {
        Vec::new()
    };
    let mut counter = IdentityCounter::new();
    for d in on_dest.into_iter().filter(|d| !claimed.contains(&d.uid)) {
        counter.add(d.identity, d.uid, d.size);
    }
    let wanted: Vec<(Identity, usize, u64)> = stale
        .iter()
        .enumerate()
        .map(|(i, r)| (Identity(r.identity.clone()), i, r.size))
        .collect();
    let (pairs, gone) = pair_up(wanted, &mut counter);
    let found: Vec<(&crate::state::StaleDestRow, u32)> =
        pairs.iter().map(|(i, uid)| (&stale[*i], *uid)).collect();
    let gone: Vec<&crate::state::StaleDestRow> = gone.iter().map(|i| &stale[*i]).collect();
    let old: std::collections::BTreeSet<u32> = stale.iter().map(|r| r.dest_uidvalidity).collect();
    tracing::warn!(
        folder = dest,
        old_uidvalidity = ?old,
        new_uidvalidity = status.uid_validity,
        still_there = found.len(),
        copied_again = gone.len(),
        "destination folder was recreated or restored (its UIDVALIDITY changed): the messages \
         still there are kept, the missing ones are copied again"
    );
    if !ctx.opts.dry_run {
        ctx.db(|db| db.rebind_dest(&ctx.account, dest, status.uid_validity, &found, &gone))?;
    }
    let mut recopied = ctx
        .counters
        .recopied
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    for r in gone {
        *recopied.entry(r.source_folder.clone()).or_default() += 1;
    }
    Ok(())
}

/// After a source UIDVALIDITY change: pairs the ledger's rows of the old generation with the
/// folder's current messages by identity (size as tie-breaker) and moves them to the new keys.
async fn reidentify<S: Source, D: Destination>(
    ctx: &Arc<Ctx<S, D>>,
    folder: &str,
    old_uv: u32,
    new_uv: u32,
) -> Result<(), SyncError> {
    let rows: Vec<_> = ctx
        .db(|db| db.messages(&ctx.account, folder))?
        .into_iter()
        .filter(|(uv, r)| *uv == old_uv && r.state != "intent")
        .map(|(_, r)| r)
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let listed = ctx
        .source
        .list(folder, 1)
        .await
        .map_err(|e| ctx.src_err(e))?;
    let headers = ctx
        .source
        .identity_headers(folder, &listed)
        .await
        .map_err(|e| ctx.src_err(e))?;
    let ids: HashMap<String, Identity> = headers
        .iter()
        .map(|(k, h)| (k.clone(), Identity::of(h)))
        .collect();
    let mut counter = IdentityCounter::new();
    for r in &rows {
        counter.add(Identity(r.identity.clone()), r.source_key.clone(), r.size);
    }
    let wanted: Vec<(Identity, usize, u64)> = listed
        .iter()
        .enumerate()
        .filter_map(|(i, x)| ids.get(&x.key).map(|id| (id.clone(), i, x.size)))
        .collect();
    let (pairs, _) = pair_up(wanted, &mut counter);
    let moves: Vec<(String, String, Option<u32>)> = pairs
        .into_iter()
        .map(|(i, old_key)| (old_key, listed[i].key.clone(), listed[i].uid))
        .collect();
    tracing::info!(
        folder,
        old_uv,
        new_uv,
        rows = rows.len(),
        matched = moves.len(),
        "re-identified after UIDVALIDITY change"
    );
    ctx.db(|db| db.rebind(&ctx.account, folder, old_uv, new_uv, &moves))
}
