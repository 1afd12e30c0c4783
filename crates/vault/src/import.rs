//! Password files that admins already have, parsed into credentials. Three formats, told apart by
//! their first line:
//!
//! - imapsync's `host1;user1;password1;host2;user2;password2` (a trailing `;` is allowed), one
//!   source and one destination login per line;
//! - Microsoft 365's IMAP-migration CSV with the header `EmailAddress,UserName,Password`: the
//!   source login (`UserName`, `Password`) of the mailbox `EmailAddress`;
//! - a plain `address,password` list (with or without such a header), for one side the caller names.
//!
//! Blank lines and lines starting with `#` are skipped. A bad line is reported by its number and
//! what is wrong with it, never by its content: any field of a malformed line may be a password.

use crate::Secret;

/// Which file this was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Imapsync,
    Microsoft,
    Plain,
}

impl Format {
    pub fn describe(self) -> &'static str {
        match self {
            Format::Imapsync => "imapsync (host1;user1;password1;host2;user2;password2)",
            Format::Microsoft => "Microsoft 365 migration CSV (EmailAddress,UserName,Password)",
            Format::Plain => "plain list (address,password)",
        }
    }
}

/// The side of the migration a password belongs to, when the file says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Source,
    Destination,
    /// A plain list does not say; the caller decides.
    Unspecified,
}

/// One password found in the file.
#[derive(Debug, Clone)]
pub struct Imported {
    /// 1-based line of the file it came from.
    pub line: usize,
    pub role: Role,
    /// The server, where the file names it (imapsync only).
    pub host: Option<String>,
    /// The login name on that server.
    pub user: String,
    /// The mailbox's address, where the file names it.
    pub address: Option<String>,
    pub secret: Secret,
}

/// A line that could not be used, and why (in words that contain nothing from the line).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BadLine {
    pub line: usize,
    pub reason: String,
}

#[derive(Debug)]
pub struct Parsed {
    pub format: Format,
    pub credentials: Vec<Imported>,
    pub bad_lines: Vec<BadLine>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the password file has no lines with passwords (only blank lines or # comments)")]
    Empty,
    #[error(
        "line {line} of the password file is in no format Ferry reads; expected imapsync's \
         host1;user1;password1;host2;user2;password2, Microsoft's EmailAddress,UserName,Password \
         header, or address,password"
    )]
    UnknownFormat { line: usize },
}

fn meaningful(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && !t.starts_with('#')
}

fn imapsync_fields(line: &str) -> Option<Vec<&str>> {
    let mut fields: Vec<&str> = line.split(';').collect();
    if fields.len() == 7 && fields[6].trim().is_empty() {
        fields.pop();
    }
    (fields.len() == 6).then_some(fields)
}

/// Parses a password file's text. Errors only when the format cannot be told; bad lines of a known
/// format are collected in [`Parsed::bad_lines`].
pub fn parse(text: &str) -> Result<Parsed, ImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (first_no, first) = text
        .lines()
        .enumerate()
        .find(|(_, l)| meaningful(l))
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .ok_or(ImportError::Empty)?;

    // Six or more ';'-separated fields: imapsync, even when this first line itself is malformed.
    if first.split(';').count() >= 6 {
        return Ok(parse_imapsync(text));
    }
    let header: Vec<String> = first
        .split(',')
        .map(|f| f.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let has = |name: &str| header.iter().any(|h| h == name);
    if has("emailaddress") && has("username") && has("password") {
        return Ok(parse_comma(text, Format::Microsoft, &header));
    }
    let plain_header = header.len() == 2
        && [
            "address",
            "email",
            "emailaddress",
            "user",
            "username",
            "login",
        ]
        .contains(&header[0].as_str())
        && header[1] == "password";
    if plain_header {
        return Ok(parse_comma(text, Format::Plain, &header));
    }
    if first.contains(',') && !first.contains(';') {
        return Ok(parse_comma(text, Format::Plain, &[]));
    }
    Err(ImportError::UnknownFormat { line: first_no })
}

