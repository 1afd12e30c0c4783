//! Modified UTF-7 for mailbox names (RFC 3501 §5.1.3): the names on the IMAP wire and the folder
//! names on disk in a Dovecot Maildir++ store that does not use the `UTF8` option (Apple's does
//! not).
//!
//! Printable US-ASCII (0x20..=0x7e) stands for itself, except `&`, which is written `&-`.
//! Everything else is UTF-16 in modified base64 (`,` instead of `/`, no padding) between `&`
//! and `-`.
//!
//! A crate of its own, without dependencies, so that the store reader (`ferry-maildir`) shares it
//! with the IMAP client without pulling in the network stack.

use std::fmt;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// A name that is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utf7Error {
    /// The name as given.
    pub name: String,
    /// Byte offset of the offending byte, or of the `&` that opens the offending shift.
    pub at: usize,
    /// What is wrong with it.
    pub kind: Utf7ErrorKind,
}

/// What makes a name invalid modified UTF-7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Utf7ErrorKind {
    /// A byte outside printable US-ASCII: modified UTF-7 names are 7-bit.
    NotAscii { byte: u8 },
    /// A `&` shift without its closing `-`.
    Unterminated,
    /// A character in a shift that is not modified base64.
    BadBase64,
    /// A shift that ends with more than padding, or with padding bits that are not zero.
    LeftoverBits,
    /// A shift that is not valid UTF-16 (an unpaired surrogate).
    BadUtf16,
    /// A shift that encodes printable ASCII, which must stand for itself.
    EncodedAscii,
    /// A shift right after another one: an encoder writes them as one.
    AdjacentShifts,
}

impl fmt::Display for Utf7ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAscii { byte } => write!(
                f,
                "byte {byte:#04x} is not printable US-ASCII (modified UTF-7 names are 7-bit)"
            ),
            Self::Unterminated => f.write_str("the '&' shift has no closing '-'"),
            Self::BadBase64 => {
                f.write_str("the shift holds a character that is not modified base64")
            }
            Self::LeftoverBits => f.write_str("the shift ends with leftover bits"),
            Self::BadUtf16 => f.write_str("the shift is not valid UTF-16 (an unpaired surrogate)"),
            Self::EncodedAscii => {
                f.write_str("the shift encodes printable ASCII, which must stand for itself")
            }
            Self::AdjacentShifts => f.write_str("two adjacent shifts, which must have been one"),
        }
    }
}

impl fmt::Display for Utf7Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte {} of {:?} (modified UTF-7, RFC 3501 §5.1.3)",
            self.kind, self.at, self.name
        )
    }
}

impl std::error::Error for Utf7Error {}

/// Encodes a UTF-8 name into modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    let mut pending: Vec<u16> = Vec::new();
    for ch in name.chars() {
        if (' '..='~').contains(&ch) {
            flush_base64(&mut out, &mut pending);
            if ch == '&' {
                out.push_str("&-");
            } else {
                out.push(ch);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(ch.encode_utf16(&mut buf));
        }
    }
    flush_base64(&mut out, &mut pending);
    out
}

fn flush_base64(out: &mut String, pending: &mut Vec<u16>) {
    if pending.is_empty() {
        return;
    }
    out.push('&');
    let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1; // 1 byte -> 2 chars, 2 -> 3, 3 -> 4
        for i in 0..chars {
            let idx = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[idx as usize]));
        }
    }
    out.push('-');
    pending.clear();
}

fn b64_value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b',' => Some(63),
        _ => None,
    }
}

/// Decodes a modified UTF-7 name into UTF-8.
///
/// Strict, as Dovecot is: rejects 8-bit bytes, unterminated shifts, bad padding bits, unpaired
/// surrogates, base64-encoded printable ASCII and adjacent shifts, so that
/// `encode(decode(x)) == x` whenever decoding succeeds (one name, one spelling).
pub fn decode(name: &str) -> Result<String, Utf7Error> {
    let err = |at, kind| Utf7Error {
        name: name.to_string(),
        at,
        kind,
    };
    let bytes = name.as_bytes();
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if !(0x20..=0x7e).contains(&c) {
            return Err(err(i, Utf7ErrorKind::NotAscii { byte: c }));
        }
        if c != b'&' {
            out.push(char::from(c));
            i += 1;
            continue;
        }
        let shift = i;
        let start = i + 1;
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'-')
            .map(|p| start + p)
            .ok_or_else(|| err(shift, Utf7ErrorKind::Unterminated))?;
        i = end + 1;
        if end == start {
            out.push('&');
            continue;
        }
        let mut units: Vec<u16> = Vec::with_capacity((end - start) * 6 / 16);
        let mut acc: u32 = 0;
        let mut nbits = 0u32;
        for &b in &bytes[start..end] {
            let v = b64_value(b).ok_or_else(|| err(shift, Utf7ErrorKind::BadBase64))?;
            acc = (acc << 6) | v;
            nbits += 6;
            if nbits >= 16 {
                nbits -= 16;
                units.push(((acc >> nbits) & 0xffff) as u16);
                acc &= (1 << nbits) - 1;
            }
        }
        // Leftover bits must be padding zeros, fewer than one base64 digit's worth. This also
        // rejects shifts of one or two digits, which cannot hold a UTF-16 unit.
        if nbits >= 6 || acc != 0 {
            return Err(err(shift, Utf7ErrorKind::LeftoverBits));
        }
        let decoded =
            String::from_utf16(&units).map_err(|_| err(shift, Utf7ErrorKind::BadUtf16))?;
        // RFC 3501: printable ASCII must not be encoded; Dovecot refuses such names too.
        if decoded.chars().any(|ch| (' '..='~').contains(&ch)) {
            return Err(err(shift, Utf7ErrorKind::EncodedAscii));
        }
        out.push_str(&decoded);
        // Two adjacent shifts must have been one; accepting them would break the round trip.
        if bytes.get(i) == Some(&b'&') && bytes.get(i + 1) != Some(&b'-') {
            return Err(err(i, Utf7ErrorKind::AdjacentShifts));
        }
    }
    Ok(out)
}

