//! Reading the old server's mail logs: Postfix's `mail.log` (syslog timestamps, `Jan  1`) and
//! Dovecot's `mail-info.log` (`Jan 01`), both without a year, both rotated and compressed
//! (`.0.bz2`, `.1.gz`). Deliveries into the store are what count:
//! `postfix/pipe ... to=<short@host>, ... relay=dovecot, ... status=sent` and
//! `lda(pid N user short): ... stored mail into mailbox` / `saved mail to`. One message usually
//! shows in both logs; [`LogDelivery::queue_id`] and [`LogDelivery::message_id`] let the caller
//! pair them. SMTP attempts the server refused (`reject:`, `discard:`, a content filter's discard,
//! a bounce at the store) are read as [`RejectedAttempt`]s.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
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

/// One message stored into an account, as one log line tells it.
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
    /// Postfix's queue id (`7B2C02C4B3F`); Postfix only.
    pub queue_id: Option<String>,
    /// The message's Message-ID without `<>`: from the queue's `cleanup` line (Postfix) or the
    /// line's `msgid=` (Dovecot), when the log has it.
    pub message_id: Option<String>,
    /// The folder Dovecot stored it into (`INBOX`, `Junk`); Dovecot only.
    pub mailbox: Option<String>,
}

/// What became of an SMTP attempt the old server did not deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AttemptOutcome {
    /// Refused during the SMTP dialogue (`reject:`, `milter-reject:`); the sender was told.
    Rejected,
    /// Accepted, then thrown away (`discard:`, a content filter's `discarded`).
    Discarded,
    /// Accepted, then returned to the sender because the store refused it (`status=bounced`).
    Bounced,
}

/// An SMTP attempt from another machine that the old server refused or threw away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RejectedAttempt {
    #[ts(type = "string")]
    pub at: DateTime<Utc>,
    pub outcome: AttemptOutcome,
    /// The sending machine's name as Postfix logged it; `None` when it had none (`unknown`).
    pub client_host: Option<String>,
    /// The sending machine's address, when the log names it.
    pub client_address: Option<String>,
    /// Envelope sender (`""` for the null sender of bounces), when logged.
    pub sender: Option<String>,
    /// Envelope recipient, when logged (a rejected connection has none).
    pub recipient: Option<String>,
    /// Postfix's own words (`550 5.1.1 <x@example.com>: Recipient address rejected: ...`).
    pub reason: String,
}

/// The time zone the log's local timestamps are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogZone {
    /// This machine's zone (Ferry runs on the old server itself).
    Local,
    /// A fixed offset east of UTC, in seconds (tests; logs copied from another machine).
    Fixed(i32),
}

/// Where the year of a log's last line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum YearSource {
    /// The caller named it.
    Given,
    /// The year the newest log file was last changed.
    FileTime,
    /// The log file has no modification time: the current year.
    CurrentDate,
}

/// How one log's lines were given their years.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LogYear {
    /// The log, relative to the old server's root (`var/log/mail.log`).
    pub log: String,
    pub year_of_last_line: i32,
    pub source: YearSource,
    /// When the newest log file was last changed (for [`YearSource::FileTime`]).
    #[ts(type = "string | null")]
    pub file_time: Option<DateTime<Utc>>,
    /// Lines dated 29 February in a year that has none: the year is wrong; they were left out.
    pub left_out_feb_29: u32,
    /// Of those, lines that were deliveries or refused attempts.
    pub left_out_events: u32,
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

