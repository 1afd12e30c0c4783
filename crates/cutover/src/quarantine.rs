//! Quarantine archive (phase 10): the junk / not-junk training mailboxes (`junkmail`,
//! `notjunkmail`) and amavis' quarantine (`virus-*` plain, `spam-*.gz` gzip) archived as one mbox
//! file per mailbox, or into an IMAP folder the admin picks (see `imap_archive`). Re-running an
//! archive adds only what is not there yet (same bytes = same message).

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ts_rs::TS;

use crate::error::{CutoverError, Result};
use crate::mailflow::StoreAccount;
use crate::mbox;

/// amavis' quarantine folders below the server root.
pub const QUARANTINE_DIRS: [&str; 2] = [
    "Library/Server/Mail/Data/scanner/virusmails",
    "Library/Server/Mail/Data/scanner/quarantine",
];

/// Apple's default training accounts (`MailServicesOther.plist` can rename them).
pub const TRAINING_ACCOUNTS: [&str; 2] = ["junkmail", "notjunkmail"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum MailboxKind {
    /// A folder of a junk / not-junk training account.
    Training,
    /// amavis `virus-*`.
    Virus,
    /// amavis `spam-*`.
    Spam,
    /// amavis `banned-*`, `badh-*`, `clean-*`.
    OtherQuarantine,
}

/// One message waiting in a quarantine mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineItem {
    pub path: PathBuf,
    pub gzip: bool,
    pub at: DateTime<Utc>,
}

/// A mailbox to archive: one mbox file, or one IMAP folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineMailbox {
    /// Safe as a file name and an IMAP folder name: `junkmail`, `junkmail.Old`, `virus`, `spam`.
    pub label: String,
    pub kind: MailboxKind,
    pub items: Vec<QuarantineItem>,
}

/// What one mailbox's archive did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ArchivedMailbox {
    pub label: String,
    pub kind: MailboxKind,
    /// The mbox file, or the IMAP folder.
    pub destination: String,
    pub found: u32,
    pub added: u32,
    /// Already in the destination from an earlier run.
    pub already_there: u32,
    /// Messages that could not be read (see warnings).
    pub failed: u32,
    #[ts(type = "number")]
    pub bytes_added: u64,
}

/// The quarantine archive, as the decommission report needs it.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct QuarantineArchive {
    #[ts(type = "string")]
    pub archived_at: DateTime<Utc>,
    pub mailboxes: Vec<ArchivedMailbox>,
    pub warnings: Vec<String>,
}

impl QuarantineArchive {
    /// Every message found is in the destination.
    pub fn complete(&self) -> bool {
        self.mailboxes
            .iter()
            .all(|m| m.failed == 0 && m.added + m.already_there == m.found)
    }
}

fn file_time(path: &Path) -> DateTime<Utc> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lead: String = name.chars().take_while(|c| c.is_ascii_digit()).collect();
    if lead.len() >= 9 {
        if let Some(t) = lead
            .parse::<i64>()
            .ok()
            .and_then(|s| Utc.timestamp_opt(s, 0).single())
        {
            return t;
        }
    }
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(DateTime::<Utc>::from)
        .unwrap_or_else(|_| Utc::now())
}

fn maildir_items(dir: &Path) -> Vec<QuarantineItem> {
    let mut items = Vec::new();
    for sub in ["cur", "new"] {
        let Ok(files) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for f in files.flatten() {
            let name = f.file_name();
            if name.to_string_lossy().starts_with('.') || !f.path().is_file() {
                continue;
            }
            items.push(QuarantineItem {
                at: file_time(&f.path()),
                path: f.path(),
                gzip: false,
            });
        }
    }
    items.sort_by(|a, b| (a.at, &a.path).cmp(&(b.at, &b.path)));
    items
}

