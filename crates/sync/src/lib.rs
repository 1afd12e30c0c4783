//! ferry-sync: the engine that copies every message of a source (IMAP, or a Dovecot Maildir store
//! on disk) to a destination IMAP server exactly once, byte for byte, with flags, keywords and
//! dates, and proves it afterwards. Knows nothing of the GUI or the CLI.
//!
//! - [`identity`]: what makes two messages the same (Message-ID + Date, header hash, counted).
//! - [`mapping`]: which folder goes where (SPECIAL-USE, Apple/Outlook names, prefixes, rules).
//! - [`state`]: the SQLite ledger (intent before APPEND, confirmation after).
//! - [`side`]: the `Source` / `Destination` traits; [`engine`]: the loop; [`report`]: events,
//!   summaries, verification.

pub mod any;
pub mod budget;
pub mod engine;
pub mod error;
pub mod identity;
pub mod imap;
pub mod maildir;
pub mod mapping;
pub mod report;
pub mod side;
pub mod state;
pub mod verify;

pub use budget::{days_for_bytes, days_needed, Clock, DailyBudget, ManualClock, SystemClock};
pub use engine::{account_key, sync_account, ProgressFn, SharedState, SyncOptions};
pub use error::{ErrorClass, SideError, SyncError};
pub use report::{AccountSummary, Progress, Verification};
pub use side::{Destination, Source};
pub use state::StateDb;
pub use verify::verify_account;
