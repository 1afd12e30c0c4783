//! The state DB: a ledger of what was copied, so that a re-run copies only what is missing and a
//! crash never leads to a second copy.
//!
//! Per account pair and source folder: the source UIDVALIDITY, the UIDNEXT up to which every
//! message was settled, HIGHESTMODSEQ and message count (the "unchanged?" check is one STATUS).
//! Per message: source key (UID, or the Maildir base name), size, identity, flags when copied,
//! destination folder and UID, and a state: `intent` (written, committed, *before* the APPEND), `copied`
//! (confirmed after it, with APPENDUID), `present` (already on the destination before we came).
//! An `intent` found at the start of a run is settled by looking at the destination, never by
//! copying again blindly.
//!
//! Older state files lack the columns added since (`message.flags`, `folder.source_token`): they
//! are added on open, NULL meaning "not recorded".

use rusqlite::{params, Connection, OptionalExtension};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::error::SyncError;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS folder (
    account TEXT NOT NULL,
    source_folder TEXT NOT NULL,
    dest_folder TEXT NOT NULL,
    source_uidvalidity INTEGER NOT NULL,
    source_uidnext INTEGER,
    source_messages INTEGER,
    source_highestmodseq INTEGER,
    source_token INTEGER,
    complete INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (account, source_folder)
);
CREATE TABLE IF NOT EXISTS message (
    account TEXT NOT NULL,
    source_folder TEXT NOT NULL,
    source_uidvalidity INTEGER NOT NULL,
    source_key TEXT NOT NULL,
    source_uid INTEGER,
    size INTEGER NOT NULL,
    identity TEXT NOT NULL,
    dest_folder TEXT NOT NULL,
    dest_uidvalidity INTEGER,
    dest_uid INTEGER,
    dest_uid_floor INTEGER,
    flags TEXT,
    state TEXT NOT NULL CHECK (state IN ('intent', 'copied', 'present')),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (account, source_folder, source_uidvalidity, source_key)
);
CREATE INDEX IF NOT EXISTS message_dest ON message (account, dest_folder, state);
CREATE TABLE IF NOT EXISTS failure (
    account TEXT NOT NULL,
    source_folder TEXT NOT NULL,
    source_uidvalidity INTEGER NOT NULL,
    source_key TEXT NOT NULL,
    source_uid INTEGER,
    size INTEGER NOT NULL,
    class TEXT NOT NULL,
    subject TEXT,
    date TEXT,
    server_text TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (account, source_folder, source_uidvalidity, source_key)
);
CREATE TABLE IF NOT EXISTS mapping (
    account TEXT NOT NULL,
    source_folder TEXT NOT NULL,
    dest_folder TEXT NOT NULL,
    role TEXT,
    reason TEXT NOT NULL,
    PRIMARY KEY (account, source_folder)
);
-- Bytes sent to the destination per account, for a daily upload budget (rolling 24 h): one row
-- per batch, written before its APPEND (a cut batch counts: the provider counted it too).
CREATE TABLE IF NOT EXISTS upload (
    account TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS upload_account ON upload (account, at_ms);
CREATE TABLE IF NOT EXISTS run (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    summary TEXT
);
"#;

/// Columns added after the first release, as (table, column, type): added to older state files.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("message", "flags", "TEXT"),
    ("folder", "source_token", "INTEGER"),
];

/// Flags as stored: sorted, deduplicated, space-separated (IMAP flags hold no spaces), without
/// `\Recent`. An empty set is the empty string; NULL means not recorded.
pub fn flags_text(flags: &[String]) -> String {
    let mut v: Vec<&str> = flags
        .iter()
        .map(String::as_str)
        .filter(|f| !f.is_empty() && !f.eq_ignore_ascii_case("\\Recent"))
        .collect();
    v.sort_unstable();
    v.dedup();
    v.join(" ")
}

fn flags_of(text: &str) -> Vec<String> {
    text.split(' ')
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect()
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

/// The stored state of one source folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderState {
    pub dest_folder: String,
    pub source_uidvalidity: u32,
    pub source_uidnext: Option<u32>,
    pub source_messages: Option<u32>,
    pub source_highestmodseq: Option<u64>,
    /// The source's change token ([`crate::side::Source::change_token`]) taken before the folder
    /// was last listed; equal now means untouched since.
    pub source_token: Option<u64>,
    pub complete: bool,
}

/// A message about to be appended (the intent row).
#[derive(Clone, Debug)]
pub struct Intent {
    pub source_key: String,
    pub source_uid: Option<u32>,
    pub size: u64,
    pub identity: String,
    /// Every destination UID assigned after this intent is at least this (for settling).
    pub dest_uid_floor: Option<u32>,
    /// Flags and keywords sent with the message (the baseline for later flag changes).
    pub flags: Vec<String>,
}

/// An unsettled intent found at start-up.
#[derive(Clone, Debug)]
pub struct PendingIntent {
    pub source_folder: String,
    pub source_uidvalidity: u32,
    pub source_key: String,
    pub size: u64,
    pub identity: String,
    pub dest_uid_floor: Option<u32>,
}

/// A recorded message row (for verification and re-identification).
#[derive(Clone, Debug)]
pub struct MessageRow {
    pub source_key: String,
    pub source_uid: Option<u32>,
    pub size: u64,
    pub identity: String,
    pub dest_folder: String,
    pub dest_uidvalidity: Option<u32>,
    pub dest_uid: Option<u32>,
    pub state: String,
}

/// A message found on the destination already: (source key, source UID, size, identity,
/// destination (UIDVALIDITY, UID), the source's flags).
pub type PresentRow = (
    String,
    Option<u32>,
    u64,
    String,
    Option<(u32, u32)>,
    Vec<String>,
);

/// Where a settled message of a source folder is on the destination, and the flags recorded for
/// it (`None`: recorded before flags were kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopiedRow {
    pub source_uid: Option<u32>,
    pub dest_folder: String,
    pub dest_uidvalidity: Option<u32>,
    pub dest_uid: Option<u32>,
    pub flags: Option<Vec<String>>,
}

/// A settled message whose destination UIDVALIDITY is not the folder's current one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleDestRow {
    pub source_folder: String,
    pub source_uidvalidity: u32,
    pub source_key: String,
    pub size: u64,
    pub identity: String,
    pub dest_uidvalidity: u32,
}

/// A failure or skip row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureRow {
    pub source_folder: String,
    pub source_uidvalidity: u32,
    pub source_key: String,
    pub source_uid: Option<u32>,
    pub size: u64,
    pub class: String,
    pub subject: Option<String>,
    pub date: Option<String>,
    pub server_text: String,
}

pub struct StateDb {
    conn: Connection,
    path: PathBuf,
    /// Held for as long as the ledger is open for writing (see [`StateLock`]).
    _lock: Option<StateLock>,
}

fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> SyncError + '_ {
    move |e| SyncError::State {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// One writing run per state file

/// The lock file beside a state file: `sync.sqlite` -> `sync.sqlite.lock`. A sibling, not the
/// SQLite file itself: SQLite takes its own locks on that one.
pub fn lock_path(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// An advisory lock (flock / LockFileEx) on the state file's `.lock` sibling, held while this
/// value lives. Two syncs on one ledger (a consultant's script and the app) would both see the
/// same messages as "not yet copied" and both append them: so a writing run holds it exclusively
/// for its whole length, and a second one stops at once. The system drops the lock when the
/// process ends, even by SIGKILL: there is never a stale lock to delete by hand.
///
/// Readers (dry run, verify) take it shared only for the moment they copy the ledger into memory
/// ([`StateDb::open_read_only`]); while a sync runs they read SQLite's own consistent snapshot
/// instead, so `ferry verify` may run alongside a sync (it then reports messages still in flight
/// as missing).
#[derive(Debug)]
pub struct StateLock {
    file: std::fs::File,
    exclusive: bool,
}

impl StateLock {
    /// Takes the exclusive lock of `state`'s ledger without waiting, and records this process
    /// in the lock file for whoever is refused next.
    pub fn exclusive(state: &Path) -> Result<StateLock, SyncError> {
        use std::io::{Read, Seek, Write};
        let lock = lock_path(state);
        let fail = |detail: String| SyncError::State {
            path: state.to_path_buf(),
            detail,
        };
        // Not truncated on open: the holder's line must survive until we own the lock. Mode
        // 0600 and no symbolic link followed, like the ledger itself.
        let mut file = ferry_safeio::fs::open_private(&lock)
            .map_err(|e| fail(format!("cannot open its lock file {}: {e}", lock.display())))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(fail(busy_text(&lock, holder.trim())));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(fail(format!("cannot lock {}: {e}", lock.display())))
            }
        }
        let line = format!(
            "process {} started {}\n",
            std::process::id(),
            chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
        );
        let record = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(line.as_bytes()));
        if let Err(e) = record {
            // The lock holds all the same; only the refusal message of a second run is poorer.
            tracing::warn!(lock = %lock.display(), "cannot record this process in the lock file: {e}");
        }
        Ok(StateLock {
            file,
            exclusive: true,
        })
    }

    /// Takes the lock shared without waiting, for reading the ledger while no sync writes it.
    /// `None`: a sync holds it (or there is no lock file: a ledger no sync has locked yet, which
    /// a reader does not create).
    fn shared(state: &Path) -> Option<StateLock> {
        let file = std::fs::File::open(lock_path(state)).ok()?;
        file.try_lock_shared().ok()?;
        Some(StateLock {
            file,
            exclusive: false,
        })
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // Empty while nobody writes: a refused sync then knows the holder is a reader.
        if self.exclusive {
            let _ = self.file.set_len(0);
        }
    }
}

fn busy_text(lock: &Path, holder: &str) -> String {
    let who = if holder.is_empty() {
        "a Ferry dry run or verify is reading it".to_string()
    } else {
        format!(
            "another Ferry run is using it ({holder}; lock file {})",
            lock.display()
        )
    };
    let stop = holder
        .strip_prefix("process ")
        .and_then(|rest| rest.split(' ').next())
        .map(|pid| format!(", or stop it (kill {pid})"))
        .unwrap_or_default();
    format!(
        "{who}. Two runs on one state file could copy messages twice, so this run stopped before \
         touching anything. Wait for that run to finish{stop}, then run again; to run at the same \
         time on other accounts, give this run its own --state file"
    )
}

