//! Errors of the engine. Per-message failures are data ([`crate::report::MessageFailure`]), not
//! these: a `SyncError` stops an account (state file unusable, login refused, folder list failed).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;
use ts_rs::TS;

/// What kind of failure a side reported; decides whether to retry, skip or stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Larger than the destination accepts: skipped, listed with its size.
    TooBig,
    /// The destination mailbox is full.
    OverQuota,
    /// The server refused this message or command for another reason (its words are kept).
    Rejected,
    /// The connection broke, timed out, or could not be made: retried with back-off.
    Connection,
    /// The server asked to slow down: wait the time it names, then retry.
    Throttled,
    /// Login refused, certificate not trusted, TLS required: the account stops.
    Login,
    /// The source message disappeared (expunged) between listing and reading: not an error.
    Gone,
    /// Anything else (a protocol surprise, a local file error).
    Other,
}

impl ErrorClass {
    /// One line of advice for the admin.
    pub fn advice(self) -> &'static str {
        match self {
            ErrorClass::TooBig => "the destination refuses messages this large: raise its limit, or save the message locally and send it another way",
            ErrorClass::OverQuota => "the destination mailbox is full: raise its quota, then run the sync again (nothing is copied twice)",
            ErrorClass::Rejected => "the destination refused the message: read the server's words; run again after fixing, only the missing messages are sent",
            ErrorClass::Connection => "the connection failed: check the network and the server, then run again; nothing is copied twice",
            ErrorClass::Throttled => "the server asked to slow down: run again later or with fewer connections",
            ErrorClass::Login => "fix the login (user name, password, certificate) and run again",
            ErrorClass::Gone => "the message was deleted on the source while the sync ran: nothing to do",
            ErrorClass::Other => "run again; if it persists, report it with the message's folder and UID",
        }
    }

    /// Worth retrying in the same run.
    pub fn transient(self) -> bool {
        matches!(self, ErrorClass::Connection | ErrorClass::Throttled)
    }
}

/// An error reported by a source or destination implementation.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("{text}")]
pub struct SideError {
    pub class: ErrorClass,
    /// What happened, where, in words (for IMAP: including the server's own text).
    pub text: String,
    /// For `Throttled`: how long the server asked to wait.
    pub wait: Option<Duration>,
}

impl SideError {
    pub fn new(class: ErrorClass, text: impl Into<String>) -> SideError {
        SideError {
            class,
            text: text.into(),
            wait: None,
        }
    }
}

/// An error that stops the sync of an account.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("state file {path}: {detail}; check that the folder is writable and no other ferry runs on it")]
    State { path: PathBuf, detail: String },
    #[error("source {source_name}: {error}; {}", .error.class.advice())]
    Source {
        source_name: String,
        error: SideError,
    },
    #[error("destination {dest}: {error}; {}", .error.class.advice())]
    Destination { dest: String, error: SideError },
}

impl SyncError {
    pub fn class(&self) -> ErrorClass {
        match self {
            SyncError::State { .. } => ErrorClass::Other,
            SyncError::Source { error, .. } | SyncError::Destination { error, .. } => error.class,
        }
    }
}
