//! A seeded, realistic corpus written straight into the old server's Maildir++ store, as years of
//! delivery would have left it: many folders (one non-ASCII), sizes from 2 KB to 10 MB, flags and
//! keywords, some messages without a Message-ID, some pairs sharing one, and exact duplicates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ferry_testkit::Dovecot;
use sha2::{Digest, Sha256};

/// Folder names as the old server lists them (UTF-8, `.` as separator).
const FOLDERS: &[&str] = &[
    "INBOX",
    "Clients",
    "Clients.ACME",
    "Clients.Globex",
    "Reports 2020",
    "Newsletters",
    "Invoices",
    "Invoices.2019",
    "Bücher",
    "Travel",
];

pub struct Message {
    pub folder: &'static str,
    pub bytes: Vec<u8>,
    pub flags: String,
    pub date: i64,
}

pub struct Corpus {
    pub messages: Vec<Message>,
}

/// What the source serves, per folder: (SHA-256 of the bytes, sorted flags, INTERNALDATE, size).
pub type Expected = BTreeMap<String, Vec<(String, Vec<String>, i64, u64)>>;

/// splitmix64: small, seeded, good enough to shape a corpus.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const WORDS: &[&str] = &[
    "meeting",
    "invoice",
    "project",
    "schedule",
    "quarterly",
    "report",
    "budget",
    "client",
    "delivery",
    "update",
    "review",
    "contract",
    "office",
    "printer",
    "server",
    "backup",
    "travel",
    "Grüße",
    "thanks",
    "please",
    "attached",
    "tomorrow",
    "agenda",
    "minutes",
    "draft",
    "final",
];

impl Corpus {
    pub fn generate(count: usize, seed: u64) -> Corpus {
        let mut rng = Rng::new(seed);
        let mut messages = Vec::with_capacity(count);
        let mut previous_ids: Vec<String> = Vec::new();
        let mut i = 0;
        while messages.len() < count {
            i += 1;
            let folder = FOLDERS[rng.below(FOLDERS.len() as u64) as usize];
            let size = pick_size(&mut rng);
            let date = 1_420_070_400 + rng.below(10 * 365 * 86_400) as i64; // 2015..2025
            let id = match rng.below(100) {
                0 => None, // no Message-ID
                1 if !previous_ids.is_empty() => {
                    Some(previous_ids[rng.below(previous_ids.len() as u64) as usize].clone())
                } // a shared one
                _ => Some(format!(
                    "<{i}.{seed}.{}@bench.example.com>",
                    rng.next() % 100_000
                )),
            };
            if let Some(id) = &id {
                previous_ids.push(id.clone());
            }
            let bytes = message_bytes(&mut rng, i, id.as_deref(), date, size);
            let flags = pick_flags(&mut rng);
            let duplicate = rng.below(500) == 0;
            messages.push(Message {
                folder,
                bytes,
                flags,
                date,
            });
            if duplicate && messages.len() < count {
                // The same message twice in one folder: both copies must arrive.
                let m = messages.last().expect("just pushed");
                let copy = Message {
                    folder: m.folder,
                    bytes: m.bytes.clone(),
                    flags: m.flags.clone(),
                    date: m.date,
                };
                messages.push(copy);
            }
        }
        Corpus { messages }
    }

    pub fn total_bytes(&self) -> u64 {
        self.messages.iter().map(|m| m.bytes.len() as u64).sum()
    }
    pub fn folders(&self) -> Vec<&str> {
        FOLDERS.to_vec()
    }
    pub fn without_message_id(&self) -> usize {
        self.messages
            .iter()
            .filter(|m| {
                !m.bytes.starts_with(b"Message-ID") && !contains(&m.bytes, b"\nMessage-ID:")
            })
            .count()
    }
    pub fn shared_message_ids(&self) -> usize {
        let mut ids: BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, ()>> = BTreeMap::new();
        for m in &self.messages {
            if let Some(id) = header(&m.bytes, b"Message-ID:") {
                ids.entry(id).or_default().insert(m.bytes.clone(), ());
            }
        }
        ids.values().filter(|v| v.len() > 1).map(|v| v.len()).sum()
    }

    /// Writes the corpus into `user`'s Maildir++ store and lets Dovecot index it (as years of use
    /// would have), so that every message has its UID before any tool runs.
    pub fn write_maildir(&self, server: &Dovecot, user: &str) {
        let root = server.mail_dir(user).to_path_buf();
        for folder in FOLDERS {
            let dir = folder_dir(&root, folder);
            for sub in ["cur", "new", "tmp"] {
                std::fs::create_dir_all(dir.join(sub)).expect("maildir folder");
            }
            if *folder != "INBOX" {
                std::fs::write(dir.join("maildirfolder"), b"").expect("maildirfolder");
            }
            std::fs::write(dir.join("dovecot-keywords"), "0 $Forwarded\n1 $NotJunk\n")
                .expect("dovecot-keywords");
        }
        for (i, m) in self.messages.iter().enumerate() {
            write_message(&folder_dir(&root, m.folder), "cur", i, m);
        }
        server.give_to_mail_user(&root);
        server.doveadm(&["mailbox", "status", "-u", user, "messages", "*"]);
    }

