//! `dovecot-keywords`: one `<index> <keyword>` per line; letter `a` + index in a file name's flags
//! stands for that keyword.

/// Keyword names by index (`None` where the file has no such line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keywords(Vec<Option<String>>);

impl Keywords {
    /// Lenient like Dovecot: lines that do not parse are ignored, so a damaged file costs those
    /// keywords only.
    pub fn parse(data: &[u8]) -> Keywords {
        let mut names: Vec<Option<String>> = Vec::new();
        for line in String::from_utf8_lossy(data).lines() {
            let Some((idx, name)) = line.split_once(' ') else {
                continue;
            };
            let Ok(idx) = idx.parse::<usize>() else {
                continue;
            };
            let name = name.trim_end_matches('\r');
            if idx >= 26 || name.is_empty() {
                continue;
            }
            if names.len() <= idx {
                names.resize(idx + 1, None);
            }
            names[idx] = Some(name.to_string());
        }
        Keywords(names)
    }

    /// The keywords of a file name's flag letters, in letter order; unknown letters are dropped
    /// (Dovecot does the same).
    pub fn resolve(&self, letters: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in letters.chars().filter(char::is_ascii_lowercase) {
            let idx = (c as u8 - b'a') as usize;
            if let Some(Some(name)) = self.0.get(idx) {
                if !out.contains(name) {
                    out.push(name.clone());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_keywords() {
        let k = Keywords::parse(b"0 $NotJunk\n1 NotJunk\n2 $Forwarded\n3 $MailFlagBit1\n");
        assert_eq!(k.resolve("RSab"), ["$NotJunk", "NotJunk"]);
        assert_eq!(k.resolve("FSd"), ["$MailFlagBit1"]);
        assert_eq!(k.resolve("Sz"), Vec::<String>::new());
        let broken = Keywords::parse(b"x y\n\n99 Big\n2 Two\r\n");
        assert_eq!(broken.resolve("abc"), ["Two"]);
    }
}
