//! Errors as they reach the UI: a stable code the UI branches on (to add the right fix, such as
//! macOS's Full Disk Access) and a message in the app's words. The libraries' own messages end
//! with advice for the command line (`--root`, "run as root (sudo)") and carry the system's
//! wording ("No such file or directory (os error 2)"); the app builds its sentence from the
//! error's fields instead, so it says what and where, and the UI adds what to do.

use std::io::ErrorKind;
use std::path::Path;

use ferry_project::discover::{DiscoverError, HostError};
use ferry_project::phases::PhaseError;
use ferry_project::project::ProjectError;
use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The chosen root (or a file under it) does not exist.
    NotFound,
    /// The operating system refused to let Ferry read it (on macOS: Full Disk Access).
    PermissionDenied,
    /// A server file is malformed; the message names file and line.
    Malformed,
    /// `serveradmin` or `dscl` could not give their output (on the server itself).
    ServerTools,
    /// A copy of a server lacks the saved output of `serveradmin`/`dscl` (its `commands/` folder).
    CopyWithoutCommands,
    /// The migration file could not be read or written.
    ProjectFile,
    /// A discovery is already running.
    Busy,
    /// The admin closed a dialog without choosing (not shown as an error).
    Cancelled,
    /// A step cannot run yet: an earlier one is missing (the message says which).
    NotReady,
    /// What the admin typed cannot be used (an empty password, a bad address).
    Invalid,
    /// A server could not be reached, or its certificate could not be read.
    Connection,
    /// The password store could not be opened.
    Vault,
    /// Ferry's encrypted password file waits for its passphrase: the UI asks for it in a dialog,
    /// then tries again what the admin was doing.
    VaultLocked,
    /// Anything else (a bug): the message says what happened.
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    pub code: ErrorCode,
    pub message: String,
}

impl CommandError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        CommandError {
            code,
            message: message.into(),
        }
    }
}

fn io_code(kind: ErrorKind) -> ErrorCode {
    match kind {
        // macOS privacy protection answers EPERM ("Operation not permitted"), plain Unix
        // permissions EACCES: both are PermissionDenied here.
        ErrorKind::PermissionDenied => ErrorCode::PermissionDenied,
        ErrorKind::NotFound => ErrorCode::NotFound,
        _ => ErrorCode::Internal,
    }
}

/// Why a file could not be read, in words (not the system's "(os error N)").
pub(crate) fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        ErrorKind::NotFound => "it does not exist".to_string(),
        ErrorKind::PermissionDenied => "the system does not allow Ferry to read it".to_string(),
        ErrorKind::NotADirectory => "part of that path is a file, not a folder".to_string(),
        ErrorKind::IsADirectory => "it is a folder, not a file".to_string(),
        ErrorKind::InvalidData => "it is not text Ferry can read".to_string(),
        other => format!("the system reported: {other}"),
    }
}