impl StateDb {
    /// Opens (creating if needed) the state file, for a run that writes it: holds the exclusive
    /// [`StateLock`] for as long as the `StateDb` lives, and fails at once when another run holds
    /// it. WAL + synchronous=FULL: a committed intent survives a kill or a power cut, which is
    /// what makes "never copy twice" hold.
    pub fn open(path: &Path) -> Result<StateDb, SyncError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            ferry_safeio::fs::create_private_dir_all(dir).map_err(|e| SyncError::State {
                path: path.to_path_buf(),
                detail: format!("cannot create its folder: {e}"),
            })?;
        }
        let lock = StateLock::exclusive(path)?;
        // The ledger names accounts, folders and subjects: owner only (0600, its folder 0700
        // when Ferry creates it). SQLite gives its -wal and -shm files the mode of the database
        // file; ones left wider by an older version are narrowed here.
        ferry_safeio::fs::open_private(path).map_err(|e| SyncError::State {
            path: path.to_path_buf(),
            detail: format!("cannot open it: {e}"),
        })?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            ferry_safeio::fs::narrow_if_exists(Path::new(&side), ferry_safeio::fs::PRIVATE_FILE)
                .map_err(|e| SyncError::State {
                    path: path.to_path_buf(),
                    detail: format!("cannot make its {suffix} file private: {e}"),
                })?;
        }
        let conn = Connection::open(path).map_err(db_err(path))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(db_err(path))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err(path))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db_err(path))?;
        conn.execute_batch(SCHEMA).map_err(db_err(path))?;
        for (table, column, kind) in ADDED_COLUMNS {
            let has: bool = conn
                .query_row(
                    &format!("SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = ?1"),
                    params![column],
                    |r| r.get::<_, i64>(0),
                )
                .map_err(db_err(path))?
                > 0;
            if !has {
                conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))
                    .map_err(db_err(path))?;
            }
        }
        Ok(StateDb {
            conn,
            path: path.to_path_buf(),
            _lock: Some(lock),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> SyncError + '_ {
        db_err(&self.path)
    }

    pub fn folder(
        &self,
        account: &str,
        source_folder: &str,
    ) -> Result<Option<FolderState>, SyncError> {
        self.conn
            .query_row(
                "SELECT dest_folder, source_uidvalidity, source_uidnext, source_messages, source_highestmodseq, complete,
                    source_token
                 FROM folder WHERE account = ?1 AND source_folder = ?2",
                params![account, source_folder],
                |r| {
                    Ok(FolderState {
                        dest_folder: r.get(0)?,
                        source_uidvalidity: r.get(1)?,
                        source_uidnext: r.get(2)?,
                        source_messages: r.get(3)?,
                        source_highestmodseq: r.get::<_, Option<i64>>(4)?.map(|v| v as u64),
                        complete: r.get::<_, i64>(5)? != 0,
                        source_token: r.get::<_, Option<i64>>(6)?.map(|v| v as u64),
                    })
                },
            )
            .optional()
            .map_err(self.err())
    }

    pub fn put_folder(
        &self,
        account: &str,
        source_folder: &str,
        st: &FolderState,
    ) -> Result<(), SyncError> {
        self.conn
            .execute(
                "INSERT INTO folder (account, source_folder, dest_folder, source_uidvalidity, source_uidnext,
                    source_messages, source_highestmodseq, complete, updated_at, source_token)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (account, source_folder) DO UPDATE SET dest_folder = ?3, source_uidvalidity = ?4,
                    source_uidnext = ?5, source_messages = ?6, source_highestmodseq = ?7, complete = ?8, updated_at = ?9,
                    source_token = ?10",
                params![
                    account,
                    source_folder,
                    st.dest_folder,
                    st.source_uidvalidity,
                    st.source_uidnext,
                    st.source_messages,
                    st.source_highestmodseq.map(|v| v as i64),
                    st.complete as i64,
                    now(),
                    st.source_token.map(|v| v as i64)
                ],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Stores the folder plan that was used (shown by dry runs and the review phase).
    pub fn put_mapping(
        &self,
        account: &str,
        plan: &crate::mapping::FolderPlan,
    ) -> Result<(), SyncError> {
        let tx = self.conn.unchecked_transaction().map_err(self.err())?;
        tx.execute("DELETE FROM mapping WHERE account = ?1", params![account])
            .map_err(self.err())?;
        for m in &plan.folders {
            tx.execute(
                "INSERT INTO mapping (account, source_folder, dest_folder, role, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![account, m.source, m.dest, m.role.map(|r| format!("{r:?}")), m.reason],
            )
            .map_err(self.err())?;
        }
        tx.commit().map_err(self.err())
    }

    /// Source keys already settled (copied or present) or failed permanently in this folder.
    pub fn settled_keys(
        &self,
        account: &str,
        source_folder: &str,
        uidvalidity: u32,
    ) -> Result<HashSet<String>, SyncError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT source_key FROM message WHERE account = ?1 AND source_folder = ?2
                   AND source_uidvalidity = ?3 AND state IN ('copied', 'present')",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![account, source_folder, uidvalidity], |r| {
                r.get::<_, String>(0)
            })
            .map_err(self.err())?;
        rows.collect::<Result<HashSet<_>, _>>().map_err(self.err())
    }

    /// Writes intents for a batch in one transaction (one fsync per batch, not per message).
    pub fn write_intents(
        &self,
        account: &str,
        source_folder: &str,
        uidvalidity: u32,
        dest_folder: &str,
        intents: &[Intent],
    ) -> Result<(), SyncError> {
        self.write_intents_counted(
            account,
            source_folder,
            uidvalidity,
            dest_folder,
            intents,
            None,
        )
    }

    /// [`StateDb::write_intents`], and in the same transaction the batch's bytes as an upload at
    /// the given time (the daily budget's ledger, see [`StateDb::record_upload`]).
    pub fn write_intents_counted(
        &self,
        account: &str,
        source_folder: &str,
        uidvalidity: u32,
        dest_folder: &str,
        intents: &[Intent],
        upload: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<(), SyncError> {
        let tx = self.conn.unchecked_transaction().map_err(self.err())?;
        if let Some(at) = upload {
            let bytes: u64 = intents.iter().map(|i| i.size).sum();
            tx.execute(
                "INSERT INTO upload (account, at_ms, bytes) VALUES (?1, ?2, ?3)",
                params![account, at.timestamp_millis(), bytes as i64],
            )
            .map_err(self.err())?;
            tx.execute(
                "DELETE FROM upload WHERE account = ?1 AND at_ms < ?2",
                params![account, at.timestamp_millis() - 2 * 86_400_000],
            )
            .map_err(self.err())?;
        }
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO message (account, source_folder, source_uidvalidity, source_key, source_uid, size,
                        identity, dest_folder, dest_uid_floor, state, updated_at, flags)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'intent', ?10, ?11)
                     ON CONFLICT DO UPDATE SET state = 'intent', dest_folder = ?8, dest_uid_floor = ?9,
                        identity = ?7, size = ?6, updated_at = ?10, flags = ?11",
                )
                .map_err(self.err())?;
            let t = now();
            for i in intents {
                stmt.execute(params![
                    account,
                    source_folder,
                    uidvalidity,
                    i.source_key,
                    i.source_uid,
                    i.size as i64,
                    i.identity,
                    dest_folder,
                    i.dest_uid_floor,
                    t,
                    flags_text(&i.flags)
                ])
                .map_err(self.err())?;
            }
        }
        tx.commit().map_err(self.err())
    }

    /// Confirms appended messages (state `copied`) and drops intents that were certainly not
    /// appended (the server said NO), in one transaction.
    pub fn settle(
        &self,
        account: &str,
        source_folder: &str,
        uidvalidity: u32,
        copied: &[(String, Option<(u32, u32)>)],
        not_appended: &[String],
    ) -> Result<(), SyncError> {
        let tx = self.conn.unchecked_transaction().map_err(self.err())?;
        {
            let mut up = tx
                .prepare_cached(
                    "UPDATE message SET state = 'copied', dest_uidvalidity = ?5, dest_uid = ?6, updated_at = ?7
                     WHERE account = ?1 AND source_folder = ?2 AND source_uidvalidity = ?3 AND source_key = ?4",
                )
                .map_err(self.err())?;
            let t = now();
            for (key, uid) in copied {
                up.execute(params![
                    account,
                    source_folder,
                    uidvalidity,
                    key,
                    uid.map(|u| u.0),
                    uid.map(|u| u.1),
                    t
                ])
                .map_err(self.err())?;
            }
            let mut del = tx
                .prepare_cached(
                    "DELETE FROM message WHERE account = ?1 AND source_folder = ?2 AND source_uidvalidity = ?3
                       AND source_key = ?4 AND state = 'intent'",
                )
                .map_err(self.err())?;
            for key in not_appended {
                del.execute(params![account, source_folder, uidvalidity, key])
                    .map_err(self.err())?;
            }
            let mut clear = tx
                .prepare_cached(
                    "DELETE FROM failure WHERE account = ?1 AND source_folder = ?2 AND source_uidvalidity = ?3 AND source_key = ?4",
                )
                .map_err(self.err())?;
            for (key, _) in copied {
                clear
                    .execute(params![account, source_folder, uidvalidity, key])
                    .map_err(self.err())?;
            }
        }
        tx.commit().map_err(self.err())
    }

    /// Records messages found already on the destination (state `present`).
    pub fn record_present(
        &self,
        account: &str,
        source_folder: &str,
        uidvalidity: u32,
        dest_folder: &str,
        rows: &[PresentRow],
    ) -> Result<(), SyncError> {
        let tx = self.conn.unchecked_transaction().map_err(self.err())?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO message (account, source_folder, source_uidvalidity, source_key, source_uid, size,
                        identity, dest_folder, dest_uidvalidity, dest_uid, state, updated_at, flags)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'present', ?11, ?12)
                     ON CONFLICT DO UPDATE SET state = 'present', dest_folder = ?8, dest_uidvalidity = ?9,
                        dest_uid = ?10, updated_at = ?11, flags = ?12",
                )
                .map_err(self.err())?;
            let t = now();
            for (key, uid, size, identity, dest, flags) in rows {
                stmt.execute(params![
                    account,
                    source_folder,
                    uidvalidity,
                    key,
                    uid,
                    *size as i64,
                    identity,
                    dest_folder,
                    dest.map(|d| d.0),
                    dest.map(|d| d.1),
                    t,
                    flags_text(flags)
                ])
                .map_err(self.err())?;
            }
        }
        tx.commit().map_err(self.err())
    }

    /// Unsettled intents of an account, grouped by the caller per destination folder.
    pub fn pending_intents(
        &self,
        account: &str,
    ) -> Result<Vec<(String, PendingIntent)>, SyncError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT dest_folder, source_folder, source_uidvalidity, source_key, size, identity, dest_uid_floor
                 FROM message WHERE account = ?1 AND state = 'intent'",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![account], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    PendingIntent {
                        source_folder: r.get(1)?,
                        source_uidvalidity: r.get(2)?,
                        source_key: r.get(3)?,
                        size: r.get::<_, i64>(4)? as u64,
                        identity: r.get(5)?,
                        dest_uid_floor: r.get(6)?,
                    },
                ))
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// Destination UIDs (of one UIDVALIDITY) that the ledger already accounts for in a folder.
    pub fn claimed_dest_uids(
        &self,
        account: &str,
        dest_folder: &str,
        dest_uidvalidity: u32,
    ) -> Result<HashSet<u32>, SyncError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT dest_uid FROM message WHERE account = ?1 AND dest_folder = ?2 AND dest_uidvalidity = ?3
                   AND dest_uid IS NOT NULL AND state IN ('copied', 'present')",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![account, dest_folder, dest_uidvalidity], |r| {
                r.get::<_, u32>(0)
            })
            .map_err(self.err())?;
        rows.collect::<Result<HashSet<_>, _>>().map_err(self.err())
    }

    /// Highest destination UID the ledger knows in a folder (floor for the next intents).
    pub fn max_dest_uid(&self, account: &str, dest_folder: &str) -> Result<Option<u32>, SyncError> {
        self.conn
            .query_row(
                "SELECT MAX(dest_uid) FROM message WHERE account = ?1 AND dest_folder = ?2",
                params![account, dest_folder],
                |r| r.get::<_, Option<u32>>(0),
            )
            .map_err(self.err())
    }

    /// Where the settled messages of a source folder (this UIDVALIDITY) landed and the flags
    /// recorded for them, by source key.
    pub fn copied_rows(
        &self,
        account: &str,
        source_folder: &str,
        source_uidvalidity: u32,
    ) -> Result<HashMap<String, CopiedRow>, SyncError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT source_key, source_uid, dest_folder, dest_uidvalidity, dest_uid, flags FROM message
                 WHERE account = ?1 AND source_folder = ?2 AND source_uidvalidity = ?3
                   AND state IN ('copied', 'present')",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![account, source_folder, source_uidvalidity], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    CopiedRow {
                        source_uid: r.get(1)?,
                        dest_folder: r.get(2)?,
                        dest_uidvalidity: r.get(3)?,
                        dest_uid: r.get(4)?,
                        flags: r.get::<_, Option<String>>(5)?.as_deref().map(flags_of),
                    },
                ))
            })
            .map_err(self.err())?;
        rows.collect::<Result<HashMap<_, _>, _>>()
            .map_err(self.err())
    }

    /// Records the flags a source folder's messages now have on the destination, by source key.
    pub fn set_flags(
        &self,
        account: &str,
        source_folder: &str,
        source_uidvalidity: u32,
        flags: &[(String, Vec<String>)],
    ) -> Result<(), SyncError> {
        let tx = self.conn.unchecked_transaction().map_err(self.err())?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE message SET flags = ?5, updated_at = ?6
                     WHERE account = ?1 AND source_folder = ?2 AND source_uidvalidity = ?3 AND source_key = ?4",
                )
                .map_err(self.err())?;
            let t = now();
            for (key, f) in flags {
                stmt.execute(params![
                    account,
                    source_folder,
                    source_uidvalidity,
                    key,
                    flags_text(f),
                    t
                ])
                .map_err(self.err())?;
            }
        }
        tx.commit().map_err(self.err())
    }

    /// Whether the ledger knows destination UIDs in this folder (then a change of its
    /// UIDVALIDITY matters).
    pub fn has_dest_uids(&self, account: &str, dest_folder: &str) -> Result<bool, SyncError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM message WHERE account = ?1 AND dest_folder = ?2
                   AND state IN ('copied', 'present') AND dest_uidvalidity IS NOT NULL)",
                params![account, dest_folder],
                |r| r.get::<_, bool>(0),
            )
            .map_err(self.err())
    }

    /// Settled messages of a destination folder recorded under another destination UIDVALIDITY
    /// than `current` (the folder was deleted and recreated, or the host restored).
    pub fn stale_dest_rows(
        &self,
        account: &str,
        dest_folder: &str,
        current: u32,
    ) -> Result<Vec<StaleDestRow>, SyncError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT source_folder, source_uidvalidity, source_key, size, identity, dest_uidvalidity
                 FROM message WHERE account = ?1 AND dest_folder = ?2 AND state IN ('copied', 'present')
                   AND dest_uidvalidity IS NOT NULL AND dest_uidvalidity != ?3",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![account, dest_folder, current], |r| {
                Ok(StaleDestRow {
                    source_folder: r.get(0)?,
                    source_uidvalidity: r.get(1)?,
                    source_key: r.get(2)?,
                    size: r.get::<_, i64>(3)? as u64,
                    identity: r.get(4)?,
                    dest_uidvalidity: r.get(5)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// After a destination UIDVALIDITY change, in one transaction: rows found again on the
    /// destination move to their new UID (`found`: row, new UID), rows not found are dropped
    /// (`gone`) and their source folders are marked for a full listing, so that exactly those
    /// messages are copied again.
    pub fn rebind_dest(
        &self,
        account: &str,
        dest_folder: &str,
        new_uidvalidity: u32,
        found: &[(&StaleDestRow, u32)],
        gone: &[&StaleDestRow],
    ) -> Result<(), SyncError> {
        let tx = self.conn.unchecked_transaction().map_err(self.err())?;
        {
            let t = now();
            let mut up = tx
                .prepare_cached(
                    "UPDATE message SET dest_uidvalidity = ?6, dest_uid = ?7, updated_at = ?8
                     WHERE account = ?1 AND source_folder = ?2 AND source_uidvalidity = ?3 AND source_key = ?4
                       AND dest_folder = ?5",
                )
                .map_err(self.err())?;
            for (row, uid) in found {
                up.execute(params![
                    account,
                    row.source_folder,
                    row.source_uidvalidity,
                    row.source_key,
                    dest_folder,
                    new_uidvalidity,
                    uid,
                    t
                ])
                .map_err(self.err())?;
            }
            let mut del = tx
                .prepare_cached(
                    "DELETE FROM message WHERE account = ?1 AND source_folder = ?2 AND source_uidvalidity = ?3
                       AND source_key = ?4 AND dest_folder = ?5",
                )
                .map_err(self.err())?;
            let mut reopen = tx
                .prepare_cached(
                    "UPDATE folder SET source_uidnext = NULL, complete = 0, source_token = NULL, updated_at = ?3
                     WHERE account = ?1 AND source_folder = ?2",
                )
                .map_err(self.err())?;
            let mut reopened = HashSet::new();
            for row in gone {
                del.execute(params![
                    account,
                    row.source_folder,
                    row.source_uidvalidity,
                    row.source_key,
                    dest_folder
                ])
                .map_err(self.err())?;
                if reopened.insert(row.source_folder.as_str()) {
                    reopen
                        .execute(params![account, row.source_folder, t])
                        .map_err(self.err())?;
                }
            }
        }
        tx.commit().map_err(self.err())
    }

    /// All message rows of a source folder (any UIDVALIDITY), for verification and re-identification.
    pub fn messages(
        &self,
        account: &str,
        source_folder: &str,
    ) -> Result<Vec<(u32, MessageRow)>, SyncError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT source_uidvalidity, source_key, source_uid, size, identity, dest_folder, dest_uidvalidity, dest_uid, state
                 FROM message WHERE account = ?1 AND source_folder = ?2",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![account, source_folder], |r| {
                Ok((
                    r.get::<_, u32>(0)?,
                    MessageRow {
                        source_key: r.get(1)?,
                        source_uid: r.get(2)?,
                        size: r.get::<_, i64>(3)? as u64,
                        identity: r.get(4)?,
                        dest_folder: r.get(5)?,
                        dest_uidvalidity: r.get(6)?,
                        dest_uid: r.get(7)?,
                        state: r.get(8)?,
                    },
                ))
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// Moves rows recorded under an old source UIDVALIDITY to their new key (re-identification).
    pub fn rebind(
        &self,
        account: &str,
        source_folder: &str,
        old_uidvalidity: u32,
        new_uidvalidity: u32,
        moves: &[(String, String, Option<u32>)],
    ) -> Result<(), SyncError> {
        let tx = self.conn.unchecked_transaction().map_err(self.err())?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE message SET source_uidvalidity = ?4, source_key = ?5, source_uid = ?6, updated_at = ?7
                     WHERE account = ?1 AND source_folder = ?2 AND source_uidvalidity = ?3 AND source_key = ?8",
                )
                .map_err(self.err())?;
            let t = now();
            for (old_key, new_key, new_uid) in moves {
                stmt.execute(params![
                    account,
                    source_folder,
                    old_uidvalidity,
                    new_uidvalidity,
                    new_key,
                    new_uid,
                    t,
                    old_key
                ])
                .map_err(self.err())?;
            }
        }
        tx.commit().map_err(self.err())
    }

    /// Records a failed or skipped message (replacing an earlier record of the same message).
    pub fn record_failure(&self, account: &str, f: &FailureRow) -> Result<(), SyncError> {
        self.conn
            .execute(
                "INSERT INTO failure (account, source_folder, source_uidvalidity, source_key, source_uid, size, class,
                    subject, date, server_text, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT DO UPDATE SET class = ?7, subject = ?8, date = ?9, server_text = ?10, at = ?11, size = ?6",
                params![
                    account,
                    f.source_folder,
                    f.source_uidvalidity,
                    f.source_key,
                    f.source_uid,
                    f.size as i64,
                    f.class,
                    f.subject,
                    f.date,
                    f.server_text,
                    now()
                ],
            )
            .map_err(self.err())?;
        Ok(())
    }

    pub fn failures(&self, account: &str) -> Result<Vec<FailureRow>, SyncError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT source_folder, source_uidvalidity, source_key, source_uid, size, class, subject, date, server_text
                 FROM failure WHERE account = ?1 ORDER BY source_folder, source_uid",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![account], |r| {
                Ok(FailureRow {
                    source_folder: r.get(0)?,
                    source_uidvalidity: r.get(1)?,
                    source_key: r.get(2)?,
                    source_uid: r.get(3)?,
                    size: r.get::<_, i64>(4)? as u64,
                    class: r.get(5)?,
                    subject: r.get(6)?,
                    date: r.get(7)?,
                    server_text: r.get(8)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// Source keys with a recorded failure in a folder (retried on every run).
    pub fn failed_keys(
        &self,
        account: &str,
        source_folder: &str,
        uidvalidity: u32,
    ) -> Result<HashSet<String>, SyncError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT source_key FROM failure WHERE account = ?1 AND source_folder = ?2 AND source_uidvalidity = ?3",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![account, source_folder, uidvalidity], |r| {
                r.get::<_, String>(0)
            })
            .map_err(self.err())?;
        rows.collect::<Result<HashSet<_>, _>>().map_err(self.err())
    }

    /// Records `bytes` sent to the destination for `account` at `at` (the daily budget's
    /// ledger). Rows older than two days are dropped: the window is 24 h.
    pub fn record_upload(
        &self,
        account: &str,
        at: chrono::DateTime<chrono::Utc>,
        bytes: u64,
    ) -> Result<(), SyncError> {
        let at_ms = at.timestamp_millis();
        self.conn
            .execute(
                "INSERT INTO upload (account, at_ms, bytes) VALUES (?1, ?2, ?3)",
                params![account, at_ms, bytes as i64],
            )
            .map_err(self.err())?;
        self.conn
            .execute(
                "DELETE FROM upload WHERE account = ?1 AND at_ms < ?2",
                params![account, at_ms - 2 * 86_400_000],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Whether every folder of `account` in the ledger was completed by a run (and there is at
    /// least one): false for a first copy, or after a run that stopped early.
    pub fn account_complete(&self, account: &str) -> Result<bool, SyncError> {
        let (all, incomplete): (i64, i64) = self
            .conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(complete = 0), 0) FROM folder WHERE account = ?1",
                params![account],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.err())?;
        Ok(all > 0 && incomplete == 0)
    }

    /// Uploads of `account` after `since`, oldest first, as (time, bytes).
    pub fn uploads_since(
        &self,
        account: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<(chrono::DateTime<chrono::Utc>, u64)>, SyncError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT at_ms, bytes FROM upload WHERE account = ?1 AND at_ms > ?2 ORDER BY at_ms",
            )
            .map_err(self.err())?;
        let rows = st
            .query_map(params![account, since.timestamp_millis()], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(self.err())?;
        let mut out = Vec::new();
        for row in rows {
            let (ms, bytes) = row.map_err(self.err())?;
            if let Some(at) = chrono::DateTime::from_timestamp_millis(ms) {
                out.push((at, bytes.max(0) as u64));
            }
        }
        Ok(out)
    }

    /// How many of the account's messages are on the destination by the ledger: copied by any
    /// run, or found there already.
    pub fn messages_on_destination(&self, account: &str) -> Result<u64, SyncError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM message WHERE account = ?1 AND state IN ('copied', 'present')",
                params![account],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(self.err())
    }

    pub fn start_run(&self, account: &str) -> Result<i64, SyncError> {
        self.conn
            .execute(
                "INSERT INTO run (account, started_at) VALUES (?1, ?2)",
                params![account, now()],
            )
            .map_err(self.err())?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn finish_run(&self, id: i64, summary_json: &str) -> Result<(), SyncError> {
        self.conn
            .execute(
                "UPDATE run SET finished_at = ?2, summary = ?3 WHERE id = ?1",
                params![id, now(), summary_json],
            )
            .map_err(self.err())?;
        Ok(())
    }
}

