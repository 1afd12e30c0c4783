//! `Source` and `Destination` over IMAP (ferry-imap), with a pool of logged-in connections.
//!
//! Every call leases a connection (waiting when all are busy: that is the backpressure), opening
//! a new one up to the limit. A connection that failed in a way that leaves it unusable is
//! dropped, not returned. The source side only ever EXAMINEs (read-only) and fetches with
//! BODY.PEEK: nothing on the source changes, not even `\Seen` or `\Recent`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use ferry_imap::{
    AppendMessage, Capabilities, Client, Credentials, Endpoint, FetchItems, FlagChange, ImapError,
    Session, SpecialUse, Timeouts, UidSet,
};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::{ErrorClass, SideError};
use crate::identity::{self, Identity};
use crate::mapping::{ListedFolder, Namespace, Role};
use crate::side::{
    AppendRequest, AppendedUid, DestMessage, Destination, FetchedMessage, FolderStatus,
    MessageMeta, Source, SourceFolder,
};

/// Maps an IMAP error to the engine's classes.
pub fn side_error(e: &ImapError) -> SideError {
    let class = match e {
        ImapError::TooBig { .. } => ErrorClass::TooBig,
        ImapError::OverQuota { .. } => ErrorClass::OverQuota,
        // Too many connections, or a server that says it is overloaded (BYE [UNAVAILABLE]):
        // slow down like for a throttling answer (wait, then fewer connections).
        ImapError::Throttled { .. }
        | ImapError::TooManyConnections { .. }
        | ImapError::ServerUnavailable { .. } => ErrorClass::Throttled,
        ImapError::Timeout { .. }
        | ImapError::ConnectionLost { .. }
        | ImapError::Unreachable { .. } => ErrorClass::Connection,
        ImapError::OAuthRefused { .. } => ErrorClass::Login,
        ImapError::TokenUnavailable { error, .. } => {
            if error.kind.is_retryable() {
                ErrorClass::Connection
            } else {
                ErrorClass::Login
            }
        }
        ImapError::AuthFailed { .. }
        | ImapError::NotAuthorized { .. }
        | ImapError::AccountDisabled { .. }
        | ImapError::TlsRequired { .. }
        | ImapError::NoLoginMethod { .. }
        | ImapError::UntrustedCertificate { .. }
        | ImapError::Tls { .. } => ErrorClass::Login,
        ImapError::NoSuchFolder { .. }
        | ImapError::AlreadyExists { .. }
        | ImapError::Rejected { .. }
        | ImapError::InvalidInput { .. } => ErrorClass::Rejected,
        // A protocol surprise ends the connection; the engine retries on a fresh one.
        ImapError::Protocol { .. } => ErrorClass::Connection,
        _ => ErrorClass::Other,
    };
    SideError {
        class,
        text: format!("{e} ({})", e.advice()),
        wait: match e {
            ImapError::Throttled { wait, .. } => *wait,
            _ => None,
        },
    }
}

fn role_of(su: Option<SpecialUse>) -> Option<Role> {
    su.and_then(|s| Role::from_attribute(s.attribute()))
}

/// One account on one IMAP server, with its connection pool.
pub struct ImapSide {
    endpoint: Endpoint,
    creds: Credentials,
    timeouts: Timeouts,
    permits: Semaphore,
    /// The pool's size (`permits` at the start).
    connections: usize,
    idle: Mutex<Vec<Session>>,
    caps: OnceLock<Capabilities>,
    /// Statuses from the last LIST-STATUS, used once each (saves a STATUS per folder).
    listed_status: Mutex<HashMap<String, FolderStatus>>,
    /// Commands sent, by name (for the summary and the "one STATUS per folder" check).
    counters: Mutex<HashMap<&'static str, u64>>,
    connections_opened: AtomicU64,
    /// A limit below the server's own APPENDLIMIT.
    max_message_size: Option<u64>,
}

/// A leased connection; goes back to the pool when dropped unless it was spoiled.
struct Lease<'a> {
    side: &'a ImapSide,
    session: Option<Session>,
    _permit: SemaphorePermit<'a>,
}