/// The most days a month has in any year (29 for February: leap years are decided later).
const MAX_DAYS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// `Jan  1 09:14:04 rest` or `Jan 01 09:14:04 rest` -> (stamp, rest).
pub(crate) fn parse_stamp(line: &str) -> Option<(Stamp, &str)> {
    let month = MONTHS.iter().position(|m| line.starts_with(m))?;
    let rest = line.get(3..)?.trim_start_matches(' ');
    let (day, rest) = rest.split_once(' ')?;
    let day: u32 = day
        .parse()
        .ok()
        .filter(|d| (1..=MAX_DAYS[month]).contains(d))?;
    let (time, rest) = rest.split_once(' ')?;
    let mut parts = time.split(':').map(|p| p.parse::<u32>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some((
        Stamp {
            month: month as u32 + 1,
            day,
            secs: h * 3600 + m * 60 + s,
        },
        rest,
    ))
}

/// What a line says, without its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    Delivery(Delivered),
    /// `postfix/smtpd[..]: connect from host[ip]` from outside this machine: senders that still
    /// find the old MX.
    InboundConnect {
        ip: String,
    },
    Refused(Refusal),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Delivered {
    pub account: String,
    pub address: Option<String>,
    pub queue_id: Option<String>,
    pub message_id: Option<String>,
    pub mailbox: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub outcome: AttemptOutcome,
    pub client_host: Option<String>,
    pub client_address: Option<String>,
    pub sender: Option<String>,
    pub recipient: Option<String>,
    pub reason: String,
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

/// The text in the parentheses that end a delivery line (`status=sent (...)`).
fn status_detail(text: &str) -> &str {
    text.split_once("status=")
        .and_then(|(_, s)| s.split_once(" ("))
        .map(|(_, d)| d.strip_suffix(')').unwrap_or(d))
        .unwrap_or("")
}

/// `host[ip]`, `unknown[ip]` or postscreen's `[ip]:port` -> (host, address).
fn parse_client(token: &str) -> (Option<String>, Option<String>) {
    let token = token.trim();
    match token.split_once('[') {
        Some((host, rest)) => {
            let address = rest.split(']').next().unwrap_or("").to_string();
            let host = (!host.is_empty() && host != "unknown").then(|| host.to_string());
            (host, (!address.is_empty()).then_some(address))
        }
        None => ((!token.is_empty()).then(|| token.to_string()), None),
    }
}

/// A Postfix queue id (`7B2C02C4B3F`, or the long form `4bT1xY2zQ3...`) at the start of `text`.
fn queue_id_of(text: &str) -> Option<(&str, &str)> {
    let (id, rest) = text.split_once(": ")?;
    (id.len() >= 6 && id.chars().all(|c| c.is_ascii_alphanumeric()) && id != "NOQUEUE")
        .then_some((id, rest))
}

/// What Postfix said earlier about a queue id, to name a delivery's Message-ID and a refused
/// message's sender machine.
#[derive(Debug, Clone, Default)]
pub(crate) struct QueueInfo {
    message_id: Option<String>,
    sender: Option<String>,
    client: Option<(Option<String>, Option<String>)>,
    /// Received on port 25 from another machine (not submission, not the content filter).
    from_outside: bool,
}

/// Queue ids still in the queue; carried across lines, files and polls of one log.
#[derive(Debug, Clone, Default)]
pub(crate) struct PostfixQueues {
    queues: HashMap<String, QueueInfo>,
}

/// A log whose `removed` lines went missing must not grow the table without bound.
const MAX_QUEUES: usize = 100_000;

impl PostfixQueues {
    fn entry(&mut self, id: &str) -> &mut QueueInfo {
        if self.queues.len() >= MAX_QUEUES && !self.queues.contains_key(id) {
            self.queues.clear();
        }
        self.queues.entry(id.to_string()).or_default()
    }

    /// Reads one Postfix line after its timestamp (`mail postfix/pipe[4320]: ...`).
    pub(crate) fn event(&mut self, rest: &str) -> Option<Event> {
        // "<host> <program>[pid]: <text>"
        let (_host, rest) = rest.split_once(' ')?;
        let (program, text) = rest.split_once(": ")?;
        let program = program.split('[').next().unwrap_or(program);
        let service = program.rsplit('/').next().unwrap_or(program);
        let submission = program.contains("submission");
        if service == "smtpd" && !submission {
            if let Some(conn) = text.strip_prefix("connect from ") {
                let ip = conn.split_once('[')?.1.split(']').next()?.to_string();
                return (!is_local(&ip)).then_some(Event::InboundConnect { ip });
            }
        }
        let (queue, body) = match queue_id_of(text) {
            Some((id, body)) => (Some(id), body),
            None => (None, text.strip_prefix("NOQUEUE: ").unwrap_or(text)),
        };
        if let Some(refusal) = refusal(service, submission, body) {
            let outside = refusal
                .client_address
                .as_deref()
                .is_none_or(|a| !is_local(a));
            return outside.then_some(Event::Refused(refusal));
        }
        let queue = queue?;
        match service {
            "smtpd" => {
                if let Some(client) = body.strip_prefix("client=") {
                    let client = parse_client(client.split(',').next().unwrap_or(client));
                    let outside = !submission && client.1.as_deref().is_some_and(|a| !is_local(a));
                    let info = self.entry(queue);
                    info.from_outside = outside;
                    info.client = Some(client);
                }
                None
            }
            "cleanup" => {
                if let Some(id) = body.strip_prefix("message-id=") {
                    let id = id.trim();
                    let id = id
                        .strip_prefix('<')
                        .and_then(|i| i.split_once('>'))
                        .map_or(id, |(i, _)| i);
                    if !id.is_empty() {
                        self.entry(queue).message_id = Some(id.to_string());
                    }
                }
                None
            }
            "qmgr" => {
                if body == "removed" {
                    self.queues.remove(queue);
                } else if let Some(sender) = angle_value(body, "from=") {
                    self.entry(queue).sender = Some(sender.to_string());
                }
                None
            }
            _ => self.delivery_line(queue, body),
        }
    }

    /// `to=<..>, relay=.., status=..` lines of the delivery agents (pipe, lmtp, smtp, local).
    fn delivery_line(&mut self, queue: &str, body: &str) -> Option<Event> {
        let relay = plain_value(body, "relay=")?;
        let status = plain_value(body, "status=")?;
        let detail = status_detail(body);
        let to = angle_value(body, "to=")?;
        let relay_lower = relay.to_ascii_lowercase();
        let to_dovecot = relay_lower == "dovecot"
            || relay_lower.contains("dovecot-lmtp")
            || relay_lower.starts_with("private/dovecot");
        let info = self.queues.get(queue).cloned().unwrap_or_default();
        // The content filter (amavis) answered for the message: it goes on under a new queue id,
        // which inherits where the message came from.
        let relay_is_local = parse_client(relay).1.as_deref().is_some_and(is_local);
        if let Some((_, next)) = detail.rsplit_once("queued as ") {
            let next = next.trim();
            if status == "sent" && relay_is_local && !next.is_empty() {
                let inherited = info.clone();
                let entry = self.entry(next);
                entry.client = inherited.client;
                entry.from_outside = inherited.from_outside;
                entry.sender = entry.sender.take().or(inherited.sender);
                entry.message_id = entry.message_id.take().or(inherited.message_id);
            }
        }
        // amavis: "250 2.7.0 Ok, discarded, id=00812-07 - INFECTED: Win.Trojan..."
        let discarded = status == "sent" && detail.contains(", discarded");
        let bounced_at_store = status == "bounced" && to_dovecot;
        if (discarded || bounced_at_store) && (info.from_outside || info.client.is_none()) {
            let (client_host, client_address) = info.client.unwrap_or((None, None));
            let reason = if discarded {
                detail
                    .split_once(" - ")
                    .map_or(detail, |(_, why)| why)
                    .to_string()
            } else {
                detail.to_string()
            };
            return Some(Event::Refused(Refusal {
                outcome: if discarded {
                    AttemptOutcome::Discarded
                } else {
                    AttemptOutcome::Bounced
                },
                client_host,
                client_address,
                sender: info.sender,
                recipient: Some(angle_value(body, "orig_to=").unwrap_or(to).to_string()),
                reason,
            }));
        }
        // Deliveries into the store: the pipe (or lmtp) transport to Dovecot, status=sent.
        if !to_dovecot || status != "sent" {
            return None;
        }
        let account = to.split('@').next().unwrap_or(to).to_string();
        // Dovecot's pipe gets one recipient per line (dovecot_destination_recipient_limit = 1).
        let address = angle_value(body, "orig_to=").unwrap_or(to).to_string();
        (!account.is_empty()).then_some(Event::Delivery(Delivered {
            account,
            address: Some(address),
            queue_id: Some(queue.to_string()),
            message_id: info.message_id,
            mailbox: None,
        }))
    }
}

/// `reject: RCPT from host[ip]: 550 ...; from=<s> to=<r> proto=ESMTP helo=<h>` (smtpd,
/// postscreen) and `reject: header Subject: .. from host[ip]; from=<s> to=<r> ...: 5.7.1 why`
/// (cleanup), and their `discard:` and `milter-` forms. `reject_warning:` is only a warning.
fn refusal(service: &str, submission: bool, body: &str) -> Option<Refusal> {
    // Mail the old server's own users submit is not a sender reaching the old MX.
    if submission || !matches!(service, "smtpd" | "postscreen" | "cleanup") {
        return None;
    }
    let (outcome, rest) = [
        ("reject: ", AttemptOutcome::Rejected),
        ("milter-reject: ", AttemptOutcome::Rejected),
        ("discard: ", AttemptOutcome::Discarded),
        ("milter-discard: ", AttemptOutcome::Discarded),
    ]
    .into_iter()
    .find_map(|(prefix, outcome)| body.strip_prefix(prefix).map(|rest| (outcome, rest)))?;
    let split = rest.find("; from=").or_else(|| rest.find("; proto="));
    let (head, envelope) = match split {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => (rest, ""),
    };
    let (client, reason) = if service == "cleanup" {
        // "header Subject: win from unknown[ip]" ... "helo=<x>: 5.7.1 message content rejected"
        let (what, client) = head.rsplit_once(" from ").unwrap_or((head, ""));
        let why = envelope
            .rsplit_once(">: ")
            .map(|(_, why)| why.trim())
            .unwrap_or("");
        let reason = if why.is_empty() {
            what.to_string()
        } else {
            format!("{why} ({what})")
        };
        (client, reason)
    } else {
        // "RCPT from unknown[ip]: 550 5.1.1 <x>: Recipient address rejected: ..."
        let after = head.split_once(" from ").map_or(head, |(_, c)| c);
        let (client, why) = after.split_once(": ").unwrap_or((after, ""));
        (client, why.trim().to_string())
    };
    let (client_host, client_address) = parse_client(client);
    Some(Refusal {
        outcome,
        client_host,
        client_address,
        sender: angle_value(envelope, "from=").map(str::to_string),
        recipient: angle_value(envelope, " to=").map(str::to_string),
        reason,
    })
}

/// Reads one Postfix line without earlier context (tests).
#[cfg(test)]
pub(crate) fn postfix_event(rest: &str) -> Option<Event> {
    PostfixQueues::default().event(rest)
}

/// Reads one Dovecot line after its timestamp: Apple's prefix `lda(pid 10239 user jdoe): Info:
/// ...`, Dovecot 2.2's `lmtp(10239, jdoe): ...`, 2.3's `lda(jdoe)<10239><sess>: ...`.
pub(crate) fn dovecot_event(rest: &str) -> Option<Event> {
    let rest = rest
        .strip_prefix("lda(")
        .or_else(|| rest.strip_prefix("lmtp("))?;
    let (inside, after) = rest.split_once(')')?;
    let (_, text) = after.split_once(": ")?;
    let mailbox = if let Some((_, m)) = text.split_once("stored mail into mailbox ") {
        m.trim().trim_matches('\'').to_string()
    } else if let Some((_, m)) = text.split_once("saved mail to ") {
        m.trim().trim_matches('\'').to_string()
    } else {
        return None;
    };
    let user = match inside.rsplit_once("user ") {
        Some((_, user)) => user,
        None => inside.rsplit(',').next().unwrap_or(inside),
    }
    .trim();
    // Postfix names accounts by short name; a user logged as an address is the same account.
    let account = user.split('@').next().unwrap_or(user).to_string();
    let message_id = text.split_once("msgid=").and_then(|(_, m)| {
        let id = match m.strip_prefix('<') {
            Some(m) => m.split_once('>').map(|(id, _)| id)?,
            None => m.split([':', ' ']).next().unwrap_or(""),
        };
        (!id.is_empty() && id != "unspecified").then(|| id.to_string())
    });
    (!account.is_empty()).then_some(Event::Delivery(Delivered {
        account,
        address: None,
        queue_id: None,
        message_id,
        mailbox: (!mailbox.is_empty()).then_some(mailbox),
    }))
}

fn is_local(ip: &str) -> bool {
    ip.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(ip == "unknown")
}

/// A log and its rotations, oldest first: `mail.log.2.gz`, `mail.log.1.bz2`, `mail.log.0.bz2`,
/// `mail.log`. While a rotation is being compressed both `mail.log.0` and `mail.log.0.bz2` exist;
/// only the uncompressed one (complete) is read, so its lines do not count twice.
pub fn log_files(current: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = rotations(current).into_iter().map(|(_, p)| p).collect();
    if current.exists() {
        out.push(current.to_path_buf());
    }
    out
}

/// Rotated files by number, oldest (highest number) first, one per number.
fn rotations(current: &Path) -> Vec<(u32, PathBuf)> {
    let (Some(dir), Some(name)) = (
        current.parent(),
        current.file_name().and_then(|n| n.to_str()),
    ) else {
        return Vec::new();
    };
    let mut rotated: Vec<(u32, bool, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let file = entry.file_name();
            let file = file.to_str()?;
            let rest = file.strip_prefix(name)?.strip_prefix('.')?;
            let number = rest.split('.').next()?.parse::<u32>().ok()?;
            let ext = rest.split_once('.').map(|(_, e)| e).unwrap_or("");
            matches!(ext, "" | "gz" | "bz2").then(|| (number, !ext.is_empty(), entry.path()))
        })
        .collect();
    rotated.sort_by_key(|r| (std::cmp::Reverse(r.0), r.1));
    rotated.dedup_by_key(|r| r.0);
    rotated.into_iter().map(|(n, _, p)| (n, p)).collect()
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
        // A time in the hour the clocks skip (spring forward) is read as after the jump rather
        // than lost.
        LogZone::Local => Local
            .from_local_datetime(&naive)
            .earliest()
            .or_else(|| {
                Local
                    .from_local_datetime(&(naive + chrono::Duration::hours(1)))
                    .earliest()
            })
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
    /// SMTP attempts from other machines the server refused or threw away (Postfix only).
    pub rejected: Vec<RejectedAttempt>,
    pub lines: usize,
    pub unparsed: usize,
    /// Lines dated 29 February in a year without one (the year is wrong), left out.
    pub left_out_feb_29: usize,
    /// Of those, lines that were deliveries or refused attempts.
    pub left_out_events: usize,
    /// The year they were left out of.
    pub left_out_year: Option<i32>,
}

/// The reading state of one log, carried across its files and polls.
#[derive(Debug, Clone)]
pub(crate) struct Scanner {
    kind: LogKind,
    years: YearCounter,
    queues: PostfixQueues,
}

/// Lines with a relative year, before anchoring; `None` for lines that say nothing of interest
/// (kept only when dated 29 February, to count them).
pub(crate) type Relative = Vec<(i32, Stamp, Option<Event>)>;

impl Scanner {
    fn new(kind: LogKind) -> Self {
        Self {
            kind,
            years: YearCounter::default(),
            queues: PostfixQueues::default(),
        }
    }

    fn event(&mut self, rest: &str) -> Option<Event> {
        match self.kind {
            LogKind::Postfix => self.queues.event(rest),
            LogKind::Dovecot => dovecot_event(rest),
        }
    }

    /// Reads complete lines; returns (lines, lines without a timestamp).
    fn scan(&mut self, text: &[u8], out: &mut Relative) -> (usize, usize) {
        let (mut lines, mut unparsed) = (0, 0);
        for line in text.split(|b| *b == b'\n') {
            let line = String::from_utf8_lossy(line);
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            lines += 1;
            let Some((stamp, rest)) = parse_stamp(line) else {
                unparsed += 1;
                continue;
            };
            let year = self.years.next(stamp);
            let event = self.event(rest);
            if event.is_some() || (stamp.month, stamp.day) == (2, 29) {
                out.push((year, stamp, event));
            }
        }
        (lines, unparsed)
    }
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
            // Only 29 February of a common year has no date (parse_stamp checks the rest).
            log.left_out_feb_29 += 1;
            log.left_out_events += usize::from(event.is_some());
            log.left_out_year = log.left_out_year.or(Some(base_year + rel));
            continue;
        };
        match event {
            Some(Event::Delivery(d)) => log.deliveries.push(LogDelivery {
                at,
                account: d.account,
                address: d.address,
                kind,
                queue_id: d.queue_id,
                message_id: d.message_id,
                mailbox: d.mailbox,
            }),
            Some(Event::InboundConnect { ip }) => log.inbound.push((at, ip)),
            Some(Event::Refused(r)) => log.rejected.push(RejectedAttempt {
                at,
                outcome: r.outcome,
                client_host: r.client_host,
                client_address: r.client_address,
                sender: r.sender,
                recipient: r.recipient,
                reason: r.reason,
            }),
            None => {}
        }
    }
}