impl StateDb {
    /// The ledger for a run that changes nothing (a dry run, a verification): a copy in memory of
    /// the state file as it is, or an empty ledger when there is no file. Nothing is written on
    /// disk, not even SQLite's -wal/-shm files (the file is read as immutable when no sync has
    /// it open). Costs memory about the size of the state file.
    pub fn open_read_only(path: &Path) -> Result<StateDb, SyncError> {
        let err = db_err(path);
        let conn = Connection::open_in_memory().map_err(&err)?;
        conn.execute_batch(SCHEMA).map_err(&err)?;
        // The review phase's table too, so that the copy carries it.
        conn.execute_batch(RESOLUTION_SCHEMA).map_err(&err)?;
        let db = StateDb {
            conn,
            path: path.to_path_buf(),
            _lock: None,
        };
        if !path.exists() {
            return Ok(db);
        }
        // Shared while copying: a sync cannot start (and checkpoint into the file) mid-copy.
        // Refused (a sync runs): that sync keeps the -wal/-shm files open, and reading through
        // them gives a consistent snapshot without creating anything.
        let lock = StateLock::shared(path);
        let wal = {
            let mut w = path.as_os_str().to_owned();
            w.push("-wal");
            PathBuf::from(w)
        };
        let writer_may_run = lock.is_none() && lock_path(path).exists();
        let immutable = !writer_may_run && !wal.exists();
        let absolute = std::fs::canonicalize(path).map_err(|e| SyncError::State {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        let uri = format!(
            "{}?mode=ro{}",
            sqlite_file_uri(&absolute),
            if immutable { "&immutable=1" } else { "" }
        );
        db.conn
            .execute("ATTACH DATABASE ?1 AS disk", params![uri])
            .map_err(&err)?;
        let copied = db.copy_attached();
        let detached = db.conn.execute_batch("DETACH DATABASE disk");
        drop(lock);
        copied.map_err(&err)?;
        detached.map_err(&err)?;
        Ok(db)
    }

    /// Copies every table of the attached `disk` ledger into this one, column by column as far as
    /// both have them (an older file lacks newer columns: NULL, "not recorded").
    fn copy_attached(&self) -> Result<(), rusqlite::Error> {
        let columns = |schema: &str, table: &str| -> Result<Vec<String>, rusqlite::Error> {
            let mut st = self
                .conn
                .prepare("SELECT name FROM pragma_table_info(?1, ?2)")?;
            let names = st
                .query_map(params![table, schema], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(names)
        };
        let tables: Vec<String> = {
            let mut st = self
                .conn
                .prepare("SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")?;
            let names = st
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            names
        };
        for table in tables {
            let theirs = columns("disk", &table)?;
            let common: Vec<String> = columns("main", &table)?
                .into_iter()
                .filter(|c| theirs.contains(c))
                .map(|c| format!("\"{c}\""))
                .collect();
            if common.is_empty() {
                continue;
            }
            let list = common.join(", ");
            self.conn.execute_batch(&format!(
                "INSERT INTO main.\"{table}\" ({list}) SELECT {list} FROM disk.\"{table}\""
            ))?;
        }
        Ok(())
    }
}

/// `file:` URI of an absolute path, for SQLite's URI parameters (`mode=ro`, `immutable=1`).
fn sqlite_file_uri(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let mut out = String::from(if text.starts_with('/') {
        "file:"
    } else {
        "file:/"
    });
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Resolutions (phase 5, review): a message the destination refuses for good, delivered wrapped
// (its original bytes attached to a short note) or exported to an mbox file. Written by
// `ferry_project::review`; kept apart from the engine's tables above.
//
// Resolving a message also writes its `message` row (state `copied` at the wrapped message's
// UID, or `present` without a destination UID for an mbox export) and drops its `failure` row,
// in one transaction: the engine then counts it as settled and never sends it again.

const RESOLUTION_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS resolution (
    account TEXT NOT NULL,
    source_folder TEXT NOT NULL,
    source_uidvalidity INTEGER NOT NULL,
    source_key TEXT NOT NULL,
    source_uid INTEGER,
    size INTEGER NOT NULL,
    subject TEXT,
    date TEXT,
    class TEXT NOT NULL,
    server_text TEXT NOT NULL,
    how TEXT NOT NULL CHECK (how IN ('wrapped', 'mbox')),
    state TEXT NOT NULL CHECK (state IN ('intent', 'done')),
    dest_folder TEXT,
    dest_uidvalidity INTEGER,
    dest_uid INTEGER,
    mbox_path TEXT,
    delivered_identity TEXT,
    at TEXT NOT NULL,
    PRIMARY KEY (account, source_folder, source_uidvalidity, source_key)
);
"#;

/// How a refused message was resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResolutionHow {
    /// Delivered as the attachment of a short note, in the same destination folder.
    Wrapped,
    /// Written to an mbox file.
    Mbox,
}

impl ResolutionHow {
    fn as_str(self) -> &'static str {
        match self {
            ResolutionHow::Wrapped => "wrapped",
            ResolutionHow::Mbox => "mbox",
        }
    }
}

/// One resolution row. `done == false`: the delivery was started and not confirmed (a crash or a
/// cut connection); the next attempt looks for it before delivering again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolutionRow {
    pub account: String,
    pub failure: FailureRow,
    pub how: ResolutionHow,
    pub done: bool,
    pub dest_folder: Option<String>,
    pub dest_uidvalidity: Option<u32>,
    pub dest_uid: Option<u32>,
    pub mbox_path: Option<String>,
    /// Identity of the wrapped message (found again by it after a crash).
    pub delivered_identity: Option<String>,
    /// When it was recorded (RFC 3339).
    pub at: String,
}

/// Where a resolved message ended up, for [`StateDb::finish_resolution`].
#[derive(Clone, Debug)]
pub struct ResolutionDone {
    /// The source message's identity and flags (its `message` row).
    pub identity: String,
    pub flags: Vec<String>,
    pub dest_folder: String,
    /// The wrapped message's (UIDVALIDITY, UID), when the destination said.
    pub dest_uid: Option<(u32, u32)>,
}

impl StateDb {
    fn ensure_resolution_table(&self) -> Result<(), SyncError> {
        self.conn
            .execute_batch(RESOLUTION_SCHEMA)
            .map_err(self.err())
    }