impl Lease<'_> {
    fn s(&mut self) -> &mut Session {
        self.session
            .as_mut()
            .expect("a lease holds its session until dropped")
    }

    /// Drops the connection if the error left it unusable, or the server asked to slow down
    /// (a `BYE` closed it, or fewer connections are wanted now); returns the mapped error.
    fn check(&mut self, e: ImapError) -> SideError {
        let mapped = side_error(&e);
        if e.is_fatal_to_connection() || mapped.class == ErrorClass::Throttled {
            self.session = None;
        }
        mapped
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            self.side
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(s);
        }
    }
}

impl ImapSide {
    /// `connections`: at most this many sessions at once (Dovecot allows 10 per user and IP by
    /// default, Gmail 15; 4 is fast and polite).
    pub fn new(endpoint: Endpoint, creds: Credentials, connections: usize) -> ImapSide {
        ImapSide {
            endpoint,
            creds,
            timeouts: Timeouts::default(),
            permits: Semaphore::new(connections.max(1)),
            connections: connections.max(1),
            idle: Mutex::new(Vec::new()),
            caps: OnceLock::new(),
            listed_status: Mutex::new(HashMap::new()),
            counters: Mutex::new(HashMap::new()),
            connections_opened: AtomicU64::new(0),
            max_message_size: None,
        }
    }

    pub fn with_timeouts(mut self, t: Timeouts) -> Self {
        self.timeouts = t;
        self
    }

    pub fn with_max_message_size(mut self, limit: Option<u64>) -> Self {
        self.max_message_size = limit;
        self
    }

    /// Commands sent so far, by name.
    pub fn command_counts(&self) -> HashMap<&'static str, u64> {
        self.counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn connections_opened(&self) -> u64 {
        self.connections_opened.load(Ordering::Relaxed)
    }

    fn count(&self, cmd: &'static str, n: u64) {
        *self
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(cmd)
            .or_default() += n;
    }

    async fn lease(&self) -> Result<Lease<'_>, SideError> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| SideError::new(ErrorClass::Other, "connection pool closed"))?;
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let session = match idle {
            Some(s) => s,
            None => {
                let client = Client::connect(&self.endpoint, self.timeouts)
                    .await
                    .map_err(|e| side_error(&e))?;
                let s = client
                    .login(&self.creds)
                    .await
                    .map_err(|e| side_error(&e))?;
                self.connections_opened.fetch_add(1, Ordering::Relaxed);
                self.count("LOGIN", 1);
                let _ = self.caps.set(s.capabilities().clone());
                s
            }
        };
        Ok(Lease {
            side: self,
            session: Some(session),
            _permit: permit,
        })
    }

    /// EXAMINE the folder unless this connection has it open already (and `fresh` is not asked:
    /// a listing must see messages that arrived since the folder was opened).
    async fn open(&self, l: &mut Lease<'_>, folder: &str, fresh: bool) -> Result<(), SideError> {
        if !fresh && l.s().selected() == Some(folder) {
            return Ok(());
        }
        self.count("EXAMINE", 1);
        match l.s().examine(folder).await {
            Ok(_) => Ok(()),
            Err(e) => Err(l.check(e)),
        }
    }

    async fn namespace_impl(&self) -> Result<Namespace, SideError> {
        let mut l = self.lease().await?;
        self.count("NAMESPACE", 1);
        let ns = match l.s().namespaces().await {
            Ok(ns) => ns,
            Err(e) => return Err(l.check(e)),
        };
        Ok(Namespace {
            prefix: ns.personal_prefix().to_string(),
            delimiter: ns.personal_delimiter().unwrap_or('/'),
        })
    }

    async fn list_impl(&self, with_status: bool) -> Result<Vec<ListedFolder>, SideError> {
        let mut l = self.lease().await?;
        self.count("LIST", 1);
        let folders: Vec<(ferry_imap::Folder, Option<ferry_imap::FolderStatus>)> = if with_status {
            match l.s().list_with_status().await {
                Ok(v) => v.into_iter().map(|f| (f.folder, f.status)).collect(),
                Err(e) => return Err(l.check(e)),
            }
        } else {
            match l.s().list().await {
                Ok(v) => v.into_iter().map(|f| (f, None)).collect(),
                Err(e) => return Err(l.check(e)),
            }
        };
        let mut cache = self.listed_status.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        for (f, st) in folders {
            if let Some(st) = st {
                cache.insert(f.name.clone(), convert_status(&st));
            }
            out.push(ListedFolder {
                no_select: !f.selectable(),
                special_use: role_of(f.special_use),
                delimiter: f.delimiter,
                name: f.name,
            });
        }
        Ok(out)
    }

    async fn status_impl(&self, folder: &str) -> Result<FolderStatus, SideError> {
        if let Some(st) = self
            .listed_status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(folder)
        {
            return Ok(st);
        }
        let mut l = self.lease().await?;
        self.count("STATUS", 1);
        match l.s().status(folder).await {
            Ok(st) => Ok(convert_status(&st)),
            Err(e) => Err(l.check(e)),
        }
    }

    fn label(&self) -> String {
        let scheme = match self.endpoint.security {
            ferry_imap::Security::Tls => "imaps",
            _ => "imap",
        };
        let user = self.creds.mailbox_owner();
        format!("{scheme}://{user}@{}", self.endpoint.label())
    }
}