/// A path below `root` as the admin sees it in Finder (`Library/Server/Mail/...`).
fn under(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Discovery's errors, for a server at `root`.
pub fn discover_error(err: DiscoverError, root: &Path) -> CommandError {
    match &err {
        DiscoverError::RootUnreadable { path, source } => CommandError::new(
            io_code(source.kind()),
            format!(
                "Ferry cannot open the folder {}: {}.",
                path.display(),
                io_reason(source)
            ),
        ),
        DiscoverError::RequiredFile { path, root, source } => CommandError::new(
            io_code(source.kind()),
            if source.kind() == ErrorKind::NotFound {
                format!(
                    "{} does not look like a macOS Server: it has no {}.",
                    root.display(),
                    under(root, path)
                )
            } else {
                format!(
                    "Ferry cannot read {} in {}: {}.",
                    under(root, path),
                    root.display(),
                    io_reason(source)
                )
            },
        ),
        DiscoverError::Malformed(parse) => {
            let at = if parse.line > 0 {
                format!("{}, line {}", parse.file, parse.line)
            } else {
                parse.file.clone()
            };
            CommandError::new(
                ErrorCode::Malformed,
                format!("{at}: {}.", parse.message.trim_end_matches('.')),
            )
        }
        DiscoverError::Host(host) => host_error(host, root),
    }
}

fn host_error(err: &HostError, root: &Path) -> CommandError {
    match err {
        HostError::Spawn { command, source } => CommandError::new(
            ErrorCode::ServerTools,
            format!(
                "Ferry could not run `{command}` on this Mac: {}.",
                io_reason(source)
            ),
        ),
        HostError::Timeout { command, seconds } => CommandError::new(
            ErrorCode::ServerTools,
            format!("`{command}` did not answer within {seconds} seconds and was stopped."),
        ),
        HostError::Failed {
            command, stderr, ..
        } => CommandError::new(
            ErrorCode::ServerTools,
            format!("`{command}` failed: {}", stderr.trim()),
        ),
        HostError::Saved { path, command, .. } => CommandError::new(
            ErrorCode::CopyWithoutCommands,
            format!(
                "This copy has no saved output of `{command}`: {} is missing in {}.",
                under(root, path),
                root.display()
            ),
        ),
        HostError::Unavailable {
            command,
            commands_dir,
        } => CommandError::new(
            ErrorCode::CopyWithoutCommands,
            format!(
                "This copy has no saved output of `{command}`: there is no {} folder in {}.",
                under(root, commands_dir),
                root.display()
            ),
        ),
    }
}

impl From<ProjectError> for CommandError {
    fn from(err: ProjectError) -> Self {
        let code = match &err {
            ProjectError::NoSuchAccount(_) | ProjectError::Invalid(_) => ErrorCode::Invalid,
            _ => ErrorCode::ProjectFile,
        };
        CommandError::new(code, err.to_string())
    }
}

/// The password file waits for its passphrase (the UI asks for it and tries again).
pub fn vault_locked(locked: &ferry_project::host::VaultLocked) -> CommandError {
    CommandError::new(
        ErrorCode::VaultLocked,
        if locked.exists {
            format!(
                "Ferry's password file {} is locked: enter its passphrase to continue.",
                locked.path.display()
            )
        } else {
            format!(
                "Ferry keeps passwords in an encrypted file here ({}): choose its passphrase to continue.",
                locked.path.display()
            )
        },
    )
}

/// A phase's error; discovery's are worded for a server at `root`.
pub fn phase_error(err: PhaseError, root: &Path) -> CommandError {
    match err {
        PhaseError::Discover(e) => discover_error(e, root),
        PhaseError::Project(e) => e.into(),
        PhaseError::Busy(e) => CommandError::new(ErrorCode::Busy, e.to_string()),
        PhaseError::NotReady(text) => CommandError::new(ErrorCode::NotReady, text),
        PhaseError::VaultLocked(locked) => vault_locked(&locked),
        PhaseError::Vault(text) => CommandError::new(
            ErrorCode::Vault,
            format!("The password store could not be opened: {text}"),
        ),
        other => CommandError::new(ErrorCode::Internal, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_project::discover::ParseError;

    fn io(kind: ErrorKind) -> std::io::Error {
        std::io::Error::from(kind)
    }

    #[test]
    fn a_missing_folder_names_it_without_system_codes() {
        let err = discover_error(
            DiscoverError::RootUnreadable {
                path: "/Volumes/Backup/old".into(),
                // ENOENT, as the system reports a missing folder (2 on Linux and macOS)
                source: std::io::Error::from_raw_os_error(2),
            },
            Path::new("/Volumes/Backup/old"),
        );
        assert_eq!(err.code, ErrorCode::NotFound);
        assert_eq!(
            err.message,
            "Ferry cannot open the folder /Volumes/Backup/old: it does not exist."
        );
    }

    #[test]
    fn a_folder_that_is_no_server_says_which_file_it_lacks() {
        let root = Path::new("/srv/copy");
        let err = discover_error(
            DiscoverError::RequiredFile {
                path: root.join("Library/Server/Mail/Config/postfix/main.cf"),
                root: root.to_path_buf(),
                source: io(ErrorKind::NotFound),
            },
            root,
        );
        assert_eq!(err.code, ErrorCode::NotFound);
        assert_eq!(
            err.message,
            "/srv/copy does not look like a macOS Server: it has no Library/Server/Mail/Config/postfix/main.cf."
        );
        let err = discover_error(
            DiscoverError::RequiredFile {
                path: root.join("Library/Server/Mail/Config/postfix/main.cf"),
                root: root.to_path_buf(),
                source: io(ErrorKind::PermissionDenied),
            },
            root,
        );
        assert_eq!(err.code, ErrorCode::PermissionDenied);
        assert_eq!(
            err.message,
            "Ferry cannot read Library/Server/Mail/Config/postfix/main.cf in /srv/copy: the system does not allow Ferry to read it."
        );
    }

    #[test]
    fn a_malformed_line_is_named_with_its_line() {
        let err = discover_error(
            DiscoverError::Malformed(ParseError::new(
                "Library/Server/Mail/Config/postfix/virtual_users",
                7,
                "expected an address and a user",
            )),
            Path::new("/"),
        );
        assert_eq!(err.code, ErrorCode::Malformed);
        assert_eq!(
            err.message,
            "Library/Server/Mail/Config/postfix/virtual_users, line 7: expected an address and a user."
        );
    }

    #[test]
    fn a_copy_without_saved_outputs_says_which_file_is_missing() {
        let root = Path::new("/srv/copy");
        let err = discover_error(
            DiscoverError::Host(HostError::Saved {
                path: root.join("commands/serveradmin-settings-mail.txt"),
                command: "serveradmin settings mail".into(),
                source: io(ErrorKind::NotFound),
            }),
            root,
        );
        assert_eq!(err.code, ErrorCode::CopyWithoutCommands);
        assert_eq!(
            err.message,
            "This copy has no saved output of `serveradmin settings mail`: commands/serveradmin-settings-mail.txt is missing in /srv/copy."
        );
    }

    #[test]
    fn no_message_gives_command_line_advice() {
        let root = Path::new("/srv/copy");
        let errors = [
            DiscoverError::RootUnreadable {
                path: root.into(),
                source: io(ErrorKind::PermissionDenied),
            },
            DiscoverError::Host(HostError::Spawn {
                command: "serveradmin settings mail".into(),
                source: io(ErrorKind::NotFound),
            }),
            DiscoverError::Host(HostError::Failed {
                command: "dscl".into(),
                status: "exit status: 1".into(),
                stderr: "eDSPermissionError\n".into(),
            }),
            DiscoverError::Host(HostError::Timeout {
                command: "dscl".into(),
                seconds: 60,
            }),
            DiscoverError::Host(HostError::Unavailable {
                command: "dscl".into(),
                commands_dir: root.join("commands"),
            }),
        ];
        for err in errors {
            let shown = discover_error(err, root).message;
            for cli in ["--root", "sudo", "os error", "--"] {
                assert!(!shown.contains(cli), "{shown:?} contains {cli:?}");
            }
        }
    }
}