    /// Records that a resolution starts (before anything is delivered or written), replacing an
    /// earlier unfinished one of the same message.
    pub fn begin_resolution(
        &self,
        account: &str,
        failure: &FailureRow,
        how: ResolutionHow,
        dest_folder: Option<&str>,
        mbox_path: Option<&str>,
        delivered_identity: Option<&str>,
    ) -> Result<(), SyncError> {
        self.ensure_resolution_table()?;
        self.conn
            .execute(
                "INSERT INTO resolution (account, source_folder, source_uidvalidity, source_key, source_uid, size,
                    subject, date, class, server_text, how, state, dest_folder, mbox_path, delivered_identity, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'intent', ?12, ?13, ?14, ?15)
                 ON CONFLICT DO UPDATE SET how = ?11, state = 'intent', dest_folder = ?12, mbox_path = ?13,
                    delivered_identity = ?14, at = ?15, dest_uidvalidity = NULL, dest_uid = NULL
                 WHERE state = 'intent'",
                params![
                    account,
                    failure.source_folder,
                    failure.source_uidvalidity,
                    failure.source_key,
                    failure.source_uid,
                    failure.size as i64,
                    failure.subject,
                    failure.date,
                    failure.class,
                    failure.server_text,
                    how.as_str(),
                    dest_folder,
                    mbox_path,
                    delivered_identity,
                    now()
                ],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Confirms a resolution, in one transaction: the resolution is done, the source message is
    /// settled in the ledger (`copied` at the wrapped message's UID, or `present` without one for
    /// an mbox export) and its failure row is dropped.
    pub fn finish_resolution(
        &self,
        account: &str,
        source_folder: &str,
        source_uidvalidity: u32,
        source_key: &str,
        done: &ResolutionDone,
    ) -> Result<(), SyncError> {
        self.ensure_resolution_table()?;
        let tx = self.conn.unchecked_transaction().map_err(self.err())?;
        let t = now();
        let (source_uid, size, how): (Option<u32>, i64, String) = tx
            .query_row(
                "SELECT source_uid, size, how FROM resolution WHERE account = ?1 AND source_folder = ?2
                   AND source_uidvalidity = ?3 AND source_key = ?4",
                params![account, source_folder, source_uidvalidity, source_key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(self.err())?;
        tx.execute(
            "UPDATE resolution SET state = 'done', dest_folder = ?5, dest_uidvalidity = ?6, dest_uid = ?7, at = ?8
             WHERE account = ?1 AND source_folder = ?2 AND source_uidvalidity = ?3 AND source_key = ?4",
            params![
                account,
                source_folder,
                source_uidvalidity,
                source_key,
                done.dest_folder,
                done.dest_uid.map(|d| d.0),
                done.dest_uid.map(|d| d.1),
                t
            ],
        )
        .map_err(self.err())?;
        let state = if how == "wrapped" {
            "copied"
        } else {
            "present"
        };
        tx.execute(
            "INSERT INTO message (account, source_folder, source_uidvalidity, source_key, source_uid, size,
                identity, dest_folder, dest_uidvalidity, dest_uid, state, updated_at, flags)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT DO UPDATE SET state = ?11, dest_folder = ?8, dest_uidvalidity = ?9,
                dest_uid = ?10, updated_at = ?12, flags = ?13",
            params![
                account,
                source_folder,
                source_uidvalidity,
                source_key,
                source_uid,
                size,
                done.identity,
                done.dest_folder,
                done.dest_uid.map(|d| d.0),
                done.dest_uid.map(|d| d.1),
                state,
                t,
                flags_text(&done.flags)
            ],
        )
        .map_err(self.err())?;
        tx.execute(
            "DELETE FROM failure WHERE account = ?1 AND source_folder = ?2 AND source_uidvalidity = ?3 AND source_key = ?4",
            params![account, source_folder, source_uidvalidity, source_key],
        )
        .map_err(self.err())?;
        tx.commit().map_err(self.err())
    }

    /// The resolutions of an account (every account when `None`), finished or not. A ledger
    /// opened read-only (a copy in memory without this table) reads them from its file.
    pub fn resolutions(&self, account: Option<&str>) -> Result<Vec<ResolutionRow>, SyncError> {
        let has_table = |conn: &Connection| -> Result<bool, rusqlite::Error> {
            conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'resolution')",
                [],
                |r| r.get::<_, bool>(0),
            )
        };
        if has_table(&self.conn).map_err(self.err())? {
            return read_resolutions(&self.conn, account).map_err(self.err());
        }
        if self._lock.is_some() || !self.path.exists() {
            return Ok(Vec::new());
        }
        let absolute = std::fs::canonicalize(&self.path).map_err(|e| SyncError::State {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        let conn = Connection::open_with_flags(
            format!("{}?mode=ro", sqlite_file_uri(&absolute)),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(self.err())?;
        if !has_table(&conn).map_err(self.err())? {
            return Ok(Vec::new());
        }
        read_resolutions(&conn, account).map_err(self.err())
    }
}

fn read_resolutions(
    conn: &Connection,
    account: Option<&str>,
) -> Result<Vec<ResolutionRow>, rusqlite::Error> {
    let mut stmt = conn.prepare(
        "SELECT account, source_folder, source_uidvalidity, source_key, source_uid, size, class, subject, date,
            server_text, how, state, dest_folder, dest_uidvalidity, dest_uid, mbox_path, delivered_identity, at
         FROM resolution WHERE ?1 IS NULL OR account = ?1 ORDER BY account, source_folder, source_uid, source_key",
    )?;
    let rows = stmt.query_map(params![account], |r| {
        Ok(ResolutionRow {
            account: r.get(0)?,
            failure: FailureRow {
                source_folder: r.get(1)?,
                source_uidvalidity: r.get(2)?,
                source_key: r.get(3)?,
                source_uid: r.get(4)?,
                size: r.get::<_, i64>(5)? as u64,
                class: r.get(6)?,
                subject: r.get(7)?,
                date: r.get(8)?,
                server_text: r.get(9)?,
            },
            how: if r.get::<_, String>(10)? == "wrapped" {
                ResolutionHow::Wrapped
            } else {
                ResolutionHow::Mbox
            },
            done: r.get::<_, String>(11)? == "done",
            dest_folder: r.get(12)?,
            dest_uidvalidity: r.get(13)?,
            dest_uid: r.get(14)?,
            mbox_path: r.get(15)?,
            delivered_identity: r.get(16)?,
            at: r.get(17)?,
        })
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(key: &str, floor: Option<u32>) -> Intent {
        Intent {
            source_key: key.into(),
            source_uid: key.parse().ok(),
            size: 100,
            identity: format!("m:{key}"),
            dest_uid_floor: floor,
            flags: vec!["\\Seen".into()],
        }
    }

    #[test]
    fn intents_survive_reopen_and_settle() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        {
            let db = StateDb::open(&path).unwrap();
            db.write_intents(
                "a",
                "INBOX",
                7,
                "INBOX",
                &[intent("1", Some(1)), intent("2", Some(1))],
            )
            .unwrap();
            db.settle("a", "INBOX", 7, &[("1".into(), Some((99, 5)))], &[])
                .unwrap();
        }
        // As after a crash: one intent is still open.
        let db = StateDb::open(&path).unwrap();
        let pending = db.pending_intents("a").unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].0, "INBOX");
        assert_eq!(pending[0].1.source_key, "2");
        assert_eq!(
            db.settled_keys("a", "INBOX", 7).unwrap(),
            HashSet::from(["1".to_string()])
        );
        assert_eq!(
            db.claimed_dest_uids("a", "INBOX", 99).unwrap(),
            HashSet::from([5])
        );
        assert_eq!(db.max_dest_uid("a", "INBOX").unwrap(), Some(5));
        db.settle("a", "INBOX", 7, &[], &["2".into()]).unwrap();
        assert!(db.pending_intents("a").unwrap().is_empty());
        // Another UIDVALIDITY is another folder generation.
        assert!(db.settled_keys("a", "INBOX", 8).unwrap().is_empty());
    }

    #[test]
    fn folder_state_failures_and_rebind() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(&dir.path().join("s.db")).unwrap();
        assert!(db.folder("a", "Sent").unwrap().is_none());
        let st = FolderState {
            dest_folder: "Sent".into(),
            source_uidvalidity: 3,
            source_uidnext: Some(10),
            source_messages: Some(9),
            source_highestmodseq: Some(u64::from(u32::MAX) + 5),
            source_token: Some(u64::MAX - 3),
            complete: true,
        };
        db.put_folder("a", "Sent", &st).unwrap();
        assert_eq!(db.folder("a", "Sent").unwrap(), Some(st));
        let f = FailureRow {
            source_folder: "Sent".into(),
            source_uidvalidity: 3,
            source_key: "4".into(),
            source_uid: Some(4),
            size: 5,
            class: "too_big".into(),
            subject: Some("s".into()),
            date: None,
            server_text: "too big".into(),
        };
        db.record_failure("a", &f).unwrap();
        db.record_failure("a", &f).unwrap();
        assert_eq!(db.failures("a").unwrap(), vec![f]);
        db.write_intents("a", "Sent", 3, "Sent", &[intent("4", None)])
            .unwrap();
        db.settle("a", "Sent", 3, &[("4".into(), None)], &[])
            .unwrap();
        assert!(
            db.failures("a").unwrap().is_empty(),
            "a copy clears the failure"
        );
        db.rebind("a", "Sent", 3, 30, &[("4".into(), "40".into(), Some(40))])
            .unwrap();
        assert_eq!(
            db.settled_keys("a", "Sent", 30).unwrap(),
            HashSet::from(["40".to_string()])
        );
    }

    #[test]
    fn an_old_state_file_gets_the_new_columns_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        {
            // The schema as released before flags and change tokens were recorded.
            let old = SCHEMA
                .replace("    flags TEXT,\n", "")
                .replace("    source_token INTEGER,\n", "");
            assert_ne!(old, SCHEMA);
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(&old).unwrap();
            conn.execute(
                "INSERT INTO message (account, source_folder, source_uidvalidity, source_key, source_uid, size,
                    identity, dest_folder, dest_uidvalidity, dest_uid, state, updated_at)
                 VALUES ('a', 'INBOX', 7, '1', 1, 10, 'm:1', 'INBOX', 50, 3, 'copied', 'then')",
                [],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO folder (account, source_folder, dest_folder, source_uidvalidity, source_uidnext,
                    source_messages, complete, updated_at)
                 VALUES ('a', 'INBOX', 'INBOX', 7, 2, 1, 1, 'then')",
                [],
            )
            .unwrap();
        }
        let db = StateDb::open(&path).unwrap();
        let rows = db.copied_rows("a", "INBOX", 7).unwrap();
        assert_eq!(rows["1"].flags, None, "not recorded before the migration");
        assert_eq!(rows["1"].dest_uid, Some(3));
        assert_eq!(db.folder("a", "INBOX").unwrap().unwrap().source_token, None);
        db.set_flags("a", "INBOX", 7, &[("1".into(), vec!["\\Seen".into()])])
            .unwrap();
        drop(db);
        // Opening again finds the columns there and changes nothing.
        let db = StateDb::open(&path).unwrap();
        assert_eq!(
            db.copied_rows("a", "INBOX", 7).unwrap()["1"].flags,
            Some(vec!["\\Seen".to_string()])
        );
    }

