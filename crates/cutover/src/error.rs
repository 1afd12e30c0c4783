//! Errors of the cut-over crate. Each message says what failed, where, and what to do.

use std::path::PathBuf;

/// What went wrong in a cut-over check or archive.
#[derive(Debug, thiserror::Error)]
pub enum CutoverError {
    /// A file or folder of the old server could not be read.
    #[error("cannot read {path}: {source}; check that the server root is right and readable (run as root on the server)")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written (archive, mbox).
    #[error(
        "cannot write {path}: {source}; check free space and permissions of the destination folder"
    )]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A compressed log or quarantine file is damaged.
    #[error("cannot decompress {path}: {source}; the file may be truncated, skip or restore it")]
    Decompress {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A domain name given by the caller is not a valid DNS name.
    #[error("'{name}' is not a valid domain name: {reason}")]
    BadDomain { name: String, reason: String },
    /// A host name given for the old server, the new host or an SPF include is not a DNS name.
    #[error("'{value}', given as {role}, is not a valid host name: {reason}")]
    BadHostName {
        role: &'static str,
        value: String,
        reason: String,
    },
    /// An address given for the old server or the new host is not an IP address.
    #[error("'{value}', given as {role}, is not an IP address; give an IPv4 or IPv6 address such as 192.0.2.10 or 2001:db8::10")]
    BadAddress { role: &'static str, value: String },
    /// A resolver address is not `IP` or `IP:port`.
    #[error(
        "'{value}' is not a resolver address; give an IP, or IP:port (for example 192.0.2.53:53)"
    )]
    BadResolver { value: String },
    /// An existing mbox file is not an mbox file: refuse to append to it.
    #[error("{path} exists but does not start with an mbox 'From ' line; move it away or pick another folder")]
    NotMbox { path: PathBuf },
    /// The IMAP destination refused or failed.
    #[error("quarantine archive to IMAP folder '{folder}': {message}")]
    Imap { folder: String, message: String },
}

pub type Result<T, E = CutoverError> = std::result::Result<T, E>;
