//! Postfix files: `main.cf` (logical lines, comments, `$name` expansion), lookup-table sources
//! (`virtual_users`, `virtual_domains`: `key whitespace value`) and `aliases` (`name: a, b`).

use std::collections::BTreeMap;

use crate::error::ParseError;
use crate::serveradmin::truncate;

/// A parsed `main.cf`: raw values with the line each was set on (the last setting wins, as in
/// Postfix).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MainCf {
    file: String,
    params: BTreeMap<String, (String, usize)>,
}

/// Splits text into Postfix logical lines: (first physical line number, joined text). Comment and
/// blank lines are skipped; a line that starts with whitespace continues the previous one.
fn logical_lines(file: &str, text: &str) -> Result<Vec<(usize, String)>, ParseError> {
    let mut out: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match out.last_mut() {
                Some((_, cur)) => {
                    cur.push(' ');
                    cur.push_str(trimmed.trim_end());
                }
                None => {
                    return Err(ParseError::new(
                        file,
                        i + 1,
                        "continuation line (starts with whitespace) before any setting",
                    ))
                }
            }
        } else {
            out.push((i + 1, line.trim_end().to_string()));
        }
    }
    Ok(out)
}

impl MainCf {
    pub fn parse(file: &str, text: &str) -> Result<MainCf, ParseError> {
        let mut params = BTreeMap::new();
        for (line_no, line) in logical_lines(file, text)? {
            let Some((name, value)) = line.split_once('=') else {
                return Err(ParseError::new(
                    file,
                    line_no,
                    format!("expected `name = value`, found {:?}", truncate(&line, 60)),
                ));
            };
            let name = name.trim();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(ParseError::new(
                    file,
                    line_no,
                    format!("{:?} is not a parameter name", truncate(name, 60)),
                ));
            }
            params.insert(name.to_string(), (value.trim().to_string(), line_no));
        }
        Ok(MainCf {
            file: file.to_string(),
            params,
        })
    }

    pub fn raw(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(|(v, _)| v.as_str())
    }

    /// The value with every `$name`, `${name}`, `$(name)`, `${name?text}` and `${name:text}`
    /// expanded; unknown names expand to nothing (Postfix's defaults are not known here).
    pub fn get(&self, name: &str) -> Result<Option<String>, ParseError> {
        match self.params.get(name) {
            None => Ok(None),
            Some((v, line)) => self.expand(v, *line, 0).map(Some),
        }
    }

    fn expand(&self, value: &str, line: usize, depth: usize) -> Result<String, ParseError> {
        if depth > 20 {
            return Err(ParseError::new(
                &self.file,
                line,
                "parameter expansion loops (a `$name` refers back to itself)",
            ));
        }
        let err = |m: &str| ParseError::new(&self.file, line, m.to_string());
        let mut out = String::new();
        let mut rest = value;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            let (inner, tail) = if let Some(b) = after.strip_prefix('{') {
                let end = b.find('}').ok_or_else(|| err("`${` without closing `}`"))?;
                (&b[..end], &b[end + 1..])
            } else if let Some(b) = after.strip_prefix('(') {
                let end = b.find(')').ok_or_else(|| err("`$(` without closing `)`"))?;
                (&b[..end], &b[end + 1..])
            } else if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
                continue;
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                if end == 0 {
                    // A lone `$` is kept as text (Postfix would warn, not fail).
                    out.push('$');
                    rest = after;
                    continue;
                }
                (&after[..end], &after[end..])
            };
            // `${name?text}` = text if name is non-empty; `${name:text}` = text if it is empty.
            let (name, cond) = match inner.find(['?', ':']) {
                Some(i) => (&inner[..i], Some((&inner[i..i + 1], &inner[i + 1..]))),
                None => (inner, None),
            };
            let val = match self.params.get(name) {
                Some((v, _)) => self.expand(v, line, depth + 1)?,
                None => String::new(),
            };
            match cond {
                None => out.push_str(&val),
                Some(("?", text)) if !val.is_empty() => {
                    out.push_str(&self.expand(text, line, depth + 1)?)
                }
                Some((":", text)) if val.is_empty() => {
                    out.push_str(&self.expand(text, line, depth + 1)?)
                }
                Some(_) => {}
            }
            rest = tail;
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Line number where `name` is set, for messages.
    pub fn line_of(&self, name: &str) -> Option<usize> {
        self.params.get(name).map(|(_, l)| *l)
    }
}

/// Splits a Postfix list value (whitespace and/or commas).
pub fn list_items(value: &str) -> Vec<String> {
    value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// One entry of a lookup-table source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEntry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// Parses a `postmap` source file: `key whitespace value` per logical line.
pub fn parse_table(file: &str, text: &str) -> Result<Vec<TableEntry>, ParseError> {
    let mut out = Vec::new();
    for (line, text) in logical_lines(file, text)? {
        let mut parts = text.splitn(2, [' ', '\t']);
        let key = parts.next().unwrap_or_default();
        let value = parts.next().unwrap_or_default().trim();
        if value.is_empty() {
            return Err(ParseError::new(
                file,
                line,
                format!(
                    "expected `key whitespace value`, found only {:?}",
                    truncate(key, 60)
                ),
            ));
        }
        out.push(TableEntry {
            key: key.to_string(),
            value: value.to_string(),
            line,
        });
    }
    Ok(out)
}

/// One entry of an `aliases(5)` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasEntry {
    pub name: String,
    pub targets: Vec<String>,
    pub line: usize,
}