    #[test]
    fn flags_are_recorded_sorted_without_recent() {
        assert_eq!(
            flags_text(&[
                "\\Seen".into(),
                "$Label1".into(),
                "\\Recent".into(),
                "\\Seen".into()
            ]),
            "$Label1 \\Seen"
        );
        assert_eq!(flags_text(&[]), "");
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(&dir.path().join("s.db")).unwrap();
        db.write_intents("a", "INBOX", 7, "INBOX", &[intent("1", Some(1))])
            .unwrap();
        // An intent is not settled: no row to compare flags against yet.
        assert!(db.copied_rows("a", "INBOX", 7).unwrap().is_empty());
        db.settle("a", "INBOX", 7, &[("1".into(), Some((50, 9)))], &[])
            .unwrap();
        let present: PresentRow = (
            "2".into(),
            Some(2),
            10,
            "m:2".into(),
            Some((50, 10)),
            vec![],
        );
        db.record_present("a", "INBOX", 7, "INBOX", &[present])
            .unwrap();
        let rows = db.copied_rows("a", "INBOX", 7).unwrap();
        assert_eq!(rows["1"].flags, Some(vec!["\\Seen".to_string()]));
        assert_eq!(rows["2"].flags, Some(vec![]));
        assert_eq!(rows["2"].dest_uid, Some(10));
    }

