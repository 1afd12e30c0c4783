//! Read-only reader of a Dovecot Maildir++ store, as macOS Server keeps it under
//! `/Library/Server/Mail/Data/mail/<GUID>/`: the passwordless source of a migration.
//!
//! Nothing here ever writes, renames, creates or locks anything in the store (not even Dovecot's
//! lock files): the old server may be running and Dovecot owns every file.
//!
//! What it yields matches what the same Dovecot serves over IMAP:
//! - folders: the INBOX (the store's root) and every `.name` directory, `.` between hierarchy
//!   levels, names decoded from modified UTF-7 ([`MaildirFolder::name`] is UTF-8 with `/`);
//! - UIDs and UIDVALIDITY from `dovecot-uidlist` (versions 1, 2, 3), matched on a file's base name
//!   (the part before `:`), because Dovecot does not rewrite the list when a flag change renames
//!   a file; a record whose file is gone is a stale UID ([`Scan::stale_uids`]), not missing mail;
//! - a file the list does not name yet (new mail) has `uid: None`: a *provisional* message. Its
//!   [`MaildirMessage::base_name`] identifies it until Dovecot gives it a UID (the next time a
//!   client opens the folder); from then on a scan shows the same base name with `uid: Some(..)`;
//! - flags from the `:2,` (or `;2,`) info, keywords from `dovecot-keywords`, INTERNALDATE = the
//!   file's mtime (as Dovecot's maildir driver does), size from `S=` or the file;
//! - `T` (`\Deleted`, not expunged yet) is left out unless [`ScanOptions::include_deleted`];
//!   the number left out is [`Scan::deleted_pending`];
//! - [`Store::read`] returns the bytes as IMAP serves them (bare LF -> CRLF); a file renamed since
//!   the scan is found again by base name; one expunged since is [`MaildirError::Gone`].

mod filename;
mod keywords;
mod subscriptions;
mod uidlist;
/// Modified UTF-7 folder names, shared with the IMAP client (a crate without dependencies).
pub use ferry_utf7 as utf7;

use std::collections::HashSet;
use std::fs;
use std::io::{self, BufRead, BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use ts_rs::TS;

pub use filename::base_name;
pub use keywords::Keywords;
pub use uidlist::{UidRecord, Uidlist};

/// The name Ferry uses for the store's root folder.
pub const INBOX: &str = "INBOX";
const UIDLIST: &str = "dovecot-uidlist";
const KEYWORDS: &str = "dovecot-keywords";
const SUBSCRIPTIONS: &str = "subscriptions";

/// Errors of the store reader. Every variant names the file or folder concerned.
#[derive(Debug, Error)]
pub enum MaildirError {
    #[error("cannot read {path}: {source}. Ferry reads the store as it is on disk: run it with admin rights (sudo) so it can read every user's mail")]
    PermissionDenied {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} is not a Maildir store (no cur/, new/, dovecot-uidlist or .folder in it): point Ferry at one user's mail folder, e.g. /Library/Server/Mail/Data/mail/<GeneratedUID>")]
    NotAStore { path: PathBuf },
    #[error("no folder {name:?} in the store at {root}")]
    NoSuchFolder { root: PathBuf, name: String },
    #[error("{path}, line {line}: {what}. Dovecot would rebuild this list and give the folder new UIDs; open the folder once with a mail client (or run `doveadm force-resync`) and scan again")]
    Uidlist {
        path: PathBuf,
        line: usize,
        what: String,
    },
    #[error(
        "message {base_name} of {folder} is gone: it was expunged after the folder was scanned"
    )]
    Gone { folder: PathBuf, base_name: String },
}

impl MaildirError {
    fn io(path: &Path, source: io::Error) -> MaildirError {
        let path = path.to_path_buf();
        if source.kind() == ErrorKind::PermissionDenied {
            MaildirError::PermissionDenied { path, source }
        } else {
            MaildirError::Io { path, source }
        }
    }

    /// True for [`MaildirError::Gone`]: the message was expunged; not a failure of the copy.
    pub fn is_gone(&self) -> bool {
        matches!(self, MaildirError::Gone { .. })
    }
}

pub type Result<T, E = MaildirError> = std::result::Result<T, E>;