fn parse_imapsync(text: &str) -> Parsed {
    let mut credentials = Vec::new();
    let mut bad_lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end_matches('\r');
        if !meaningful(line) {
            continue;
        }
        let Some(fields) = imapsync_fields(line) else {
            bad_lines.push(BadLine {
                line: line_no,
                reason: format!(
                    "expected 6 fields separated by ';' (host1;user1;password1;host2;user2;password2), found {}",
                    line.split(';').count()
                ),
            });
            continue;
        };
        let mut problems = Vec::new();
        for (index, name) in [(0, "host1"), (1, "user1"), (3, "host2"), (4, "user2")] {
            if fields[index].trim().is_empty() {
                problems.push(format!("{name} is empty"));
            }
        }
        for (index, name) in [(2, "password1"), (5, "password2")] {
            if fields[index].is_empty() {
                problems.push(format!("{name} is empty"));
            }
        }
        if !problems.is_empty() {
            bad_lines.push(BadLine {
                line: line_no,
                reason: problems.join(", "),
            });
            continue;
        }
        for (offset, role) in [(0, Role::Source), (3, Role::Destination)] {
            let user = fields[offset + 1].trim().to_owned();
            credentials.push(Imported {
                line: line_no,
                role,
                host: Some(fields[offset].trim().to_owned()),
                address: user.contains('@').then(|| user.clone()),
                user,
                secret: Secret::new(fields[offset + 2].to_owned()),
            });
        }
    }
    Parsed {
        format: Format::Imapsync,
        credentials,
        bad_lines,
    }
}

