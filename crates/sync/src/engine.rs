//! The engine: one account pair at a time (callers run several accounts at once). A round first
//! prepares every folder (groups of folders that share a destination folder in order, groups
//! several at once; destination folders created and subscribed meanwhile), so that the account's
//! totals are known before anything is copied; then one stream of batches over all folders,
//! several in flight (no folder waits for another's last batch); then each folder's watermark.
//!
//! Exactly once: every APPEND is preceded by a committed intent row and followed by a
//! confirmation. Intents left open by a crash or a cut connection are settled at the start of the
//! next round by looking at the destination (identity of the messages above the UID floor recorded
//! with the intent), never by copying blindly.
//!
//! With a daily upload budget the messages go newest first across all folders (by INTERNALDATE),
//! as many as fit the budget's rolling 24 hours; the run then stops and says when the rest can go.
//! A cancelled run starts no new batch, lets those in flight finish and be recorded, and returns.
//! A server that asks to slow down gets the wait it asked for (never less) before anything new is
//! sent, and fewer batches at once from then on.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::budget::{Clock, DailyBudget, SystemClock};
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
    /// First back-off after a transient failure (doubles each round); also the wait after a
    /// throttling answer that names no time.
    pub backoff: Duration,
    /// Cancelling it stops the run after the batches in flight (see [`sync_account`]).
    pub cancel: CancellationToken,
    /// Bytes per rolling 24 hours the destination accepts per account (Google: 500 MB). With
    /// one, messages go newest first and the run stops at the budget.
    pub budget: Option<DailyBudget>,
    /// What "now" is for the budget (tests move a [`crate::budget::ManualClock`]).
    pub clock: Arc<dyn Clock>,
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
            cancel: CancellationToken::new(),
            budget: None,
            clock: Arc::new(SystemClock),
        }
    }
}