/// One folder of the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MaildirFolder {
    /// UTF-8, `/` between hierarchy levels; `INBOX` for the store's root.
    pub name: String,
    /// The directory's name as on disk (`.Entw&APw-rfe Kunden`); empty for the INBOX.
    pub disk_name: String,
    /// The folder's directory.
    #[ts(type = "string")]
    pub path: PathBuf,
    /// From `dovecot-uidlist`; `None` if the folder has none yet (never opened by Dovecot: all
    /// its messages are provisional, and Dovecot picks a UIDVALIDITY when it first opens it).
    pub uid_validity: Option<u32>,
    /// The UID Dovecot gives to the next new message.
    pub next_uid: Option<u32>,
    /// Listed in the store's `subscriptions` file.
    pub subscribed: bool,
}

/// One message file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaildirMessage {
    /// From `dovecot-uidlist`; `None` = provisional (not listed yet: new mail).
    pub uid: Option<u32>,
    /// The file name up to the info separator (`:` or `;`). Unique within the folder and kept by
    /// Dovecot through flag changes and through giving the message a UID, so it identifies a
    /// provisional message until it has a UID.
    pub base_name: String,
    /// The file name when scanned.
    pub file_name: String,
    /// The file when scanned (in `cur/` or `new/`).
    pub path: PathBuf,
    /// In `new/` (delivered, not yet seen by any client).
    pub in_new: bool,
    /// IMAP system flags (`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`).
    pub flags: Vec<String>,
    /// IMAP keywords (`$Forwarded`, `$NotJunk`, ...), from `dovecot-keywords`.
    pub keywords: Vec<String>,
    /// INTERNALDATE, seconds since 1970 (UTC): the file's mtime, as Dovecot serves it.
    pub internal_date: i64,
    /// Bytes on disk: `S=` from the name, else the file's size.
    pub size: u64,
    /// Size with CRLF line ends (IMAP RFC822.SIZE, the length of [`Store::read`]) when the name
    /// (`W=`) or the uidlist records it.
    pub virtual_size: Option<u64>,
}

impl MaildirMessage {
    /// Carries `\Deleted` (`T`): deleted by the user, not expunged yet.
    pub fn is_deleted(&self) -> bool {
        self.flags.iter().any(|f| f == "\\Deleted")
    }

    /// Flags and keywords together, as an IMAP FLAGS list has them.
    pub fn imap_flags(&self) -> Vec<String> {
        self.flags.iter().chain(&self.keywords).cloned().collect()
    }
}

/// What to include in a scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ScanOptions {
    /// Also yield messages flagged `\Deleted` (not expunged yet). Off by default: the user
    /// deleted them; the admin can ask for them.
    pub include_deleted: bool,
}

/// The messages of one folder at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scan {
    pub folder: String,
    pub uid_validity: Option<u32>,
    pub next_uid: Option<u32>,
    /// Listed messages in UID order, then provisional ones in the order Dovecot will number them.
    pub messages: Vec<MaildirMessage>,
    /// Messages flagged `\Deleted` left out (0 with `include_deleted`).
    pub deleted_pending: u32,
    /// UIDs in `dovecot-uidlist` whose file is gone (expunged; the list is rewritten lazily).
    pub stale_uids: Vec<u32>,
    /// Files that vanished between the directory read and their stat (expunged, or renamed by
    /// Dovecot: a later scan sees them under their new name).
    pub vanished: u32,
    /// Files whose base name another file in the folder already has (a rename caught half-way
    /// or a copy by hand); only the first (`cur/` before `new/`) is yielded.
    pub duplicates: Vec<String>,
}

impl Scan {
    /// Messages without a UID yet.
    pub fn provisional(&self) -> impl Iterator<Item = &MaildirMessage> {
        self.messages.iter().filter(|m| m.uid.is_none())
    }
}

