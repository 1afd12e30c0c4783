//! Long phases run as jobs: one writing job per project at a time (a lock beside the project
//! file, released by the system even when Ferry is killed), cancellable, and reporting progress
//! events tagged with the job's id: per account messages and bytes done / total, rate, ETA,
//! current folder and failures so far.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ferry_sync::report::Progress;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use crate::project::RunOutcome;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum JobKind {
    InitialSync,
    DeltaSync,
    FinalSync,
    Retry,
    DnsWatch,
    Quarantine,
    LoginCheck,
}

impl JobKind {
    /// The name in the phase log.
    pub fn log_name(self) -> &'static str {
        match self {
            JobKind::InitialSync => "initial_sync",
            JobKind::DeltaSync => "delta_sync",
            JobKind::FinalSync => "final_sync",
            JobKind::Retry => "retry",
            JobKind::DnsWatch => "dns_watch",
            JobKind::Quarantine => "quarantine",
            JobKind::LoginCheck => "login_check",
        }
    }

    /// In a sentence: "the initial sync".
    pub fn describe(self) -> &'static str {
        match self {
            JobKind::InitialSync => "the initial sync",
            JobKind::DeltaSync => "the cut-over sync",
            JobKind::FinalSync => "the final sync",
            JobKind::Retry => "the retry of failed messages",
            JobKind::DnsWatch => "the DNS watch",
            JobKind::Quarantine => "the quarantine archive",
            JobKind::LoginCheck => "the login check",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{holder} is already working on this migration. Wait for it to finish or stop it, then try again")]
    Busy { holder: String },
    #[error("cannot lock the migration at {path}: {reason}")]
    Lock { path: PathBuf, reason: String },
}

/// Held for as long as a writing job runs; dropping it releases the project.
#[derive(Debug)]
pub struct JobLock {
    _file: File,
    pub path: PathBuf,
}

/// The lock file of a project: `<project>.lock`.
pub fn lock_path(project: &Path) -> PathBuf {
    let mut name = project.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the project's writing lock for `kind`, or says who holds it. The holder's description
/// (process, what it does, since when) is written into the lock file for the next one to read.
pub fn lock(project: &Path, kind: JobKind, started_at: i64) -> Result<JobLock, JobError> {
    let path = lock_path(project);
    let lock_err = |reason: String| JobError::Lock {
        path: path.clone(),
        reason,
    };
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let mut file = options.open(&path).map_err(|e| lock_err(e.to_string()))?;
    // A child process forked elsewhere in this process holds a copy of every open descriptor
    // until it execs: a lock just released may look held for a moment. Ask again briefly.
    let mut tries = 0;
    let locked = loop {
        match file.try_lock() {
            Err(std::fs::TryLockError::WouldBlock) if tries < 20 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            other => break other,
        }
    };
    match locked {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(JobError::Busy {
                holder: if holder.is_empty() {
                    "Another Ferry".to_string()
                } else {
                    holder.to_string()
                },
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(lock_err(e.to_string())),
    }
    let when = chrono::DateTime::from_timestamp(started_at, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let text = format!(
        "Ferry (process {}) running {} since {when}",
        std::process::id(),
        kind.describe()
    );
    file.set_len(0)
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(text.as_bytes()))
        .map_err(|e| lock_err(e.to_string()))?;
    Ok(JobLock { _file: file, path })
}

/// A running job as its starter sees it.
#[derive(Debug, Clone)]
pub struct JobControl {
    pub id: String,
    pub kind: JobKind,
    pub cancel: CancellationToken,
}

impl JobControl {
    pub fn new(kind: JobKind) -> Self {
        JobControl {
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            cancel: CancellationToken::new(),
        }
    }
}

/// Where one account stands in a sync job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AccountStage {
    Waiting,
    Planning,
    Copying,
    Done,
    /// Done, with messages that failed (listed in Review).
    DoneWithFailures,
    /// Stopped by an error (login, connection, state file).
    Stopped,
    /// Stopped at the host's daily upload limit; continues by itself in the next window.
    WaitingForLimit,
}

/// One account's progress in a sync job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AccountProgress {
    /// The plan's key (the old address).
    pub account: String,
    pub stage: AccountStage,
    pub folder: Option<String>,
    #[ts(type = "number")]
    pub messages_done: u64,
    #[ts(type = "number")]
    pub messages_total: u64,
    #[ts(type = "number")]
    pub bytes_done: u64,
    #[ts(type = "number")]
    pub bytes_total: u64,
    pub bytes_per_second: f64,
    /// Seconds left at the current rate; `null` until a rate is known.
    #[ts(type = "number | null")]
    pub eta_seconds: Option<u64>,
    #[ts(type = "number")]
    pub failures: u64,
    /// Why the account stopped, in words.
    pub error: Option<String>,
}

impl AccountProgress {
    pub fn waiting(account: &str) -> Self {
        AccountProgress {
            account: account.to_string(),
            stage: AccountStage::Waiting,
            folder: None,
            messages_done: 0,
            messages_total: 0,
            bytes_done: 0,
            bytes_total: 0,
            bytes_per_second: 0.0,
            eta_seconds: None,
            failures: 0,
            error: None,
        }
    }
}

/// What a job reports as it goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum JobProgress {
    Started {
        job: JobKind,
        accounts: Vec<AccountProgress>,
    },
    Account {
        progress: AccountProgress,
    },
    /// A line for the admin (a DNS round, a wait for a throttled host).
    Note {
        text: String,
    },
    Finished {
        outcome: RunOutcome,
        summary: String,
    },
}

