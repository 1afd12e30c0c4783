//! Phase 1, Discover: read an old macOS Server's mail service as it is, without changing it.
//!
//! Input: a root folder (`/` on the server, a fixture copy in tests) and a [`Host`] that gives the
//! output of `serveradmin settings mail` and `dscl`. Output: an [`Inventory`]. Nothing is written
//! under the root; no network is used. Secrets in the server's files (`submit.cred`,
//! `sasl/passwd`, `submit.passdb`) are never opened.

mod discover;
pub mod dscl;
mod error;
pub mod host;
/// Folder names on disk are modified UTF-7: the store reader's decoder serves discovery too.
pub use ferry_maildir::utf7 as mutf7;
pub mod plists;
pub mod postfix;
pub mod serveradmin;
pub mod store;
mod types;

pub use discover::{discover, human_bytes};
pub use error::{DiscoverError, HostError, ParseError};
pub use host::{default_host, CommandOutput, Host, LiveCommands, SavedOutputs};
pub use types::*;
