//! `Source` over a Dovecot Maildir++ store on disk (ferry-maildir): no source password, no load on
//! the old server's IMAP service. Strictly read-only. Message keys are the files' base names (kept
//! by Dovecot through flag changes and UID assignment), so messages that Dovecot has not numbered
//! yet are copied too and never twice.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use ferry_maildir::{MaildirError, MaildirFolder, MaildirMessage, Scan, ScanOptions, Store};

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
        })
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
        let scan = self.scan(folder).await?;
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

    /// A Maildir store keeps no mod-sequences: flag changes are not detected here.
    async fn flag_changes(
        &self,
        _folder: &str,
        _up_to_uid: u32,
        _since_modseq: u64,
    ) -> Result<Option<crate::side::FlagChanges>, SideError> {
        Ok(None)
    }
}
