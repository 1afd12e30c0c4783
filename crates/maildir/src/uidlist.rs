//! `dovecot-uidlist`: the UID of each message file and the folder's UIDVALIDITY.
//!
//! Version 1 (Courier-compatible; written by Apple's `cvt_mail` for stores converted from Cyrus):
//! header `1 <uidvalidity> <nextuid>`, records `<uid> <filename>`.
//! Version 2 (a few Dovecot development versions): like 1 with a `<flags>` field after the UID.
//! Version 3 (Dovecot 1.1 and later): header `3 [<key><value> ...]` (V = UIDVALIDITY, N = next UID,
//! G = mailbox GUID, any order), records `<uid> [<key><value> ...] :<filename>`.
//! The file name in a record is the name when the record was written: flags may have changed since
//! and the file may even be gone, so records are matched on the base name.

use std::collections::HashMap;

use crate::filename;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uidlist {
    pub version: u8,
    pub uid_validity: u32,
    pub next_uid: u32,
    /// The 128-bit mailbox GUID in hex (`G`, version 3 only).
    pub guid: Option<String>,
    /// In file order, which is ascending UID order (checked).
    pub records: Vec<UidRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UidRecord {
    pub uid: u32,
    /// The file name as recorded (possibly stale).
    pub file_name: String,
    /// `W` extension: the CRLF size, written by Dovecot when the name has no `,W=`.
    pub vsize: Option<u64>,
    /// `S` extension: the physical size.
    pub psize: Option<u64>,
}

impl UidRecord {
    pub fn base_name(&self) -> &str {
        filename::base_name(&self.file_name)
    }
}

/// Why a uidlist does not parse; `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub what: String,
}

fn err(line: usize, what: impl Into<String>) -> ParseError {
    ParseError {
        line,
        what: what.into(),
    }
}

fn parse_u32(s: &str, line: usize, field: &str) -> Result<u32, ParseError> {
    s.parse::<u32>()
        .map_err(|_| err(line, format!("{field} {s:?} is not a number")))
}

impl Uidlist {
    /// Parses a whole file. `Ok(None)` for an empty file, which Dovecot treats as no file.
    pub fn parse(data: &[u8]) -> Result<Option<Uidlist>, ParseError> {
        let text = String::from_utf8_lossy(data);
        let mut lines = text
            .split('\n')
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
        let Some((_, header)) = lines.next() else {
            return Ok(None);
        };
        if header.trim().is_empty() && text.trim().is_empty() {
            return Ok(None);
        }
        let mut fields = header.split(' ').filter(|f| !f.is_empty());
        let version = match fields.next() {
            Some("1") => 1u8,
            Some("2") => 2,
            Some("3") => 3,
            Some(other) => {
                return Err(err(
                    1,
                    format!("unknown version {other:?} (expected 1, 2 or 3)"),
                ))
            }
            None => return Err(err(1, "empty header")),
        };
        let (mut uid_validity, mut next_uid, mut guid) = (0u32, 0u32, None);
        if version == 3 {
            for f in fields {
                let (key, value) = f.split_at(f.chars().next().map_or(0, char::len_utf8));
                match key {
                    "V" => uid_validity = parse_u32(value, 1, "UIDVALIDITY")?,
                    "N" => next_uid = parse_u32(value, 1, "next UID")?,
                    "G" => guid = Some(value.to_string()),
                    _ => {} // other header fields are allowed and carry nothing we need
                }
            }
        } else {
            uid_validity = parse_u32(fields.next().unwrap_or(""), 1, "UIDVALIDITY")?;
            next_uid = parse_u32(fields.next().unwrap_or(""), 1, "next UID")?;
        }
        if uid_validity == 0 {
            return Err(err(1, "UIDVALIDITY is missing or 0"));
        }
        let mut records: Vec<UidRecord> = Vec::new();
        for (no, line) in lines {
            if line.is_empty() {
                continue;
            }
            let (uid, rest) = line
                .split_once(' ')
                .ok_or_else(|| err(no, "record has no file name"))?;
            let uid = parse_u32(uid, no, "UID")?;
            if uid == 0 {
                return Err(err(no, "UID 0"));
            }
            if let Some(prev) = records.last() {
                if uid <= prev.uid {
                    return Err(err(
                        no,
                        format!("UID {uid} after {} (UIDs must ascend)", prev.uid),
                    ));
                }
            }
            let (mut vsize, mut psize) = (None, None);
            let file_name = match version {
                3 => {
                    let colon = rest
                        .find(':')
                        .ok_or_else(|| err(no, "record has no ':' before the file name"))?;
                    for ext in rest[..colon].split(' ').filter(|e| !e.is_empty()) {
                        let (key, value) =
                            ext.split_at(ext.chars().next().map_or(0, char::len_utf8));
                        match key {
                            "W" => vsize = value.parse().ok(),
                            "S" => psize = value.parse().ok(),
                            _ => {}
                        }
                    }
                    &rest[colon + 1..]
                }
                2 => rest.split_once(' ').map_or("", |(_flags, name)| name),
                _ => rest,
            };
            if file_name.is_empty() {
                return Err(err(no, "empty file name"));
            }
            records.push(UidRecord {
                uid,
                file_name: file_name.to_string(),
                vsize,
                psize,
            });
        }
        // A UID at or past the recorded next UID happens after a crash; Dovecot moves next UID on.
        if let Some(last) = records.last() {
            if last.uid >= next_uid {
                next_uid = last.uid.saturating_add(1);
            }
        }
        Ok(Some(Uidlist {
            version,
            uid_validity,
            next_uid,
            guid,
            records,
        }))
    }