/// How the years of a log were fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YearAnchor {
    pub year_of_last_line: i32,
    pub source: YearSource,
    pub file_time: Option<DateTime<Utc>>,
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
/// or shortened) by first reading the rest of the rotated file, then the new file from its
/// beginning.
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    zone: LogZone,
    offset: u64,
    identity: Option<FileIdentity>,
    /// The first bytes of the followed file, to recognise it once rotated and compressed.
    head: Vec<u8>,
    scanner: Scanner,
    /// Absolute year of relative year 0.
    base_year: i32,
    partial: Vec<u8>,
}

/// Bytes compared to recognise a rotated file.
const HEAD_LEN: usize = 256;

/// Device and inode: a rotated file keeps them, its replacement does not.
type FileIdentity = (u64, u64);

fn identity(meta: &std::fs::Metadata) -> Option<FileIdentity> {
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
    /// Continues after the full parse: `current` is what it read of the current file (its
    /// offset and head) with the file's identity, `partial` an unfinished last line it left for
    /// the next poll.
    fn new(
        path: &Path,
        zone: LogZone,
        scanner: Scanner,
        base_year: i32,
        current: Option<(&[u8], Option<FileIdentity>)>,
        partial: Vec<u8>,
    ) -> Self {
        let (offset, head, identity) = match current {
            Some((text, identity)) => (
                text.len() as u64,
                text[..text.len().min(HEAD_LEN)].to_vec(),
                identity,
            ),
            None => (0, Vec::new(), None),
        };
        Self {
            path: path.to_path_buf(),
            zone,
            offset,
            identity,
            head,
            scanner,
            base_year,
            partial,
        }
    }

    /// The rest of the file this follower read before it was rotated: the rotation with the same
    /// identity, else the newest rotation (perhaps compressed since) that starts with the same
    /// bytes.
    fn rotated_rest(&self) -> Result<Vec<u8>> {
        if self.offset == 0 || self.identity.is_none() {
            return Ok(Vec::new());
        }
        let rotated = rotations(&self.path);
        let by_identity = rotated.iter().find(|(_, p)| {
            std::fs::metadata(p)
                .ok()
                .and_then(|m| identity(&m))
                .is_some_and(|id| Some(id) == self.identity)
        });
        let candidates: Vec<&PathBuf> = match by_identity {
            Some((_, p)) => vec![p],
            None => rotated.iter().rev().take(1).map(|(_, p)| p).collect(),
        };
        for path in candidates {
            let text = read_log(path)?;
            if text.len() as u64 >= self.offset && text.starts_with(&self.head) {
                return Ok(text[self.offset as usize..].to_vec());
            }
        }
        Ok(Vec::new())
    }

    /// New complete lines since the last call.
    pub fn poll(&mut self) -> Result<ParsedLog> {
        let mut log = ParsedLog::default();
        let Ok(meta) = std::fs::metadata(&self.path) else {
            return Ok(log);
        };
        if identity(&meta) != self.identity || meta.len() < self.offset {
            // Lines written to the old file between the last poll and its rotation.
            let rest = self.rotated_rest()?;
            if rest.is_empty() {
                // The rotated file is gone: what is left of an unfinished line cannot be read.
                self.partial.clear();
            } else {
                self.partial.extend_from_slice(&rest);
                if !self.partial.ends_with(b"\n") {
                    self.partial.push(b'\n');
                }
            }
            self.offset = 0;
            self.head.clear();
            self.identity = identity(&meta);
        }
        if meta.len() > self.offset {
            let mut file = File::open(&self.path).map_err(|source| CutoverError::Read {
                path: self.path.clone(),
                source,
            })?;
            use std::io::Seek;
            let mut appended = Vec::new();
            file.seek(std::io::SeekFrom::Start(self.offset))
                .and_then(|_| file.read_to_end(&mut appended))
                .map_err(|source| CutoverError::Read {
                    path: self.path.clone(),
                    source,
                })?;
            if self.offset == 0 {
                self.head = appended[..appended.len().min(HEAD_LEN)].to_vec();
            }
            self.offset += appended.len() as u64;
            self.partial.extend_from_slice(&appended);
        }
        // Keep an unfinished last line for the next poll.
        let complete = match self.partial.iter().rposition(|b| *b == b'\n') {
            Some(i) => self.partial.drain(..=i).collect::<Vec<u8>>(),
            None => return Ok(log),
        };
        let mut relative = Vec::new();
        let (lines, unparsed) = self.scanner.scan(&complete, &mut relative);
        log.lines = lines;
        log.unparsed = unparsed;
        resolve(
            relative,
            self.scanner.kind,
            self.base_year,
            self.zone,
            &mut log,
        );
        Ok(log)
    }
}

