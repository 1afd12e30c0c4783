//! Message identity: what makes "the same message" on two servers without touching its bytes.
//!
//! Identity = Message-ID plus Date when there is a Message-ID; otherwise a hash of stable headers
//! (From, To, Cc, Subject, Date). Size is never part of the key (servers disagree on sizes); it is
//! only a tie-breaker when pairing within a group of equal identities. Identities are compared as
//! multisets ([`IdentityCounter`]): a folder holding the same message twice needs it twice on the
//! destination.

use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The header fields identity is computed from. Fetching exactly these (IMAP
/// `BODY.PEEK[HEADER.FIELDS (...)]`) gives the same identity as parsing the whole message.
pub const IDENTITY_FIELDS: &[&str] = &["MESSAGE-ID", "DATE", "FROM", "TO", "CC", "SUBJECT"];

/// The IMAP fetch item that returns just the identity headers.
pub fn identity_fetch_item() -> String {
    format!("BODY.PEEK[HEADER.FIELDS ({})]", IDENTITY_FIELDS.join(" "))
}

/// A message's identity key: short, printable, stable.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity(pub String);

impl Identity {
    /// The identity of a message from its raw bytes (whole message or just its header).
    pub fn of(raw: &[u8]) -> Identity {
        let fields = header_fields(raw);
        let get = |name: &str| -> Option<&str> {
            fields
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let date = get("Date").unwrap_or("");
        match get("Message-ID")
            .map(normalize_message_id)
            .filter(|m| !m.is_empty())
        {
            Some(mid) => {
                // Message-IDs can be long; hash to keep the key compact, but keep it readable-ish.
                let mut h = Sha256::new();
                h.update(mid.as_bytes());
                h.update([0]);
                h.update(date.as_bytes());
                Identity(format!("m:{}", &hex::encode(h.finalize())[..32]))
            }
            None => {
                let mut h = Sha256::new();
                for name in ["From", "To", "Cc", "Subject", "Date"] {
                    h.update(name.as_bytes());
                    h.update([b':']);
                    h.update(get(name).unwrap_or("").as_bytes());
                    h.update([0]);
                }
                Identity(format!("h:{}", &hex::encode(h.finalize())[..32]))
            }
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The Message-ID as written in the header, for header SEARCH and reports (None when absent).
pub fn message_id(raw: &[u8]) -> Option<String> {
    header_fields(raw)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Message-ID"))
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// The Subject, decoded leniently (for error reports and skip lists; not for identity).
pub fn subject(raw: &[u8]) -> Option<String> {
    header_fields(raw)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Subject"))
        .map(|(_, v)| v)
}

/// The Date header's raw value (for reports).
pub fn date_header(raw: &[u8]) -> Option<String> {
    header_fields(raw)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Date"))
        .map(|(_, v)| v)
}

fn normalize_message_id(v: &str) -> String {
    // Servers and clients differ in whitespace and case of nothing else; angle brackets stay.
    v.split_whitespace().collect::<Vec<_>>().join("")
}

/// The identity-relevant header fields of a raw message: first occurrence of each field name in
/// [`IDENTITY_FIELDS`], unfolded, with runs of whitespace collapsed to one space and trimmed.
/// Bytes that are not UTF-8 are mapped lossily (the same on both sides, so identities still agree).
pub fn header_fields(raw: &[u8]) -> Vec<(String, String)> {
    let header_end = find_header_end(raw);
    let head = &raw[..header_end];
    let mut out: Vec<(String, String)> = Vec::new();
    let mut current: Option<(String, Vec<u8>)> = None;
    let flush = |cur: &mut Option<(String, Vec<u8>)>, out: &mut Vec<(String, String)>| {
        if let Some((name, value)) = cur.take() {
            let upper = name.to_ascii_uppercase();
            if IDENTITY_FIELDS.contains(&upper.as_str())
                && !out.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name))
            {
                let text = String::from_utf8_lossy(&value);
                let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
                out.push((name, collapsed));
            }
        }
    };
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some((_, value)) = current.as_mut() {
                value.push(b' ');
                value.extend_from_slice(line);
            }
            continue;
        }
        flush(&mut current, &mut out);
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = String::from_utf8_lossy(&line[..colon]).trim().to_string();
            current = Some((name, line[colon + 1..].to_vec()));
        }
    }
    flush(&mut current, &mut out);
    out
}

fn find_header_end(raw: &[u8]) -> usize {
    // The header ends at the first empty line (CRLF CRLF or LF LF).
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\n' {
            let rest = &raw[i + 1..];
            if rest.starts_with(b"\n") || rest.starts_with(b"\r\n") {
                return i + 1;
            }
        }
        i += 1;
    }
    raw.len()
}

