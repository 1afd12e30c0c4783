//! Errors as they reach the UI: a stable code the UI branches on (to add the right fix, such as
//! macOS's Full Disk Access) and the library's message, which already says what and where.

use ferry_project::discover::DiscoverError;
use ferry_project::store::StoreError;
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
    /// `serveradmin` or `dscl` could not give their output.
    ServerTools,
    /// The migration file could not be read or written.
    ProjectFile,
    /// A discovery is already running.
    Busy,
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

fn io_code(err: &std::io::Error) -> ErrorCode {
    match err.kind() {
        // macOS privacy protection answers EPERM ("Operation not permitted"), plain Unix
        // permissions EACCES: both are PermissionDenied here.
        std::io::ErrorKind::PermissionDenied => ErrorCode::PermissionDenied,
        std::io::ErrorKind::NotFound => ErrorCode::NotFound,
        _ => ErrorCode::Internal,
    }
}

impl From<DiscoverError> for CommandError {
    fn from(err: DiscoverError) -> Self {
        let code = match &err {
            DiscoverError::RootUnreadable { source, .. }
            | DiscoverError::RequiredFile { source, .. } => io_code(source),
            DiscoverError::Malformed(_) => ErrorCode::Malformed,
            DiscoverError::Host(_) => ErrorCode::ServerTools,
        };
        CommandError::new(code, err.to_string())
    }
}

impl From<StoreError> for CommandError {
    fn from(err: StoreError) -> Self {
        CommandError::new(ErrorCode::ProjectFile, err.to_string())
    }
}
