//! Counting a Dovecot Maildir++ store on disk: folders (modified UTF-7 names, `.` hierarchy),
//! message files in `cur/` and `new/`, their sizes, and `\Deleted` (`T`) flags. Read-only.

use std::fs;
use std::path::Path;

use crate::error::ParseError;
use crate::mutf7;
use crate::types::{Folder, FolderRole};

#[derive(Debug, Clone, Default)]
pub struct StoreScan {
    pub folders: Vec<Folder>,
    pub messages: u64,
    pub bytes: u64,
    pub deleted_pending: u64,
    /// Problems worth a warning (unreadable directory, undecodable name), as sentences.
    pub problems: Vec<String>,
}

/// Scans the store at `path`. Never fails: what cannot be read becomes a problem sentence.
pub fn scan(path: &Path) -> StoreScan {
    let mut scan = StoreScan::default();
    let mut dirs: Vec<(String, String)> = vec![(String::new(), "INBOX".to_string())];
    match fs::read_dir(path) {
        Ok(entries) => {
            for entry in entries.flatten() {
                let os_name = entry.file_name();
                let Some(name) = os_name.to_str() else {
                    scan.problems.push(format!(
                        "the folder {:?} in {} has a name that is not UTF-8 and was skipped",
                        os_name,
                        path.display()
                    ));
                    continue;
                };
                let Some(storage) = name.strip_prefix('.') else {
                    continue;
                };
                if storage.is_empty() || storage == "." {
                    continue;
                }
                if !fs::metadata(entry.path())
                    .map(|m| m.is_dir())
                    .unwrap_or(false)
                {
                    continue;
                }
                match folder_name(storage) {
                    Ok(utf8) => dirs.push((name.to_string(), utf8)),
                    Err(why) => {
                        scan.problems.push(format!(
                            "the folder {name:?} in {} has a name that is not valid modified UTF-7 ({why}); it is listed under its name on disk",
                            path.display()
                        ));
                        dirs.push((name.to_string(), storage.replace('.', "/")));
                    }
                }
            }
        }
        Err(e) => {
            scan.problems.push(format!(
                "the store {} cannot be read ({e}); run discovery as root",
                path.display()
            ));
            return scan;
        }
    }
    let subscriptions: Vec<String> = match fs::read(path.join("subscriptions")) {
        Ok(bytes) => {
            let file = path.join("subscriptions").display().to_string();
            match parse_subscriptions(&file, &String::from_utf8_lossy(&bytes)) {
                Ok(s) => s,
                Err(e) => {
                    scan.problems
                        .push(format!("{e}; subscriptions are not shown"));
                    Vec::new()
                }
            }
        }
        Err(_) => Vec::new(),
    };
    dirs.sort_by(|a, b| {
        (!a.0.is_empty(), a.1.to_lowercase(), &a.1).cmp(&(
            !b.0.is_empty(),
            b.1.to_lowercase(),
            &b.1,
        ))
    });
    for (disk_name, name) in dirs {
        let dir = if disk_name.is_empty() {
            path.to_path_buf()
        } else {
            path.join(&disk_name)
        };
        let subscribed = subscriptions
            .iter()
            .any(|s| s == &name || (name == "INBOX" && s.eq_ignore_ascii_case("INBOX")));
        let mut folder = Folder {
            subscribed,
            role: role_of(&name),
            name,
            disk_name,
            messages: 0,
            bytes: 0,
            deleted_pending: 0,
            unseen_new: 0,
        };
        for sub in ["cur", "new"] {
            let sub_dir = dir.join(sub);
            let entries = match fs::read_dir(&sub_dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    scan.problems.push(format!(
                        "{} cannot be read ({e}); its messages are not counted",
                        sub_dir.display()
                    ));
                    continue;
                }
            };
            for entry in entries.flatten() {
                let file_name = entry.file_name();
                let file_name = file_name.to_string_lossy();
                // Dovecot ignores dot files in cur/ and new/.
                if file_name.starts_with('.') {
                    continue;
                }
                let Ok(meta) = fs::metadata(entry.path()) else {
                    continue;
                };
                if !meta.is_file() {
                    continue;
                }
                folder.messages += 1;
                folder.bytes += meta.len();
                if sub == "new" {
                    folder.unseen_new += 1;
                }
                if flags_of(&file_name).contains('T') {
                    folder.deleted_pending += 1;
                }
            }
        }
        scan.messages += folder.messages;
        scan.bytes += folder.bytes;
        scan.deleted_pending += folder.deleted_pending;
        scan.folders.push(folder);
    }
    scan
}

