//! The two ends of a sync. `Source` is implemented over IMAP ([`crate::imap`]) and over a Dovecot
//! Maildir store on disk ([`crate::maildir`]); `Destination` over IMAP. Implementations own their
//! connection pools: every method may be called concurrently, and blocks until a connection is
//! free, which is how the engine's parallelism stays within each host's connection limit.

use std::future::Future;

use crate::error::SideError;
use crate::identity::Identity;
use crate::mapping::{ListedFolder, Namespace};

/// A folder's counters (IMAP STATUS), the basis of the "unchanged?" check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FolderStatus {
    pub uid_validity: u32,
    pub uid_next: Option<u32>,
    pub messages: u32,
    pub highest_modseq: Option<u64>,
}

/// A source folder and whether its owner subscribed to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFolder {
    pub folder: ListedFolder,
    pub subscribed: bool,
}

/// What is known of a message before its bytes are read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageMeta {
    /// Stable key within the folder and UIDVALIDITY: the UID as text for IMAP, the file's base
    /// name for a Maildir message that has no UID yet.
    pub key: String,
    pub uid: Option<u32>,
    pub size: u64,
    /// IMAP flags and keywords (`\Seen`, `$Forwarded`), without `\Recent`.
    pub flags: Vec<String>,
    pub internal_date: Option<chrono::DateTime<chrono::FixedOffset>>,
}

/// A message read from the source, with its bytes.
#[derive(Clone, Debug)]
pub struct FetchedMessage {
    pub meta: MessageMeta,
    pub bytes: Vec<u8>,
}

/// A message on the destination, as seen for matching (identity headers and size only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestMessage {
    pub uid: u32,
    pub identity: Identity,
    pub size: u64,
}

/// Where an APPEND landed (RFC 4315 APPENDUID).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendedUid {
    pub uid_validity: u32,
    pub uid: u32,
}

/// Flags by UID (source UIDs from [`Source::flag_changes`], destination UIDs for
/// [`Destination::store_flags`]).
pub type FlagChanges = Vec<(u32, Vec<String>)>;

/// One message to append.
#[derive(Clone, Copy, Debug)]
pub struct AppendRequest<'a> {
    pub flags: &'a [String],
    pub internal_date: Option<chrono::DateTime<chrono::FixedOffset>>,
    pub bytes: &'a [u8],
}

pub trait Source: Send + Sync + 'static {
    /// For reports: `imaps://jdoe@host` or `maildir:/path`. Never contains a secret.
    fn describe(&self) -> String;
    /// A short name of the account for the state DB key (user name or store name).
    fn account(&self) -> String;
    fn namespace(&self) -> impl Future<Output = Result<Namespace, SideError>> + Send;
    fn folders(&self) -> impl Future<Output = Result<Vec<SourceFolder>, SideError>> + Send;
    fn status(&self, folder: &str) -> impl Future<Output = Result<FolderStatus, SideError>> + Send;
    /// Messages with UID >= `from_uid` (an implementation without cheap ranges may return all).
    fn list(
        &self,
        folder: &str,
        from_uid: u32,
    ) -> impl Future<Output = Result<Vec<MessageMeta>, SideError>> + Send;
    /// The identity header fields ([`crate::identity::IDENTITY_FIELDS`]) of the given messages,
    /// by key: enough for identity, subject and date without reading the bodies.
    fn identity_headers(
        &self,
        folder: &str,
        messages: &[MessageMeta],
    ) -> impl Future<Output = Result<Vec<(String, Vec<u8>)>, SideError>> + Send;
    /// The bytes of the given messages. A message that is gone is simply absent from the result;
    /// the outer error is for the whole batch (connection lost).
    fn fetch(
        &self,
        folder: &str,
        messages: &[MessageMeta],
    ) -> impl Future<Output = Result<Vec<FetchedMessage>, SideError>> + Send;
    /// The current flags of the messages with UID <= `up_to_uid` whose flags changed after
    /// `since_modseq` (CONDSTORE `CHANGEDSINCE`), as (UID, flags without `\Recent`). `Ok(None)`
    /// when the source cannot tell (no CONDSTORE).
    fn flag_changes(
        &self,
        folder: &str,
        up_to_uid: u32,
        since_modseq: u64,
    ) -> impl Future<Output = Result<Option<FlagChanges>, SideError>> + Send;
    /// A cheap token that differs whenever the folder's messages or their flags may have changed,
    /// for sources without mod-sequences (a Maildir store: the modification times of its
    /// directories). The same token as after the last complete run means the folder is untouched:
    /// it is skipped without a listing. `Ok(None)`: no token, or none to trust right now.
    fn change_token(
        &self,
        _folder: &str,
    ) -> impl Future<Output = Result<Option<u64>, SideError>> + Send {
        async { Ok(None) }
    }
    /// Whether [`Source::list`] cheaply returns every message with its current flags, whatever
    /// `from_uid` says. Such a source's flag changes are found by comparing its listing with the
    /// flags recorded when the messages were copied (it has no CONDSTORE to ask), so a folder
    /// whose counters are unchanged is still listed unless [`Source::change_token`] vouches for it.
    fn lists_current_flags(&self) -> bool {
        false
    }
    /// Messages the folder's last listing left out on purpose (a store's `\Deleted`, not yet
    /// expunged ones): the summary counts them as skipped.
    fn left_out(&self, _folder: &str) -> u64 {
        0
    }
}

