//! mboxrd (the variant where every `From ` line in a body, with any number of leading `>`, gets
//! one more `>`): written and read back byte for byte. Each message is preceded by a
//! `From <sender> <asctime>` line and followed by one empty line.

use std::io::Write;

use chrono::{DateTime, Utc};

/// Appends one message in mboxrd form. A message that does not end with a line end gets one, so
/// that the next `From ` line starts a line (the only change mbox makes to a message).
pub fn write_message(
    out: &mut impl Write,
    sender: &str,
    date: DateTime<Utc>,
    message: &[u8],
) -> std::io::Result<()> {
    let sender: String = sender
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect();
    let sender = if sender.is_empty() {
        "MAILER-DAEMON".to_string()
    } else {
        sender
    };
    writeln!(out, "From {sender} {}", date.format("%a %b %e %H:%M:%S %Y"))?;
    for line in message.split_inclusive(|b| *b == b'\n') {
        if is_from_line(line) {
            out.write_all(b">")?;
        }
        out.write_all(line)?;
    }
    if !message.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    out.write_all(b"\n")
}

/// `^>*From ` (the lines mboxrd escapes).
fn is_from_line(line: &[u8]) -> bool {
    let rest = &line[line.iter().take_while(|b| **b == b'>').count()..];
    rest.starts_with(b"From ")
}

/// One message read back from an mbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MboxMessage {
    /// The `From ` separator line, without its line end.
    pub from_line: String,
    pub bytes: Vec<u8>,
}

/// Splits an mboxrd file into its messages and undoes the `>From ` escaping. Returns `None` when
/// the data is not empty and does not start with a `From ` line.
pub fn parse(data: &[u8]) -> Option<Vec<MboxMessage>> {
    if data.is_empty() {
        return Some(Vec::new());
    }
    if !data.starts_with(b"From ") {
        return None;
    }
    let mut messages = Vec::new();
    let mut current: Option<MboxMessage> = None;
    for line in data.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b"From ") {
            if let Some(m) = current.take() {
                messages.push(finish(m));
            }
            let text = String::from_utf8_lossy(line);
            current = Some(MboxMessage {
                from_line: text.trim_end_matches(['\r', '\n']).to_string(),
                bytes: Vec::new(),
            });
            continue;
        }
        let Some(m) = current.as_mut() else { continue };
        if line.starts_with(b">") && is_from_line(line) {
            m.bytes.extend_from_slice(&line[1..]);
        } else {
            m.bytes.extend_from_slice(line);
        }
    }
    if let Some(m) = current.take() {
        messages.push(finish(m));
    }
    Some(messages)
}

/// Drops the empty line the writer put after the message.
fn finish(mut m: MboxMessage) -> MboxMessage {
    if m.bytes.ends_with(b"\n") {
        m.bytes.pop();
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date() -> DateTime<Utc> {
        DateTime::from_timestamp(1_546_300_800, 0).unwrap()
    }

    #[test]
    fn escapes_and_round_trips() {
        let messages: Vec<&[u8]> = vec![
            b"Subject: a\n\nFrom here on\n>From there\n>>From afar\nFrom\nFromage\n",
            b"Subject: crlf\r\n\r\nFrom x\r\nline\r\n",
            b"Subject: empty body\n\n",
        ];
        let mut out = Vec::new();
        for m in &messages {
            write_message(&mut out, "someone@example.com", date(), m).unwrap();
        }
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("From someone@example.com Tue Jan  1 00:00:00 2019\n"));
        assert!(text.contains("\n>From here on\n>>From there\n>>>From afar\nFrom\nFromage\n"));
        let back = parse(&out).unwrap();
        assert_eq!(back.len(), 3);
        for (m, b) in messages.iter().zip(&back) {
            assert_eq!(&b.bytes[..], *m);
        }
    }

    #[test]
    fn missing_final_newline_gets_one() {
        let mut out = Vec::new();
        write_message(&mut out, "", date(), b"Subject: x\n\nno end").unwrap();
        let back = parse(&out).unwrap();
        assert_eq!(back[0].bytes, b"Subject: x\n\nno end\n");
        assert!(back[0].from_line.starts_with("From MAILER-DAEMON "));
    }

    #[test]
    fn rejects_non_mbox() {
        assert!(parse(b"Subject: not an mbox\n").is_none());
        assert_eq!(parse(b"").unwrap(), vec![]);
    }
}