fn convert_status(st: &ferry_imap::FolderStatus) -> FolderStatus {
    FolderStatus {
        uid_validity: st.uid_validity,
        uid_next: Some(st.uid_next),
        messages: st.messages,
        highest_modseq: st.highest_modseq,
    }
}

impl Source for ImapSide {
    fn describe(&self) -> String {
        self.label()
    }

    fn account(&self) -> String {
        self.label()
    }

    async fn namespace(&self) -> Result<Namespace, SideError> {
        self.namespace_impl().await
    }

    async fn folders(&self) -> Result<Vec<SourceFolder>, SideError> {
        let listed = self.list_impl(true).await?;
        let subscribed: Vec<String> = {
            let mut l = self.lease().await?;
            self.count("LSUB", 1);
            match l.s().lsub().await {
                Ok(v) => v.into_iter().map(|f| f.name).collect(),
                Err(e) => return Err(l.check(e)),
            }
        };
        Ok(listed
            .into_iter()
            .map(|f| SourceFolder {
                subscribed: subscribed.iter().any(|s| s == &f.name),
                folder: f,
            })
            .collect())
    }

    async fn status(&self, folder: &str) -> Result<FolderStatus, SideError> {
        self.status_impl(folder).await
    }

    async fn list(&self, folder: &str, from_uid: u32) -> Result<Vec<MessageMeta>, SideError> {
        let mut l = self.lease().await?;
        self.open(&mut l, folder, true).await?;
        self.count("UID FETCH", 1);
        let r = l
            .s()
            .uid_fetch(&UidSet::from_uid(from_uid), FetchItems::META)
            .await;
        match r {
            Ok(v) => Ok(v
                .into_iter()
                .map(|m| MessageMeta {
                    key: m.uid.to_string(),
                    uid: Some(m.uid),
                    size: u64::from(m.size.unwrap_or(0)),
                    flags: m.flags,
                    internal_date: m.internal_date,
                })
                .collect()),
            Err(e) => Err(l.check(e)),
        }
    }

    async fn identity_headers(
        &self,
        folder: &str,
        messages: &[MessageMeta],
    ) -> Result<Vec<(String, Vec<u8>)>, SideError> {
        let uids: Vec<u32> = messages.iter().filter_map(|m| m.uid).collect();
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let mut l = self.lease().await?;
        self.open(&mut l, folder, false).await?;
        self.count("UID FETCH", 1);
        let items = FetchItems {
            header: true,
            ..FetchItems::default()
        };
        let set = UidSet::from_uids(uids);
        let mut out = Vec::new();
        let r: Result<(), ImapError> = async {
            let mut stream = l.s().uid_fetch_stream(&set, items)?;
            while let Some(m) = stream.next().await? {
                let h = m.header.unwrap_or_default();
                out.push((m.uid.to_string(), identity::reduce_header(&h)));
            }
            Ok(())
        }
        .await;
        match r {
            Ok(()) => Ok(out),
            Err(e) => Err(l.check(e)),
        }
    }

