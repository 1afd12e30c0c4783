//! The state DB: a ledger of what was copied, so that a re-run copies only what is missing and a
//! crash never leads to a second copy.
//!
//! Per account pair and source folder: the source UIDVALIDITY, the UIDNEXT up to which every
//! message was settled, HIGHESTMODSEQ and message count (the "unchanged?" check is one STATUS).
//! Per message: source key (UID, or the Maildir base name), size, identity, SHA-256, destination
//! folder and UID, and a state: `intent` (written, committed, *before* the APPEND), `copied`
//! (confirmed after it, with APPENDUID), `present` (already on the destination before we came).
//! An `intent` found at the start of a run is settled by looking at the destination, never by
//! copying again blindly.

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
CREATE TABLE IF NOT EXISTS run (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    summary TEXT
);
"#;

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
/// destination (UIDVALIDITY, UID)).
pub type PresentRow = (String, Option<u32>, u64, String, Option<(u32, u32)>);

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
}

fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> SyncError + '_ {
    move |e| SyncError::State {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

impl StateDb {
    /// Opens (creating if needed) the state file. WAL + synchronous=FULL: a committed intent
    /// survives a kill or a power cut, which is what makes "never copy twice" hold.
    pub fn open(path: &Path) -> Result<StateDb, SyncError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| SyncError::State {
                path: path.to_path_buf(),
                detail: format!("cannot create its folder: {e}"),
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
        Ok(StateDb {
            conn,
            path: path.to_path_buf(),
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
                "SELECT dest_folder, source_uidvalidity, source_uidnext, source_messages, source_highestmodseq, complete
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
                    source_messages, source_highestmodseq, complete, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (account, source_folder) DO UPDATE SET dest_folder = ?3, source_uidvalidity = ?4,
                    source_uidnext = ?5, source_messages = ?6, source_highestmodseq = ?7, complete = ?8, updated_at = ?9",
                params![
                    account,
                    source_folder,
                    st.dest_folder,
                    st.source_uidvalidity,
                    st.source_uidnext,
                    st.source_messages,
                    st.source_highestmodseq.map(|v| v as i64),
                    st.complete as i64,
                    now()
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
        let tx = self.conn.unchecked_transaction().map_err(self.err())?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO message (account, source_folder, source_uidvalidity, source_key, source_uid, size,
                        identity, dest_folder, dest_uid_floor, state, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'intent', ?10)
                     ON CONFLICT DO UPDATE SET state = 'intent', dest_folder = ?8, dest_uid_floor = ?9,
                        identity = ?7, size = ?6, updated_at = ?10",
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
                    t
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
                        identity, dest_folder, dest_uidvalidity, dest_uid, state, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'present', ?11)
                     ON CONFLICT DO UPDATE SET state = 'present', dest_folder = ?8, dest_uidvalidity = ?9,
                        dest_uid = ?10, updated_at = ?11",
                )
                .map_err(self.err())?;
            let t = now();
            for (key, uid, size, identity, dest) in rows {
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
                    t
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

    /// Where the settled messages of a source folder (this UIDVALIDITY) landed, by source UID:
    /// (destination folder, destination UIDVALIDITY, destination UID). Rows without a known
    /// destination UID (no UIDPLUS) are left out.
    pub fn dest_uids(
        &self,
        account: &str,
        source_folder: &str,
        source_uidvalidity: u32,
    ) -> Result<HashMap<u32, (String, u32, u32)>, SyncError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT source_uid, dest_folder, dest_uidvalidity, dest_uid FROM message
                 WHERE account = ?1 AND source_folder = ?2 AND source_uidvalidity = ?3
                   AND state != 'intent' AND source_uid IS NOT NULL
                   AND dest_uid IS NOT NULL AND dest_uidvalidity IS NOT NULL",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![account, source_folder, source_uidvalidity], |r| {
                Ok((r.get::<_, u32>(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))
            })
            .map_err(self.err())?;
        rows.collect::<Result<HashMap<_, _>, _>>()
            .map_err(self.err())
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
}