/// Throttled rounds allowed on top of `retry_rounds`: each waited as long as the server asked,
/// so they do not hammer it, but a server that never stops throttling must end the run.
const THROTTLED_ROUNDS: u32 = 50;

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
    /// Batches read and not yet appended, across all folders of the account: `parallel` at most
    /// (fewer after throttling). A batch never sits in memory waiting for a connection: memory
    /// stays within `parallel` x `batch_bytes` (or the largest message).
    batches_in_flight: tokio::sync::Semaphore,
    /// Permits of `batches_in_flight` still in use (lowered by throttling, never below 1).
    parallel_now: AtomicUsize,
    /// Permits to forget as batches end (throttling lowered `parallel_now` below those in use).
    owed_permits: AtomicUsize,
    /// Nothing new is sent before this (a server asked to wait).
    pause_until: Mutex<Option<Instant>>,
    /// Times a server asked to slow down, answers of one pause counted once.
    throttle_episodes: std::sync::atomic::AtomicU32,
    /// Messages of this round left for a later run (budget reached, or cancelled).
    deferred: AtomicU64,
    /// The daily budget was reached: the rest can go after this time.
    budget_until: Mutex<Option<chrono::DateTime<chrono::Utc>>>,
    /// The size of the first message that did not fit the budget.
    budget_need: Mutex<Option<u64>>,
    /// Destination folders this run creates: their batches wait for the CREATE.
    folders_ready: Mutex<HashMap<String, tokio::sync::watch::Receiver<u8>>>,
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
    throttled: AtomicU64,
    /// Per source folder: messages copied again because the destination folder lost them.
    recopied: Mutex<BTreeMap<String, u64>>,
    /// A transient failure happened: another round is worth it. Holds the longest wait asked.
    transient: Mutex<Option<Duration>>,
    /// Only throttling (its wait kept) made this round's transient failures.
    only_throttled: Mutex<bool>,
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

    fn cancelled(&self) -> bool {
        self.opts.cancel.is_cancelled()
    }

    fn note_transient(&self, e: &SideError) {
        if e.class == ErrorClass::Throttled {
            self.throttled(e);
        } else {
            *self
                .counters
                .only_throttled
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = false;
        }
        let mut t = self
            .counters
            .transient
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let wait = e.wait.unwrap_or_default();
        *t = Some(t.map_or(wait, |w| w.max(wait)));
    }

    /// A server asked to slow down: nothing new starts before the time it named (the back-off
    /// when it named none), and one batch fewer (half as many) runs at once from now on. Answers
    /// that arrive while a pause is on belong to the same episode and cut nothing more.
    fn throttled(&self, e: &SideError) {
        // No time named (a BYE, too many connections): the back-off, doubled per episode.
        let episodes = self.throttle_episodes.load(Ordering::Relaxed).min(8);
        let wait = e.wait.unwrap_or(self.opts.backoff * 2u32.pow(episodes));
        let now = Instant::now();
        let until = now + wait;
        let new_episode = {
            let mut p = self.pause_until.lock().unwrap_or_else(|p| p.into_inner());
            let new_episode = p.is_none_or(|t| t <= now);
            *p = Some(p.map_or(until, |t| t.max(until)));
            new_episode
        };
        self.counters.throttled.fetch_add(1, Ordering::Relaxed);
        if new_episode {
            self.throttle_episodes.fetch_add(1, Ordering::Relaxed);
            let was = self.parallel_now.load(Ordering::Relaxed);
            let fewer = (was / 2).max(1);
            if fewer < was {
                self.parallel_now.store(fewer, Ordering::Relaxed);
                // Permits held by batches in flight come back later: forget them as they do.
                let mut to_forget = was - fewer;
                while to_forget > 0 {
                    match self.batches_in_flight.try_acquire() {
                        Ok(p) => {
                            p.forget();
                            to_forget -= 1;
                        }
                        Err(_) => break,
                    }
                }
                self.owed_permits.fetch_add(to_forget, Ordering::Relaxed);
            }
            tracing::warn!(
                account = %self.account,
                wait_ms = wait.as_millis() as u64,
                batches_at_once = self.parallel_now.load(Ordering::Relaxed),
                "the server asked to slow down: waiting as asked, then going on with fewer connections"
            );
        }
        self.emit(Progress::Throttled {
            account: self.account.clone(),
            wait_ms: wait.as_millis() as u64,
            connections: self.parallel_now.load(Ordering::Relaxed) as u32,
            server_text: e.text.clone(),
        });
    }

    /// Waits out a pause a server asked for; false when cancelled meanwhile.
    async fn wait_pause(&self) -> bool {
        loop {
            let until = *self.pause_until.lock().unwrap_or_else(|p| p.into_inner());
            match until {
                Some(t) if t > Instant::now() => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(tokio::time::Instant::from_std(t)) => {}
                        _ = self.opts.cancel.cancelled() => return false,
                    }
                }
                _ => return !self.cancelled(),
            }
        }
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
///
/// Cancelling `opts.cancel` ends the run early: no new batch starts, the batches in flight finish
/// and are recorded (an APPEND cut short leaves an intent the next run settles), the summary says
/// `cancelled`. With `opts.budget`, the summary's `budget_exhausted_until` says when the rest can
/// be sent when the budget was reached.
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
        parallel_now: AtomicUsize::new(opts_parallel),
        owed_permits: AtomicUsize::new(0),
        pause_until: Mutex::new(None),
        throttle_episodes: Default::default(),
        deferred: AtomicU64::new(0),
        budget_until: Mutex::new(None),
        budget_need: Mutex::new(None),
        folders_ready: Mutex::new(HashMap::new()),
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
    summary.throttled = c.throttled.load(Ordering::Relaxed);
    summary.deferred = ctx.deferred.load(Ordering::Relaxed);
    summary.budget_exhausted_until = *ctx.budget_until.lock().unwrap_or_else(|p| p.into_inner());
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
        cancelled: summary.cancelled,
        budget_exhausted_until: summary.budget_exhausted_until,
    });
    summary
}

/// A source folder after preparation: what to copy, and what to record once it is copied.
struct FolderWork {
    m: FolderMapping,
    fs: FolderSummary,
    /// `None`: nothing more to do for this folder in this round (unchanged, only flags changed,
    /// a dry run, or not prepared because the run was cancelled).
    copy: Option<CopyPlan>,
}

