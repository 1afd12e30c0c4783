//! Reading the old server's mail logs: Postfix's `mail.log` (syslog timestamps, `Jan  1`) and
//! Dovecot's `mail-info.log` (`Jan 01`), both without a year, both rotated and compressed
//! (`.0.bz2`, `.1.gz`). Deliveries into the store are what count:
//! `postfix/pipe ... to=<short@host>, ... relay=dovecot, ... status=sent` and
//! `lda(pid N user short): ... stored mail into mailbox` / `saved mail to`.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, FixedOffset, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{CutoverError, Result};

/// Which log a delivery was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum LogKind {
    /// Postfix (`/var/log/mail.log`).
    Postfix,
    /// Dovecot LDA (`/Library/Logs/Mail/mail-info.log`).
    Dovecot,
}

/// One message stored into an account, as the log tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LogDelivery {
    #[ts(type = "string")]
    pub at: DateTime<Utc>,
    /// The account's short name.
    pub account: String,
    /// The address the sender used (`orig_to=`, else `to=`); Postfix only.
    pub address: Option<String>,
    pub kind: LogKind,
}

/// The time zone the log's local timestamps are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogZone {
    /// This machine's zone (Ferry runs on the old server itself).
    Local,
    /// A fixed offset east of UTC, in seconds (tests; logs copied from another machine).
    Fixed(i32),
}