    #[test]
    fn a_recreated_destination_folder_rebinds_found_rows_and_drops_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(&dir.path().join("s.db")).unwrap();
        let st = FolderState {
            dest_folder: "Archive".into(),
            source_uidvalidity: 7,
            source_uidnext: Some(4),
            source_messages: Some(3),
            source_highestmodseq: Some(9),
            source_token: Some(1),
            complete: true,
        };
        db.put_folder("a", "Old", &st).unwrap();
        db.put_folder("a", "Other", &st).unwrap();
        let intents: Vec<_> = ["1", "2", "3"].iter().map(|k| intent(k, None)).collect();
        db.write_intents("a", "Old", 7, "Archive", &intents)
            .unwrap();
        db.settle(
            "a",
            "Old",
            7,
            &[
                ("1".into(), Some((50, 1))),
                ("2".into(), Some((50, 2))),
                ("3".into(), Some((60, 1))),
            ],
            &[],
        )
        .unwrap();
        // Row 3 is already under the new UIDVALIDITY 60: not stale.
        let stale = db.stale_dest_rows("a", "Archive", 60).unwrap();
        assert_eq!(stale.len(), 2, "{stale:?}");
        assert!(stale.iter().all(|r| r.dest_uidvalidity == 50));
        let one = stale.iter().find(|r| r.source_key == "1").unwrap();
        let two = stale.iter().find(|r| r.source_key == "2").unwrap();
        db.rebind_dest("a", "Archive", 60, &[(one, 5)], &[two])
            .unwrap();
        assert!(db.stale_dest_rows("a", "Archive", 60).unwrap().is_empty());
        assert_eq!(
            db.claimed_dest_uids("a", "Archive", 60).unwrap(),
            HashSet::from([1, 5])
        );
        assert_eq!(
            db.settled_keys("a", "Old", 7).unwrap(),
            HashSet::from(["1".to_string(), "3".to_string()])
        );
        // The folder that lost a message is listed in full next time; the other is untouched.
        let old = db.folder("a", "Old").unwrap().unwrap();
        assert_eq!(
            (old.complete, old.source_uidnext, old.source_token),
            (false, None, None)
        );
        assert_eq!(db.folder("a", "Other").unwrap().unwrap(), st);
    }
}
