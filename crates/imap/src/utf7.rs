//! Modified UTF-7 for mailbox names (RFC 3501 §5.1.3).
//!
//! Printable US-ASCII (0x20..=0x7e) stands for itself, except `&`, which is written `&-`.
//! Everything else is UTF-16 in modified base64 (`,` instead of `/`, no padding) between `&`
//! and `-`.

use std::fmt;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// A mailbox name from the server that is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mailbox name {name:?} is not valid modified UTF-7 (RFC 3501 §5.1.3): {reason}")]
pub struct Utf7Error {
    /// The name as received.
    pub name: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Encodes a UTF-8 mailbox name into modified UTF-7 as sent on the wire.
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
            out.push(ALPHABET[idx as usize] as char);
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

/// Decodes a modified UTF-7 mailbox name (as received from the server) into UTF-8.
///
/// Strict: rejects 8-bit bytes, unterminated or empty shifts (other than `&-`), bad padding
/// bits, unpaired surrogates and base64-encoded printable ASCII, so that `encode(decode(x)) == x`
/// whenever decoding succeeds.
pub fn decode(name: &str) -> Result<String, Utf7Error> {
    let err = |reason| Utf7Error {
        name: name.to_string(),
        reason,
    };
    let bytes = name.as_bytes();
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if !(0x20..=0x7e).contains(&c) {
            return Err(err("contains a byte outside printable US-ASCII"));
        }
        if c != b'&' {
            out.push(c as char);
            i += 1;
            continue;
        }
        let start = i + 1;
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'-')
            .map(|p| start + p)
            .ok_or_else(|| err("a '&' shift is not closed by '-'"))?;
        if end == start {
            out.push('&');
            i = end + 1;
            continue;
        }
        let mut units: Vec<u16> = Vec::new();
        let mut acc: u32 = 0;
        let mut nbits = 0u32;
        for &b in &bytes[start..end] {
            let v = b64_value(b).ok_or_else(|| err("invalid character in a base64 shift"))?;
            acc = (acc << 6) | v;
            nbits += 6;
            if nbits >= 16 {
                nbits -= 16;
                units.push(((acc >> nbits) & 0xffff) as u16);
                acc &= (1 << nbits) - 1;
            }
        }
        if nbits >= 6 || acc != 0 {
            return Err(err("a base64 shift has leftover bits"));
        }
        if units.is_empty() {
            return Err(err("an empty base64 shift"));
        }
        let decoded = String::from_utf16(&units)
            .map_err(|_| err("a base64 shift has an unpaired surrogate"))?;
        if decoded.chars().any(|ch| (' '..='~').contains(&ch)) {
            return Err(err("printable ASCII inside a base64 shift"));
        }
        out.push_str(&decoded);
        i = end + 1;
        // Two adjacent shifts must have been one; accepting them would break the round trip.
        if i < bytes.len() && bytes[i] == b'&' && bytes.get(i + 1) != Some(&b'-') {
            return Err(err("two adjacent base64 shifts"));
        }
    }
    Ok(out)
}

/// Decodes leniently for display: a name that is not valid modified UTF-7 is returned as is.
pub fn decode_lossy(name: &str) -> String {
    decode(name).unwrap_or_else(|_| name.to_string())
}

/// A wrapper that displays a wire name decoded.
pub struct Decoded<'a>(pub &'a str);

impl fmt::Display for Decoded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&decode_lossy(self.0))
    }
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
    fn ampersand_and_german() {
        assert_eq!(encode("A&B"), "A&-B");
        assert_eq!(decode("A&-B").unwrap(), "A&B");
        assert_eq!(encode("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(decode("Entw&APw-rfe").unwrap(), "Entwürfe");
        assert_eq!(encode("Objets envoyés"), "Objets envoy&AOk-s");
        assert_eq!(encode("Gelöschte Elemente"), "Gel&APY-schte Elemente");
    }

    #[test]
    fn astral_plane_uses_surrogates() {
        let name = "Mail 📬";
        let wire = encode(name);
        assert_eq!(wire, "Mail &2D3c7A-");
        assert_eq!(decode(&wire).unwrap(), name);
    }

    #[test]
    fn rejects_invalid() {
        for bad in [
            "&",          // unterminated
            "&Jjo",       // unterminated
            "&Jjo!-",     // bad char
            "&AGE-",      // ASCII 'a' encoded
            "&2D0-",      // lone high surrogate
            "caf\u{e9}",  // raw 8-bit
            "&APw-&APw-", // adjacent shifts
            "&APx-",      // leftover bits
        ] {
            assert!(decode(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(decode_lossy("&"), "&");
    }

    proptest! {
        #[test]
        fn round_trip(name in "\\PC{0,40}") {
            let wire = encode(&name);
            prop_assert!(wire.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            prop_assert_eq!(decode(&wire).unwrap(), name);
        }

        #[test]
        fn decode_then_encode_is_identity(wire in "[ -~]{0,40}") {
            if let Ok(name) = decode(&wire) {
                prop_assert_eq!(encode(&name), wire);
            }
        }
    }
}