    async fn fetch(
        &self,
        folder: &str,
        messages: &[MessageMeta],
    ) -> Result<Vec<FetchedMessage>, SideError> {
        let uids: Vec<u32> = messages.iter().filter_map(|m| m.uid).collect();
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let mut l = self.lease().await?;
        self.open(&mut l, folder, false).await?;
        self.count("UID FETCH", 1);
        let r = l
            .s()
            .uid_fetch(&UidSet::from_uids(uids), FetchItems::FULL)
            .await;
        match r {
            Ok(v) => Ok(v
                .into_iter()
                .filter_map(|m| {
                    let bytes = m.body?;
                    Some(FetchedMessage {
                        meta: MessageMeta {
                            key: m.uid.to_string(),
                            uid: Some(m.uid),
                            size: bytes.len() as u64,
                            flags: m.flags,
                            internal_date: m.internal_date,
                        },
                        bytes,
                    })
                })
                .collect()),
            Err(e) => Err(l.check(e)),
        }
    }

    async fn flag_changes(
        &self,
        folder: &str,
        up_to_uid: u32,
        since_modseq: u64,
    ) -> Result<Option<crate::side::FlagChanges>, SideError> {
        if up_to_uid == 0 {
            return Ok(Some(Vec::new()));
        }
        let mut l = self.lease().await?;
        if !l.s().capabilities().condstore() {
            return Ok(None);
        }
        self.open(&mut l, folder, true).await?;
        self.count("UID FETCH", 1);
        let r = l
            .s()
            .uid_fetch_flags_changed_since(&UidSet::range(1, up_to_uid), since_modseq)
            .await;
        match r {
            Ok(v) => Ok(Some(v.into_iter().map(|m| (m.uid, m.flags)).collect())),
            Err(e) => Err(l.check(e)),
        }
    }
}

impl Destination for ImapSide {
    async fn open_connections(&self) {
        // Each lease opens a connection when none is idle; all go back to the pool together.
        // A failure here is met again, and reported, by the command that needs the connection.
        let leases = futures::future::join_all((0..self.connections).map(|_| self.lease())).await;
        drop(leases);
    }

    fn describe(&self) -> String {
        self.label()
    }

    fn account(&self) -> String {
        self.label()
    }

    async fn namespace(&self) -> Result<Namespace, SideError> {
        self.namespace_impl().await
    }

    async fn folders(&self) -> Result<Vec<ListedFolder>, SideError> {
        // With the statuses (LIST-STATUS where offered): the check for a recreated folder (a new
        // UIDVALIDITY) and the first look at what a folder holds then cost no STATUS each.
        self.list_impl(true).await
    }

