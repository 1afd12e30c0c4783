//! Phase 1, Discover: what the old server holds. The CLI (`ferry discover`) and the app call
//! [`run`]; on the server itself [`run_live`] reads `/` and asks `serveradmin` and `dscl`.

use std::path::Path;

pub use ferry_discover::{
    human_bytes, Account, AccountState, Alias, DiscoverError, Folder, FolderRole, Host, Inventory,
    Orphan, Partition, Totals, TrainingKind, TrainingMailbox, Warning, WarningCode,
};

/// Reads the server whose `/` is `root`. Command outputs come from `<root>/commands/` when that
/// folder exists (saved outputs, test fixtures), otherwise (on macOS) from the commands.
pub fn run(root: &Path) -> Result<Inventory, DiscoverError> {
    let host = ferry_discover::default_host(root);
    ferry_discover::discover(root, host.as_ref())
}

/// Reads the server with an explicit source for command outputs.
pub fn run_with(root: &Path, host: &dyn Host) -> Result<Inventory, DiscoverError> {
    ferry_discover::discover(root, host)
}

/// On the old server itself: `/`, with `serveradmin` and `dscl` run under a time limit.
#[cfg(target_os = "macos")]
pub fn run_live() -> Result<Inventory, DiscoverError> {
    ferry_discover::discover(Path::new("/"), &ferry_discover::LiveCommands::default())
}