pub trait Destination: Send + Sync + 'static {
    /// Opens every connection the destination may use now, all at once, so that a host far
    /// away costs its connection round trips once, in parallel, before the copy needs them.
    fn open_connections(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
    fn describe(&self) -> String;
    fn account(&self) -> String;
    fn namespace(&self) -> impl Future<Output = Result<Namespace, SideError>> + Send;
    fn folders(&self) -> impl Future<Output = Result<Vec<ListedFolder>, SideError>> + Send;
    /// Creates a folder (its parents too if the server needs that); an existing folder is fine.
    fn create(&self, folder: &str) -> impl Future<Output = Result<(), SideError>> + Send;
    fn subscribe(&self, folder: &str) -> impl Future<Output = Result<(), SideError>> + Send;
    fn status(&self, folder: &str) -> impl Future<Output = Result<FolderStatus, SideError>> + Send;
    /// The largest message the destination accepts (APPENDLIMIT, or a configured limit).
    fn max_message_size(&self) -> Option<u64>;
    /// Appends messages to one folder with their flags and dates, as fast as the server allows
    /// (pipelined). The outer error means the connection failed: any of the messages may or may
    /// not have landed. Inner results are per message, in order; `Ok(None)` when the server does
    /// not say where a message landed (no UIDPLUS).
    fn append_many(
        &self,
        folder: &str,
        messages: &[AppendRequest<'_>],
    ) -> impl Future<Output = Result<Vec<Result<Option<AppendedUid>, SideError>>, SideError>> + Send;
    /// Whether [`Destination::store_flags`] can work: the destination names the UIDs of appended
    /// messages (UIDPLUS) or keeps mod-sequences (CONDSTORE).
    fn can_store_flags(&self) -> bool;
    /// Sets (replaces) the flags of messages by destination UID, if the folder still has
    /// `uid_validity`. Keywords the folder cannot keep (PERMANENTFLAGS without `\*`) are dropped.
    /// Returns how many messages were updated (0 when the UIDVALIDITY differs).
    fn store_flags(
        &self,
        folder: &str,
        uid_validity: u32,
        changes: &[(u32, Vec<String>)],
    ) -> impl Future<Output = Result<u64, SideError>> + Send;
    /// Identity and size of every message with UID >= `from_uid`.
    fn identities(
        &self,
        folder: &str,
        from_uid: u32,
    ) -> impl Future<Output = Result<Vec<DestMessage>, SideError>> + Send;
}
