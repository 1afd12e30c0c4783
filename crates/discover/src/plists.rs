//! Apple property lists: `.mailusersettings.plist` (per-user mail settings keyed by GeneratedUID)
//! and `MailServicesOther.plist` (names of the junk-training accounts).

use std::collections::BTreeMap;

use crate::error::ParseError;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailUserSettings {
    /// `kMailAccountState`: `Enabled`, `Forward`, `Off`.
    pub state: Option<String>,
    pub forward_to: Option<String>,
    /// `kUserDiskQuota` in MB; `Some(0)` = no quota.
    pub quota_mb: Option<u64>,
    /// `kAltMailStoreLoc`: partition tag.
    pub partition: Option<String>,
}

fn parse_plist(file: &str, bytes: &[u8]) -> Result<plist::Value, ParseError> {
    plist::Value::from_reader(std::io::Cursor::new(bytes)).map_err(|e| {
        // plist reports a byte offset ("... (offset N)"); turn it into a line number.
        let text = e.to_string();
        let line = text
            .rsplit_once("offset ")
            .and_then(|(_, n)| n.trim_end_matches(')').parse::<usize>().ok())
            .map(|off| {
                let line = bytes[..off.min(bytes.len())]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1;
                // An error at the very end (after the last newline) is on the last line.
                line.min(String::from_utf8_lossy(bytes).lines().count().max(1))
            })
            .unwrap_or(0);
        ParseError::new(file, line, format!("not a valid property list: {text}"))
    })
}

fn as_text(v: &plist::Value) -> Option<String> {
    match v {
        plist::Value::String(s) => Some(s.clone()),
        plist::Value::Integer(i) => Some(i.to_string()),
        plist::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Parses `.mailusersettings.plist`: a dictionary keyed by GeneratedUID.
pub fn parse_mail_user_settings(
    file: &str,
    bytes: &[u8],
) -> Result<BTreeMap<String, MailUserSettings>, ParseError> {
    let value = parse_plist(file, bytes)?;
    let dict = value
        .as_dictionary()
        .ok_or_else(|| ParseError::new(file, 0, "top level is not a dictionary keyed by GUID"))?;
    let mut out = BTreeMap::new();
    for (guid, entry) in dict {
        let Some(d) = entry.as_dictionary() else {
            return Err(ParseError::new(
                file,
                0,
                format!("the entry for {guid} is not a dictionary"),
            ));
        };
        let text = |k: &str| d.get(k).and_then(as_text).filter(|s| !s.is_empty());
        let quota_mb = match text("kUserDiskQuota") {
            None => None,
            Some(q) => Some(q.trim().parse::<u64>().map_err(|_| {
                ParseError::new(
                    file,
                    0,
                    format!("kUserDiskQuota of {guid} is {q:?}, not a number of MB"),
                )
            })?),
        };
        out.insert(
            guid.to_uppercase(),
            MailUserSettings {
                state: text("kMailAccountState"),
                forward_to: text("kAutoForwardValue"),
                quota_mb,
                partition: text("kAltMailStoreLoc"),
            },
        );
    }
    Ok(out)
}

/// Junk / not-junk training account names from `MailServicesOther.plist`
/// (`junk_mail:junk_mail_userid`, `junk_mail:not_junk_mail_userid`).
pub fn parse_junk_accounts(
    file: &str,
    bytes: &[u8],
) -> Result<(Option<String>, Option<String>), ParseError> {
    let value = parse_plist(file, bytes)?;
    let junk = value
        .as_dictionary()
        .and_then(|d| d.get("junk_mail"))
        .and_then(|v| v.as_dictionary());
    let get = |k: &str| junk.and_then(|d| d.get(k)).and_then(as_text);
    Ok((get("junk_mail_userid"), get("not_junk_mail_userid")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_and_errors() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>abc-1</key><dict><key>kMailAccountState</key><string>Forward</string>
<key>kAutoForwardValue</key><string>x@y</string><key>kUserDiskQuota</key><string>0</string></dict>
</dict></plist>"#;
        let s = parse_mail_user_settings("s.plist", xml).unwrap();
        let e = &s["ABC-1"];
        assert_eq!(e.state.as_deref(), Some("Forward"));
        assert_eq!(e.forward_to.as_deref(), Some("x@y"));
        assert_eq!(e.quota_mb, Some(0));

        let broken = b"<?xml version=\"1.0\"?>\n<plist version=\"1.0\">\n<dict>\n<key>a</key>\n<oops>\n</dict></plist>";
        let err = parse_mail_user_settings("s.plist", broken).unwrap_err();
        assert_eq!(err.file, "s.plist");
        assert!(err.line >= 4, "{err}");

        let bad_quota = br#"<plist version="1.0"><dict><key>G</key><dict><key>kUserDiskQuota</key><string>lots</string></dict></dict></plist>"#;
        assert!(parse_mail_user_settings("s", bad_quota)
            .unwrap_err()
            .message
            .contains("kUserDiskQuota"));
    }
}
