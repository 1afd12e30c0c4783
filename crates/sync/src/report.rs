//! What a run tells: progress events while it runs, a summary when it ends, and the verification
//! report. All serialisable (the CLI's `--json`) and exported to the UI.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::ErrorClass;
use crate::mapping::FolderPlan;

/// One failed or skipped message: enough to find it and to know what to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MessageFailure {
    pub account: String,
    pub folder: String,
    pub uid: Option<u32>,
    /// Stable key (UID, or Maildir base name).
    pub key: String,
    pub size: u64,
    pub subject: Option<String>,
    pub date: Option<String>,
    pub class: ErrorClass,
    /// The server's own words (or the local error).
    pub server_text: String,
    pub advice: String,
}

/// Per-folder result of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FolderSummary {
    pub source: String,
    pub dest: String,
    /// Messages in the source folder (STATUS).
    pub source_messages: u32,
    pub copied: u64,
    pub already_there: u64,
    pub skipped: u64,
    pub failed: u64,
    pub bytes: u64,
    /// Nothing to do: the folder's counters had not changed since the last run.
    pub unchanged: bool,
    /// Messages copied earlier whose flags changed on the source and were set on the destination.
    #[serde(default)]
    pub flags_updated: u64,
    /// Messages copied earlier that were missing when their destination folder turned out
    /// recreated (its UIDVALIDITY changed), and so copied again.
    #[serde(default)]
    pub recopied_after_dest_reset: u64,
}

/// The result of syncing one account pair.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AccountSummary {
    pub account: String,
    pub source: String,
    pub dest: String,
    pub dry_run: bool,
    pub plan: FolderPlan,
    pub folders: Vec<FolderSummary>,
    /// Appended in this run.
    pub copied: u64,
    /// Found on the destination already (earlier runs excluded: those are not counted again).
    pub already_there: u64,
    /// Not sent on purpose (too big); listed in `failures` with class `too_big`.
    pub skipped: u64,
    /// Could not be copied; listed in `failures`.
    pub failed: u64,
    /// Settled after a crash by finding them on the destination.
    pub recovered: u64,
    /// Copied again because their destination folder was recreated or restored without them
    /// (its UIDVALIDITY changed); messages still there were recognised and not copied again.
    /// In a dry run: would be (not included in `copied`).
    #[serde(default)]
    pub recopied_after_dest_reset: u64,
    /// Bytes appended.
    pub bytes: u64,
    pub seconds: f64,
    pub messages_per_second: f64,
    pub bytes_per_second: f64,
    /// Failed and skipped messages (from this run and still-open ones from earlier runs).
    pub failures: Vec<MessageFailure>,
    /// The error that stopped this account, if one did.
    pub fatal: Option<String>,
    /// Stopped on request before the end (batches sent were finished and recorded; a re-run
    /// continues where this one stopped).
    #[serde(default)]
    pub cancelled: bool,
    /// The daily upload budget was reached: what was left is sent by a run after this time.
    #[serde(default)]
    #[ts(type = "string | null")]
    pub budget_exhausted_until: Option<chrono::DateTime<chrono::Utc>>,
    /// Messages left for a later run because the budget was reached (or the run was cancelled).
    #[serde(default)]
    pub deferred: u64,
    /// Times the destination or source asked to slow down (each wait was kept in full).
    #[serde(default)]
    pub throttled: u64,
}

impl AccountSummary {
    /// True when every message of the source is on the destination or skipped on purpose.
    pub fn complete(&self) -> bool {
        self.fatal.is_none()
            && self.failed == 0
            && !self.cancelled
            && self.budget_exhausted_until.is_none()
    }
}

/// A progress event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Progress {
    /// The folder plan is known.
    Planned {
        account: String,
        folders: u32,
    },
    /// Everything this run will copy for the account is known (before the first batch lands):
    /// `messages` / `bytes` in all. With a daily budget, `messages_now` / `bytes_now` is what fits
    /// before it is reached (the rest waits for `resumes_at`); otherwise the same as the totals.
    Totals {
        account: String,
        messages: u64,
        bytes: u64,
        messages_now: u64,
        bytes_now: u64,
        #[ts(type = "string | null")]
        resumes_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// The server asked to slow down: nothing new is sent for `wait_ms`, then with fewer
    /// connections (`connections` batches at once from now on).
    Throttled {
        account: String,
        wait_ms: u64,
        connections: u32,
        server_text: String,
    },
    /// A folder's work is known: `messages` / `bytes` to copy.
    FolderStarted {
        account: String,
        folder: String,
        messages: u64,
        bytes: u64,
    },
    /// Messages landed; counters are for the account so far.
    Copied {
        account: String,
        folder: String,
        messages_done: u64,
        bytes_done: u64,
        messages_total: u64,
        bytes_total: u64,
        bytes_per_second: f64,
    },
    /// A message failed or was skipped.
    Failed {
        failure: MessageFailure,
    },
    FolderDone {
        account: String,
        folder: String,
    },
    AccountDone {
        account: String,
        complete: bool,
        #[serde(default)]
        cancelled: bool,
        #[serde(default)]
        #[ts(type = "string | null")]
        budget_exhausted_until: Option<chrono::DateTime<chrono::Utc>>,
    },
}

/// Verification of one folder (phase 5): source against destination, by identity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FolderVerification {
    /// Source folders that feed this destination folder.
    pub sources: Vec<String>,
    pub dest: String,
    pub source_messages: u64,
    /// Destination messages that match a source message (this migration's messages).
    pub dest_matching: u64,
    /// Destination messages not from the source (mail that arrived there otherwise).
    pub dest_other: u64,
    pub missing: Vec<MissingMessage>,
    /// Source messages not on the destination as they are because the review phase resolved
    /// them (delivered wrapped in a note, or exported to an mbox file): not counted as missing.
    #[serde(default)]
    pub resolved: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MissingMessage {
    pub folder: String,
    pub uid: Option<u32>,
    pub key: String,
    pub size: u64,
    /// The reason on record (a failure of an earlier run), if any.
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Verification {
    pub account: String,
    pub folders: Vec<FolderVerification>,
    pub source_messages: u64,
    pub missing: u64,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.missing == 0
    }
}
