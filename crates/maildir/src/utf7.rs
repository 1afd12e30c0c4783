//! IMAP modified UTF-7 (RFC 3501 §5.1.3), the encoding of folder names on disk in a Dovecot
//! Maildir++ store that does not use the `UTF8` option (Apple's does not).
//!
//! Kept here rather than shared with the IMAP crate so that the store reader has no network
//! dependencies (DESIGN.md: `maildir` sits below `sync` beside `imap`).

use thiserror::Error;

/// Why a name is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Utf7Error {
    #[error("byte {byte:#04x} at {at} is not printable US-ASCII (modified UTF-7 names are 7-bit)")]
    NotAscii { at: usize, byte: u8 },
    #[error("'&' at {at} has no closing '-'")]
    Unterminated { at: usize },
    #[error("bad base64 in the shift sequence starting at {at}")]
    BadBase64 { at: usize },
    #[error("the shift sequence starting at {at} does not decode to valid UTF-16")]
    BadUtf16 { at: usize },
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

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Decodes a modified UTF-7 name to UTF-8. `&-` is `&`; `&...-` is base64 (with `,` for `/`)
/// of UTF-16BE.
pub fn decode(input: &str) -> Result<String, Utf7Error> {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if !(0x20..=0x7e).contains(&c) {
            return Err(Utf7Error::NotAscii { at: i, byte: c });
        }
        if c != b'&' {
            out.push(char::from(c));
            i += 1;
            continue;
        }
        let start = i;
        let end = bytes[i + 1..]
            .iter()
            .position(|&b| b == b'-')
            .map(|p| i + 1 + p)
            .ok_or(Utf7Error::Unterminated { at: start })?;
        let chunk = &bytes[i + 1..end];
        i = end + 1;
        if chunk.is_empty() {
            out.push('&');
            continue;
        }
        let mut units: Vec<u16> = Vec::with_capacity(chunk.len() * 6 / 16);
        let mut acc: u32 = 0;
        let mut nbits = 0u32;
        for &b in chunk {
            let v = b64_value(b).ok_or(Utf7Error::BadBase64 { at: start })?;
            acc = (acc << 6) | v;
            nbits += 6;
            if nbits >= 16 {
                nbits -= 16;
                units.push(((acc >> nbits) & 0xffff) as u16);
                acc &= (1 << nbits) - 1;
            }
        }
        // Leftover bits must be padding zeros, fewer than one base64 digit's worth.
        if nbits >= 6 || acc != 0 {
            return Err(Utf7Error::BadBase64 { at: start });
        }
        let s = String::from_utf16(&units).map_err(|_| Utf7Error::BadUtf16 { at: start })?;
        // RFC 3501: printable ASCII must not be encoded; Dovecot refuses such names too.
        if s.chars().any(|ch| (' '..='~').contains(&ch)) {
            return Err(Utf7Error::BadBase64 { at: start });
        }
        out.push_str(&s);
    }
    Ok(out)
}

/// Encodes UTF-8 to modified UTF-7 (used by tests and by callers that look a folder up by its
/// UTF-8 name).
pub fn encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        out.push('&');
        let mut acc: u32 = 0;
        let mut nbits = 0u32;
        for &u in pending.iter() {
            acc = (acc << 16) | u32::from(u);
            nbits += 16;
            while nbits >= 6 {
                nbits -= 6;
                out.push(char::from(B64[((acc >> nbits) & 63) as usize]));
            }
            acc &= (1 << nbits) - 1;
        }
        if nbits > 0 {
            out.push(char::from(B64[((acc << (6 - nbits)) & 63) as usize]));
        }
        out.push('-');
        pending.clear();
    };
    for ch in input.chars() {
        if (' '..='~').contains(&ch) {
            flush(&mut pending, &mut out);
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
    flush(&mut pending, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
    fn rfc3501_example_and_astral() {
        assert_eq!(
            decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-").unwrap(),
            "~peter/mail/台北/日本語"
        );
        // A character outside the BMP travels as a surrogate pair.
        assert_eq!(decode(&encode("mail 📬")).unwrap(), "mail 📬");
    }

    #[test]
    fn rejects_malformed() {
        assert!(matches!(
            decode("a&Jjo"),
            Err(Utf7Error::Unterminated { .. })
        ));
        assert!(matches!(decode("&*-"), Err(Utf7Error::BadBase64 { .. })));
        assert!(matches!(decode("é"), Err(Utf7Error::NotAscii { .. })));
        // "&AGE-" encodes 'a': printable ASCII must stay literal.
        assert!(decode("&AGE-").is_err());
        // A lone high surrogate.
        assert!(matches!(decode("&2D0-"), Err(Utf7Error::BadUtf16 { .. })));
    }

    proptest! {
        #[test]
        fn roundtrip(s in "\\PC*") {
            prop_assert_eq!(decode(&encode(&s)).unwrap(), s);
        }

        #[test]
        fn never_panics(s in "[ -~]{0,40}") {
            let _ = decode(&s);
        }
    }
}
