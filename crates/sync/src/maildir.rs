//! `Source` over a Dovecot Maildir++ store on disk (ferry-maildir): no source password, no load on
//! the old server's IMAP service. Strictly read-only. Message keys are the files' base names (kept
//! by Dovecot through flag changes and UID assignment), so messages that Dovecot has not numbered
//! yet are copied too and never twice.
//!
//! A store keeps no mod-sequences. Flag changes are found by comparing a listing with the flags
//! the ledger recorded at copy time, and an untouched folder is recognised without a listing by
//! its change token: the modification times of `cur/` and `new/` (Dovecot renames a message's file
//! to change its flags, delivers into `new/`, moves to `cur/`, unlinks to expunge) and of the
//! uidlist and keywords files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use ferry_maildir::{MaildirError, MaildirFolder, MaildirMessage, Scan, ScanOptions, Store};
use sha2::{Digest, Sha256};

use crate::error::{ErrorClass, SideError};
use crate::identity;
use crate::mapping::{ListedFolder, Namespace};
use crate::side::{FetchedMessage, FolderStatus, MessageMeta, Source, SourceFolder};

fn side_error(e: &MaildirError) -> SideError {
    let class = if e.is_gone() {
        ErrorClass::Gone
    } else {
        ErrorClass::Other
    };
    SideError::new(class, e.to_string())
}

fn join_error(e: tokio::task::JoinError) -> SideError {
    SideError::new(ErrorClass::Other, format!("store reader task failed: {e}"))
}

/// One user's store on disk.
pub struct MaildirSource {
    store: Store,
    root: PathBuf,
    options: ScanOptions,
    /// The latest scan per folder (status scans, list reuses it).
    scans: Mutex<HashMap<String, Arc<Scan>>>,
    folders: Mutex<HashMap<String, MaildirFolder>>,
    /// Folders whose scan was made by `status` and not listed yet: the listing that follows
    /// uses it instead of scanning again, as IMAP's STATUS and FETCH follow each other.
    fresh: Mutex<std::collections::HashSet<String>>,
    /// Folder scans done (directory listings with a stat per message).
    scan_count: AtomicU64,
}

impl MaildirSource {
    pub fn open(path: &Path, options: ScanOptions) -> Result<MaildirSource, SideError> {
        let store = Store::open(path).map_err(|e| side_error(&e))?;
        Ok(MaildirSource {
            store,
            root: path.to_path_buf(),
            options,
            scans: Mutex::new(HashMap::new()),
            folders: Mutex::new(HashMap::new()),
            fresh: Mutex::new(std::collections::HashSet::new()),
            scan_count: AtomicU64::new(0),
        })
    }

    /// How many folder scans (a directory listing and a stat per message) this source has done:
    /// an untouched folder costs none.
    pub fn scans(&self) -> u64 {
        self.scan_count.load(Ordering::Relaxed)
    }