/// A log timestamp without a year: month (1-12), day, time of day in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Stamp {
    pub month: u32,
    pub day: u32,
    pub secs: u32,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Jan  1 09:14:04 rest` or `Jan 01 09:14:04 rest` -> (stamp, rest).
pub(crate) fn parse_stamp(line: &str) -> Option<(Stamp, &str)> {
    let month = MONTHS.iter().position(|m| line.starts_with(m))? as u32 + 1;
    let rest = line.get(3..)?.trim_start_matches(' ');
    let (day, rest) = rest.split_once(' ')?;
    let day: u32 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
    let (time, rest) = rest.split_once(' ')?;
    let mut parts = time.split(':').map(|p| p.parse::<u32>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some((
        Stamp {
            month,
            day,
            secs: h * 3600 + m * 60 + s,
        },
        rest,
    ))
}

/// What a line says, without its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    Delivery {
        account: String,
        address: Option<String>,
    },
    /// `postfix/smtpd[..]: connect from host[ip]` from outside this machine: senders that still
    /// find the old MX.
    InboundConnect { ip: String },
}

fn angle_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(key)? + key.len();
    let rest = text.get(start..)?.strip_prefix('<')?;
    rest.split_once('>').map(|(v, _)| v)
}

fn plain_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(key)? + key.len();
    let rest = text.get(start..)?;
    Some(rest.split([',', ' ']).next().unwrap_or(rest))
}

/// Reads one Postfix line after its timestamp (`mail postfix/pipe[4320]: ...`).
pub(crate) fn postfix_event(rest: &str) -> Option<Event> {
    // "<host> <program>[pid]: <text>"
    let (_host, rest) = rest.split_once(' ')?;
    let (program, text) = rest.split_once(": ")?;
    let program = program.split('[').next().unwrap_or(program);
    if program.ends_with("/smtpd") && !program.contains("submission") {
        let conn = text.strip_prefix("connect from ")?;
        let ip = conn.split_once('[')?.1.split(']').next()?.to_string();
        if is_local(&ip) {
            return None;
        }
        return Some(Event::InboundConnect { ip });
    }
    // Deliveries into the store: the pipe (or lmtp) transport to Dovecot, status=sent.
    let relay = plain_value(text, "relay=")?;
    let to_dovecot = relay.eq_ignore_ascii_case("dovecot")
        || relay.to_ascii_lowercase().contains("dovecot-lmtp")
        || relay.to_ascii_lowercase().starts_with("private/dovecot");
    if !to_dovecot || plain_value(text, "status=")? != "sent" {
        return None;
    }
    let to = angle_value(text, " to=").or_else(|| angle_value(text, "to="))?;
    let account = to.split('@').next().unwrap_or(to).to_string();
    // Dovecot's pipe gets one recipient per line (dovecot_destination_recipient_limit = 1).
    let address = angle_value(text, "orig_to=").unwrap_or(to).to_string();
    (!account.is_empty()).then_some(Event::Delivery {
        account,
        address: Some(address),
    })
}

/// Reads one Dovecot line after its timestamp (`lda(pid 10239 user jdoe): Info: ...`).
pub(crate) fn dovecot_event(rest: &str) -> Option<Event> {
    let rest = rest
        .strip_prefix("lda(")
        .or_else(|| rest.strip_prefix("lmtp("))?;
    let (inside, text) = rest.split_once("): ")?;
    if !(text.contains("stored mail into mailbox") || text.contains("saved mail to")) {
        return None;
    }
    // "pid 10239 user jdoe", or just "jdoe" with Dovecot's default prefix.
    let account = match inside.rsplit_once("user ") {
        Some((_, user)) => user,
        None => inside.split(',').next().unwrap_or(inside),
    }
    .trim()
    .to_string();
    (!account.is_empty()).then_some(Event::Delivery {
        account,
        address: None,
    })
}

fn is_local(ip: &str) -> bool {
    ip.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(ip == "unknown")
}

/// A log and its rotations, oldest first: `mail.log.2.gz`, `mail.log.1.bz2`, `mail.log.0.bz2`,
/// `mail.log`.
pub fn log_files(current: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (
        current.parent(),
        current.file_name().and_then(|n| n.to_str()),
    ) else {
        return Vec::new();
    };
    let mut rotated: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let file = entry.file_name();
            let file = file.to_str()?;
            let rest = file.strip_prefix(name)?.strip_prefix('.')?;
            let number = rest.split('.').next()?.parse::<u32>().ok()?;
            let ext = rest.split_once('.').map(|(_, e)| e).unwrap_or("");
            matches!(ext, "" | "gz" | "bz2").then(|| (number, entry.path()))
        })
        .collect();
    rotated.sort_by_key(|r| std::cmp::Reverse(r.0));
    let mut out: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    if current.exists() {
        out.push(current.to_path_buf());
    }
    out
}

/// The whole text of a log file, decompressed by its extension.
pub fn read_log(path: &Path) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(|source| CutoverError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let result = match ext {
        "gz" => flate2::read::MultiGzDecoder::new(file).read_to_end(&mut out),
        "bz2" => bzip2::read::MultiBzDecoder::new(file).read_to_end(&mut out),
        _ => BufReader::new(file).read_to_end(&mut out),
    };
    result.map_err(|source| CutoverError::Decompress {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(out)
}

/// Gives log lines their year. Lines come in order; a month smaller than the previous line's
/// means the year turned (Dec 31 -> Jan 1). Years are counted relative to the first line and fixed
/// at the end from the anchor: the time the newest log was last written (the last line cannot be
/// later than that).
#[derive(Debug, Default, Clone)]
pub(crate) struct YearCounter {
    last: Option<Stamp>,
    offset: i32,
}

impl YearCounter {
    /// The relative year of this line (0 = year of the first line).
    pub fn next(&mut self, stamp: Stamp) -> i32 {
        if let Some(last) = self.last {
            // Only a jump back of more than a month is a new year; small steps back are clock
            // adjustments or lines written out of order.
            if stamp.month + 1 < last.month {
                self.offset += 1;
            }
        }
        self.last = Some(stamp);
        self.offset
    }

    pub fn current(&self) -> (Option<Stamp>, i32) {
        (self.last, self.offset)
    }
}

/// The year of the last line, given the time (in the log's zone) the log was last written.
pub(crate) fn anchor_year(last: Stamp, written: NaiveDateTime) -> i32 {
    // A last line dated after the day the file was written belongs to the previous year.
    if (last.month, last.day) > (written.month(), written.day()) {
        written.year() - 1
    } else {
        written.year()
    }
}

pub(crate) fn to_utc(year: i32, stamp: Stamp, zone: LogZone) -> Option<DateTime<Utc>> {
    let date = NaiveDate::from_ymd_opt(year, stamp.month, stamp.day)?;
    let naive = date.and_hms_opt(
        stamp.secs / 3600,
        stamp.secs / 60 % 60,
        (stamp.secs % 60).min(59),
    )?;
    match zone {
        LogZone::Local => Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc)),
        LogZone::Fixed(offset) => FixedOffset::east_opt(offset)?
            .from_local_datetime(&naive)
            .single()
            .map(|t| t.with_timezone(&Utc)),
    }
}

pub(crate) fn naive_in_zone(t: DateTime<Utc>, zone: LogZone) -> NaiveDateTime {
    match zone {
        LogZone::Local => t.with_timezone(&Local).naive_local(),
        LogZone::Fixed(offset) => FixedOffset::east_opt(offset)
            .map(|z| t.with_timezone(&z).naive_local())
            .unwrap_or_else(|| t.naive_utc()),
    }
}

/// Parsed lines of one log (all rotations), with years resolved.
#[derive(Debug, Default, Clone)]
pub struct ParsedLog {
    pub deliveries: Vec<LogDelivery>,
    /// Inbound SMTP connections from other machines (Postfix only), by time.
    pub inbound: Vec<(DateTime<Utc>, String)>,
    pub lines: usize,
    pub unparsed: usize,
}

pub(crate) fn event_of(kind: LogKind, rest: &str) -> Option<Event> {
    match kind {
        LogKind::Postfix => postfix_event(rest),
        LogKind::Dovecot => dovecot_event(rest),
    }
}

/// Lines with a relative year, before anchoring.
pub(crate) type Relative = Vec<(i32, Stamp, Event)>;

pub(crate) fn scan_text(
    text: &[u8],
    kind: LogKind,
    years: &mut YearCounter,
    out: &mut Relative,
) -> (usize, usize) {
    let (mut lines, mut unparsed) = (0, 0);
    for line in BufReader::new(text)
        .split(b'\n')
        .map_while(std::io::Result::ok)
    {
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        lines += 1;
        let Some((stamp, rest)) = parse_stamp(line) else {
            unparsed += 1;
            continue;
        };
        let year = years.next(stamp);
        if let Some(event) = event_of(kind, rest) {
            out.push((year, stamp, event));
        }
    }
    (lines, unparsed)
}

pub(crate) fn resolve(
    relative: Relative,
    kind: LogKind,
    base_year: i32,
    zone: LogZone,
    log: &mut ParsedLog,
) {
    for (rel, stamp, event) in relative {
        let Some(at) = to_utc(base_year + rel, stamp, zone) else {
            continue;
        };
        match event {
            Event::Delivery { account, address } => log.deliveries.push(LogDelivery {
                at,
                account,
                address,
                kind,
            }),
            Event::InboundConnect { ip } => log.inbound.push((at, ip)),
        }
    }
}

/// Reads a log and its rotations. `year_of_last_line` overrides the anchor (the current log's
/// modification time).
pub fn parse_log(
    current: &Path,
    kind: LogKind,
    zone: LogZone,
    year_of_last_line: Option<i32>,
) -> Result<(ParsedLog, Vec<PathBuf>)> {
    parse_and_follow(current, kind, zone, year_of_last_line).map(|(log, files, _)| (log, files))
}

/// Reads the lines appended to a log since the last call; follows a rotation (the file replaced
/// or shortened) by starting the new file from its beginning.
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    kind: LogKind,
    zone: LogZone,
    offset: u64,
    identity: Option<(u64, u64)>,
    years: YearCounter,
    /// Absolute year of relative year 0.
    base_year: i32,
    partial: Vec<u8>,
}

fn identity(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

impl Follower {
    /// Starts at the current end of `path`; `years`/`base_year` continue the full parse's count.
    pub(crate) fn new(
        path: &Path,
        kind: LogKind,
        zone: LogZone,
        years: YearCounter,
        base_year: i32,
    ) -> Self {
        let meta = std::fs::metadata(path).ok();
        Self {
            path: path.to_path_buf(),
            kind,
            zone,
            offset: meta.as_ref().map(|m| m.len()).unwrap_or(0),
            identity: meta.as_ref().and_then(identity),
            years,
            base_year,
            partial: Vec::new(),
        }
    }

    /// New complete lines since the last call.
    pub fn poll(&mut self) -> Result<ParsedLog> {
        let mut log = ParsedLog::default();
        let Ok(meta) = std::fs::metadata(&self.path) else {
            return Ok(log);
        };
        if identity(&meta) != self.identity || meta.len() < self.offset {
            self.offset = 0;
            self.partial.clear();
            self.identity = identity(&meta);
        }
        if meta.len() == self.offset {
            return Ok(log);
        }
        let mut file = File::open(&self.path).map_err(|source| CutoverError::Read {
            path: self.path.clone(),
            source,
        })?;
        use std::io::Seek;
        file.seek(std::io::SeekFrom::Start(self.offset))
            .and_then(|_| file.read_to_end(&mut self.partial))
            .map_err(|source| CutoverError::Read {
                path: self.path.clone(),
                source,
            })?;
        self.offset = meta.len();
        // Keep an unfinished last line for the next poll.
        let complete = match self.partial.iter().rposition(|b| *b == b'\n') {
            Some(i) => self.partial.drain(..=i).collect::<Vec<u8>>(),
            None => return Ok(log),
        };
        let mut relative = Vec::new();
        let (lines, unparsed) = scan_text(&complete, self.kind, &mut self.years, &mut relative);
        log.lines = lines;
        log.unparsed = unparsed;
        resolve(relative, self.kind, self.base_year, self.zone, &mut log);
        Ok(log)
    }
}

/// Full parse plus a follower that continues from its end.
pub fn parse_and_follow(
    current: &Path,
    kind: LogKind,
    zone: LogZone,
    year_of_last_line: Option<i32>,
) -> Result<(ParsedLog, Vec<PathBuf>, Follower)> {
    let files = log_files(current);
    let mut years = YearCounter::default();
    let mut relative = Vec::new();
    let mut log = ParsedLog::default();
    for f in &files {
        let text = read_log(f)?;
        let (lines, unparsed) = scan_text(&text, kind, &mut years, &mut relative);
        log.lines += lines;
        log.unparsed += unparsed;
    }
    let (last, last_rel) = years.current();
    let base_year = match (last, year_of_last_line) {
        (Some(_), Some(y)) => y - last_rel,
        (Some(last), None) => {
            let written = files
                .last()
                .and_then(|f| std::fs::metadata(f).ok())
                .and_then(|m| m.modified().ok())
                .map(DateTime::<Utc>::from)
                .unwrap_or_else(Utc::now);
            anchor_year(last, naive_in_zone(written, zone)) - last_rel
        }
        (None, y) => y.unwrap_or_else(|| naive_in_zone(Utc::now(), zone).year()),
    };
    resolve(relative, kind, base_year, zone, &mut log);
    let follower = Follower::new(current, kind, zone, years, base_year);
    Ok((log, files, follower))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_both_formats() {
        let (s, rest) = parse_stamp("Jan  1 09:14:04 mail postfix/pipe[1]: x").unwrap();
        assert_eq!((s.month, s.day, s.secs), (1, 1, 9 * 3600 + 14 * 60 + 4));
        assert!(rest.starts_with("mail "));
        let (s, rest) = parse_stamp("Jan 01 09:14:04 lda(pid 1 user jdoe): Info").unwrap();
        assert_eq!((s.month, s.day), (1, 1));
        assert!(rest.starts_with("lda("));
        assert!(parse_stamp("Foo 01 09:14:04 x").is_none());
        assert!(parse_stamp("Jan 32 09:14:04 x").is_none());
        assert!(parse_stamp("Jan  1 25:14:04 x").is_none());
        assert!(parse_stamp("").is_none());
    }

    #[test]
    fn postfix_lines() {
        let l = "mail postfix/pipe[10238]: 7B2C02C4B3F: to=<jdoe@mail.example.com>, orig_to=<jane.doe@example.com>, relay=dovecot, delay=0.05, delays=0.01/0/0/0.04, dsn=2.0.0, status=sent (delivered via dovecot service)";
        assert_eq!(
            postfix_event(l),
            Some(Event::Delivery {
                account: "jdoe".into(),
                address: Some("jane.doe@example.com".into())
            })
        );
        // The amavis hop is not a delivery into the store.
        let amavis = "mail postfix/smtp[1]: X: to=<jane.doe@example.com>, relay=127.0.0.1[127.0.0.1]:10024, delay=0.9, dsn=2.0.0, status=sent (250 ok)";
        assert_eq!(postfix_event(amavis), None);
        let deferred = "mail postfix/pipe[1]: X: to=<jdoe@mail.example.com>, relay=dovecot, delay=1, dsn=4.3.0, status=deferred (temporary failure)";
        assert_eq!(postfix_event(deferred), None);
        assert_eq!(
            postfix_event("mail postfix/smtpd[1]: connect from mx.sender.example[198.51.100.7]"),
            Some(Event::InboundConnect {
                ip: "198.51.100.7".into()
            })
        );
        assert_eq!(
            postfix_event("mail postfix/smtpd[1]: connect from localhost[127.0.0.1]"),
            None
        );
        assert_eq!(
            postfix_event("mail postfix/submission/smtpd[1]: connect from laptop[192.0.2.31]"),
            None
        );
    }

    #[test]
    fn dovecot_lines() {
        assert_eq!(
            dovecot_event("lda(pid 10239 user jdoe): Info: sieve: msgid=<a@b>: stored mail into mailbox 'INBOX'"),
            Some(Event::Delivery {
                account: "jdoe".into(),
                address: None
            })
        );
        assert_eq!(
            dovecot_event("lda(asmith): Info: msgid=<a@b>: saved mail to INBOX"),
            Some(Event::Delivery {
                account: "asmith".into(),
                address: None
            })
        );
        assert_eq!(
            dovecot_event("imap(pid 1 user jdoe): Info: Disconnected: Logged out"),
            None
        );
    }

    #[test]
    fn year_rolls_over_and_anchors() {
        let mut y = YearCounter::default();
        let s = |month, day| Stamp {
            month,
            day,
            secs: 0,
        };
        assert_eq!(y.next(s(12, 30)), 0);
        assert_eq!(y.next(s(12, 31)), 0);
        assert_eq!(y.next(s(1, 1)), 1);
        assert_eq!(y.next(s(1, 2)), 1);
        // A line a few seconds out of order does not start a new year.
        assert_eq!(y.next(s(1, 2)), 1);
        let written = NaiveDate::from_ymd_opt(2019, 1, 3)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert_eq!(anchor_year(s(1, 2), written), 2019);
        // Last line Dec 31, file written Jan 3: the line is from the year before.
        assert_eq!(anchor_year(s(12, 31), written), 2018);
    }
}
