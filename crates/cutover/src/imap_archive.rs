//! Quarantine archive into an IMAP folder the admin picks (`Quarantine` -> `Quarantine/virus`,
//! `Quarantine/spam`, `Quarantine/junkmail` ...), by APPEND over `ferry-imap`. A re-run appends only
//! messages whose exact bytes are not in the folder yet: sizes are listed first (cheap), and only
//! messages of a matching size are fetched and compared.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset, Utc};
use ferry_imap::types::{FetchItems, UidSet};
use ferry_imap::{ImapError, Session};

use crate::error::{CutoverError, Result};
use crate::quarantine::{self, digest, ArchivedMailbox, QuarantineArchive, QuarantineMailbox};

/// IMAP carries messages with CRLF line ends (RFC 3501 2.3.1): bare LF (as Maildir stores it) is
/// turned into CRLF, as the server would hand it out anyway; CRLF stays as it is.
pub fn to_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 40);
    let mut previous = 0u8;
    for &b in bytes {
        if b == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        previous = b;
    }
    out
}

fn imap_err(folder: &str, e: ImapError) -> CutoverError {
    CutoverError::Imap {
        folder: folder.to_string(),
        message: format!("{e}. {}", e.advice()),
    }
}

/// The admin's folder in the server's personal namespace (`Quarantine` -> `INBOX.Quarantine` on a
/// server whose personal namespace is `INBOX.`).
pub fn base_name(base: &str, prefix: &str, delimiter: char) -> String {
    let base = base.trim_matches(delimiter);
    if !prefix.is_empty()
        && !base.starts_with(prefix)
        && !base.eq_ignore_ascii_case("INBOX")
        && !format!("{base}{delimiter}").eq_ignore_ascii_case(prefix)
    {
        format!("{prefix}{base}")
    } else {
        base.to_string()
    }
}

/// The folder for one mailbox below the admin's folder.
pub fn folder_name(base: &str, prefix: &str, delimiter: char, label: &str) -> String {
    let label: String = label
        .chars()
        .map(|c| if c == delimiter { '_' } else { c })
        .collect();
    format!("{}{delimiter}{label}", base_name(base, prefix, delimiter))
}

async fn ensure_folder(
    session: &mut Session,
    existing: &mut HashSet<String>,
    folder: &str,
) -> Result<()> {
    if existing.contains(folder) {
        return Ok(());
    }
    match session.create(folder).await {
        Ok(()) | Err(ImapError::AlreadyExists { .. }) => {}
        Err(e) => return Err(imap_err(folder, e)),
    }
    // Subscribe so that mail clients show it; a refusal does not lose mail.
    let _ = session.subscribe(folder).await;
    existing.insert(folder.to_string());
    Ok(())
}

/// Digests of the messages already in `folder` whose size is one of `sizes`.
async fn present(
    session: &mut Session,
    folder: &str,
    sizes: &HashSet<u32>,
) -> Result<HashSet<[u8; 32]>> {
    let selected = session
        .select(folder)
        .await
        .map_err(|e| imap_err(folder, e))?;
    let mut out = HashSet::new();
    if selected.exists == 0 || sizes.is_empty() {
        return Ok(out);
    }
    let listed = session
        .uid_fetch(&UidSet::all(), FetchItems::META)
        .await
        .map_err(|e| imap_err(folder, e))?;
    let candidates: Vec<u32> = listed
        .iter()
        .filter(|m| m.size.is_some_and(|s| sizes.contains(&s)))
        .map(|m| m.uid)
        .collect();
    if candidates.is_empty() {
        return Ok(out);
    }
    let mut stream = session
        .uid_fetch_stream(&UidSet::from_uids(candidates), FetchItems::FULL)
        .map_err(|e| imap_err(folder, e))?;
    while let Some(m) = stream.next().await.map_err(|e| imap_err(folder, e))? {
        if let Some(body) = m.body {
            out.insert(digest(&body));
        }
    }
    Ok(out)
}

/// Appends every quarantine mailbox into its own folder below `base` on the destination.
/// The session must be logged in as the account that should hold the archive.
pub async fn archive_to_imap(
    session: &mut Session,
    base: &str,
    mailboxes: &[QuarantineMailbox],
) -> Result<QuarantineArchive> {
    let namespaces = session.namespaces().await.map_err(|e| imap_err(base, e))?;
    let list = session.list().await.map_err(|e| imap_err(base, e))?;
    let delimiter = namespaces
        .personal_delimiter()
        .or_else(|| list.iter().find_map(|f| f.delimiter))
        .unwrap_or('/');
    let prefix = namespaces.personal_prefix().to_string();
    let mut existing: HashSet<String> = list.into_iter().map(|f| f.name).collect();
    let base_folder = base_name(base, &prefix, delimiter);
    ensure_folder(session, &mut existing, &base_folder).await?;

    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for mailbox in mailboxes {
        let folder = folder_name(base, &prefix, delimiter, &mailbox.label);
        ensure_folder(session, &mut existing, &folder).await?;
        let mut report = ArchivedMailbox {
            label: mailbox.label.clone(),
            kind: mailbox.kind,
            destination: folder.clone(),
            found: mailbox.items.len() as u32,
            added: 0,
            already_there: 0,
            failed: 0,
            bytes_added: 0,
        };
        let mut messages = Vec::new();
        for item in &mailbox.items {
            match quarantine::read_item(item) {
                Ok(bytes) => messages.push((item, to_crlf(&bytes))),
                Err(e) => {
                    report.failed += 1;
                    warnings.push(e.to_string());
                }
            }
        }
        let sizes: HashSet<u32> = messages.iter().map(|(_, b)| b.len() as u32).collect();
        let mut seen = present(session, &folder, &sizes).await?;
        // The same bytes twice in one source are one message in the archive.
        let mut by_digest: HashMap<[u8; 32], ()> = HashMap::new();
        for (item, bytes) in messages {
            let d = digest(&bytes);
            if seen.contains(&d) || by_digest.insert(d, ()).is_some() {
                report.already_there += 1;
                continue;
            }
            let date: DateTime<FixedOffset> = item.at.with_timezone(&Utc).fixed_offset();
            match session.append(&folder, &[], Some(date), &bytes).await {
                Ok(_) => {
                    seen.insert(d);
                    report.added += 1;
                    report.bytes_added += bytes.len() as u64;
                }
                // One refused message (too big, rejected) is reported; the rest go on.
                Err(e) if !e.is_fatal_to_connection() => {
                    report.failed += 1;
                    warnings.push(format!("{}: {e}. {}", item.path.display(), e.advice()));
                }
                Err(e) => return Err(imap_err(&folder, e)),
            }
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
    use super::{folder_name, to_crlf};

    #[test]
    fn line_ends() {
        assert_eq!(to_crlf(b"a\nb\r\nc\n\n"), b"a\r\nb\r\nc\r\n\r\n");
        assert_eq!(to_crlf(b"no end"), b"no end");
        assert_eq!(to_crlf(b"\r\n"), b"\r\n");
    }

    #[test]
    fn folder_names() {
        assert_eq!(
            folder_name("Quarantine", "", '/', "virus"),
            "Quarantine/virus"
        );
        assert_eq!(
            folder_name("Quarantine/", "", '/', "junkmail.Old"),
            "Quarantine/junkmail.Old"
        );
        assert_eq!(
            folder_name("Quarantine", "INBOX.", '.', "junkmail.Old"),
            "INBOX.Quarantine.junkmail_Old"
        );
        assert_eq!(
            folder_name("INBOX.Quarantine", "INBOX.", '.', "spam"),
            "INBOX.Quarantine.spam"
        );
    }
}
