//! Errors of discovery. Parsers return [`ParseError`] (file and line); the whole run returns
//! [`DiscoverError`], whose message says what went wrong, where, and what to do.

use std::path::PathBuf;

/// A malformed line in one of the server's files or command outputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}, line {line}: {message}")]
pub struct ParseError {
    /// The file (or command output) as named to the user.
    pub file: String,
    /// 1-based line number (0 when the problem is the file as a whole).
    pub line: usize,
    pub message: String,
}

impl ParseError {
    pub fn new(file: &str, line: usize, message: impl Into<String>) -> Self {
        ParseError {
            file: file.to_string(),
            line,
            message: message.into(),
        }
    }
}

/// A command on the server (`serveradmin`, `dscl`) could not give its output.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("`{command}` could not be started: {source}. Run Ferry on the old server itself, as root (sudo), or pass --root with a folder that holds a commands/ folder")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` did not finish within {seconds} s and was stopped. Check that the server's Open Directory and Server.app respond, then run discovery again")]
    Timeout { command: String, seconds: u64 },
    #[error("`{command}` failed ({status}): {stderr}. Run it by hand to see why; Ferry needs root (sudo) for it")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("cannot read {path}: {source}. The commands/ folder must hold the saved output of `{command}`")]
    Saved {
        path: PathBuf,
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no source for `{command}`: this is not a macOS server and {commands_dir} does not exist. Pass --root with a copy of the server that has a commands/ folder")]
    Unavailable {
        command: String,
        commands_dir: PathBuf,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("cannot read the server root {path}: {source}. Give a readable folder with --root (on the server itself: run as root)")]
    RootUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}. Fix or restore that line (compare with a backup of the server), then run discovery again")]
    Malformed(#[from] ParseError),
    #[error("required file {path} is missing or unreadable: {source}. Is {root} really the server's root folder?")]
    RequiredFile {
        path: PathBuf,
        root: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Host(#[from] HostError),
}
