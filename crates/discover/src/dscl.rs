//! `dscl <node> -readall /Users ...` text output, and `dscl <node> -list /Users GeneratedUID`.
//!
//! Readall layout (observed, not documented): `Attr: v1 v2` when no value has a space; otherwise
//! `Attr:` alone, then one line per value starting with one space. Records are separated by a
//! line holding only `-`. Attribute names may carry colons (`dsAttrTypeNative:apple-foo:`).

use crate::error::ParseError;

/// One directory user, as far as mail needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirUser {
    pub record_name: String,
    pub guid: Option<String>,
    pub real_name: Option<String>,
    pub emails: Vec<String>,
    pub unique_id: Option<String>,
    /// Line of the record's first attribute, for messages.
    pub line: usize,
}

/// Raw record: attribute -> values, in order.
type Record = Vec<(String, Vec<String>)>;

pub fn parse_readall(file: &str, text: &str) -> Result<Vec<DirUser>, ParseError> {
    let mut records: Vec<(usize, Record)> = Vec::new();
    let mut cur: Record = Vec::new();
    let mut cur_line = 0usize;
    // Whether the last attribute took its values from following lines (`Attr:` alone).
    let mut open_multiline = false;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end_matches('\r');
        if line.trim() == "-" {
            if !cur.is_empty() {
                records.push((cur_line, std::mem::take(&mut cur)));
            }
            open_multiline = false;
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        if let Some(value) = line.strip_prefix(' ') {
            match cur.last_mut() {
                Some((_, values)) if open_multiline => values.push(value.to_string()),
                _ => {
                    return Err(ParseError::new(
                        file,
                        line_no,
                        "indented value line without an attribute line (`Attr:`) before it",
                    ))
                }
            }
            continue;
        }
        if cur.is_empty() {
            cur_line = line_no;
        }
        if let Some(attr) = line.strip_suffix(':') {
            cur.push((attr.to_string(), Vec::new()));
            open_multiline = true;
        } else if let Some((attr, values)) = line.split_once(": ") {
            cur.push((
                attr.to_string(),
                values.split_whitespace().map(str::to_string).collect(),
            ));
            open_multiline = false;
        } else {
            return Err(ParseError::new(
                file,
                line_no,
                format!(
                    "expected `Attribute: values` or `Attribute:`, found {:?}",
                    crate::serveradmin::truncate(line, 60)
                ),
            ));
        }
    }
    if !cur.is_empty() {
        records.push((cur_line, cur));
    }

    let mut users = Vec::new();
    for (line, rec) in records {
        let get = |name: &str| -> Option<&Vec<String>> {
            rec.iter()
                .find(|(a, _)| a == name || a.strip_prefix("dsAttrTypeStandard:") == Some(name))
                .map(|(_, v)| v)
        };
        let Some(record_name) = get("RecordName").and_then(|v| v.first()).cloned() else {
            return Err(ParseError::new(
                file,
                line,
                "user record without RecordName (ask dscl for RecordName too)",
            ));
        };
        users.push(DirUser {
            record_name,
            guid: get("GeneratedUID").and_then(|v| v.first()).cloned(),
            real_name: get("RealName").and_then(|v| v.first()).cloned(),
            emails: get("EMailAddress").cloned().unwrap_or_default(),
            unique_id: get("UniqueID").and_then(|v| v.first()).cloned(),
            line,
        });
    }
    Ok(users)
}

/// `dscl <node> -list /Users GeneratedUID`: `name<spaces>GUID` per line.
pub fn parse_list(file: &str, text: &str) -> Result<Vec<(String, String, usize)>, ParseError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let mut parts = raw.split_whitespace();
        let Some(name) = parts.next() else { continue };
        let (Some(guid), None) = (parts.next(), parts.next()) else {
            return Err(ParseError::new(
                file,
                i + 1,
                "expected `name GeneratedUID` (two columns)",
            ));
        };
        out.push((name.to_string(), guid.to_string(), i + 1));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readall_layouts() {
        let text = "GeneratedUID: G1\nRealName:\n Jane Doe\nRecordName: jdoe jane\n\
                    EMailAddress: a@x b@x\ndsAttrTypeNative:apple-mail: v1\n-\n\
                    dsAttrTypeStandard:RecordName:\n rec two\nEMailAddress:\n first one\n second\n";
        let u = parse_readall("dscl", text).unwrap();
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].record_name, "jdoe");
        assert_eq!(u[0].guid.as_deref(), Some("G1"));
        assert_eq!(u[0].real_name.as_deref(), Some("Jane Doe"));
        assert_eq!(u[0].emails, vec!["a@x", "b@x"]);
        assert_eq!(u[1].record_name, "rec two");
        assert_eq!(u[1].emails, vec!["first one", "second"]);
        assert_eq!(u[1].line, 8);
    }

    #[test]
    fn readall_errors() {
        assert_eq!(parse_readall("d", " orphan\n").unwrap_err().line, 1);
        assert_eq!(
            parse_readall("d", "RecordName: a\nGeneratedUID: x\n junk\n")
                .unwrap_err()
                .line,
            3
        );
        assert_eq!(
            parse_readall("d", "RecordName: a\nnonsense\n")
                .unwrap_err()
                .line,
            2
        );
        assert_eq!(
            parse_readall("d", "-\nGeneratedUID: x\n").unwrap_err().line,
            2
        );
        assert_eq!(parse_list("l", "a G\nb\n").unwrap_err().line, 2);
    }
}