    /// New mail arriving at the old server: `count` messages in `new/`, not yet indexed.
    pub fn add_delta(&self, server: &Dovecot, user: &str, count: usize, seed: u64) {
        let extra = Corpus::generate(count, seed);
        let root = server.mail_dir(user).to_path_buf();
        for (i, mut m) in extra.messages.into_iter().enumerate() {
            m.flags.clear();
            write_message(&folder_dir(&root, m.folder), "new", 1_000_000 + i, &m);
        }
        server.give_to_mail_user(&root);
    }

    /// What the source serves over IMAP right now, per folder.
    pub fn expected(&self, server: &Dovecot, user: &str) -> Expected {
        let mut out = Expected::new();
        for folder in FOLDERS {
            let messages = server.messages(user, folder);
            out.insert(
                folder.to_string(),
                messages
                    .into_iter()
                    .map(|m| {
                        let mut flags = m.flags;
                        flags.sort();
                        (
                            hex::encode(Sha256::digest(&m.bytes)),
                            flags,
                            m.internal_date,
                            m.bytes.len() as u64,
                        )
                    })
                    .collect(),
            );
        }
        out
    }
}

fn folder_dir(root: &Path, folder: &str) -> PathBuf {
    if folder == "INBOX" {
        root.to_path_buf()
    } else {
        root.join(format!(".{}", ferry_testkit::mutf7_encode(folder)))
    }
}

fn write_message(dir: &Path, sub: &str, i: usize, m: &Message) {
    let info = if sub == "cur" {
        format!(":2,{}", m.flags)
    } else {
        String::new()
    };
    let name = format!("{}.M{i}P7.benchhost,S={}{info}", m.date, m.bytes.len());
    let path = dir.join(sub).join(name);
    std::fs::write(&path, &m.bytes).expect("write message");
    // Dovecot takes INTERNALDATE from the file's mtime.
    let t = libc::timespec {
        tv_sec: m.date as libc::time_t,
        tv_nsec: 0,
    };
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path and two valid timespecs.
    unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), [t, t].as_ptr(), 0) };
}

fn pick_size(rng: &mut Rng) -> usize {
    let r = rng.unit();
    let (lo, hi) = if r < 0.75 {
        (2_000, 12_000)
    } else if r < 0.95 {
        (12_000, 80_000)
    } else if r < 0.997 {
        (80_000, 600_000)
    } else {
        (1_000_000, 10_000_000)
    };
    lo + rng.below((hi - lo) as u64) as usize
}

/// Maildir info letters: system flags sorted, then keyword letters (`a` = $Forwarded, `b` = $NotJunk).
fn pick_flags(rng: &mut Rng) -> String {
    let mut f = String::new();
    if rng.below(100) < 5 {
        f.push('F');
    }
    if rng.below(100) < 8 {
        f.push('R');
    }
    if rng.below(100) < 65 {
        f.push('S');
    }
    if rng.below(100) < 4 {
        f.push('a');
    }
    if rng.below(100) < 3 {
        f.push('b');
    }
    f
}

fn message_bytes(rng: &mut Rng, i: usize, id: Option<&str>, date: i64, size: usize) -> Vec<u8> {
    let mut subject = String::new();
    for _ in 0..(3 + rng.below(5)) {
        subject.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
        subject.push(' ');
    }
    let mut m = String::new();
    m.push_str(&format!(
        "Return-Path: <sender{}@example.org>\nReceived: from mx.example.org by mail.example.com (Postfix) with ESMTP id B{i:08X}\n\tfor <bench@example.com>; {}\n",
        rng.below(50),
        rfc2822(date)
    ));
    if let Some(id) = id {
        m.push_str(&format!("Message-ID: {id}\n"));
    }
    m.push_str(&format!(
        "Date: {}\nFrom: Sender {} <sender{}@example.org>\nTo: bench@example.com\nSubject: {}#{i}\nMIME-Version: 1.0\n",
        rfc2822(date),
        rng.below(50),
        rng.below(50),
        subject.trim_end()
    ));
    let text_len = size.min(20_000).saturating_sub(m.len() + 200);
    let mut text = String::new();
    while text.len() < text_len {
        text.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
        text.push(if rng.below(12) == 0 { '\n' } else { ' ' });
    }
    if size <= 20_000 {
        m.push_str("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n");
        m.push_str(&text);
        m.push('\n');
        return m.into_bytes();
    }
    let boundary = format!("=_bench_{i}");
    m.push_str(&format!(
        "Content-Type: multipart/mixed; boundary=\"{boundary}\"\n\n--{boundary}\nContent-Type: text/plain; charset=utf-8\n\n{text}\n--{boundary}\nContent-Type: application/pdf; name=\"scan{i}.pdf\"\nContent-Transfer-Encoding: base64\n\n"
    ));
    let attachment = size.saturating_sub(m.len() + 100) / 4 * 3;
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut line = 0;
    let mut body = Vec::with_capacity(attachment * 4 / 3 + attachment / 57 + 8);
    for _ in 0..attachment / 3 {
        let n = rng.next();
        for k in 0..4 {
            body.push(B64[((n >> (6 * k)) & 63) as usize]);
        }
        line += 4;
        if line == 76 {
            body.push(b'\n');
            line = 0;
        }
    }
    let mut bytes = m.into_bytes();
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(format!("\n--{boundary}--\n").as_bytes());
    bytes
}

fn rfc2822(t: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{}, {d} {} {y} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn header(bytes: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    bytes
        .split(|b| *b == b'\n')
        .take_while(|l| !l.is_empty())
        .find(|l| l.starts_with(name))
        .map(|l| l[name.len()..].to_vec())
}