/// Decodes leniently, for display and for names that are listed under their raw spelling when
/// they are not valid: such a name is returned as is.
pub fn decode_lossy(name: &str) -> String {
    decode(name).unwrap_or_else(|_| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc3501_example() {
        // The example from RFC 3501 §5.1.3.
        let wire = "~peter/mail/&U,BTFw-/&ZeVnLIqe-";
        let utf8 = "~peter/mail/台北/日本語";
        assert_eq!(decode(wire).unwrap(), utf8);
        assert_eq!(encode(utf8), wire);
    }

    #[test]
    fn ampersand_and_european_names() {
        assert_eq!(encode("A&B"), "A&-B");
        assert_eq!(decode("A&-B").unwrap(), "A&B");
        assert_eq!(encode("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(decode("Entw&APw-rfe").unwrap(), "Entwürfe");
        assert_eq!(encode("Objets envoyés"), "Objets envoy&AOk-s");
        assert_eq!(encode("Gelöschte Elemente"), "Gel&APY-schte Elemente");
    }

    #[test]
    fn fixture_names() {
        // The bmueller folders of fixtures/macos-server-5 (README "Edge cases").
        for (disk, utf8) in [
            ("Entw&APw-rfe Kunden", "Entwürfe Kunden"),
            ("&BBIERQQ+BDQETwRJBDgENQ-", "Входящие"),
            ("R&-D", "R&D"),
            ("&ZeVnLIqe-", "日本語"),
            ("Sent Messages", "Sent Messages"),
        ] {
            assert_eq!(decode(disk).unwrap(), utf8, "{disk}");
            assert_eq!(encode(utf8), disk, "{utf8}");
        }
    }

    #[test]
    fn astral_plane_uses_surrogates() {
        let name = "Mail 📬";
        let wire = encode(name);
        assert_eq!(wire, "Mail &2D3c7A-");
        assert_eq!(decode(&wire).unwrap(), name);
    }

    #[test]
    fn rejects_invalid_with_kind_and_place() {
        use Utf7ErrorKind::*;
        for (bad, kind, at) in [
            ("&", Unterminated, 0),
            ("a&Jjo", Unterminated, 1),
            ("&Jjo!-", BadBase64, 0),
            ("&*-", BadBase64, 0),
            ("&AGE-", EncodedAscii, 0),                // 'a' encoded
            ("&2D0-", BadUtf16, 0),                    // lone high surrogate
            ("caf\u{e9}", NotAscii { byte: 0xc3 }, 3), // raw 8-bit
            ("é", NotAscii { byte: 0xc3 }, 0),
            ("&APw-&APw-", AdjacentShifts, 5),
            ("&APx-", LeftoverBits, 0),
            ("x&A-", LeftoverBits, 1), // one digit cannot hold a UTF-16 unit
            ("&AP-", LeftoverBits, 0),
        ] {
            let e = decode(bad).expect_err(bad);
            assert_eq!((e.kind, e.at), (kind, at), "{bad:?}");
            assert_eq!(e.name, bad);
        }
        // An escaped '&' right after a shift is not a second shift.
        assert_eq!(decode("&APw-&-").unwrap(), "ü&");
    }

    #[test]
    fn error_message_says_what_and_where() {
        let e = decode("R&D").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the '&' shift has no closing '-' at byte 1 of \"R&D\" (modified UTF-7, RFC 3501 §5.1.3)"
        );
    }

    #[test]
    fn lossy_keeps_invalid_names() {
        assert_eq!(decode_lossy("&"), "&");
        assert_eq!(decode_lossy("R&D"), "R&D");
        assert_eq!(decode_lossy("R&-D"), "R&D");
    }

    proptest! {
        #[test]
        fn round_trip(name in "\\PC{0,40}") {
            let wire = encode(&name);
            prop_assert!(wire.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            prop_assert_eq!(decode(&wire).unwrap(), name);
        }

        #[test]
        fn round_trip_any_length(name in "\\PC*") {
            prop_assert_eq!(decode(&encode(&name)).unwrap(), name);
        }

        #[test]
        fn decode_then_encode_is_identity(wire in "[ -~]{0,40}") {
            // Also: never panics on any 7-bit input.
            if let Ok(name) = decode(&wire) {
                prop_assert_eq!(encode(&name), wire);
            }
        }

        #[test]
        fn never_panics_on_any_text(text in "\\PC{0,40}") {
            let _ = decode(&text);
        }
    }
}
