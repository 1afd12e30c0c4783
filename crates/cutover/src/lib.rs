//! Cut-over: DNS checks and watch (phases 6, 7), mail still arriving at the old server (phase 11),
//! quarantine archive (phase 10). Plain typed values for the decommission report.

pub mod dns;
pub mod error;
pub mod imap_archive;
pub mod logs;
pub mod mailflow;
pub mod mbox;
pub mod quarantine;
pub mod spf;

pub use error::{CutoverError, Result};