/// One event, tagged with its job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct JobEvent {
    pub job_id: String,
    pub event: JobProgress,
}

pub type JobEvents = Arc<dyn Fn(JobEvent) + Send + Sync>;

/// Turns the engine's events for one account into [`AccountProgress`] with a rate and an ETA.
/// Rate: bytes done over the time since the account's first copy (steady enough for an ETA,
/// and true: no smoothing that would show a speed that never happened).
pub struct ProgressTracker {
    job_id: String,
    events: JobEvents,
    accounts: Mutex<BTreeMap<String, (AccountProgress, Option<Instant>)>>,
}

impl ProgressTracker {
    pub fn new(job_id: &str, events: JobEvents, accounts: &[String]) -> Arc<Self> {
        Arc::new(ProgressTracker {
            job_id: job_id.to_string(),
            events,
            accounts: Mutex::new(
                accounts
                    .iter()
                    .map(|a| (a.clone(), (AccountProgress::waiting(a), None)))
                    .collect(),
            ),
        })
    }

    pub fn snapshot(&self) -> Vec<AccountProgress> {
        self.lock().values().map(|(p, _)| p.clone()).collect()
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, BTreeMap<String, (AccountProgress, Option<Instant>)>> {
        self.accounts.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn emit(&self, event: JobProgress) {
        (self.events)(JobEvent {
            job_id: self.job_id.clone(),
            event,
        });
    }

    /// Applies `change` to `account`'s progress without reporting it (before `Started`).
    pub fn preset(&self, account: &str, change: impl FnOnce(&mut AccountProgress)) {
        let mut accounts = self.lock();
        let entry = accounts
            .entry(account.to_string())
            .or_insert_with(|| (AccountProgress::waiting(account), None));
        change(&mut entry.0);
    }

    /// Applies `change` to `account`'s progress and reports it.
    pub fn update(&self, account: &str, change: impl FnOnce(&mut AccountProgress)) {
        let progress = {
            let mut accounts = self.lock();
            let entry = accounts
                .entry(account.to_string())
                .or_insert_with(|| (AccountProgress::waiting(account), None));
            change(&mut entry.0);
            entry.0.clone()
        };
        self.emit(JobProgress::Account { progress });
    }

    /// Feeds one engine event of `account`.
    pub fn engine_event(&self, account: &str, event: &Progress) {
        let progress = {
            let mut accounts = self.lock();
            let (p, first_copy) = accounts
                .entry(account.to_string())
                .or_insert_with(|| (AccountProgress::waiting(account), None));
            match event {
                Progress::Planned { .. } => p.stage = AccountStage::Planning,
                // Known before the first batch: the bars and the ETA are true from the start.
                // With a daily limit, this run's share is what the bar fills to.
                Progress::Totals {
                    messages_now,
                    bytes_now,
                    ..
                } => {
                    p.messages_total = *messages_now;
                    p.bytes_total = *bytes_now;
                }
                Progress::Throttled { wait_ms, .. } => {
                    p.error = Some(format!(
                        "The new host asked Ferry to slow down; waiting {} s as asked",
                        wait_ms.div_ceil(1000)
                    ));
                }
                Progress::FolderStarted { folder, .. } => {
                    p.stage = AccountStage::Copying;
                    p.folder = Some(folder.clone());
                }
                Progress::Copied {
                    folder,
                    messages_done,
                    bytes_done,
                    messages_total,
                    bytes_total,
                    ..
                } => {
                    p.stage = AccountStage::Copying;
                    p.folder = Some(folder.clone());
                    p.error = None;
                    p.messages_done = *messages_done;
                    p.bytes_done = *bytes_done;
                    p.messages_total = (*messages_total).max(p.messages_done);
                    p.bytes_total = (*bytes_total).max(p.bytes_done);
                    let started = *first_copy.get_or_insert_with(Instant::now);
                    let seconds = started.elapsed().as_secs_f64();
                    if seconds >= 0.5 && p.bytes_done > 0 {
                        p.bytes_per_second = p.bytes_done as f64 / seconds;
                        let left = p.bytes_total.saturating_sub(p.bytes_done) as f64;
                        p.eta_seconds = Some((left / p.bytes_per_second).ceil() as u64);
                    }
                }
                Progress::Failed { .. } => p.failures += 1,
                Progress::FolderDone { .. } => {}
                Progress::AccountDone {
                    complete,
                    cancelled,
                    budget_exhausted_until,
                    ..
                } => {
                    p.folder = None;
                    p.eta_seconds = None;
                    p.stage = if *cancelled {
                        p.error = Some(
                            "Stopped on request; the same sync continues where it stopped".into(),
                        );
                        AccountStage::Stopped
                    } else if budget_exhausted_until.is_some() {
                        AccountStage::WaitingForLimit
                    } else if *complete {
                        AccountStage::Done
                    } else {
                        AccountStage::DoneWithFailures
                    };
                }
                #[allow(unreachable_patterns)]
                _ => {}
            }
            p.clone()
        };
        self.emit(JobProgress::Account { progress });
    }
}