/// Finds the mailboxes to archive: every folder of the training accounts (INBOX first) and the
/// amavis quarantine grouped by kind. Empty mailboxes are listed too (the report says "0").
pub fn find(root: &Path, training: &[StoreAccount]) -> Result<Vec<QuarantineMailbox>> {
    let mut out = Vec::new();
    for account in training {
        out.push(QuarantineMailbox {
            label: safe_label(&account.name),
            kind: MailboxKind::Training,
            items: maildir_items(&account.dir),
        });
        let mut folders: Vec<(String, PathBuf)> = std::fs::read_dir(&account.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let folder = name.strip_prefix('.')?;
                (!folder.is_empty() && e.path().is_dir()).then(|| (folder.to_string(), e.path()))
            })
            .collect();
        folders.sort();
        for (folder, dir) in folders {
            out.push(QuarantineMailbox {
                label: safe_label(&format!("{}.{folder}", account.name)),
                kind: MailboxKind::Training,
                items: maildir_items(&dir),
            });
        }
    }
    let mut groups: BTreeMap<(MailboxKind, String), Vec<QuarantineItem>> = BTreeMap::new();
    groups.insert((MailboxKind::Virus, "virus".into()), Vec::new());
    groups.insert((MailboxKind::Spam, "spam".into()), Vec::new());
    for dir in QUARANTINE_DIRS {
        let dir = root.join(dir);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if !path.is_file() {
                continue;
            }
            // amavis names: <kind>-<mail_id>[.gz]
            let Some((prefix, _)) = name.split_once('-') else {
                continue;
            };
            let kind = match prefix {
                "virus" => MailboxKind::Virus,
                "spam" => MailboxKind::Spam,
                "banned" | "badh" | "clean" => MailboxKind::OtherQuarantine,
                _ => continue,
            };
            groups
                .entry((kind, prefix.to_string()))
                .or_default()
                .push(QuarantineItem {
                    gzip: name.ends_with(".gz"),
                    at: file_time(&path),
                    path,
                });
        }
    }
    for ((kind, label), mut items) in groups {
        items.sort_by(|a, b| (a.at, &a.path).cmp(&(b.at, &b.path)));
        out.push(QuarantineMailbox { label, kind, items });
    }
    Ok(out)
}

/// The training accounts among the store's accounts.
pub fn training_accounts(accounts: &[StoreAccount], names: &[&str]) -> Vec<StoreAccount> {
    accounts
        .iter()
        .filter(|a| names.iter().any(|n| a.name.eq_ignore_ascii_case(n)))
        .cloned()
        .collect()
}

/// Letters, digits, `.`, `-`, `_` and spaces only; no leading dot.
fn safe_label(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    out.trim_start_matches('.').to_string()
}

/// The message's bytes (gunzipped for amavis' `.gz` files).
pub fn read_item(item: &QuarantineItem) -> Result<Vec<u8>> {
    let file = std::fs::File::open(&item.path).map_err(|source| CutoverError::Read {
        path: item.path.clone(),
        source,
    })?;
    let mut out = Vec::new();
    if item.gzip {
        flate2::read::MultiGzDecoder::new(file)
            .read_to_end(&mut out)
            .map_err(|source| CutoverError::Decompress {
                path: item.path.clone(),
                source,
            })?;
    } else {
        std::io::BufReader::new(file)
            .read_to_end(&mut out)
            .map_err(|source| CutoverError::Read {
                path: item.path.clone(),
                source,
            })?;
    }
    Ok(out)
}

/// The envelope sender for the mbox `From ` line: amavis' `X-Envelope-From`, else `Return-Path`.
pub(crate) fn envelope_sender(message: &[u8]) -> String {
    let head_end = find_bytes(message, b"\n\n")
        .or_else(|| find_bytes(message, b"\r\n\r\n"))
        .unwrap_or(message.len());
    let head = String::from_utf8_lossy(&message[..head_end]);
    for wanted in ["x-envelope-from:", "return-path:"] {
        for line in head.lines() {
            if line.len() > wanted.len() && line[..wanted.len()].eq_ignore_ascii_case(wanted) {
                let v = line[wanted.len()..].trim().trim_start_matches('<');
                let v = v.split('>').next().unwrap_or(v).trim();
                if !v.is_empty() {
                    return v.to_string();
                }
            }
        }
    }
    String::new()
}

fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// An archive file's bytes, without following a symbolic link at its name.
fn read_archive(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    ferry_safeio::fs::open_read(path)?.read_to_end(&mut data)?;
    Ok(data)
}

pub(crate) fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Archives each mailbox as `<dest_dir>/<label>.mbox`. An existing file is kept and only messages
/// not already in it are appended, so a re-run never doubles a message (and a source emptied by
/// `learn_junk_mail` since the last run loses nothing already archived).
pub fn archive_to_mbox(
    mailboxes: &[QuarantineMailbox],
    dest_dir: &Path,
) -> Result<QuarantineArchive> {
    // Quarantined mail names senders and subjects: a folder Ferry creates is the owner's only,
    // and so is every archive file (0600). No symbolic link is followed at an archive's name:
    // the folder is the admin's choice, and a planted link must not make Ferry read or append
    // to another file.
    ferry_safeio::fs::create_private_dir_all(dest_dir).map_err(|source| CutoverError::Write {
        path: dest_dir.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for mailbox in mailboxes {
        let path = dest_dir.join(format!("{}.mbox", mailbox.label));
        let existing = match read_archive(&path) {
            Ok(data) => data,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(CutoverError::Write { path, source }),
        };
        let parsed =
            mbox::parse(&existing).ok_or_else(|| CutoverError::NotMbox { path: path.clone() })?;
        let mut seen: HashSet<[u8; 32]> = parsed.iter().map(|m| digest(&m.bytes)).collect();
        let mut buffer = Vec::new();
        let mut report = ArchivedMailbox {
            label: mailbox.label.clone(),
            kind: mailbox.kind,
            destination: path.to_string_lossy().into_owned(),
            found: mailbox.items.len() as u32,
            added: 0,
            already_there: 0,
            failed: 0,
            bytes_added: 0,
        };
        for item in &mailbox.items {
            let bytes = match read_item(item) {
                Ok(b) => b,
                Err(e) => {
                    report.failed += 1;
                    warnings.push(e.to_string());
                    continue;
                }
            };
            // Compare as mbox will give it back (a final line end is added when missing).
            let mut as_stored = bytes.clone();
            if !as_stored.ends_with(b"\n") {
                as_stored.push(b'\n');
            }
            if !seen.insert(digest(&as_stored)) {
                report.already_there += 1;
                continue;
            }
            mbox::write_message(&mut buffer, &envelope_sender(&bytes), item.at, &bytes).map_err(
                |source| CutoverError::Write {
                    path: path.clone(),
                    source,
                },
            )?;
            report.added += 1;
            report.bytes_added += bytes.len() as u64;
        }
        if !buffer.is_empty() || !path.exists() {
            let write = || -> std::io::Result<()> {
                let mut f = ferry_safeio::fs::open_append(&path, ferry_safeio::fs::PRIVATE_FILE)?;
                f.write_all(&buffer)?;
                f.sync_all()
            };
            write().map_err(|source| CutoverError::Write {
                path: path.clone(),
                source,
            })?;
        }
        out.push(report);
    }
    Ok(QuarantineArchive {
        archived_at: Utc::now(),
        mailboxes: out,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_from_headers() {
        assert_eq!(
            envelope_sender(b"X-Envelope-From: <a@b.example>\nReturn-Path: <c@d>\n\nbody"),
            "a@b.example"
        );
        assert_eq!(
            envelope_sender(b"Return-Path: <c@d.example>\r\n\r\nbody"),
            "c@d.example"
        );
        assert_eq!(
            envelope_sender(b"Subject: x\n\nX-Envelope-From: <no@body>\n"),
            ""
        );
    }

    #[test]
    fn labels_are_safe() {
        assert_eq!(safe_label("junkmail.Old/2018"), "junkmail.Old_2018");
        assert_eq!(safe_label("..x"), "x");
    }
}