/// Microsoft's CSV, or a plain list. `header` is the first line's lower-cased fields when it is a
/// header (and is then skipped), or empty when the first line is already data.
fn parse_comma(text: &str, format: Format, header: &[String]) -> Parsed {
    let column = |name: &str| header.iter().position(|h| h == name);
    let (address_col, user_col, password_col) = match format {
        Format::Microsoft => (
            column("emailaddress").unwrap_or(0),
            column("username"),
            column("password").unwrap_or(2),
        ),
        _ => (0, None, 1),
    };
    let wanted = 1 + address_col.max(password_col).max(user_col.unwrap_or(0));
    let mut credentials = Vec::new();
    let mut bad_lines = Vec::new();
    let mut skipped_header = header.is_empty();
    // One physical line is one record: line numbers stay exact, and a stray quote spoils one
    // line instead of the rest of the file.
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end_matches('\r');
        if !meaningful(line) {
            continue;
        }
        if !skipped_header {
            skipped_header = true;
            continue;
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(line.as_bytes());
        let record = match reader.records().next() {
            Some(Ok(record)) => record,
            _ => {
                bad_lines.push(BadLine {
                    line: line_no,
                    reason: "not valid CSV (check the quotes)".to_owned(),
                });
                continue;
            }
        };
        if record.len() < wanted {
            bad_lines.push(BadLine {
                line: line_no,
                reason: format!(
                    "expected {wanted} fields separated by ',', found {}",
                    record.len()
                ),
            });
            continue;
        }
        let address = record[address_col].trim().to_owned();
        let password = &record[password_col];
        let user = match user_col {
            Some(col) => record[col].trim().to_owned(),
            None => address.clone(),
        };
        let mut problems = Vec::new();
        if !address.contains('@') {
            problems.push("the address has no '@'".to_owned());
        }
        if user.is_empty() {
            problems.push("the user name is empty".to_owned());
        }
        if password.is_empty() {
            problems.push("the password is empty".to_owned());
        }
        if !problems.is_empty() {
            bad_lines.push(BadLine {
                line: line_no,
                reason: problems.join(", "),
            });
            continue;
        }
        credentials.push(Imported {
            line: line_no,
            role: match format {
                Format::Microsoft => Role::Source,
                _ => Role::Unspecified,
            },
            host: None,
            user,
            address: Some(address),
            secret: Secret::new(password.to_owned()),
        });
    }
    Parsed {
        format,
        credentials,
        bad_lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imapsync_lines() {
        let text = "# old Mac -> new host\n\
                    mac.example.com;jdoe;Src-Pw;1;imap.new.example;jdoe@example.com;Dst;Pw 2;\n\
                    \n\
                    mac.example.com;asmith;Src-A;imap.new.example;asmith@example.com;Dst-A;\r\n\
                    mac.example.com;bmueller;Src-B;imap.new.example;bmueller@example.com\n\
                    mac.example.com;;Src-C;imap.new.example;c@example.com;\n";
        let parsed = parse(text).unwrap();
        assert_eq!(parsed.format, Format::Imapsync);
        // Line 2 has a ';' inside a password: it cannot be told apart, so it is refused.
        assert_eq!(parsed.credentials.len(), 2);
        let src = &parsed.credentials[0];
        assert_eq!(
            (src.line, src.role, src.host.as_deref(), src.user.as_str()),
            (4, Role::Source, Some("mac.example.com"), "asmith")
        );
        assert_eq!(src.secret.expose(), "Src-A");
        let dst = &parsed.credentials[1];
        assert_eq!(dst.role, Role::Destination);
        assert_eq!(dst.address.as_deref(), Some("asmith@example.com"));
        assert_eq!(dst.secret.expose(), "Dst-A");
        let lines: Vec<usize> = parsed.bad_lines.iter().map(|b| b.line).collect();
        assert_eq!(lines, vec![2, 5, 6]);
        assert!(parsed.bad_lines[0].reason.contains("found 9"));
        assert!(parsed.bad_lines[1].reason.contains("found 5"));
        assert_eq!(
            parsed.bad_lines[2].reason,
            "user1 is empty, password2 is empty"
        );
        for bad in &parsed.bad_lines {
            for secret in ["Src-Pw", "Pw 2", "Src-B", "Src-C"] {
                assert!(!bad.reason.contains(secret));
            }
        }
    }

    #[test]
    fn microsoft_csv() {
        let text = "\u{feff}EmailAddress,UserName,Password\r\n\
                    jdoe@example.com,jdoe,\"Pw, with comma\"\r\n\
                    asmith@example.com,asmith,Pw-A\r\n\
                    broken-line\r\n\
                    nobody,nobody,Pw-N\r\n\
                    bm@example.com,,Pw-B\r\n";
        let parsed = parse(text).unwrap();
        assert_eq!(parsed.format, Format::Microsoft);
        assert_eq!(parsed.credentials.len(), 2);
        let first = &parsed.credentials[0];
        assert_eq!(first.line, 2);
        assert_eq!(first.role, Role::Source);
        assert_eq!(first.user, "jdoe");
        assert_eq!(first.address.as_deref(), Some("jdoe@example.com"));
        assert_eq!(first.secret.expose(), "Pw, with comma");
        assert_eq!(first.host, None);
        assert_eq!(
            parsed.bad_lines,
            vec![
                BadLine {
                    line: 4,
                    reason: "expected 3 fields separated by ',', found 1".into()
                },
                BadLine {
                    line: 5,
                    reason: "the address has no '@'".into()
                },
                BadLine {
                    line: 6,
                    reason: "the user name is empty".into()
                },
            ]
        );
    }

    #[test]
    fn microsoft_columns_in_any_order() {
        let text = "Password,EmailAddress,UserName\nPw-1,a@example.com,alogin\n";
        let parsed = parse(text).unwrap();
        assert_eq!(parsed.credentials[0].user, "alogin");
        assert_eq!(parsed.credentials[0].secret.expose(), "Pw-1");
    }

    #[test]
    fn plain_lists_with_and_without_header() {
        for (text, first_line) in [
            (
                "address,password\njdoe@example.com,Pw-1\nasmith@example.com,\n",
                2,
            ),
            ("jdoe@example.com,Pw-1\nasmith@example.com,\n", 1),
        ] {
            let parsed = parse(text).unwrap();
            assert_eq!(parsed.format, Format::Plain);
            assert_eq!(parsed.credentials.len(), 1);
            let c = &parsed.credentials[0];
            assert_eq!(c.line, first_line);
            assert_eq!(c.role, Role::Unspecified);
            assert_eq!(c.user, "jdoe@example.com");
            assert_eq!(c.secret.expose(), "Pw-1");
            assert_eq!(parsed.bad_lines.len(), 1);
            assert_eq!(parsed.bad_lines[0].line, first_line + 1);
            assert_eq!(parsed.bad_lines[0].reason, "the password is empty");
        }
    }

    #[test]
    fn unknown_and_empty() {
        assert!(matches!(parse("\n# nothing\n\n"), Err(ImportError::Empty)));
        assert!(matches!(
            parse("# a list\njust some words\n"),
            Err(ImportError::UnknownFormat { line: 2 })
        ));
        assert!(matches!(
            parse("a;b;c\n"),
            Err(ImportError::UnknownFormat { line: 1 })
        ));
    }
}