/// Parses `aliases(5)`: `name: target, target` with continuation lines; names may be quoted.
pub fn parse_aliases(file: &str, text: &str) -> Result<Vec<AliasEntry>, ParseError> {
    let mut out = Vec::new();
    for (line, text) in logical_lines(file, text)? {
        let (name, rest) = if let Some(q) = text.strip_prefix('"') {
            let end = q
                .find('"')
                .ok_or_else(|| ParseError::new(file, line, "quoted alias name is not closed"))?;
            let rest = q[end + 1..].trim_start();
            let rest = rest.strip_prefix(':').ok_or_else(|| {
                ParseError::new(file, line, "expected `:` after the quoted alias name")
            })?;
            (q[..end].to_string(), rest)
        } else {
            let Some((name, rest)) = text.split_once(':') else {
                return Err(ParseError::new(
                    file,
                    line,
                    format!("expected `name: target`, found {:?}", truncate(&text, 60)),
                ));
            };
            (name.trim().to_string(), rest)
        };
        if name.is_empty() {
            return Err(ParseError::new(file, line, "alias with an empty name"));
        }
        let targets = split_targets(rest);
        if targets.is_empty() {
            return Err(ParseError::new(
                file,
                line,
                format!("alias {name:?} has no target"),
            ));
        }
        out.push(AliasEntry {
            name,
            targets,
            line,
        });
    }
    Ok(out)
}

/// Splits alias targets on commas outside double quotes.
fn split_targets(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => {
                out.push(std::mem::take(&mut cur));
            }
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_cf_continuations_comments_expansion() {
        let text = "# comment\n\
                    myhostname = mail.example.com\n\
                    mydomain = example.com\n\
                    mydestination = $myhostname, localhost.$mydomain,\n\
                    \t${mydomain}\n\
                    \x20\x20# an indented comment inside is skipped\n\
                    \x20\x20$(mydomain)x\n\
                    cond = ${mydomain?yes}${nothing?no}${nothing:fallback}\n\
                    money = $$5\n\
                    empty =\n";
        let m = MainCf::parse("main.cf", text).unwrap();
        assert_eq!(
            m.get("mydestination").unwrap().unwrap(),
            "mail.example.com, localhost.example.com, example.com example.comx"
        );
        assert_eq!(m.get("cond").unwrap().unwrap(), "yesfallback");
        assert_eq!(m.get("money").unwrap().unwrap(), "$5");
        assert_eq!(m.get("empty").unwrap().unwrap(), "");
        assert_eq!(m.get("absent").unwrap(), None);
        assert_eq!(m.line_of("mydestination"), Some(4));
        assert_eq!(list_items("$a, b  c,,d"), vec!["$a", "b", "c", "d"]);
    }

    #[test]
    fn main_cf_errors() {
        let e = MainCf::parse(
            "main.cf",
            "a = 1\n\n  orphan continuation? no: joined\nbad line\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 4);
        let e = MainCf::parse("main.cf", "  leading = 1\n").unwrap_err();
        assert_eq!(e.line, 1);
        let m = MainCf::parse("main.cf", "a = $b\nb = $a\n").unwrap();
        assert_eq!(m.get("a").unwrap_err().line, 1);
        let m = MainCf::parse("main.cf", "x = 1\na = ${b\n").unwrap();
        assert_eq!(m.get("a").unwrap_err().line, 2);
    }

    #[test]
    fn tables_and_aliases() {
        let t = parse_table(
            "virtual_users",
            "### header\n\n# example.com\njane@example.com\tjdoe\na@x  b,\n  c\n",
        )
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].key, "jane@example.com");
        assert_eq!(t[0].value, "jdoe");
        assert_eq!(t[0].line, 4);
        assert_eq!(t[1].value, "b, c");
        assert_eq!(parse_table("vu", "x@y\n").unwrap_err().line, 1);

        let a = parse_aliases(
            "aliases",
            "# c\ninfo:\t\tjdoe, asmith\n\"odd name\": \"|/bin/x, y\",\n  z\nroot: jdoe\n",
        )
        .unwrap();
        assert_eq!(a[0].targets, vec!["jdoe", "asmith"]);
        assert_eq!(a[1].name, "odd name");
        assert_eq!(a[1].targets, vec!["\"|/bin/x, y\"", "z"]);
        assert_eq!(a[2].line, 5);
        assert_eq!(
            parse_aliases("aliases", "a: b\nnocolon\n")
                .unwrap_err()
                .line,
            2
        );
        assert_eq!(parse_aliases("aliases", "a:\n").unwrap_err().line, 1);
    }
}