    async fn create(&self, folder: &str) -> Result<(), SideError> {
        let mut l = self.lease().await?;
        self.count("CREATE", 1);
        match l.s().create(folder).await {
            Ok(()) | Err(ImapError::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(l.check(e)),
        }
    }

    async fn subscribe(&self, folder: &str) -> Result<(), SideError> {
        let mut l = self.lease().await?;
        self.count("SUBSCRIBE", 1);
        match l.s().subscribe(folder).await {
            Ok(()) => Ok(()),
            Err(e) => Err(l.check(e)),
        }
    }

    async fn status(&self, folder: &str) -> Result<FolderStatus, SideError> {
        self.status_impl(folder).await
    }

    fn max_message_size(&self) -> Option<u64> {
        let server = self.caps.get().and_then(|c| c.append_limit().flatten());
        match (server, self.max_message_size) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    async fn append_many(
        &self,
        folder: &str,
        messages: &[AppendRequest<'_>],
    ) -> Result<Vec<Result<Option<AppendedUid>, SideError>>, SideError> {
        let mut l = self.lease().await?;
        self.count("APPEND", messages.len() as u64);
        let msgs: Vec<AppendMessage<'_>> = messages
            .iter()
            .map(|m| AppendMessage {
                flags: m.flags,
                internal_date: m.internal_date,
                bytes: m.bytes,
            })
            .collect();
        match l.s().append_many(folder, &msgs).await {
            Ok(results) => Ok(results
                .into_iter()
                .map(|r| match r {
                    Ok(uid) => Ok(uid.map(|u| AppendedUid {
                        uid_validity: u.uid_validity,
                        uid: u.uid,
                    })),
                    // Per message, a protocol complaint (BAD) is about this message.
                    Err(e @ ImapError::Protocol { .. }) => {
                        Err(SideError::new(ErrorClass::Rejected, e.to_string()))
                    }
                    Err(e) => Err(side_error(&e)),
                })
                .collect()),
            Err(e) => Err(l.check(e)),
        }
    }

    fn can_store_flags(&self) -> bool {
        self.caps
            .get()
            .is_some_and(|c| c.condstore() || c.has("UIDPLUS"))
    }

    async fn store_flags(
        &self,
        folder: &str,
        uid_validity: u32,
        changes: &[(u32, Vec<String>)],
    ) -> Result<u64, SideError> {
        if changes.is_empty() {
            return Ok(0);
        }
        let mut l = self.lease().await?;
        self.count("SELECT", 1);
        let sel = match l.s().select(folder).await {
            Ok(sel) => sel,
            Err(e) => return Err(l.check(e)),
        };
        if sel.uid_validity != uid_validity {
            // The destination folder was recreated: the recorded UIDs mean other messages now.
            return Ok(0);
        }
        // One STORE per distinct flag set (most changes share a few sets, e.g. `\Seen`).
        let mut by_flags: BTreeMap<Vec<String>, Vec<u32>> = BTreeMap::new();
        for (uid, flags) in changes {
            let mut keep = keepable_flags(flags, &sel.permanent_flags);
            keep.sort();
            by_flags.entry(keep).or_default().push(*uid);
        }
        for (flags, uids) in by_flags {
            self.count("UID STORE", 1);
            let r = l
                .s()
                .store_flags(&UidSet::from_uids(uids), FlagChange::Replace, &flags)
                .await;
            if let Err(e) = r {
                return Err(l.check(e));
            }
        }
        Ok(changes.len() as u64)
    }

    async fn identities(&self, folder: &str, from_uid: u32) -> Result<Vec<DestMessage>, SideError> {
        let mut l = self.lease().await?;
        self.open(&mut l, folder, true).await?;
        self.count("UID FETCH", 1);
        let items = FetchItems {
            header: true,
            size: true,
            ..FetchItems::default()
        };
        let set = UidSet::from_uid(from_uid.max(1));
        let mut out = Vec::new();
        let r: Result<(), ImapError> = async {
            let mut stream = l.s().uid_fetch_stream(&set, items)?;
            while let Some(m) = stream.next().await? {
                out.push(DestMessage {
                    uid: m.uid,
                    identity: Identity::of(m.header.as_deref().unwrap_or_default()),
                    size: u64::from(m.size.unwrap_or(0)),
                });
            }
            Ok(())
        }
        .await;
        match r {
            Ok(()) => Ok(out),
            Err(e) => Err(l.check(e)),
        }
    }
}

/// The flags a folder keeps: those its PERMANENTFLAGS list, and any keyword when it lists `\*`.
/// A server that sent no PERMANENTFLAGS is trusted with everything but `\Recent`.
pub fn keepable_flags(flags: &[String], permanent: &[String]) -> Vec<String> {
    let any_keyword = permanent.iter().any(|p| p == "\\*");
    flags
        .iter()
        .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
        .filter(|f| {
            permanent.is_empty()
                || permanent.iter().any(|p| p.eq_ignore_ascii_case(f))
                || (any_keyword && !f.starts_with('\\'))
        })
        .cloned()
        .collect()
}

/// Shared handle type used by the CLI and project crates.
pub type SharedImapSide = Arc<ImapSide>;

#[cfg(test)]
mod tests {
    use super::keepable_flags;

    fn v(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn keywords_need_a_star_or_a_listing() {
        let flags = v(&["\\Seen", "$Forwarded", "Work", "\\Recent"]);
        assert_eq!(
            keepable_flags(&flags, &v(&["\\Seen", "\\Flagged", "\\*"])),
            v(&["\\Seen", "$Forwarded", "Work"])
        );
        assert_eq!(
            keepable_flags(&flags, &v(&["\\Seen", "$forwarded"])),
            v(&["\\Seen", "$Forwarded"])
        );
        assert_eq!(
            keepable_flags(&flags, &[]),
            v(&["\\Seen", "$Forwarded", "Work"])
        );
    }
}