/// Storage name (without the leading dot) to UTF-8 with `/` separators.
pub fn folder_name(storage: &str) -> Result<String, String> {
    storage
        .split('.')
        .map(|part| mutf7::decode(part).map_err(|why| why.to_string()))
        .collect::<Result<Vec<_>, _>>()
        .map(|parts| parts.join("/"))
}

/// The standard flag letters of a Maildir file name (`…:2,FS` → `FS`).
fn flags_of(file_name: &str) -> &str {
    match file_name.rfind(":2,") {
        Some(i) => &file_name[i + 3..],
        None => "",
    }
}

/// Role by name, for top-level folders only (Apple, Outlook and generic names; Server 5's Dovecot
/// marks few of them with SPECIAL-USE, so names are what counts).
pub fn role_of(name: &str) -> Option<FolderRole> {
    if name.contains('/') {
        return None;
    }
    let n = name.to_lowercase();
    Some(match n.as_str() {
        "inbox" => FolderRole::Inbox,
        "sent messages" | "sent" | "sent items" | "sent mail" => FolderRole::Sent,
        "drafts" | "draft" => FolderRole::Drafts,
        "deleted messages" | "deleted items" | "trash" => FolderRole::Trash,
        "junk" | "junk e-mail" | "junk email" | "spam" => FolderRole::Junk,
        "archive" | "archives" => FolderRole::Archive,
        "notes" => FolderRole::Notes,
        _ => return None,
    })
}

/// Maildir++ `maildirsize`: first line the limit (`<bytes>S[,<count>C]`), then `<bytes> <count>`
/// lines (deltas may be negative) that add up to the usage. Returns (limit bytes, used bytes).
pub fn parse_maildirsize(file: &str, text: &str) -> Result<(Option<u64>, u64), ParseError> {
    let mut lines = text.lines().enumerate();
    let limit = match lines.next() {
        None => return Err(ParseError::new(file, 1, "empty file (no quota line)")),
        Some((_, first)) => {
            let mut limit = None;
            for part in first.trim().split(',').filter(|p| !p.is_empty()) {
                if let Some(b) = part.strip_suffix('S') {
                    limit = Some(b.parse::<u64>().map_err(|_| {
                        ParseError::new(file, 1, format!("bad storage limit {part:?}"))
                    })?);
                } else if let Some(c) = part.strip_suffix('C') {
                    c.parse::<u64>().map_err(|_| {
                        ParseError::new(file, 1, format!("bad message-count limit {part:?}"))
                    })?;
                } else {
                    return Err(ParseError::new(
                        file,
                        1,
                        format!("expected `<bytes>S` or `<count>C`, found {part:?}"),
                    ));
                }
            }
            limit.filter(|&l| l > 0)
        }
    };
    let mut used: i128 = 0;
    for (i, line) in lines {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split_whitespace();
        let (Some(bytes), Some(count), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(ParseError::new(
                file,
                i + 1,
                "expected `<bytes> <messages>`",
            ));
        };
        let bytes: i64 = bytes
            .parse()
            .map_err(|_| ParseError::new(file, i + 1, format!("bad byte count {bytes:?}")))?;
        count
            .parse::<i64>()
            .map_err(|_| ParseError::new(file, i + 1, format!("bad message count {count:?}")))?;
        used += bytes as i128;
    }
    Ok((limit, used.clamp(0, u64::MAX as i128) as u64))
}

