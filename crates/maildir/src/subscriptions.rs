//! The `subscriptions` file at the root of a store.
//!
//! Version 1: one mailbox name per line, hierarchy levels separated by the store's separator
//! (`.` in Maildir++), names in modified UTF-7. Version 2 (Dovecot 2.3 writes it for new files):
//! a `V<TAB>2` line and a blank line, then one name per line with hierarchy levels separated by
//! TAB and special characters escaped with `\x01` (Dovecot's tab-escaping).

use crate::utf7;

/// Parses the file into folder names in Ferry's form (UTF-8, `/` between levels). Lines that do
/// not decode are kept as they are rather than dropped: a subscription is a hint, not mail.
pub fn parse(data: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(data);
    let mut lines = text
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .peekable();
    let v2 = lines.peek().is_some_and(|first| *first == "V\t2");
    if v2 {
        lines.next();
    }
    let mut out: Vec<String> = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let levels: Vec<String> = if v2 {
            line.split('\t').map(unescape).collect()
        } else {
            line.split('.').map(str::to_string).collect()
        };
        let name = levels
            .iter()
            .map(|l| utf7::decode_lossy(l))
            .collect::<Vec<_>>()
            .join("/");
        let name = if name.eq_ignore_ascii_case("INBOX") {
            "INBOX".to_string()
        } else {
            name
        };
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\x01' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => out.push('\0'),
            Some('1') => out.push('\x01'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version1() {
        let got = parse(b"INBOX\nSent Messages\nArchive\nArchive.2018\n\n");
        assert_eq!(got, ["INBOX", "Sent Messages", "Archive", "Archive/2018"]);
    }

    #[test]
    fn version2_fixture() {
        let data = "V\t2\n\nINBOX\nJunk\nEntw&APw-rfe Kunden\nRechnungen\nRechnungen\t2018\n&BBIERQQ+BDQETwRJBDgENQ-\nR&-D\n";
        assert_eq!(
            parse(data.as_bytes()),
            [
                "INBOX",
                "Junk",
                "Entwürfe Kunden",
                "Rechnungen",
                "Rechnungen/2018",
                "Входящие",
                "R&D"
            ]
        );
        assert_eq!(parse(b"V\t2\n\nA\x01tB\n"), ["A\tB"]);
    }

    #[test]
    fn odd_input() {
        assert!(parse(b"").is_empty());
        assert_eq!(parse(b"inbox\nbad&name\n"), ["INBOX", "bad&name"]);
    }
}