/// Just the identity fields of a header, re-serialised (`Name: value` lines, then an empty line):
/// what is kept per message while matching, so memory stays small for big folders.
pub fn reduce_header(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in header_fields(raw) {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// One side's messages as a multiset of identities, each occurrence with a handle (e.g. a UID) and
/// its size, so that pairs can be formed with size as the tie-breaker.
#[derive(Default, Debug)]
pub struct IdentityCounter<T> {
    groups: HashMap<Identity, Vec<(T, u64)>>,
}

impl<T: Clone> IdentityCounter<T> {
    pub fn new() -> Self {
        IdentityCounter {
            groups: HashMap::new(),
        }
    }

    pub fn add(&mut self, id: Identity, handle: T, size: u64) {
        self.groups.entry(id).or_default().push((handle, size));
    }

    pub fn count(&self, id: &Identity) -> usize {
        self.groups.get(id).map_or(0, Vec::len)
    }

    pub fn total(&self) -> usize {
        self.groups.values().map(Vec::len).sum()
    }

    /// Takes one occurrence of `id` out of the multiset, preferring one with exactly `size`
    /// (the tie-breaker), else the one closest in size. None when no occurrence is left.
    pub fn take(&mut self, id: &Identity, size: u64) -> Option<T> {
        let group = self.groups.get_mut(id)?;
        if group.is_empty() {
            return None;
        }
        let best = group
            .iter()
            .enumerate()
            .min_by_key(|(_, (_, s))| s.abs_diff(size))
            .map(|(i, _)| i)?;
        let (handle, _) = group.swap_remove(best);
        Some(handle)
    }

    /// What is left, as (identity, handle, size).
    pub fn remaining(&self) -> Vec<(Identity, T, u64)> {
        let mut out = Vec::new();
        for (id, group) in &self.groups {
            for (h, s) in group {
                out.push((id.clone(), h.clone(), *s));
            }
        }
        out
    }
}

/// Pairs source messages with destination messages by identity, counting occurrences.
/// Returns (pairs, unmatched source handles). Size breaks ties within an identity group: a source
/// message is paired first with a destination message of the same size.
pub fn pair_up<S: Clone, D: Clone>(
    source: Vec<(Identity, S, u64)>,
    destination: &mut IdentityCounter<D>,
) -> (Vec<(S, D)>, Vec<S>) {
    // Exact-size pairs first so that a same-identity, different-size message does not steal the
    // partner of an exact match.
    let mut pairs = Vec::new();
    let mut rest = Vec::new();
    let mut leftover = Vec::new();
    for (id, s, size) in source {
        let exact = destination
            .groups
            .get(&id)
            .and_then(|g| g.iter().position(|(_, ds)| *ds == size));
        match exact {
            Some(i) => {
                let (d, _) = destination
                    .groups
                    .get_mut(&id)
                    .map(|g| g.swap_remove(i))
                    .expect("group exists: position was just found in it");
                pairs.push((s, d));
            }
            None => rest.push((id, s, size)),
        }
    }
    for (id, s, size) in rest {
        match destination.take(&id, size) {
            Some(d) => pairs.push((s, d)),
            None => leftover.push(s),
        }
    }
    (pairs, leftover)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &[u8] = b"Received: from x by y; Mon, 1 Jan 2018 10:00:00 +0000\r\nMessage-ID: <abc@example.com>\r\nDate: Mon, 1 Jan 2018 10:00:00 +0000\r\nFrom: a@example.com\r\nSubject: Hello\r\n\r\nBody\r\nMessage-ID: <not-this@example.com>\r\n";

    #[test]
    fn same_message_same_identity_whatever_the_line_ends_and_folding() {
        let lf = String::from_utf8_lossy(A).replace("\r\n", "\n");
        assert_eq!(Identity::of(A), Identity::of(lf.as_bytes()));
        let folded = b"Message-ID:\r\n <abc@example.com>\r\nDate: Mon, 1 Jan 2018\r\n  10:00:00 +0000\r\n\r\nother body";
        assert_eq!(Identity::of(A), Identity::of(folded));
        assert!(Identity::of(A).as_str().starts_with("m:"));
    }

    #[test]
    fn header_fields_fetch_gives_the_same_identity_as_the_whole_message() {
        // What an IMAP server returns for BODY.PEEK[HEADER.FIELDS (...)]: the fields plus a blank line.
        let fields = b"Message-ID: <abc@example.com>\r\nDate: Mon, 1 Jan 2018 10:00:00 +0000\r\nFrom: a@example.com\r\nSubject: Hello\r\n\r\n";
        assert_eq!(Identity::of(A), Identity::of(fields));
        assert_eq!(Identity::of(A), Identity::of(&reduce_header(A)));
        assert_eq!(subject(&reduce_header(A)).as_deref(), Some("Hello"));
    }

    #[test]
    fn message_id_in_the_body_is_ignored_and_date_matters() {
        let other_date =
            String::from_utf8_lossy(A).replace("10:00:00 +0000\r\nFrom", "11:00:00 +0000\r\nFrom");
        assert_ne!(Identity::of(A), Identity::of(other_date.as_bytes()));
        assert_eq!(message_id(A).as_deref(), Some("<abc@example.com>"));
    }

    #[test]
    fn no_message_id_falls_back_to_stable_headers() {
        let a = b"From: a@example.com\nTo: b@example.com\nSubject: s\nDate: Tue, 2 Jan 2018 10:00:00 +0000\nReceived: one\n\nx";
        let b = b"Received: two\nFrom: a@example.com\nTo: b@example.com\nSubject: s\nDate: Tue, 2 Jan 2018 10:00:00 +0000\n\ny";
        let c = b"From: a@example.com\nTo: b@example.com\nSubject: t\nDate: Tue, 2 Jan 2018 10:00:00 +0000\n\nx";
        assert_eq!(Identity::of(a), Identity::of(b));
        assert_ne!(Identity::of(a), Identity::of(c));
        assert!(Identity::of(a).as_str().starts_with("h:"));
        let empty_mid = b"Message-ID: \nFrom: a@example.com\nTo: b@example.com\nSubject: s\nDate: Tue, 2 Jan 2018 10:00:00 +0000\n\n";
        assert_eq!(Identity::of(a), Identity::of(empty_mid));
    }

    #[test]
    fn non_utf8_headers_do_not_panic_and_are_stable() {
        let raw = b"Subject: Gr\xfc\xdfe\nFrom: x\n\nbody";
        assert_eq!(Identity::of(raw), Identity::of(raw));
        assert_eq!(Identity::of(b""), Identity::of(b""));
        assert!(subject(raw).is_some());
    }

    #[test]
    fn identities_are_counted_not_just_matched() {
        let id = Identity::of(A);
        let other = Identity("m:other".into());
        let mut dest = IdentityCounter::new();
        dest.add(id.clone(), 100u32, 500);
        // Source holds the same message twice plus another one: one pair, two to copy.
        let source = vec![
            (id.clone(), 1u32, 500),
            (id.clone(), 2u32, 500),
            (other, 3u32, 10),
        ];
        let (pairs, leftover) = pair_up(source, &mut dest);
        assert_eq!(pairs, vec![(1, 100)]);
        assert_eq!(leftover, vec![2, 3]);
        assert_eq!(dest.total(), 0);
    }

    #[test]
    fn size_breaks_ties_inside_an_identity_group() {
        let id = Identity("m:x".into());
        let mut dest = IdentityCounter::new();
        dest.add(id.clone(), "d-big", 9000);
        dest.add(id.clone(), "d-small", 100);
        let source = vec![(id.clone(), "s-other", 5000), (id.clone(), "s-small", 100)];
        let (pairs, leftover) = pair_up(source, &mut dest);
        assert!(pairs.contains(&("s-small", "d-small")));
        assert!(pairs.contains(&("s-other", "d-big")));
        assert!(leftover.is_empty());
    }
}