    fn folder_info(&self, name: &str) -> Result<MaildirFolder, SideError> {
        if let Some(f) = self
            .folders
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            return Ok(f.clone());
        }
        self.store.folder(name).map_err(|e| side_error(&e))
    }

    async fn scan(&self, name: &str) -> Result<Arc<Scan>, SideError> {
        let folder = self.folder_info(name)?;
        let store = self.store.clone();
        let options = self.options;
        self.scan_count.fetch_add(1, Ordering::Relaxed);
        let scan = tokio::task::spawn_blocking(move || store.messages(&folder, &options))
            .await
            .map_err(join_error)?
            .map_err(|e| side_error(&e))?;
        let scan = Arc::new(scan);
        self.scans
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), scan.clone());
        Ok(scan)
    }

    fn by_key(&self, folder: &str) -> HashMap<String, MaildirMessage> {
        self.scans
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(folder)
            .map(|s| {
                s.messages
                    .iter()
                    .map(|m| (m.base_name.clone(), m.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// What a folder's change token is made of: the directories that a delivery, an expunge or a
/// flag change (a rename) touch, and the files that UID assignment and new keywords rewrite.
const TOKEN_PARTS: [&str; 4] = ["cur", "new", "dovecot-uidlist", "dovecot-keywords"];

/// The folder's change token, or `None` when a part changed so recently that a further change
/// could keep the same timestamp (within the file system's granularity: 1 s or 2 s on HFS+ and
/// FAT, where every timestamp has zero nanoseconds; a clock tick elsewhere). Never writes.
pub fn change_token_of(
    dir: &Path,
    options: &ScanOptions,
    now: SystemTime,
) -> Result<Option<u64>, SideError> {
    let mut h = Sha256::new();
    h.update([u8::from(options.include_deleted)]);
    let mut newest = UNIX_EPOCH;
    let mut coarse = true;
    for part in TOKEN_PARTS {
        let path = dir.join(part);
        h.update(part.as_bytes());
        match std::fs::metadata(&path) {
            Ok(meta) => {
                let Ok(mtime) = meta.modified() else {
                    // No modification times on this file system: no token.
                    return Ok(None);
                };
                let since = mtime.duration_since(UNIX_EPOCH).unwrap_or_default();
                h.update(since.as_nanos().to_le_bytes());
                h.update(meta.len().to_le_bytes());
                coarse &= since.subsec_nanos() == 0;
                newest = newest.max(mtime);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => h.update(b"-"),
            Err(e) => {
                return Err(SideError::new(
                    ErrorClass::Other,
                    format!(
                        "cannot read the modification time of {}: {e}; check that Ferry may read the store",
                        path.display()
                    ),
                ))
            }
        }
    }
    let window = if coarse {
        Duration::from_secs(2)
    } else {
        Duration::from_millis(100)
    };
    // A timestamp in the future (clock skew on a network volume) is never trusted either.
    if now.duration_since(newest).map_or(true, |age| age < window) {
        return Ok(None);
    }
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // 63 bits: the state DB keeps it as a signed 64-bit integer.
    Ok(Some(u64::from_le_bytes(first) >> 1))
}

fn date_of(secs: i64) -> Option<DateTime<FixedOffset>> {
    Utc.timestamp_opt(secs, 0)
        .single()
        .map(|d| d.fixed_offset())
}

fn meta_of(m: &MaildirMessage) -> MessageMeta {
    MessageMeta {
        key: m.base_name.clone(),
        uid: m.uid,
        size: m.virtual_size.unwrap_or(m.size),
        flags: m.imap_flags(),
        internal_date: date_of(m.internal_date),
    }
}

impl Source for MaildirSource {
    fn describe(&self) -> String {
        format!("maildir:{}", self.root.display())
    }

    fn account(&self) -> String {
        self.describe()
    }

    async fn namespace(&self) -> Result<Namespace, SideError> {
        // ferry-maildir names folders in UTF-8 with '/' between levels, whatever is on disk.
        Ok(Namespace {
            prefix: String::new(),
            delimiter: '/',
        })
    }

    async fn folders(&self) -> Result<Vec<SourceFolder>, SideError> {
        let store = self.store.clone();
        let list = tokio::task::spawn_blocking(move || store.folders())
            .await
            .map_err(join_error)?
            .map_err(|e| side_error(&e))?;
        let mut cache = self.folders.lock().unwrap_or_else(|p| p.into_inner());
        Ok(list
            .into_iter()
            .map(|f| {
                cache.insert(f.name.clone(), f.clone());
                SourceFolder {
                    subscribed: f.subscribed,
                    folder: ListedFolder {
                        name: f.name,
                        delimiter: Some('/'),
                        special_use: None,
                        no_select: false,
                    },
                }
            })
            .collect())
    }

    async fn status(&self, folder: &str) -> Result<FolderStatus, SideError> {
        let scan = self.scan(folder).await?;
        self.fresh
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(folder.to_string());
        Ok(FolderStatus {
            // A folder Dovecot never opened has no UIDVALIDITY yet; 0 stands for "not yet", and
            // the real one, when it comes, is a change that re-identifies instead of re-copying.
            uid_validity: scan.uid_validity.unwrap_or(0),
            uid_next: scan.next_uid,
            messages: scan.messages.len() as u32,
            highest_modseq: None,
        })
    }

    async fn list(&self, folder: &str, _from_uid: u32) -> Result<Vec<MessageMeta>, SideError> {
        // A directory scan is cheap and the engine filters by the ledger: list everything.
        let fresh = self
            .fresh
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(folder);
        let cached = if fresh {
            self.scans
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(folder)
                .cloned()
        } else {
            None
        };
        let scan = match cached {
            Some(scan) => scan,
            None => self.scan(folder).await?,
        };
        Ok(scan.messages.iter().map(meta_of).collect())
    }

    async fn identity_headers(
        &self,
        folder: &str,
        messages: &[MessageMeta],
    ) -> Result<Vec<(String, Vec<u8>)>, SideError> {
        let known = self.by_key(folder);
        let wanted: Vec<MaildirMessage> = messages
            .iter()
            .filter_map(|m| known.get(&m.key).cloned())
            .collect();
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for m in wanted {
                match store.read(&m) {
                    Ok(bytes) => out.push((m.base_name.clone(), identity::reduce_header(&bytes))),
                    Err(e) if e.is_gone() => {}
                    Err(e) => return Err(side_error(&e)),
                }
            }
            Ok(out)
        })
        .await
        .map_err(join_error)?
    }

    async fn fetch(
        &self,
        folder: &str,
        messages: &[MessageMeta],
    ) -> Result<Vec<FetchedMessage>, SideError> {
        let known = self.by_key(folder);
        let wanted: Vec<MaildirMessage> = messages
            .iter()
            .filter_map(|m| known.get(&m.key).cloned())
            .collect();
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for m in wanted {
                match store.read_current(&m) {
                    Ok((raw, current)) => {
                        // As IMAP would serve it (CRLF), so both source kinds give the same bytes.
                        let bytes = ferry_maildir::to_crlf(raw);
                        let mut meta = meta_of(&current);
                        meta.size = bytes.len() as u64;
                        out.push(FetchedMessage { meta, bytes });
                    }
                    Err(e) if e.is_gone() => {}
                    Err(e) => return Err(side_error(&e)),
                }
            }
            Ok(out)
        })
        .await
        .map_err(join_error)?
    }

    /// A Maildir store keeps no mod-sequences: the engine compares listings with its ledger.
    async fn flag_changes(
        &self,
        _folder: &str,
        _up_to_uid: u32,
        _since_modseq: u64,
    ) -> Result<Option<crate::side::FlagChanges>, SideError> {
        Ok(None)
    }

    async fn change_token(&self, folder: &str) -> Result<Option<u64>, SideError> {
        let dir = self.folder_info(folder)?.path;
        let options = self.options;
        tokio::task::spawn_blocking(move || change_token_of(&dir, &options, SystemTime::now()))
            .await
            .map_err(join_error)?
    }

    fn lists_current_flags(&self) -> bool {
        true
    }

    fn left_out(&self, folder: &str) -> u64 {
        self.scans
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(folder)
            .map_or(0, |s| u64::from(s.deleted_pending))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn later() -> SystemTime {
        SystemTime::now() + Duration::from_secs(60)
    }

    #[test]
    fn the_change_token_follows_deliveries_renames_and_expunges() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path();
        std::fs::create_dir(f.join("cur")).unwrap();
        std::fs::create_dir(f.join("new")).unwrap();
        let opts = ScanOptions::default();
        let token = |now| change_token_of(f, &opts, now).unwrap();
        let t0 = token(later()).expect("a settled folder has a token");
        assert_eq!(token(later()), Some(t0), "reading changes nothing");
        // Just changed: a further change within the timestamp granularity would keep the
        // same token, so none is given.
        assert_eq!(token(SystemTime::now()), None);

        // Each step waits past the clock tick that stamps directory changes.
        let tick = || std::thread::sleep(Duration::from_millis(30));
        tick();
        std::fs::write(f.join("new/1700000000.M1P1.host"), b"Subject: x\n\nbody\n").unwrap();
        let t1 = token(later()).unwrap();
        assert_ne!(t1, t0, "a delivery");
        tick();
        std::fs::rename(
            f.join("new/1700000000.M1P1.host"),
            f.join("cur/1700000000.M1P1.host:2,S"),
        )
        .unwrap();
        let t2 = token(later()).unwrap();
        assert_ne!(t2, t1, "new/ -> cur/");
        tick();
        std::fs::rename(
            f.join("cur/1700000000.M1P1.host:2,S"),
            f.join("cur/1700000000.M1P1.host:2,FS"),
        )
        .unwrap();
        let t3 = token(later()).unwrap();
        assert_ne!(t3, t2, "a flag change (rename in cur/)");
        std::fs::write(f.join("dovecot-keywords"), b"0 $Label1\n").unwrap();
        let t4 = token(later()).unwrap();
        assert_ne!(t4, t3, "a keyword defined");
        let deleted = ScanOptions {
            include_deleted: true,
        };
        assert_ne!(
            change_token_of(f, &deleted, later()).unwrap(),
            Some(t4),
            "other scan options list other messages"
        );
        tick();
        std::fs::remove_file(f.join("cur/1700000000.M1P1.host:2,FS")).unwrap();
        assert_ne!(token(later()).unwrap(), t4, "an expunge");
    }
}
