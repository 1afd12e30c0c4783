//! Modified UTF-7 (RFC 3501 §5.1.3), encoding only: enough to name mailboxes in test commands.

/// Encodes a UTF-8 mailbox name as IMAP and Maildir++ store it on the wire and on disk.
pub fn encode(name: &str) -> String {
    let mut out = String::new();
    let mut pending: Vec<u16> = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut pending, &mut out);
    out
}

fn flush(pending: &mut Vec<u16>, out: &mut String) {
    if pending.is_empty() {
        return;
    }
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
    out.push('&');
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out.push('-');
    pending.clear();
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_the_fixture_names_as_dovecot_stores_them() {
        assert_eq!(super::encode("Entwürfe Kunden"), "Entw&APw-rfe Kunden");
        assert_eq!(super::encode("Входящие"), "&BBIERQQ+BDQETwRJBDgENQ-");
        assert_eq!(super::encode("R&D"), "R&-D");
        assert_eq!(super::encode("日本語"), "&ZeVnLIqe-");
    }
}
