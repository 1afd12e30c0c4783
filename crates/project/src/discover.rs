//! Phase 1, Discover: what the old server holds. The CLI (`ferry discover`) and the app call
//! [`run`]; on the server itself [`run_live`] reads `/` and asks `serveradmin` and `dscl`.

use std::path::Path;

pub use ferry_discover::{
    human_bytes, Account, AccountState, Alias, DiscoverError, Folder, FolderRole, Host, HostError,
    Inventory, Orphan, ParseError, Partition, Totals, TrainingKind, TrainingMailbox, Warning,
    WarningCode,
};

/// Reads the server whose `/` is `root`. Command outputs come from `<root>/commands/` when that
/// folder exists (saved outputs, test fixtures), otherwise (on macOS) from the commands.
pub fn run(root: &Path) -> Result<Inventory, DiscoverError> {
    let host = ferry_discover::default_host(root);
    ferry_discover::discover(root, host.as_ref())
}

/// Reads a copy of a server's files (a rehearsal, or a server too old to run Ferry). Command
/// outputs come only from `<root>/commands/`: never from this machine's own `serveradmin` and
/// `dscl`, which would mix the local directory (the rehearsal Mac's users) into the copy's
/// inventory. A copy without that folder is an error naming the file it lacks.
pub fn run_copy(root: &Path) -> Result<Inventory, DiscoverError> {
    ferry_discover::discover(root, &ferry_discover::SavedOutputs::new(root))
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

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_discover::HostError;

    /// A copy without `commands/` is refused naming the saved output it needs; it is never read
    /// with this machine's commands (on a Mac, `run` would ask the local serveradmin and dscl).
    #[test]
    fn a_copy_is_read_only_from_its_saved_outputs() {
        let tmp = tempfile::tempdir().unwrap();
        let root = ferry_testkit::materialize_fixture(&tmp.path().join("copy"));
        let expected = run(&root).unwrap();
        assert_eq!(run_copy(&root).unwrap(), expected);

        std::fs::remove_dir_all(root.join("commands")).unwrap();
        match run_copy(&root) {
            Err(DiscoverError::Host(HostError::Saved { path, .. })) => assert_eq!(
                path,
                root.join("commands")
                    .join(ferry_discover::host::SETTINGS_FILE)
            ),
            other => panic!("expected the missing saved output, got {other:?}"),
        }
    }
}