/// Dovecot `subscriptions`: v1 (one storage name per line, `.` hierarchy) or v2 (`V<TAB>2`, a
/// blank line, then names with TAB between hierarchy levels). Returns UTF-8 names with `/`.
pub fn parse_subscriptions(file: &str, text: &str) -> Result<Vec<String>, ParseError> {
    let mut lines = text.lines().enumerate().peekable();
    let v2 = match lines.peek() {
        Some((_, first)) if first.starts_with("V\t") => {
            if first.trim_end() != "V\t2" {
                return Err(ParseError::new(
                    file,
                    1,
                    format!("unknown subscriptions version {:?}", first.trim_end()),
                ));
            }
            lines.next();
            true
        }
        _ => false,
    };
    let mut out = Vec::new();
    for (i, line) in lines {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let parts: Vec<&str> = if v2 {
            line.split('\t').collect()
        } else {
            line.split('.').collect()
        };
        let decoded = parts
            .iter()
            .map(|p| mutf7::decode(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|why| ParseError::new(file, i + 1, format!("bad folder name: {why}")))?;
        out.push(decoded.join("/"));
    }
    Ok(out)
}

/// `partition_map.conf`: `tag:path` per line.
pub fn parse_partition_map(file: &str, text: &str) -> Result<Vec<(String, String)>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once(':') {
            Some((tag, path)) if !tag.trim().is_empty() && path.trim().starts_with('/') => {
                out.push((tag.trim().to_string(), path.trim().to_string()))
            }
            _ => {
                return Err(ParseError::new(
                    file,
                    i + 1,
                    "expected `tag:/absolute/path`",
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maildirsize() {
        assert_eq!(
            parse_maildirsize("m", "2147483648S\n11970 11\n1277 1\n").unwrap(),
            (Some(2147483648), 13247)
        );
        assert_eq!(
            parse_maildirsize("m", "0S,0C\n100 1\n-40 -1\n").unwrap(),
            (None, 60)
        );
        assert_eq!(parse_maildirsize("m", "1S\nx 1\n").unwrap_err().line, 2);
        assert_eq!(parse_maildirsize("m", "12Q\n").unwrap_err().line, 1);
        assert_eq!(parse_maildirsize("m", "").unwrap_err().line, 1);
    }

    #[test]
    fn subscriptions_v1_v2() {
        assert_eq!(
            parse_subscriptions("s", "INBOX\nArchive.2018\nEntw&APw-rfe Kunden\n").unwrap(),
            vec!["INBOX", "Archive/2018", "Entwürfe Kunden"]
        );
        assert_eq!(
            parse_subscriptions("s", "V\t2\n\nINBOX\nRechnungen\t2018\nR&-D\nA.B\n").unwrap(),
            vec!["INBOX", "Rechnungen/2018", "R&D", "A.B"]
        );
        assert_eq!(
            parse_subscriptions("s", "V\t3\n\nINBOX\n")
                .unwrap_err()
                .line,
            1
        );
        assert_eq!(
            parse_subscriptions("s", "INBOX\n&broken\n")
                .unwrap_err()
                .line,
            2
        );
    }

    #[test]
    fn partition_map() {
        assert_eq!(
            parse_partition_map("p", "# c\ndefault:/a/b\n\nalt : /c\n").unwrap(),
            vec![
                ("default".into(), "/a/b".into()),
                ("alt".into(), "/c".into())
            ]
        );
        assert_eq!(
            parse_partition_map("p", "default:/a\nnope\n")
                .unwrap_err()
                .line,
            2
        );
        assert_eq!(
            parse_partition_map("p", "x:relative\n").unwrap_err().line,
            1
        );
    }

    #[test]
    fn roles_and_names() {
        assert_eq!(folder_name("Rechnungen.2018").unwrap(), "Rechnungen/2018");
        assert_eq!(role_of("Junk E-mail"), Some(FolderRole::Junk));
        assert_eq!(role_of("Archive/2018"), None);
        assert_eq!(flags_of("1.M1P1.h,S=1,W=1:2,ST"), "ST");
        assert_eq!(flags_of("1.M1P1.h,S=1"), "");
    }
}