/// Full parse plus a follower that continues exactly where it stopped.
pub fn parse_and_follow(
    current: &Path,
    kind: LogKind,
    zone: LogZone,
    year_of_last_line: Option<i32>,
) -> Result<(ParsedLog, Vec<PathBuf>, Follower)> {
    let (log, files, _, follower) = parse_anchored(current, kind, zone, year_of_last_line)?;
    Ok((log, files, follower))
}

/// [`parse_and_follow`], also saying how the years were fixed (`None`: no dated line yet).
pub fn parse_anchored(
    current: &Path,
    kind: LogKind,
    zone: LogZone,
    year_of_last_line: Option<i32>,
) -> Result<(ParsedLog, Vec<PathBuf>, Option<YearAnchor>, Follower)> {
    let files = log_files(current);
    let mut scanner = Scanner::new(kind);
    let mut relative = Vec::new();
    let mut log = ParsedLog::default();
    let mut current_read = None;
    let mut partial = Vec::new();
    for f in &files {
        // The identity before reading: if the file is rotated meanwhile, the follower finds the
        // rest in the rotation.
        let id = (f == current)
            .then(|| std::fs::metadata(f).ok().and_then(|m| identity(&m)))
            .flatten();
        let text = read_log(f)?;
        if f == current {
            // An unfinished last line is the writer's, still being written: the follower
            // reads it once complete.
            let end = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            partial = text[end..].to_vec();
            let (lines, unparsed) = scanner.scan(&text[..end], &mut relative);
            log.lines += lines;
            log.unparsed += unparsed;
            current_read = Some((text, id));
        } else {
            let (lines, unparsed) = scanner.scan(&text, &mut relative);
            log.lines += lines;
            log.unparsed += unparsed;
        }
    }
    let (last, last_rel) = scanner.years.current();
    let anchor = match (last, year_of_last_line) {
        (Some(_), Some(y)) => Some(YearAnchor {
            year_of_last_line: y,
            source: YearSource::Given,
            file_time: None,
        }),
        (Some(last), None) => {
            let written = files
                .last()
                .and_then(|f| std::fs::metadata(f).ok())
                .and_then(|m| m.modified().ok())
                .map(DateTime::<Utc>::from);
            let (source, at) = match written {
                Some(t) => (YearSource::FileTime, t),
                None => (YearSource::CurrentDate, Utc::now()),
            };
            Some(YearAnchor {
                year_of_last_line: anchor_year(last, naive_in_zone(at, zone)),
                source,
                file_time: written,
            })
        }
        (None, _) => None,
    };
    let base_year = match anchor {
        Some(a) => a.year_of_last_line - last_rel,
        // No dated line yet: lines the follower reads later are written now.
        None => year_of_last_line.unwrap_or_else(|| naive_in_zone(Utc::now(), zone).year()),
    };
    resolve(relative, kind, base_year, zone, &mut log);
    let follower = Follower::new(
        current,
        zone,
        scanner,
        base_year,
        current_read.as_ref().map(|(t, id)| (t.as_slice(), *id)),
        partial,
    );
    Ok((log, files, anchor, follower))
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
        assert!(parse_stamp("Apr 31 09:14:04 x").is_none());
        assert_eq!(parse_stamp("Feb 29 09:14:04 x").unwrap().0.day, 29);
        assert!(parse_stamp("Feb 30 09:14:04 x").is_none());
        assert!(parse_stamp("Jan  1 25:14:04 x").is_none());
        assert!(parse_stamp("").is_none());
    }

    fn delivered(account: &str, address: Option<&str>, queue: Option<&str>) -> Event {
        Event::Delivery(Delivered {
            account: account.into(),
            address: address.map(Into::into),
            queue_id: queue.map(Into::into),
            ..Delivered::default()
        })
    }

    #[test]
    fn postfix_lines() {
        let l = "mail postfix/pipe[10238]: 7B2C02C4B3F: to=<jdoe@mail.example.com>, orig_to=<jane.doe@example.com>, relay=dovecot, delay=0.05, delays=0.01/0/0/0.04, dsn=2.0.0, status=sent (delivered via dovecot service)";
        assert_eq!(
            postfix_event(l),
            Some(delivered(
                "jdoe",
                Some("jane.doe@example.com"),
                Some("7B2C02C4B3F")
            ))
        );
        // The amavis hop is not a delivery into the store.
        let amavis = "mail postfix/smtp[1]: ABCDEF12: to=<jane.doe@example.com>, relay=127.0.0.1[127.0.0.1]:10024, delay=0.9, dsn=2.0.0, status=sent (250 ok)";
        assert_eq!(postfix_event(amavis), None);
        let deferred = "mail postfix/pipe[1]: ABCDEF12: to=<jdoe@mail.example.com>, relay=dovecot, delay=1, dsn=4.3.0, status=deferred (temporary failure)";
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
    fn postfix_queue_names_the_message_id_through_the_content_filter() {
        let mut q = PostfixQueues::default();
        for line in [
            "mail postfix/smtpd[1]: 3F1A82C4B1D: client=smtp.customer.example[198.51.100.23]",
            "mail postfix/cleanup[2]: 3F1A82C4B1D: message-id=<c0ffee01@customer.example>",
            "mail postfix/smtpd[3]: 7B2C02C4B3F: client=localhost[127.0.0.1]",
            "mail postfix/smtp[4]: 3F1A82C4B1D: to=<jane.doe@example.com>, relay=127.0.0.1[127.0.0.1]:10024, delay=0.94, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 7B2C02C4B3F)",
            "mail postfix/qmgr[5]: 3F1A82C4B1D: removed",
        ] {
            assert_eq!(q.event(line), None, "{line}");
        }
        let pipe = "mail postfix/pipe[6]: 7B2C02C4B3F: to=<jdoe@mail.example.com>, relay=dovecot, delay=0.05, dsn=2.0.0, status=sent (delivered via dovecot service)";
        let Some(Event::Delivery(d)) = q.event(pipe) else {
            panic!("no delivery");
        };
        assert_eq!(d.message_id.as_deref(), Some("c0ffee01@customer.example"));
        assert_eq!(q.event("mail postfix/qmgr[5]: 7B2C02C4B3F: removed"), None);
        assert!(q.queues.is_empty());
    }

    #[test]
    fn postfix_refusals() {
        let reject = "mail postfix/smtpd[9950]: NOQUEUE: reject: RCPT from unknown[203.0.113.120]: 550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table; from=<list@bulk.example> to=<nobody@example.com> proto=ESMTP helo=<bulk.example>";
        assert_eq!(
            postfix_event(reject),
            Some(Event::Refused(Refusal {
                outcome: AttemptOutcome::Rejected,
                client_host: None,
                client_address: Some("203.0.113.120".into()),
                sender: Some("list@bulk.example".into()),
                recipient: Some("nobody@example.com".into()),
                reason: "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table".into(),
            }))
        );
        let postscreen = "mail postfix/postscreen[77]: NOQUEUE: reject: RCPT from [203.0.113.5]:48210: 550 5.7.1 Service unavailable; client [203.0.113.5] blocked using zen.spamhaus.org; from=<a@spam.example>, to=<jdoe@example.com>, proto=ESMTP, helo=<spam.example>";
        assert_eq!(
            postfix_event(postscreen),
            Some(Event::Refused(Refusal {
                outcome: AttemptOutcome::Rejected,
                client_host: None,
                client_address: Some("203.0.113.5".into()),
                sender: Some("a@spam.example".into()),
                recipient: Some("jdoe@example.com".into()),
                reason: "550 5.7.1 Service unavailable; client [203.0.113.5] blocked using zen.spamhaus.org".into(),
            }))
        );
        let header = "mail postfix/cleanup[80]: 9A8B7C6D5E: reject: header Subject: win big from mx.bad.example[203.0.113.9]; from=<x@bad.example> to=<asmith@example.com> proto=ESMTP helo=<bad.example>: 5.7.1 message content rejected";
        assert_eq!(
            postfix_event(header),
            Some(Event::Refused(Refusal {
                outcome: AttemptOutcome::Rejected,
                client_host: Some("mx.bad.example".into()),
                client_address: Some("203.0.113.9".into()),
                sender: Some("x@bad.example".into()),
                recipient: Some("asmith@example.com".into()),
                reason: "5.7.1 message content rejected (header Subject: win big)".into(),
            }))
        );
        let discard = "mail postfix/smtpd[81]: NOQUEUE: discard: RCPT from mx.list.example[198.51.100.60]: <old-list@example.com>: Recipient address triggers DISCARD action; from=<list@list.example> to=<old-list@example.com> proto=ESMTP helo=<mx.list.example>";
        let Some(Event::Refused(d)) = postfix_event(discard) else {
            panic!("no discard");
        };
        assert_eq!(d.outcome, AttemptOutcome::Discarded);
        assert_eq!(
            d.reason,
            "<old-list@example.com>: Recipient address triggers DISCARD action"
        );
        let connect = "mail postfix/smtpd[82]: NOQUEUE: reject: CONNECT from unknown[203.0.113.77]: 554 5.7.1 <unknown[203.0.113.77]>: Client host rejected: Access denied; proto=SMTP";
        let Some(Event::Refused(c)) = postfix_event(connect) else {
            panic!("no connect reject");
        };
        assert_eq!((c.sender, c.recipient), (None, None));
        assert_eq!(
            c.reason,
            "554 5.7.1 <unknown[203.0.113.77]>: Client host rejected: Access denied"
        );
        // Warnings, the server's own users and loopback are not senders reaching the old MX.
        for line in [
            "mail postfix/smtpd[83]: NOQUEUE: reject_warning: RCPT from unknown[203.0.113.8]: 450 4.7.1 x; from=<a@b.example> to=<c@example.com> proto=ESMTP helo=<b>",
            "mail postfix/submission/smtpd[84]: NOQUEUE: reject: RCPT from laptop[192.0.2.31]: 554 5.7.1 <x@y.example>: Relay access denied; from=<jane.doe@example.com> to=<x@y.example> proto=ESMTP helo=<laptop>",
            "mail postfix/smtpd[85]: NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 550 5.1.1 <n@example.com>: Recipient address rejected; from=<> to=<n@example.com> proto=ESMTP helo=<localhost>",
        ] {
            assert_eq!(postfix_event(line), None, "{line}");
        }
    }

    #[test]
    fn content_filter_discard_and_bounce_at_the_store() {
        let mut q = PostfixQueues::default();
        q.event("mail postfix/smtpd[1]: 2C3D4E5F6A7: client=unknown[203.0.113.66]");
        q.event("mail postfix/qmgr[2]: 2C3D4E5F6A7: from=<billing@invoice-fraud.example>, size=1422, nrcpt=1 (queue active)");
        let line = "mail postfix/smtp[3]: 2C3D4E5F6A7: to=<asmith@example.com>, relay=127.0.0.1[127.0.0.1]:10024, delay=2.1, dsn=2.7.0, status=sent (250 2.7.0 Ok, discarded, id=00812-07 - INFECTED: Win.Trojan.FakeFixture-0000001-0)";
        assert_eq!(
            q.event(line),
            Some(Event::Refused(Refusal {
                outcome: AttemptOutcome::Discarded,
                client_host: None,
                client_address: Some("203.0.113.66".into()),
                sender: Some("billing@invoice-fraud.example".into()),
                recipient: Some("asmith@example.com".into()),
                reason: "INFECTED: Win.Trojan.FakeFixture-0000001-0".into(),
            }))
        );
        q.event("mail postfix/smtpd[1]: 4D5E6F7A8B: client=mx.other.example[198.51.100.40]");
        let bounced = "mail postfix/pipe[4]: 4D5E6F7A8B: to=<jdoe@mail.example.com>, orig_to=<jane.doe@example.com>, relay=dovecot, delay=0.1, dsn=5.2.2, status=bounced (Quota exceeded (mailbox for user is full))";
        let Some(Event::Refused(b)) = q.event(bounced) else {
            panic!("no bounce");
        };
        assert_eq!(b.outcome, AttemptOutcome::Bounced);
        assert_eq!(b.recipient.as_deref(), Some("jane.doe@example.com"));
        assert_eq!(b.reason, "Quota exceeded (mailbox for user is full)");
        // Mail a user submitted that the content filter discards is not a sender at the MX.
        q.event("mail postfix/submission/smtpd[5]: 5E6F7A8B9C: client=laptop[192.0.2.31], sasl_method=PLAIN, sasl_username=jdoe");
        let own = "mail postfix/smtp[6]: 5E6F7A8B9C: to=<x@example.net>, relay=127.0.0.1[127.0.0.1]:10024, delay=1, dsn=2.7.0, status=sent (250 2.7.0 Ok, discarded, id=1 - INFECTED: X)";
        assert_eq!(q.event(own), None);
    }

    #[test]
    fn dovecot_lines() {
        let lda = |account: &str, id: Option<&str>, mailbox: &str| {
            Some(Event::Delivery(Delivered {
                account: account.into(),
                message_id: id.map(Into::into),
                mailbox: Some(mailbox.into()),
                ..Delivered::default()
            }))
        };
        assert_eq!(
            dovecot_event("lda(pid 10239 user jdoe): Info: sieve: msgid=<a@b>: stored mail into mailbox 'INBOX'"),
            lda("jdoe", Some("a@b"), "INBOX")
        );
        assert_eq!(
            dovecot_event("lda(asmith): Info: msgid=<a@b>: saved mail to INBOX"),
            lda("asmith", Some("a@b"), "INBOX")
        );
        // Dovecot 2.2's LMTP prefix is "(pid, user)"; 2.3 puts pid and session after the user.
        assert_eq!(
            dovecot_event(
                "lmtp(8367, jdoe@example.com): Info: 6bL2: msgid=unspecified: saved mail to Junk"
            ),
            lda("jdoe", None, "Junk")
        );
        assert_eq!(
            dovecot_event("lda(bmueller)<4242><kJ8s>: sieve: msgid=<c@d>: stored mail into mailbox 'Rechnungen.2019'"),
            lda("bmueller", Some("c@d"), "Rechnungen.2019")
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
