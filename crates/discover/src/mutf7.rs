//! Decoding of IMAP modified UTF-7 (RFC 3501 §5.1.3), the encoding of folder names on disk in a
//! macOS Server store (Apple does not set Dovecot's `UTF8` option).

use base64::Engine;

/// Decodes one folder-name component. `Err` carries a short reason.
pub fn decode(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let end = after
            .find('-')
            .ok_or_else(|| format!("`&` without closing `-` in {s:?}"))?;
        let b64 = &after[..end];
        if b64.is_empty() {
            out.push('&');
        } else {
            let std_b64: String = b64
                .chars()
                .map(|c| if c == ',' { '/' } else { c })
                .collect();
            let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(std_b64.as_bytes())
                .map_err(|e| format!("bad base64 in {s:?}: {e}"))?;
            if bytes.len() % 2 != 0 {
                return Err(format!("odd number of UTF-16 bytes in {s:?}"));
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            let text =
                String::from_utf16(&units).map_err(|_| format!("invalid UTF-16 in {s:?}"))?;
            out.push_str(&text);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn vectors() {
        assert_eq!(decode("Entw&APw-rfe Kunden").unwrap(), "Entwürfe Kunden");
        assert_eq!(decode("&BBIERQQ+BDQETwRJBDgENQ-").unwrap(), "Входящие");
        assert_eq!(decode("R&-D").unwrap(), "R&D");
        assert_eq!(decode("&ZeVnLIqe-").unwrap(), "日本語");
        assert_eq!(decode("plain").unwrap(), "plain");
        assert!(decode("&ZeVn").is_err());
        assert!(decode("&A-").is_err());
        assert!(decode("&2D0-").is_err(), "lone surrogate");
        assert_eq!(decode("&2D3eAQ-").unwrap(), "\u{1F601}");
    }
}
