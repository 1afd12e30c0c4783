//! Maildir file names: `<base>[,S=<size>][,W=<vsize>][:2,<flags>]` (or `;2,` where the store uses
//! `;` as info separator, as Dovecot does on file systems that cannot hold `:`).

/// The parts of one message file name that the reader needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedName<'a> {
    /// Everything before the info separator: stays the same when Dovecot renames the file for a
    /// flag change, so it identifies the message within its folder.
    pub base: &'a str,
    /// The flag letters after `2,` (system flags `DFPRST`, keyword letters `a`–`z`), up to the next
    /// `,` as Dovecot reads them; empty for a file in `new/` that has no info part.
    pub flags: &'a str,
    /// `S=`: the file's size in bytes.
    pub size: Option<u64>,
    /// `W=`: the size with CRLF line ends (the IMAP RFC822.SIZE).
    pub vsize: Option<u64>,
}

/// The stable base name: the part before the first `:` or `;`.
pub fn base_name(name: &str) -> &str {
    match name.find([':', ';']) {
        Some(i) => &name[..i],
        None => name,
    }
}

pub fn parse(name: &str) -> ParsedName<'_> {
    let base = base_name(name);
    // Dovecot takes the flags after the *last* separator that is followed by "2,".
    let flags = name
        .rfind([':', ';'])
        .map(|i| &name[i + 1..])
        .and_then(|info| info.strip_prefix("2,"))
        .map(|f| f.split(',').next().unwrap_or(""))
        .unwrap_or("");
    let mut size = None;
    let mut vsize = None;
    for field in base.split(',').skip(1) {
        if let Some(v) = field.strip_prefix("S=") {
            size = v.parse().ok();
        } else if let Some(v) = field.strip_prefix("W=") {
            vsize = v.parse().ok();
        }
    }
    ParsedName {
        base,
        flags,
        size,
        vsize,
    }
}

/// The IMAP system flags of the letters Dovecot maps (`P`, "passed", has no IMAP flag and is
/// ignored by Dovecot too), in a fixed order.
pub fn system_flags(letters: &str) -> Vec<String> {
    const MAP: [(char, &str); 5] = [
        ('S', "\\Seen"),
        ('R', "\\Answered"),
        ('F', "\\Flagged"),
        ('T', "\\Deleted"),
        ('D', "\\Draft"),
    ];
    MAP.iter()
        .filter(|(c, _)| letters.contains(*c))
        .map(|(_, f)| (*f).to_string())
        .collect()
}

/// Sort key giving the order in which Dovecot hands out UIDs to files it has not listed yet:
/// delivery second, then the `M<microseconds>` part, then the name.
pub fn dovecot_order_key(name: &str) -> (u64, u64, &str) {
    let secs_end = name
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(name.len());
    let secs = name[..secs_end].parse().unwrap_or(u64::MAX);
    let usecs = name[secs_end..]
        .strip_prefix(".M")
        .map(|rest| {
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            rest[..end].parse().unwrap_or(0)
        })
        .unwrap_or(0);
    (secs, usecs, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dovecot_names() {
        let p = parse("1545037333.M512044P5102.mail.example.com,S=1303,W=1337:2,RSab");
        assert_eq!(
            p.base,
            "1545037333.M512044P5102.mail.example.com,S=1303,W=1337"
        );
        assert_eq!(p.flags, "RSab");
        assert_eq!((p.size, p.vsize), (Some(1303), Some(1337)));
        assert_eq!(system_flags(p.flags), ["\\Seen", "\\Answered"]);
    }

    #[test]
    fn new_dir_cyrus_and_semicolon() {
        let p = parse("1546330444.M90211P9320.mail.example.com,S=1277,W=1307");
        assert_eq!(p.flags, "");
        assert_eq!(
            p.base,
            "1546330444.M90211P9320.mail.example.com,S=1277,W=1307"
        );
        let p = parse("1199181600.cyrus.1,S=264:2,S");
        assert_eq!(
            (p.base, p.flags, p.size, p.vsize),
            ("1199181600.cyrus.1,S=264", "S", Some(264), None)
        );
        let p = parse("1.M2P3.host;2,FT");
        assert_eq!((p.base, p.flags), ("1.M2P3.host", "FT"));
        assert_eq!(
            system_flags("DFPRST"),
            ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"]
        );
        // Info that is not version 2 carries no flags; flags stop at ','.
        assert_eq!(parse("1.M2P3.host:1,abc").flags, "");
        assert_eq!(parse("1.M2P3.host:2,S,extra").flags, "S");
        assert_eq!(parse("plain").base, "plain");
    }

    #[test]
    fn order_key() {
        let mut v = ["20.M5P1.h", "10.M20P1.h", "10.M3P1.h", "junk"];
        v.sort_by_key(|n| dovecot_order_key(n));
        assert_eq!(v, ["10.M3P1.h", "10.M20P1.h", "20.M5P1.h", "junk"]);
    }
}