    /// Base name -> index into `records`; the first record wins if a base name repeats.
    pub fn by_base_name(&self) -> HashMap<&str, usize> {
        let mut map = HashMap::with_capacity(self.records.len());
        for (i, r) in self.records.iter().enumerate() {
            map.entry(r.base_name()).or_insert(i);
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn version3_fixture() {
        let data = b"3 V1356998401 N15 G6d1f0b2a7c3e9b4811a40000c3d2e1f0\n\
3 :1545037333.M512044P5102.mail.example.com,S=1303,W=1337:2,RSab\n\
7 :1545291002.M118203P6120.mail.example.com,S=1730,W=1769:2,\n\
9 W1861 :1545400000.M220011P7001.mail.example.com,S=1822:2,ST\n";
        let u = Uidlist::parse(data).unwrap().unwrap();
        assert_eq!((u.version, u.uid_validity, u.next_uid), (3, 1356998401, 15));
        assert_eq!(u.guid.as_deref(), Some("6d1f0b2a7c3e9b4811a40000c3d2e1f0"));
        assert_eq!(
            u.records.iter().map(|r| r.uid).collect::<Vec<_>>(),
            [3, 7, 9]
        );
        assert_eq!(
            u.records[1].base_name(),
            "1545291002.M118203P6120.mail.example.com,S=1730,W=1769"
        );
        assert_eq!(u.records[2].vsize, Some(1861));
    }

    #[test]
    fn version1_cyrus() {
        let u = Uidlist::parse(
            b"1 1199145601 4\n1 1199181600.cyrus.1,S=264:2,S\n3 1201950000.cyrus.3,S=270:2,S\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!((u.version, u.uid_validity, u.next_uid), (1, 1199145601, 4));
        assert_eq!(u.records[1].file_name, "1201950000.cyrus.3,S=270:2,S");
        assert_eq!(u.records[1].base_name(), "1201950000.cyrus.3,S=270");
    }

    #[test]
    fn header_only_and_empty() {
        let u = Uidlist::parse(b"3 V1420070404 N1 G6d31506273380f02b1a40000c3d2e1f0\n")
            .unwrap()
            .unwrap();
        assert!(u.records.is_empty());
        assert_eq!(Uidlist::parse(b"").unwrap(), None);
        let u = Uidlist::parse(b"3 N9 V5\r\n8 :a:2,S\r\n").unwrap().unwrap();
        assert_eq!(
            (u.uid_validity, u.next_uid, u.records[0].file_name.as_str()),
            (5, 9, "a:2,S")
        );
    }

    #[test]
    fn malformed() {
        for (data, line) in [
            (&b"9 V1 N2\n"[..], 1),
            (b"3 N2\n", 1),
            (b"3 V0 N2\n", 1),
            (b"3 Vx N2\n", 1),
            (b"1 5\n", 1),
            (b"3 V1 N9\n1 :a\n1 :b\n", 3),
            (b"3 V1 N9\n2 :a\nzz :b\n", 3),
            (b"3 V1 N9\n2 a\n", 2),
            (b"3 V1 N9\n2 :\n", 2),
            (b"3 V1 N9\n0 :x\n", 2),
            (b"1 1 2\n5\n", 2),
        ] {
            let e = Uidlist::parse(data).unwrap_err();
            assert_eq!(e.line, line, "{:?}: {e:?}", String::from_utf8_lossy(data));
        }
    }

    #[test]
    fn next_uid_moves_past_records() {
        let u = Uidlist::parse(b"3 V1 N2\n5 :x\n").unwrap().unwrap();
        assert_eq!(u.next_uid, 6);
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Uidlist::parse(&data);
        }

        #[test]
        fn never_panics_on_near_valid(lines in proptest::collection::vec("[0-9V NG:WS,a-z.=]{0,30}", 0..8)) {
            let text = format!("3 V7 N3\n{}", lines.join("\n"));
            let _ = Uidlist::parse(text.as_bytes());
        }

        #[test]
        fn roundtrip(validity in 1u32.., gaps in proptest::collection::vec(1u32..1000, 0..40), v1 in any::<bool>()) {
            let mut uid = 0u32;
            let mut text = if v1 { format!("1 {validity} ") } else { format!("3 V{validity} N") };
            let mut body = String::new();
            let mut expect = Vec::new();
            for g in gaps {
                uid += g;
                let name = format!("{uid}.M{g}P1.host,S={g}:2,S");
                body.push_str(&if v1 { format!("{uid} {name}\n") } else { format!("{uid} :{name}\n") });
                expect.push((uid, name));
            }
            text.push_str(&format!("{} G00\n{body}", uid + 1));
            if v1 { text = text.replacen(" G00", "", 1); }
            let u = Uidlist::parse(text.as_bytes()).unwrap().unwrap();
            prop_assert_eq!(u.uid_validity, validity);
            prop_assert_eq!(u.next_uid, uid + 1);
            let got: Vec<(u32, String)> = u.records.into_iter().map(|r| (r.uid, r.file_name)).collect();
            prop_assert_eq!(got, expect);
        }
    }
}
