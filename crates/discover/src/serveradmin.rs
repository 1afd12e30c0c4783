//! `serveradmin settings mail` text output: one `key = value` line per leaf.
//!
//! Keys are colon paths that may contain spaces (`mail:logPaths:SMTP Log`), so a line is split on
//! the first `" = "`. Values: double-quoted strings (backslash escapes), bare numbers, `yes`/`no`,
//! `_empty_array`, `_empty_dictionary`; arrays appear as `_array_index:N` path components.

use crate::error::ParseError;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    /// A bare number, kept as written (`10485760`, `6.9`).
    Number(String),
    Bool(bool),
    EmptyArray,
    EmptyDict,
    /// Any other bare token (the tool is not consistent about types; keep it rather than fail).
    Bare(String),
}

impl Value {
    /// The value as text: strings unquoted, numbers and tokens as written.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Number(s) | Value::Bare(s) => Some(s),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// In file order: (key, value, 1-based line).
    pub entries: Vec<(String, Value, usize)>,
}

impl Settings {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, _)| v)
    }

    pub fn text(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_text)
    }

    /// Elements of an array of dictionaries: for `prefix:_array_index:N:field`, returns, per N in
    /// ascending order, the (field, value) pairs.
    pub fn array_of_dicts(&self, prefix: &str) -> Vec<Vec<(String, Value)>> {
        let head = format!("{prefix}:_array_index:");
        let mut items: std::collections::BTreeMap<u64, Vec<(String, Value)>> = Default::default();
        for (k, v, _) in &self.entries {
            if let Some(rest) = k.strip_prefix(&head) {
                if let Some((idx, field)) = rest.split_once(':') {
                    if let Ok(i) = idx.parse::<u64>() {
                        items
                            .entry(i)
                            .or_default()
                            .push((field.to_string(), v.clone()));
                    }
                }
            }
        }
        items.into_values().collect()
    }
}

/// Parses the whole output. `file` names the source in errors.
pub fn parse(file: &str, text: &str) -> Result<Settings, ParseError> {
    let mut entries = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(" = ") else {
            return Err(ParseError::new(
                file,
                line_no,
                "expected `key = value` (no \" = \" found)",
            ));
        };
        let key = key.trim_start();
        if key.is_empty() {
            return Err(ParseError::new(file, line_no, "empty key before \" = \""));
        }
        let value = parse_value(value.trim()).map_err(|m| ParseError::new(file, line_no, m))?;
        entries.push((key.to_string(), value, line_no));
    }
    Ok(Settings { entries })
}

fn parse_value(v: &str) -> Result<Value, String> {
    if let Some(rest) = v.strip_prefix('"') {
        return parse_quoted(rest).map(Value::Str);
    }
    Ok(match v {
        "yes" => Value::Bool(true),
        "no" => Value::Bool(false),
        "_empty_array" => Value::EmptyArray,
        "_empty_dictionary" => Value::EmptyDict,
        "" => return Err("missing value after \" = \"".into()),
        _ if is_number(v) => Value::Number(v.to_string()),
        _ => Value::Bare(v.to_string()),
    })
}

fn is_number(v: &str) -> bool {
    let digits = v.strip_prefix('-').unwrap_or(v);
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().filter(|&c| c == '.').count() <= 1
        && digits.chars().any(|c| c.is_ascii_digit())
}

/// `rest` is what follows the opening quote; the string must close at the end of the line.
fn parse_quoted(rest: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => return Err("quoted value ends with a lone backslash".into()),
            },
            '"' => {
                let tail = chars.as_str();
                if !tail.trim().is_empty() {
                    return Err(format!(
                        "unexpected text after the closing quote: {:?}",
                        truncate(tail, 40)
                    ));
                }
                return Ok(out);
            }
            c => out.push(c),
        }
    }
    Err("quoted value has no closing quote".into())
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_grammar() {
        let text = "mail:imap:enable_pop = no\n\
                    mail:postfix:required_hits = 6.9\n\
                    mail:connectionCount = 0\n\
                    mail:imap:proxyservers = _empty_array\n\
                    mail:x = _empty_dictionary\n\
                    mail:logPaths:SMTP Log = \"/var/log/mail.log\"\n\
                    mail:a = \"say \\\"hi\\\" \\\\ = done\"\n\
                    mail:servicePortsAreRestricted = \"NO\"\n\
                    mail:state = RUNNING\n\
                    \n\
                    mail:imap:partitions:_array_index:1:path = \"/b\"\n\
                    mail:imap:partitions:_array_index:0:partition = \"default\"\n\
                    mail:imap:partitions:_array_index:0:path = \"/a\"\n\
                    mail:imap:partitions:_array_index:1:partition = \"alt\"\n";
        let s = parse("t", text).unwrap();
        assert_eq!(s.get("mail:imap:enable_pop"), Some(&Value::Bool(false)));
        assert_eq!(s.text("mail:postfix:required_hits"), Some("6.9"));
        assert_eq!(s.get("mail:imap:proxyservers"), Some(&Value::EmptyArray));
        assert_eq!(s.get("mail:x"), Some(&Value::EmptyDict));
        assert_eq!(s.text("mail:logPaths:SMTP Log"), Some("/var/log/mail.log"));
        assert_eq!(s.text("mail:a"), Some("say \"hi\" \\ = done"));
        assert_eq!(s.get("mail:state"), Some(&Value::Bare("RUNNING".into())));
        let parts = s.array_of_dicts("mail:imap:partitions");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0][0].0, "partition");
        assert_eq!(parts[0][1].1, Value::Str("/a".into()));
        assert_eq!(parts[1][1].1, Value::Str("alt".into()));
        assert_eq!(s.entries[9].2, 11, "line numbers count blank lines");
    }

    #[test]
    fn errors_carry_line() {
        let e = parse("f.txt", "a = 1\nno separator here\n").unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("f.txt", 2));
        let e = parse("f.txt", "a = 1\nb = 2\nc = \"open\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("closing quote"), "{e}");
        let e = parse("f.txt", "c = \"x\" trailing\n").unwrap_err();
        assert!(e.message.contains("after the closing quote"), "{e}");
        let e = parse("f.txt", " = 3\n").unwrap_err();
        assert_eq!(e.line, 1);
    }
}