/// One user's store (the folder holding the INBOX's `cur/` and the `.folder` directories).
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens the store at `path` (symlinks like `mail/users/<shortname>` are followed). Reads
    /// nothing else yet.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let root = path.as_ref().to_path_buf();
        let meta = fs::metadata(&root).map_err(|e| MaildirError::io(&root, e))?;
        if !meta.is_dir() {
            return Err(MaildirError::NotAStore { path: root });
        }
        let mut looks_like_store = false;
        for entry in fs::read_dir(&root).map_err(|e| MaildirError::io(&root, e))? {
            let entry = entry.map_err(|e| MaildirError::io(&root, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if matches!(
                name.as_ref(),
                "cur" | "new" | UIDLIST | "dovecot-uidvalidity"
            ) || (name.starts_with('.') && name.len() > 1 && name != "..")
            {
                looks_like_store = true;
                break;
            }
        }
        if !looks_like_store {
            return Err(MaildirError::NotAStore { path: root });
        }
        Ok(Store { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Subscribed folder names (UTF-8, `/` between levels), from `subscriptions` v1 or v2; empty
    /// without the file. May name folders that do not exist.
    pub fn subscriptions(&self) -> Result<Vec<String>> {
        let path = self.root.join(SUBSCRIPTIONS);
        match fs::read(&path) {
            Ok(data) => Ok(subscriptions::parse(&data)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(MaildirError::io(&path, e)),
        }
    }

    /// Every folder: the INBOX first, then the others sorted by name. One read of the root
    /// directory plus the first line of each folder's `dovecot-uidlist`.
    pub fn folders(&self) -> Result<Vec<MaildirFolder>> {
        let subscribed = self.subscriptions()?;
        let mut folders = vec![self.folder_at(INBOX.to_string(), String::new(), &subscribed)?];
        let mut others = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(|e| MaildirError::io(&self.root, e))? {
            let entry = entry.map_err(|e| MaildirError::io(&self.root, e))?;
            let disk_name = entry.file_name().to_string_lossy().into_owned();
            let Some(encoded) = disk_name.strip_prefix('.') else {
                continue;
            };
            if encoded.is_empty() || encoded == "." {
                continue;
            }
            let is_dir = match entry.file_type() {
                Ok(t) if t.is_dir() => true,
                Ok(t) if t.is_symlink() => entry.path().is_dir(),
                _ => false,
            };
            if !is_dir {
                continue;
            }
            others.push((folder_name(encoded), disk_name));
        }
        others.sort();
        for (name, disk_name) in others {
            folders.push(self.folder_at(name, disk_name, &subscribed)?);
        }
        Ok(folders)
    }

    /// The folder with this name (UTF-8, `/` between levels; `INBOX` in any case).
    pub fn folder(&self, name: &str) -> Result<MaildirFolder> {
        let want = if name.eq_ignore_ascii_case(INBOX) {
            INBOX
        } else {
            name
        };
        self.folders()?
            .into_iter()
            .find(|f| f.name == want)
            .ok_or_else(|| MaildirError::NoSuchFolder {
                root: self.root.clone(),
                name: name.to_string(),
            })
    }

    fn folder_at(
        &self,
        name: String,
        disk_name: String,
        subscribed: &[String],
    ) -> Result<MaildirFolder> {
        let path = if disk_name.is_empty() {
            self.root.clone()
        } else {
            self.root.join(&disk_name)
        };
        let (uid_validity, next_uid) = match read_uidlist_header(&path)? {
            Some(h) => (Some(h.uid_validity), Some(h.next_uid)),
            None => (None, None),
        };
        Ok(MaildirFolder {
            subscribed: subscribed.contains(&name),
            name,
            disk_name,
            path,
            uid_validity,
            next_uid,
        })
    }

    /// Scans one folder: one read of `cur/` and of `new/`, the uidlist and keywords files, and a
    /// stat of each message file for its mtime.
    pub fn messages(&self, folder: &MaildirFolder, options: &ScanOptions) -> Result<Scan> {
        let uidlist = read_uidlist(&folder.path)?;
        let keywords = read_keywords(&folder.path)?;
        let files = list_files(&folder.path)?;

        let by_base = uidlist
            .as_ref()
            .map(Uidlist::by_base_name)
            .unwrap_or_default();
        let mut seen: HashSet<String> = HashSet::with_capacity(files.len());
        let mut found_records = vec![false; uidlist.as_ref().map_or(0, |u| u.records.len())];
        let mut listed: Vec<MaildirMessage> = Vec::new();
        let mut provisional: Vec<MaildirMessage> = Vec::new();
        let mut duplicates = Vec::new();
        let mut deleted_pending = 0u32;
        let mut vanished = 0u32;

        for file in files {
            let parsed = filename::parse(&file.name);
            if !seen.insert(parsed.base.to_string()) {
                duplicates.push(file.name.clone());
                continue;
            }
            let record = by_base.get(parsed.base).map(|&i| {
                found_records[i] = true;
                &uidlist
                    .as_ref()
                    .expect("index comes from the uidlist")
                    .records[i]
            });
            if parsed.flags.contains('T') && !options.include_deleted {
                deleted_pending += 1;
                continue;
            }
            let flags = filename::system_flags(parsed.flags);
            // The one stat per message: Dovecot's INTERNALDATE for Maildir is the mtime.
            let meta = match file.stat() {
                Ok(m) => m,
                // Expunged or renamed between readdir and stat: a later scan sees its new name.
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    vanished += 1;
                    continue;
                }
                Err(e) => return Err(MaildirError::io(&file.path, e)),
            };
            let msg = MaildirMessage {
                uid: record.map(|r| r.uid),
                base_name: parsed.base.to_string(),
                keywords: keywords.resolve(parsed.flags),
                flags,
                internal_date: mtime_secs(&meta),
                size: parsed
                    .size
                    .or(record.and_then(|r| r.psize))
                    .unwrap_or(meta.len()),
                virtual_size: parsed.vsize.or(record.and_then(|r| r.vsize)),
                in_new: file.in_new,
                file_name: file.name,
                path: file.path,
            };
            if msg.uid.is_some() {
                listed.push(msg);
            } else {
                provisional.push(msg);
            }
        }
        listed.sort_by_key(|m| m.uid);
        provisional.sort_by(|a, b| {
            filename::dovecot_order_key(&a.file_name)
                .cmp(&filename::dovecot_order_key(&b.file_name))
        });
        listed.extend(provisional);
        let stale_uids = uidlist
            .as_ref()
            .map(|u| {
                u.records
                    .iter()
                    .zip(&found_records)
                    .filter(|(_, found)| !**found)
                    .map(|(r, _)| r.uid)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Scan {
            folder: folder.name.clone(),
            uid_validity: uidlist.as_ref().map(|u| u.uid_validity),
            next_uid: uidlist.as_ref().map(|u| u.next_uid),
            messages: listed,
            deleted_pending,
            vanished,
            stale_uids,
            duplicates,
        })
    }

    /// The message's bytes as IMAP serves them (bare LF -> CRLF, which Dovecot does on the fly
    /// because it stores LF). See [`Store::read_raw`] for the bytes on disk.
    pub fn read(&self, message: &MaildirMessage) -> Result<Vec<u8>> {
        Ok(to_crlf(self.read_raw(message)?))
    }

    /// The file's bytes as on disk. A file renamed since the scan (a flag change, or `new/` ->
    /// `cur/`) is found again by its base name; one expunged since is [`MaildirError::Gone`].
    pub fn read_raw(&self, message: &MaildirMessage) -> Result<Vec<u8>> {
        self.read_current(message).map(|(bytes, _)| bytes)
    }

    /// Like [`Store::read_raw`], also returning the message as it is now (its current name and
    /// flags, which may differ from the scan's after a rename).
    pub fn read_current(&self, message: &MaildirMessage) -> Result<(Vec<u8>, MaildirMessage)> {
        self.with_file(message, |file| {
            let mut bytes = Vec::with_capacity(usize::try_from(message.size).unwrap_or(0));
            file.read_to_end(&mut bytes).map(|_| bytes)
        })
    }

    /// The header only (up to and including the empty line that ends it, CRLF as IMAP serves it),
    /// reading no more of the file than that: enough for identity (Message-ID, Date, Subject)
    /// without reading the body of a large message.
    pub fn read_header(&self, message: &MaildirMessage) -> Result<Vec<u8>> {
        let (raw, _) = self.with_file(message, |file| {
            let mut out = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                let n = file.read(&mut chunk)?;
                if n == 0 {
                    return Ok(out);
                }
                let from = out.len().saturating_sub(3);
                out.extend_from_slice(&chunk[..n]);
                if let Some(end) = header_end(&out, from) {
                    out.truncate(end);
                    return Ok(out);
                }
            }
        })?;
        Ok(to_crlf(raw))
    }

    /// Opens the message's file, finding it again by base name if it was renamed since the scan,
    /// and runs `f` on it; returns `f`'s result and the message as it is now.
    fn with_file<T>(
        &self,
        message: &MaildirMessage,
        mut f: impl FnMut(&mut fs::File) -> io::Result<T>,
    ) -> Result<(T, MaildirMessage)> {
        let folder_dir = message_folder_dir(&message.path);
        let mut path = message.path.clone();
        // A rename can race with the re-find more than once; three tries, then "gone".
        for _ in 0..3 {
            match fs::File::open(&path) {
                Ok(mut file) => {
                    let value = f(&mut file).map_err(|e| MaildirError::io(&path, e))?;
                    let mut current = message.clone();
                    if path != message.path {
                        let name = path
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        let parsed = filename::parse(&name);
                        let keywords = read_keywords(&folder_dir)?;
                        current.flags = filename::system_flags(parsed.flags);
                        current.keywords = keywords.resolve(parsed.flags);
                        current.in_new = path
                            .parent()
                            .and_then(Path::file_name)
                            .is_some_and(|d| d == "new");
                        current.file_name = name;
                        current.path = path;
                    }
                    return Ok((value, current));
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    match find_by_base(&folder_dir, &message.base_name)? {
                        Some(p) => path = p,
                        None => break,
                    }
                }
                Err(e) => return Err(MaildirError::io(&path, e)),
            }
        }
        Err(MaildirError::Gone {
            folder: folder_dir,
            base_name: message.base_name.clone(),
        })
    }
}

/// End (exclusive) of the header in `buf`, searching from `from`: after the first empty line.
fn header_end(buf: &[u8], from: usize) -> Option<usize> {
    if buf.first() == Some(&b'\n') {
        return Some(1);
    }
    if buf.starts_with(b"\r\n") {
        return Some(2);
    }
    (from..buf.len()).find_map(|i| {
        if buf[i..].starts_with(b"\n\n") {
            Some(i + 2)
        } else if buf[i..].starts_with(b"\n\r\n") {
            Some(i + 3)
        } else {
            None
        }
    })
}

/// Folder name in Ferry's form from the directory name without its leading `.`.
fn folder_name(encoded: &str) -> String {
    encoded
        .split('.')
        .map(utf7::decode_lossy)
        .collect::<Vec<_>>()
        .join("/")
}

struct FileEntry {
    name: String,
    path: PathBuf,
    in_new: bool,
    /// Kept for its stat relative to the open directory (`fstatat`), cheaper than a stat of the
    /// full path; `None` for a symlink, which is stat'ed through its path to reach its target.
    entry: Option<fs::DirEntry>,
}

impl FileEntry {
    fn stat(&self) -> io::Result<fs::Metadata> {
        match &self.entry {
            Some(entry) => entry.metadata(),
            None => fs::metadata(&self.path),
        }
    }
}

/// `cur/` then `new/`: one readdir each; names starting with `.` are not messages (Dovecot skips
/// them too). A missing directory is an empty one (git-made or never-used folders).
fn list_files(folder: &Path) -> Result<Vec<FileEntry>> {
    let mut out = Vec::new();
    for (sub, in_new) in [("cur", false), ("new", true)] {
        let dir = folder.join(sub);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(MaildirError::io(&dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| MaildirError::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            // d_type from readdir: no stat. Directories inside cur/ are not messages.
            let file_type = entry.file_type().ok();
            if file_type.is_some_and(|t| t.is_dir()) {
                continue;
            }
            let is_plain = file_type.is_some_and(|t| t.is_file());
            out.push(FileEntry {
                path: entry.path(),
                name,
                in_new,
                entry: is_plain.then_some(entry),
            });
        }
    }
    Ok(out)
}

fn find_by_base(folder: &Path, base: &str) -> Result<Option<PathBuf>> {
    Ok(list_files(folder)?
        .into_iter()
        .find(|f| filename::base_name(&f.name) == base)
        .map(|f| f.path))
}

fn message_folder_dir(path: &Path) -> PathBuf {
    path.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn mtime_secs(meta: &fs::Metadata) -> i64 {
    match meta.modified() {
        Ok(t) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
        },
        Err(_) => 0,
    }
}

fn read_uidlist(folder: &Path) -> Result<Option<Uidlist>> {
    let path = folder.join(UIDLIST);
    let data = match fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(MaildirError::io(&path, e)),
    };
    Uidlist::parse(&data).map_err(|e| MaildirError::Uidlist {
        path,
        line: e.line,
        what: e.what,
    })
}

/// Just the header line: listing folders should not read every folder's whole list.
fn read_uidlist_header(folder: &Path) -> Result<Option<Uidlist>> {
    let path = folder.join(UIDLIST);
    let file = match fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(MaildirError::io(&path, e)),
    };
    let mut line = Vec::new();
    BufReader::new(file)
        .read_until(b'\n', &mut line)
        .map_err(|e| MaildirError::io(&path, e))?;
    Uidlist::parse(&line).map_err(|e| MaildirError::Uidlist {
        path,
        line: e.line,
        what: e.what,
    })
}

fn read_keywords(folder: &Path) -> Result<Keywords> {
    let path = folder.join(KEYWORDS);
    match fs::read(&path) {
        Ok(d) => Ok(Keywords::parse(&d)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Keywords::default()),
        Err(e) => Err(MaildirError::io(&path, e)),
    }
}

/// Bare LF -> CRLF; CRLF and lone CR stay as they are (Dovecot's output conversion).
/// Line ends are found with memchr and the text between them copied in runs: this runs over
/// every byte of every message read from the store.
pub fn to_crlf(bytes: Vec<u8>) -> Vec<u8> {
    let is_bare = |i: usize| i == 0 || bytes[i - 1] != b'\r';
    let bare = memchr::memchr_iter(b'\n', &bytes)
        .filter(|&i| is_bare(i))
        .count();
    if bare == 0 {
        return bytes;
    }
    let mut out = Vec::with_capacity(bytes.len() + bare);
    let mut run_start = 0;
    for i in memchr::memchr_iter(b'\n', &bytes).filter(|&i| is_bare(i)) {
        out.extend_from_slice(&bytes[run_start..i]);
        out.push(b'\r');
        run_start = i; // the LF itself starts the next run
    }
    out.extend_from_slice(&bytes[run_start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf() {
        assert_eq!(to_crlf(b"a\nb\r\nc\rd\n".to_vec()), b"a\r\nb\r\nc\rd\r\n");
        assert_eq!(to_crlf(b"\n".to_vec()), b"\r\n");
        assert_eq!(to_crlf(b"x\r\n".to_vec()), b"x\r\n");
    }

    proptest::proptest! {
        /// The run-copying conversion agrees with the obvious byte-at-a-time one.
        #[test]
        fn crlf_matches_byte_at_a_time(bytes in proptest::collection::vec(
            proptest::sample::select(vec![b'a', b'\r', b'\n', 0xc3, b' ']), 0..200)) {
            let mut expected = Vec::new();
            let mut prev = 0u8;
            for &b in &bytes {
                if b == b'\n' && prev != b'\r' {
                    expected.push(b'\r');
                }
                expected.push(b);
                prev = b;
            }
            proptest::prop_assert_eq!(to_crlf(bytes), expected);
        }
    }

    #[test]
    fn header_ends() {
        assert_eq!(header_end(b"A: b\nC: d\n\nbody\n\n", 0), Some(11));
        assert_eq!(header_end(b"A: b\r\n\r\nbody", 0), Some(8));
        assert_eq!(header_end(b"\nbody", 0), Some(1));
        assert_eq!(header_end(b"A: b\n", 0), None);
    }

    #[test]
    fn folder_names() {
        assert_eq!(folder_name("Archive.2018"), "Archive/2018");
        assert_eq!(folder_name("Entw&APw-rfe Kunden"), "Entwürfe Kunden");
        assert_eq!(folder_name("bad&x"), "bad&x");
    }
}