struct CopyPlan {
    uv: u32,
    status: FolderStatus,
    from_uid: u32,
    token: Option<u64>,
    record_modseq: Option<u64>,
    flags_sent: bool,
    floor: Arc<Mutex<Option<u32>>>,
    todo: Vec<MessageMeta>,
    /// Source UIDs left for a later run (daily budget): the watermark stays below them.
    deferred: Vec<Option<u32>>,
}

async fn run<S: Source, D: Destination>(
    ctx: &Arc<Ctx<S, D>>,
    summary: &mut AccountSummary,
) -> Result<(), SyncError> {
    // A copy is likely (a first copy, or a run that stopped early): the destination's
    // connections are all opened now, in parallel, instead of one by one when batches need them.
    let copy_likely = !ctx.opts.dry_run && !ctx.db(|db| db.account_complete(&ctx.account))?;
    let (sfolders, sns, dfolders, dns, ()) = futures::try_join!(
        async { ctx.source.folders().await.map_err(|e| ctx.src_err(e)) },
        async { ctx.source.namespace().await.map_err(|e| ctx.src_err(e)) },
        async { ctx.dest.folders().await.map_err(|e| ctx.dst_err(e)) },
        async { ctx.dest.namespace().await.map_err(|e| ctx.dst_err(e)) },
        async {
            if copy_likely {
                ctx.dest.open_connections().await;
            }
            Ok(())
        },
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

    // Group by destination folder: folders that merge into one are prepared one after the other,
    // and every folder is prepared before any is copied, so that matching against what the
    // destination already holds never takes this run's own copies for mail that was there.
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

    // Destination folders to create, and those to subscribe (once, the first time a folder is
    // synced): all at once, several connections, meanwhile the source is listed.
    let mut folder_setup: Option<Vec<FolderSetup>> = None;
    if !ctx.opts.dry_run {
        ctx.db(|db| db.put_mapping(&ctx.account, &plan))?;
        // (create, subscribe) per destination folder.
        let mut setup: BTreeMap<String, (bool, bool)> = BTreeMap::new();
        for m in &plan.folders {
            if m.create {
                setup.entry(m.dest.clone()).or_default().0 = true;
            }
            if subscribed.contains(m.source.as_str())
                && ctx.db(|db| db.folder(&ctx.account, &m.source))?.is_none()
            {
                setup.entry(m.dest.clone()).or_default().1 = true;
            }
        }
        let mut ready = ctx.folders_ready.lock().unwrap_or_else(|p| p.into_inner());
        folder_setup = Some(
            setup
                .into_iter()
                .map(|(dest, (create, subscribe))| {
                    let created = create.then(|| {
                        let (tx, rx) = tokio::sync::watch::channel(PENDING);
                        ready.insert(dest.clone(), rx);
                        tx
                    });
                    FolderSetup {
                        dest,
                        created,
                        subscribe,
                    }
                })
                .collect(),
        );
    }

    let mut folder_summaries: HashMap<String, FolderSummary> = HashMap::new();
    let rounds = if ctx.opts.dry_run {
        1
    } else {
        ctx.opts.retry_rounds.max(1)
    };
    let mut backoff = ctx.opts.backoff;
    let mut round = 0u32;
    let mut throttled_rounds = 0u32;
    while round < rounds {
        *ctx.counters
            .transient
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
        *ctx.counters
            .only_throttled
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = true;
        ctx.deferred.store(0, Ordering::Relaxed);
        // A later round lists again what is left: the totals are what was copied plus that.
        let c = &ctx.counters;
        c.total_messages
            .store(c.copied.load(Ordering::Relaxed), Ordering::Relaxed);
        c.total_bytes
            .store(c.bytes.load(Ordering::Relaxed), Ordering::Relaxed);
        *ctx.budget_until.lock().unwrap_or_else(|p| p.into_inner()) = None;
        *ctx.budget_need.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if ctx.cancelled() {
            summary.cancelled = true;
            break;
        }
        if !ctx.opts.dry_run {
            match settle_pending(ctx).await {
                Ok(()) => {}
                Err(e) if e.class().transient() => {
                    tracing::warn!(error = %e, "settling open intents failed; retrying");
                    if let SyncError::Destination { error, .. } | SyncError::Source { error, .. } =
                        &e
                    {
                        if error.class == ErrorClass::Throttled {
                            ctx.throttled(error);
                        }
                    }
                    if !ctx.wait_pause().await {
                        summary.cancelled = true;
                        break;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    round += 1;
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        // Folders are created while the source is listed and the first batches are read;
        // a batch waits for its folder's CREATE only before its APPEND.
        let mut all_prepared = false;
        let (setup_result, works) =
            futures::join!(setup_folders(ctx, folder_setup.take()), async {
                let mut works = prepare_all(ctx, &groups, &created).await?;
                all_prepared = works.len() == plan.folders.len();
                copy_and_finish(ctx, &mut works).await?;
                Ok::<_, SyncError>(works)
            });
        setup_result?;
        let works = works?;
        for w in works {
            let fs = w.fs;
            let entry = folder_summaries.entry(fs.source.clone()).or_default();
            if round == 0 && throttled_rounds == 0 {
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
        let transient = *ctx
            .counters
            .transient
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let only_throttled = *ctx
            .counters
            .only_throttled
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if ctx.cancelled() {
            summary.cancelled =
                transient.is_some() || !all_prepared || ctx.deferred.load(Ordering::Relaxed) > 0;
            break;
        }
        match transient {
            None => break,
            // Throttled, and the wait asked was kept: another round, not counted as a failure.
            Some(_) if only_throttled && throttled_rounds < THROTTLED_ROUNDS => {
                throttled_rounds += 1;
                if !ctx.wait_pause().await {
                    summary.cancelled = true;
                    break;
                }
            }
            Some(wait) if round + 1 < rounds => {
                let wait = wait.max(backoff);
                tracing::info!(
                    round,
                    wait_ms = wait.as_millis() as u64,
                    "transient failures; another round"
                );
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = ctx.opts.cancel.cancelled() => {
                        summary.cancelled = true;
                        break;
                    }
                }
                if !ctx.wait_pause().await {
                    summary.cancelled = true;
                    break;
                }
                backoff *= 2;
                round += 1;
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

/// Creates the destination folders that do not exist and subscribes those the source's owner
/// subscribed to, several at once (each a round trip to a host that may be far away).
async fn setup_folders<S: Source, D: Destination>(
    ctx: &Arc<Ctx<S, D>>,
    setup: Option<Vec<FolderSetup>>,
) -> Result<(), SyncError> {
    let Some(setup) = setup else {
        return Ok(());
    };
    let results: Vec<Result<(), SyncError>> = stream::iter(setup)
        .map(|f| async move {
            if let Some(ready) = &f.created {
                let r = ctx.dest.create(&f.dest).await.map_err(|e| ctx.dst_err(e));
                // Batches for this folder wait for this before their APPEND.
                let _ = ready.send(if r.is_ok() { READY } else { FAILED });
                r?;
            }
            if f.subscribe {
                if let Err(e) = ctx.dest.subscribe(&f.dest).await {
                    tracing::warn!(folder = %f.dest, error = %e, "subscribe failed");
                }
            }
            Ok(())
        })
        .buffer_unordered(ctx.opts.parallel.max(1))
        .collect()
        .await;
    results.into_iter().collect()
}

/// A destination folder to create (its batches wait on the watch) and/or to subscribe.
struct FolderSetup {
    dest: String,
    created: Option<tokio::sync::watch::Sender<u8>>,
    subscribe: bool,
}

const PENDING: u8 = 0;
const READY: u8 = 1;
const FAILED: u8 = 2;

/// Waits until the destination folder exists, when this run creates it; false when its CREATE
/// failed (the error ends the round) or was never made.
async fn folder_ready<S: Source, D: Destination>(ctx: &Ctx<S, D>, dest: &str) -> bool {
    let rx = ctx
        .folders_ready
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(dest)
        .cloned();
    let Some(mut rx) = rx else {
        return true;
    };
    while *rx.borrow() == PENDING {
        if rx.changed().await.is_err() {
            break;
        }
    }
    let state = *rx.borrow();
    state == READY
}

/// Prepares every folder: groups several at once, the folders of a group in order.
async fn prepare_all<S: Source, D: Destination>(
    ctx: &Arc<Ctx<S, D>>,
    groups: &BTreeMap<String, Vec<FolderMapping>>,
    created: &HashSet<String>,
) -> Result<Vec<FolderWork>, SyncError> {
    // Creation runs alongside: a folder being created is not looked at on the destination.
    let results: Vec<Result<Vec<FolderWork>, SyncError>> = stream::iter(groups.values())
        .map(|group| {
            let ctx = ctx.clone();
            async move {
                let mut out = Vec::new();
                if ctx.cancelled() {
                    return Ok(out);
                }
                let first_dest = group.first().map(|m| m.dest.clone());
                let mut dest_status = None;
                if let Some(dest) = &first_dest {
                    dest_status = check_dest_reset(&ctx, dest, created.contains(dest)).await?;
                }
                for m in group {
                    if ctx.cancelled() {
                        break;
                    }
                    let known = dest_status.clone();
                    out.push(prepare_folder(&ctx, m, created.contains(&m.dest), known).await?);
                }
                Ok(out)
            }
        })
        .buffer_unordered(ctx.opts.parallel_folders.max(ctx.opts.parallel).max(1))
        .collect()
        .await;
    let mut works = Vec::new();
    let mut first_err = None;
    for r in results {
        match r {
            Ok(list) => works.extend(list),
            Err(e) if e.class().transient() => {
                if let SyncError::Source { error, .. } | SyncError::Destination { error, .. } = &e {
                    ctx.note_transient(error);
                }
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(works),
    }
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

/// Looks at one source folder: unchanged since the last run, flag changes to send, and which
/// messages to copy (not in the ledger, not already on the destination, not too big).
async fn prepare_folder<S: Source, D: Destination>(
    ctx: &Arc<Ctx<S, D>>,
    m: &FolderMapping,
    dest_is_new: bool,
    dest_status: Option<FolderStatus>,
) -> Result<FolderWork, SyncError> {
    let mut fs = FolderSummary {
        source: m.source.clone(),
        dest: m.dest.clone(),
        ..Default::default()
    };
    let done = |fs: FolderSummary| FolderWork {
        m: m.clone(),
        fs,
        copy: None,
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
            return Ok(done(fs));
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
                    return Ok(done(fs));
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
            return Ok(done(fs));
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
    // Left out of the listing on purpose (a store's deleted, not yet expunged messages): skipped,
    // and counted as such.
    let left_out = ctx.source.left_out(&m.source);
    fs.skipped += left_out;
    ctx.counters.skipped.fetch_add(left_out, Ordering::Relaxed);
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
        let dst = match dest_status {
            Some(st) => st,
            None => ctx.dest.status(&m.dest).await.map_err(|e| ctx.dst_err(e))?,
        };
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

    // Too big for the destination: skipped, listed with size, date and subject. A message larger
    // than the whole daily budget could never be sent either.
    let limit = match (ctx.opts.max_message_size, ctx.dest.max_message_size()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let budget_limit = ctx.opts.budget.map(|b| b.bytes_per_day);
    let too_big =
        |size: u64| limit.is_some_and(|l| size > l) || budget_limit.is_some_and(|l| size > l);
    let (big, rest): (Vec<_>, Vec<_>) = todo.into_iter().partition(|x| too_big(x.size));
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
            let text = match limit {
                Some(l) if x.size > l => {
                    format!(
                        "{} bytes; the destination accepts at most {l} bytes",
                        x.size
                    )
                }
                _ => format!(
                    "{} bytes; more than the destination accepts in a day ({} bytes per day \
                     uploaded per account)",
                    x.size,
                    budget_limit.unwrap_or_default()
                ),
            };
            ctx.fail(
                &m.source,
                uv,
                x,
                headers.get(&x.key).map(Vec::as_slice),
                ErrorClass::TooBig,
                &text,
            )?;
        }
        fs.skipped += big.len() as u64;
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
        return Ok(done(fs));
    }
    Ok(FolderWork {
        m: m.clone(),
        fs,
        copy: Some(CopyPlan {
            uv,
            status,
            from_uid,
            token,
            record_modseq,
            flags_sent,
            floor: Arc::new(Mutex::new(dest_floor)),
            todo,
            deferred: Vec::new(),
        }),
    })
}

/// Cuts a folder's messages (in the order given) into batches bounded in count and bytes.
fn batches_of(todo: Vec<MessageMeta>, opts: &SyncOptions) -> Vec<Vec<MessageMeta>> {
    let mut batches: Vec<Vec<MessageMeta>> = Vec::new();
    let mut cur: Vec<MessageMeta> = Vec::new();
    let mut cur_bytes = 0u64;
    for x in todo {
        if !cur.is_empty()
            && (cur.len() >= opts.batch_messages || cur_bytes + x.size > opts.batch_bytes)
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
    batches
}

/// With a daily budget: the messages of every folder, newest first by INTERNALDATE (undated
/// last), as many as fit what is left of the budget; the first that does not fit and all after
/// it wait for a later run. Returns per folder the messages to send now (newest first), and
/// records when the rest can go.
fn within_budget<S: Source, D: Destination>(
    ctx: &Arc<Ctx<S, D>>,
    budget: DailyBudget,
    works: &mut [FolderWork],
) -> Result<(u64, u64), SyncError> {
    let now = ctx.opts.clock.now();
    let uploads = ctx.db(|db| db.uploads_since(&ctx.account, now - crate::budget::window()))?;
    let mut left = budget.remaining(&uploads, now);
    let mut all: Vec<(usize, MessageMeta)> = Vec::new();
    for (i, w) in works.iter_mut().enumerate() {
        if let Some(plan) = &mut w.copy {
            all.extend(std::mem::take(&mut plan.todo).into_iter().map(|x| (i, x)));
        }
    }
    all.sort_by(|(ia, a), (ib, b)| {
        b.internal_date
            .cmp(&a.internal_date)
            .then(ia.cmp(ib))
            .then(b.uid.cmp(&a.uid))
    });
    let (mut messages_now, mut bytes_now) = (0u64, 0u64);
    let mut stopped_at: Option<u64> = None;
    for (i, x) in all {
        if stopped_at.is_none() && x.size <= left {
            left -= x.size;
            messages_now += 1;
            bytes_now += x.size;
            if let Some(plan) = &mut works[i].copy {
                plan.todo.push(x);
            }
        } else {
            stopped_at.get_or_insert(x.size);
            ctx.deferred.fetch_add(1, Ordering::Relaxed);
            if let Some(plan) = &mut works[i].copy {
                plan.deferred.push(x.uid);
            }
        }
    }
    if let Some(need) = stopped_at {
        // What this run is about to send counts from now (re-computed from the ledger once sent).
        let mut planned = uploads;
        planned.push((now, bytes_now));
        let until = budget.fits_at(&planned, now, need).unwrap_or(now);
        *ctx.budget_need.lock().unwrap_or_else(|p| p.into_inner()) = Some(need);
        *ctx.budget_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(until);
        tracing::info!(
            account = %ctx.account,
            until = %until,
            deferred = ctx.deferred.load(Ordering::Relaxed),
            "daily upload budget reached: the rest goes after this time"
        );
    }
    Ok((messages_now, bytes_now))
}

/// Copies the prepared folders' messages (one stream of batches over all folders), then records
/// each folder's watermark.
async fn copy_and_finish<S: Source, D: Destination>(
    ctx: &Arc<Ctx<S, D>>,
    works: &mut [FolderWork],
) -> Result<(), SyncError> {
    let totals = (
        ctx.counters.total_messages.load(Ordering::Relaxed),
        ctx.counters.total_bytes.load(Ordering::Relaxed),
    );
    let now = match ctx.opts.budget {
        Some(b) if !ctx.opts.dry_run => within_budget(ctx, b, works)?,
        _ => totals,
    };
    ctx.emit(Progress::Totals {
        account: ctx.account.clone(),
        messages: totals.0,
        bytes: totals.1,
        messages_now: now.0,
        bytes_now: now.1,
        resumes_at: *ctx.budget_until.lock().unwrap_or_else(|p| p.into_inner()),
    });
    // Batches of every folder in one stream: newest first with a budget (by each batch's newest
    // message), else folder by folder in UID order.
    let mut batches: Vec<(usize, Vec<MessageMeta>)> = Vec::new();
    for (i, w) in works.iter_mut().enumerate() {
        if let Some(plan) = &mut w.copy {
            let todo = std::mem::take(&mut plan.todo);
            batches.extend(batches_of(todo, &ctx.opts).into_iter().map(|b| (i, b)));
        }
    }
    if ctx.opts.budget.is_some() {
        batches.sort_by(|(_, a), (_, b)| {
            let newest = |v: &Vec<MessageMeta>| v.iter().filter_map(|x| x.internal_date).max();
            newest(b).cmp(&newest(a))
        });
    }
    let started = Instant::now();
    let works_ref: &[FolderWork] = works;
    // Every batch is under way at once; `batches_in_flight` decides which run (in order).
    let all_at_once = batches.len().max(1);
    let outcomes: Vec<(usize, Result<BatchOutcome, SyncError>)> = stream::iter(batches)
        .map(|(i, b)| {
            let ctx = ctx.clone();
            async move {
                let w = &works_ref[i];
                let plan = w
                    .copy
                    .as_ref()
                    .expect("batches come from folders with a plan");
                (
                    i,
                    copy_batch(&ctx, &w.m, plan.uv, b, &plan.floor, started).await,
                )
            }
        })
        .buffer_unordered(all_at_once)
        .collect()
        .await;
    // The time the rest can go, from the uploads as recorded (batches are stamped when sent).
    let need = *ctx.budget_need.lock().unwrap_or_else(|p| p.into_inner());
    if let (Some(budget), Some(need)) = (ctx.opts.budget, need) {
        let now = ctx.opts.clock.now();
        let uploads = ctx.db(|db| db.uploads_since(&ctx.account, now - crate::budget::window()))?;
        if let Some(until) = budget.fits_at(&uploads, now, need) {
            let mut u = ctx.budget_until.lock().unwrap_or_else(|p| p.into_inner());
            *u = Some(u.map_or(until, |was| was.max(until)));
        }
    }
    let mut per_folder: HashMap<usize, Vec<Result<BatchOutcome, SyncError>>> = HashMap::new();
    for (i, o) in outcomes {
        per_folder.entry(i).or_default().push(o);
    }
    let mut first_err: Option<SyncError> = None;
    for (i, w) in works.iter_mut().enumerate() {
        if w.copy.is_none() {
            continue;
        }
        let outcomes = per_folder.remove(&i).unwrap_or_default();
        if let Err(e) = finish_folder(ctx, w, outcomes) {
            first_err.get_or_insert(e);
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Records a folder's new state after its batches: the watermark moves only past settled
/// messages; too-big skips count as settled (they are listed, and a re-run would only skip them
/// again); messages deferred (budget, cancel) keep it below them.
fn finish_folder<S: Source, D: Destination>(
    ctx: &Arc<Ctx<S, D>>,
    w: &mut FolderWork,
    outcomes: Vec<Result<BatchOutcome, SyncError>>,
) -> Result<(), SyncError> {
    let Some(plan) = &w.copy else {
        return Ok(());
    };
    let m = &w.m;
    let fs = &mut w.fs;
    let mut unsettled_min: Option<u32> = None;
    let mut unsettled_no_uid = false;
    let mut first_err: Option<SyncError> = None;
    let mut note = |u: Option<u32>, unsettled_no_uid: &mut bool| match u {
        Some(u) => unsettled_min = Some(unsettled_min.map_or(u, |m: u32| m.min(u))),
        None => *unsettled_no_uid = true,
    };
    for u in &plan.deferred {
        note(*u, &mut unsettled_no_uid);
    }
    for o in outcomes {
        match o {
            Ok(b) => {
                fs.copied += b.copied;
                fs.bytes += b.bytes;
                fs.failed += b.failed;
                for u in b.unsettled {
                    note(u, &mut unsettled_no_uid);
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
    let complete = unsettled_min.is_none() && !unsettled_no_uid;
    let new_state = FolderState {
        dest_folder: m.dest.clone(),
        source_uidvalidity: plan.uv,
        source_uidnext: match unsettled_min {
            Some(u) => Some(u),
            None if unsettled_no_uid => Some(plan.from_uid),
            None => plan.status.uid_next,
        },
        source_messages: Some(plan.status.messages),
        source_highestmodseq: plan.record_modseq,
        source_token: plan.token.filter(|_| complete && plan.flags_sent),
        complete,
    };
    ctx.db(|db| db.put_folder(&ctx.account, &m.source, &new_state))?;
    ctx.emit(Progress::FolderDone {
        account: ctx.account.clone(),
        folder: m.source.clone(),
    });
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
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
    // The folder must exist (created alongside): else nothing is sent, the round ends with the
    // CREATE's error. Waited for before taking a place, so that batches for folders that exist
    // go meanwhile.
    if !folder_ready(ctx, &m.dest).await {
        out.unsettled = batch.iter().map(|x| x.uid).collect();
        return Ok(out);
    }
    // Held until the batch is appended (or given up); the semaphore is never closed (and fair:
    // places go in the batches' order).
    let _slot = PermitGuard {
        ctx: ctx.as_ref(),
        permit: ctx.batches_in_flight.acquire().await.ok(),
    };
    // Nothing new starts while a server's pause runs, or once the run is cancelled.
    if !ctx.wait_pause().await {
        ctx.deferred
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        out.unsettled = batch.iter().map(|x| x.uid).collect();
        return Ok(out);
    }
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
    // A pause asked for while this batch was read holds it back too (or a cancel: nothing of
    // it was sent).
    if !ctx.wait_pause().await {
        ctx.deferred
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        out.unsettled = batch.iter().map(|x| x.uid).collect();
        return Ok(out);
    }
    // The bytes count against the daily budget from the moment they may be sent.
    let upload_at = ctx.opts.clock.now();
    ctx.db(|db| {
        db.write_intents_counted(
            &ctx.account,
            &m.source,
            uv,
            &m.dest,
            &intents,
            Some(upload_at),
        )
    })?;
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

/// A batch's place in `batches_in_flight`: given back when the batch ends, unless throttling
/// lowered the number of batches at once meanwhile (then it is forgotten instead).
struct PermitGuard<'a, S, D> {
    ctx: &'a Ctx<S, D>,
    permit: Option<tokio::sync::SemaphorePermit<'a>>,
}

impl<S, D> Drop for PermitGuard<'_, S, D> {
    fn drop(&mut self) {
        let Some(p) = self.permit.take() else {
            return;
        };
        let owed = &self.ctx.owed_permits;
        if owed
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
        {
            p.forget();
        }
    }
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
///
/// Returns the folder's status when it asked for it: still true for the group's preparation (no
/// APPEND of the round comes before), which then needs no STATUS of its own.
async fn check_dest_reset<S: Source, D: Destination>(
    ctx: &Arc<Ctx<S, D>>,
    dest: &str,
    absent_when_listed: bool,
) -> Result<Option<FolderStatus>, SyncError> {
    if !ctx.db(|db| db.has_dest_uids(&ctx.account, dest))? {
        return Ok(None);
    }
    // A folder the destination's LIST did not show holds none of the ledger's messages (it is
    // being created alongside, empty). UIDVALIDITY 0 is never a real one: every row is stale.
    let status = if absent_when_listed {
        Ok(FolderStatus::default())
    } else {
        ctx.dest.status(dest).await
    };
    let status = match status {
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
        return Ok(Some(status).filter(|_| !absent_when_listed));
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
    Ok(Some(status).filter(|_| !absent_when_listed))
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
