//! The migration project: one SQLite file that holds everything a migration knows and no secret:
//! the source and its inventory snapshots, the destination, the account plan, the references to
//! the passwords in the vault and the login checks, the decisions the admin took on discovery's
//! warnings, every run of every phase, and the cut-over facts.
//!
//! The engine's ledger (which message went where) lives beside it, in `<file>.sync.sqlite`: it
//! is written after every batch under its own writer lock (`ferry-sync` owns its schema), and a
//! sync that runs for days must never keep the app or `ferry status` from reading the project.
//!
//! The file's layout version is SQLite's `user_version`: a newer Ferry upgrades an older file in
//! one transaction (and imports the previous release's `migration.json` found beside it); an
//! older Ferry refuses a newer file and says so, leaving it untouched.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use ferry_discover::Inventory;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::destination::Destination;
use crate::plan::{AccountChange, AccountKind, PlannedAccount, SourceMethod};
use crate::store::{Migration, ProjectStore, Source};

/// The layout version this Ferry writes (SQLite `user_version`).
pub const FORMAT: u32 = 1;
/// SQLite `application_id` of a Ferry project ("FERY"): another SQLite file is not mistaken
/// for a migration.
const APPLICATION_ID: i32 = 0x4645_5259;
/// The file name in the data folder.
pub const FILE_NAME: &str = "migration.ferry";

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("cannot open the migration file {path}: {reason}. Check the folder's permissions and free disk space")]
    Open { path: PathBuf, reason: String },
    #[error("{path} is not a Ferry migration file ({reason}). Choose the right file, or move it aside to start a new migration")]
    NotAProject { path: PathBuf, reason: String },
    #[error("the migration file {path} was written by a newer Ferry (layout {found}; this Ferry reads up to {FORMAT}). Use that newer Ferry; the file was not changed")]
    TooNew { path: PathBuf, found: u32 },
    #[error("the migration file {path} could not be read or written: {reason}")]
    Database { path: PathBuf, reason: String },
    #[error("the previous release's migration file {path} could not be imported: {reason}. It was left as it is")]
    Legacy { path: PathBuf, reason: String },
    #[error("no account {0:?} in the migration plan; run Discover first, or check the address")]
    NoSuchAccount(String),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = ProjectError> = std::result::Result<T, E>;

/// One inventory as discovery found it, with when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Snapshot {
    pub inventory: Inventory,
    /// Unix seconds.
    #[ts(type = "number")]
    pub taken_at: i64,
}

/// Every run of every phase: when, with what, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PhaseRun {
    #[ts(type = "number")]
    pub id: i64,
    /// `discover`, `initial_sync`, `dns_watch`, ... (the job or phase name).
    pub phase: String,
    #[ts(type = "number")]
    pub started_at: i64,
    #[ts(type = "number | null")]
    pub ended_at: Option<i64>,
    pub outcome: RunOutcome,
    /// What the run was asked to do (never a secret).
    #[ts(type = "unknown")]
    pub inputs: serde_json::Value,
    /// What it found or did (the phase's report).
    #[ts(type = "unknown")]
    pub result: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum RunOutcome {
    /// Started and not ended: still running, or the process died (a later run settles it).
    Running,
    Succeeded,
    /// Ended with something for the admin to look at (failed messages, a resolver failing).
    Attention,
    Failed,
    Cancelled,
}

/// The cut-over's dates and the admin's confirmations, Unix seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CutoverFacts {
    #[ts(type = "number | null")]
    pub ttl_lowered_at: Option<i64>,
    /// The admin said the MX records were switched.
    #[ts(type = "number | null")]
    pub mx_switched_at: Option<i64>,
    /// Every resolver answered only the new MX.
    #[ts(type = "number | null")]
    pub dns_all_new_at: Option<i64>,
    #[ts(type = "number | null")]
    pub delta_synced_at: Option<i64>,
    #[ts(type = "number | null")]
    pub final_synced_at: Option<i64>,
    #[ts(type = "number | null")]
    pub last_mail_seen_at: Option<i64>,
    #[ts(type = "number | null")]
    pub profiles_exported_at: Option<i64>,
    #[ts(type = "number | null")]
    pub quarantine_archived_at: Option<i64>,
    /// The admin confirmed a clone or backup of the old server is kept.
    #[ts(type = "number | null")]
    pub clone_kept_at: Option<i64>,
}

/// Names of [`CutoverFacts`] fields, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Fact {
    TtlLoweredAt,
    MxSwitchedAt,
    DnsAllNewAt,
    DeltaSyncedAt,
    FinalSyncedAt,
    LastMailSeenAt,
    ProfilesExportedAt,
    QuarantineArchivedAt,
    CloneKeptAt,
}

impl Fact {
    fn key(self) -> &'static str {
        match self {
            Fact::TtlLoweredAt => "ttl_lowered_at",
            Fact::MxSwitchedAt => "mx_switched_at",
            Fact::DnsAllNewAt => "dns_all_new_at",
            Fact::DeltaSyncedAt => "delta_synced_at",
            Fact::FinalSyncedAt => "final_synced_at",
            Fact::LastMailSeenAt => "last_mail_seen_at",
            Fact::ProfilesExportedAt => "profiles_exported_at",
            Fact::QuarantineArchivedAt => "quarantine_archived_at",
            Fact::CloneKeptAt => "clone_kept_at",
        }
    }
}

/// The admin's answer to a discovery warning that asks for a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Decision {
    /// The warning's code (`orphan_store`, ...).
    pub code: String,
    /// The warning's subject (an address, a GUID), empty when it has none.
    pub subject: String,
    /// What was decided, in the admin's words or a fixed choice (`copy`, `skip`, `noted`).
    pub decision: String,
    #[ts(type = "number")]
    pub decided_at: i64,
}

/// Which side of the migration a login belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum LoginSide {
    Source,
    Destination,
}

impl LoginSide {
    fn as_str(self) -> &'static str {
        match self {
            LoginSide::Source => "source",
            LoginSide::Destination => "destination",
        }
    }
}

/// The last login check of one account on one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LoginCheckRecord {
    pub account: String,
    pub side: LoginSide,
    /// `ok`, `wrong_password`, `disabled`, ... (the vault's check status, snake case).
    pub status: String,
    /// What to do, in words; empty when ok.
    pub advice: String,
    #[ts(type = "number")]
    pub checked_at: i64,
}

/// A migration project file, open.
pub struct Project {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Project {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Project").field("path", &self.path).finish()
    }
}

/// The data folder: `FERRY_PROJECT_DIR` (the app's older override), else
/// `~/Library/Application Support/Ferry` on macOS, `$XDG_DATA_HOME/ferry` elsewhere.
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FERRY_PROJECT_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| ".".into());
    if cfg!(target_os = "macos") {
        return home.join("Library/Application Support/Ferry");
    }
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home.join(".local/share"))
        .join("ferry")
}

impl Project {
    /// `FERRY_PROJECT` when set, else `migration.ferry` in [`data_dir`].
    pub fn default_path() -> PathBuf {
        std::env::var_os("FERRY_PROJECT")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir().join(FILE_NAME))
    }

    /// Whether a project file exists at `path` (without creating one).
    pub fn exists(path: &Path) -> bool {
        path.is_file()
    }

    /// Opens the project at `path`, creating it (mode 0600, its folder 0700) when absent. A new
    /// file takes over the previous release's `migration.json` found in the same folder (which
    /// is then kept as `migration.json.imported`). An older layout is upgraded; a newer one is
    /// refused and left untouched.
    pub fn open(path: &Path) -> Result<Project> {
        let fresh = !path.exists();
        if fresh {
            create_private_file(path).map_err(|e| ProjectError::Open {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        }
        let conn = Connection::open(path).map_err(|e| ProjectError::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let mut project = Project {
            conn,
            path: path.to_path_buf(),
        };
        project.upgrade()?;
        if fresh {
            let legacy = path
                .parent()
                .unwrap_or(Path::new("."))
                .join(ProjectStore::FILE_NAME);
            if legacy.is_file() {
                project.import_legacy(&legacy)?;
            }
        }
        Ok(project)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The engine's ledger for this project (see the module's note on why it is a second file).
    pub fn sync_state_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".sync.sqlite");
        PathBuf::from(name)
    }

    fn db_err(&self, e: impl std::fmt::Display) -> ProjectError {
        ProjectError::Database {
            path: self.path.clone(),
            reason: e.to_string(),
        }
    }

    fn upgrade(&mut self) -> Result<()> {
        let (version, app_id): (u32, i32) = self
            .conn
            .query_row(
                "SELECT (SELECT user_version FROM pragma_user_version), (SELECT application_id FROM pragma_application_id)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| ProjectError::NotAProject {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        if version > FORMAT {
            return Err(ProjectError::TooNew {
                path: self.path.clone(),
                found: version,
            });
        }
        if app_id != 0 && app_id != APPLICATION_ID {
            return Err(ProjectError::NotAProject {
                path: self.path.clone(),
                reason: "it is a database of another program".into(),
            });
        }
        if version == 0 {
            let tables: i64 = self
                .conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(|e| self.db_err(e))?;
            if tables > 0 && app_id != APPLICATION_ID {
                return Err(ProjectError::NotAProject {
                    path: self.path.clone(),
                    reason: "it is a database of another program".into(),
                });
            }
        }
        let _ = self.conn.pragma_update(None, "journal_mode", "WAL");
        let tx = self
            .conn
            .transaction()
            .map_err(|e| ProjectError::Database {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        // Each step takes the layout from version i to i + 1; a new layout adds a step.
        const STEPS: [&str; 1] = [SCHEMA_V1];
        for step in &STEPS[version as usize..] {
            tx.execute_batch(step).map_err(|e| ProjectError::Database {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        }
        tx.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {FORMAT};"
        ))
        .and_then(|_| tx.commit())
        .map_err(|e| ProjectError::Database {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        restrict_sidecars(&self.path);
        Ok(())
    }

    /// Takes over the previous release's `migration.json` (source and last inventory). The
    /// JSON file is kept, renamed, so nothing is lost if this Ferry is given up for the old one.
    pub fn import_legacy(&mut self, json: &Path) -> Result<()> {
        let legacy_err = |reason: String| ProjectError::Legacy {
            path: json.to_path_buf(),
            reason,
        };
        let store = ProjectStore::at(json);
        let Some(Migration {
            source,
            inventory,
            discovered_at,
            ..
        }) = store.load().map_err(|e| legacy_err(e.to_string()))?
        else {
            return Ok(());
        };
        self.set_source(&source)?;
        if let Some(inventory) = inventory {
            self.record_inventory(&inventory, discovered_at.unwrap_or(0))?;
        }
        self.log_run(
            "import",
            discovered_at.unwrap_or(0),
            &serde_json::json!({ "file": json.display().to_string() }),
        )
        .and_then(|id| {
            self.end_run(
                id,
                discovered_at.unwrap_or(0),
                RunOutcome::Succeeded,
                &serde_json::json!({"imported": "source and inventory"}),
            )
        })?;
        let mut kept = json.as_os_str().to_owned();
        kept.push(".imported");
        std::fs::rename(json, PathBuf::from(kept)).map_err(|e| legacy_err(e.to_string()))?;
        Ok(())
    }

    // --- source and inventory ------------------------------------------------------------

    pub fn source(&self) -> Result<Option<Source>> {
        self.get_json("source")
    }

    /// Sets where the old server is read from. Changing it forgets the plan made from the
    /// previous source's inventory (the runs stay in the log).
    pub fn set_source(&mut self, source: &Source) -> Result<()> {
        if self.source()?.as_ref() != Some(source) {
            self.conn
                .execute("DELETE FROM accounts", [])
                .map_err(|e| self.db_err(e))?;
        }
        self.put_json("source", source)
    }

    /// The newest inventory.
    pub fn inventory(&self) -> Result<Option<Snapshot>> {
        self.conn
            .query_row(
                "SELECT json, taken_at FROM inventories ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()
            .map_err(|e| self.db_err(e))?
            .map(|(json, taken_at)| {
                serde_json::from_str(&json)
                    .map(|inventory| Snapshot {
                        inventory,
                        taken_at,
                    })
                    .map_err(|e| self.db_err(e))
            })
            .transpose()
    }

    /// How many inventories were taken (every discovery keeps its snapshot).
    pub fn inventory_count(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT count(*) FROM inventories", [], |r| r.get(0))
            .map_err(|e| self.db_err(e))
    }

    /// Keeps a new inventory and brings the account plan up to date with it: new accounts are
    /// added with the defaults, known ones keep the admin's choices and get the new sizes.
    pub fn record_inventory(&mut self, inventory: &Inventory, taken_at: i64) -> Result<()> {
        let json = serde_json::to_string(inventory).map_err(|e| self.db_err(e))?;
        let fresh = crate::plan::plan_from_inventory(inventory, self.destination()?.as_ref());
        let path = self.path.clone();
        let db = |e: rusqlite::Error| ProjectError::Database {
            path: path.clone(),
            reason: e.to_string(),
        };
        let tx = self.conn.transaction().map_err(db)?;
        tx.execute(
            "INSERT INTO inventories (taken_at, json) VALUES (?1, ?2)",
            params![taken_at, json],
        )
        .map_err(db)?;
        for (position, account) in fresh.iter().enumerate() {
            tx.execute(
                "INSERT INTO accounts (source_address, login, guid, store, dest_address, included, method, kind, messages, bytes, position)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT(source_address) DO UPDATE SET login = ?2, guid = ?3, store = ?4,
                   messages = ?9, bytes = ?10, position = ?11, present = 1",
                params![
                    account.source_address,
                    account.login,
                    account.guid,
                    account.store,
                    account.dest_address,
                    account.included,
                    account.method.as_str(),
                    account.kind.as_str(),
                    account.messages as i64,
                    account.bytes as i64,
                    position as i64,
                ],
            )
            .map_err(db)?;
        }
        // Accounts gone from the server stay in the plan (their copies exist), marked absent.
        let known: Vec<&str> = fresh.iter().map(|a| a.source_address.as_str()).collect();
        let mut stmt = tx
            .prepare("SELECT source_address FROM accounts")
            .map_err(db)?;
        let all: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .map_err(db)?
            .collect::<std::result::Result<_, _>>()
            .map_err(db)?;
        drop(stmt);
        for address in all.iter().filter(|a| !known.contains(&a.as_str())) {
            tx.execute(
                "UPDATE accounts SET present = 0 WHERE source_address = ?1",
                [address],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    // --- destination and plan ------------------------------------------------------------

    pub fn destination(&self) -> Result<Option<Destination>> {
        self.get_json("destination")
    }

    pub fn set_destination(&mut self, destination: &Destination) -> Result<()> {
        destination
            .validate()
            .map_err(|e| ProjectError::Invalid(e.to_string()))?;
        self.put_json("destination", destination)
    }

    /// The account plan, in discovery's order.
    pub fn plan(&self) -> Result<Vec<PlannedAccount>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT source_address, login, guid, store, dest_address, included, method, kind, messages, bytes, present
                 FROM accounts ORDER BY present DESC, position",
            )
            .map_err(|e| self.db_err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(PlannedAccount {
                    source_address: r.get(0)?,
                    login: r.get(1)?,
                    guid: r.get(2)?,
                    store: r.get(3)?,
                    dest_address: r.get(4)?,
                    included: r.get(5)?,
                    method: SourceMethod::parse(&r.get::<_, String>(6)?),
                    kind: AccountKind::parse(&r.get::<_, String>(7)?),
                    messages: r.get::<_, i64>(8)? as u64,
                    bytes: r.get::<_, i64>(9)? as u64,
                    present: r.get(10)?,
                })
            })
            .map_err(|e| self.db_err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.db_err(e))
    }

    /// Changes one account of the plan (by its old address).
    pub fn update_account(&mut self, source_address: &str, change: &AccountChange) -> Result<()> {
        let mut plan = self.plan()?;
        let account = plan
            .iter_mut()
            .find(|a| a.source_address.eq_ignore_ascii_case(source_address))
            .ok_or_else(|| ProjectError::NoSuchAccount(source_address.to_string()))?;
        change
            .apply(account)
            .map_err(|e| ProjectError::Invalid(e.to_string()))?;
        let updated = account.clone();
        self.write_account(&updated)
    }

    /// Rewrites the destination addresses of every account at `from_domain` to `to_domain`
    /// (the office's domain changes with the move); returns how many changed.
    pub fn rename_domain(&mut self, from_domain: &str, to_domain: &str) -> Result<usize> {
        let to_domain = to_domain
            .trim()
            .trim_start_matches('@')
            .to_ascii_lowercase();
        if !crate::plan::valid_domain(&to_domain) {
            return Err(ProjectError::Invalid(format!(
                "{to_domain:?} is not a domain name; write it as example.com"
            )));
        }
        let from = from_domain
            .trim()
            .trim_start_matches('@')
            .to_ascii_lowercase();
        let mut changed = 0;
        for mut account in self.plan()? {
            if let Some((local, domain)) = account.dest_address.rsplit_once('@') {
                if domain.eq_ignore_ascii_case(&from) {
                    account.dest_address = format!("{local}@{to_domain}");
                    self.write_account(&account)?;
                    changed += 1;
                }
            }
        }
        Ok(changed)
    }

    fn write_account(&mut self, a: &PlannedAccount) -> Result<()> {
        self.conn
            .execute(
                "UPDATE accounts SET dest_address = ?2, included = ?3, method = ?4 WHERE source_address = ?1",
                params![a.source_address, a.dest_address, a.included, a.method.as_str()],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    // --- credentials ---------------------------------------------------------------------

    /// Records the result of a login check (the password itself stays in the vault).
    pub fn record_login_check(&mut self, check: &LoginCheckRecord) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO login_checks (account, side, status, advice, checked_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(account, side) DO UPDATE SET status = ?3, advice = ?4, checked_at = ?5",
                params![
                    check.account,
                    check.side.as_str(),
                    check.status,
                    check.advice,
                    check.checked_at
                ],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    pub fn login_checks(&self) -> Result<Vec<LoginCheckRecord>> {
        let mut stmt = self
            .conn
            .prepare("SELECT account, side, status, advice, checked_at FROM login_checks ORDER BY account, side")
            .map_err(|e| self.db_err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(LoginCheckRecord {
                    account: r.get(0)?,
                    side: if r.get::<_, String>(1)? == "source" {
                        LoginSide::Source
                    } else {
                        LoginSide::Destination
                    },
                    status: r.get(2)?,
                    advice: r.get(3)?,
                    checked_at: r.get(4)?,
                })
            })
            .map_err(|e| self.db_err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.db_err(e))
    }

    // --- decisions -----------------------------------------------------------------------

    pub fn record_decision(&mut self, decision: &Decision) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO decisions (code, subject, decision, decided_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(code, subject) DO UPDATE SET decision = ?3, decided_at = ?4",
                params![
                    decision.code,
                    decision.subject,
                    decision.decision,
                    decision.decided_at
                ],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    pub fn decisions(&self) -> Result<Vec<Decision>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT code, subject, decision, decided_at FROM decisions ORDER BY code, subject",
            )
            .map_err(|e| self.db_err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Decision {
                    code: r.get(0)?,
                    subject: r.get(1)?,
                    decision: r.get(2)?,
                    decided_at: r.get(3)?,
                })
            })
            .map_err(|e| self.db_err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.db_err(e))
    }

    // --- the phase log -------------------------------------------------------------------

    /// Starts a run in the log; returns its id for [`Project::end_run`].
    pub fn log_run(
        &mut self,
        phase: &str,
        started_at: i64,
        inputs: &serde_json::Value,
    ) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO runs (phase, started_at, outcome, inputs, result) VALUES (?1, ?2, 'running', ?3, 'null')",
                params![phase, started_at, inputs.to_string()],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn end_run(
        &mut self,
        id: i64,
        ended_at: i64,
        outcome: RunOutcome,
        result: &serde_json::Value,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET ended_at = ?2, outcome = ?3, result = ?4 WHERE id = ?1",
                params![id, ended_at, outcome_str(outcome), result.to_string()],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<PhaseRun>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, phase, started_at, ended_at, outcome, inputs, result FROM runs ORDER BY id")
            .map_err(|e| self.db_err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(PhaseRun {
                    id: r.get(0)?,
                    phase: r.get(1)?,
                    started_at: r.get(2)?,
                    ended_at: r.get(3)?,
                    outcome: outcome_parse(&r.get::<_, String>(4)?),
                    inputs: serde_json::from_str(&r.get::<_, String>(5)?)
                        .unwrap_or(serde_json::Value::Null),
                    result: serde_json::from_str(&r.get::<_, String>(6)?)
                        .unwrap_or(serde_json::Value::Null),
                })
            })
            .map_err(|e| self.db_err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.db_err(e))
    }

    /// The newest run of `phase`, if any.
    pub fn last_run(&self, phase: &str) -> Result<Option<PhaseRun>> {
        Ok(self.runs()?.into_iter().rev().find(|r| r.phase == phase))
    }

    /// Runs left `running` by a process that died: marked failed, so the log tells the truth.
    pub fn settle_abandoned_runs(&mut self, now: i64) -> Result<usize> {
        let n = self
            .conn
            .execute(
                "UPDATE runs SET outcome = 'failed', ended_at = ?1,
                   result = json_object('error', 'Ferry stopped before this run ended (quit, crash or power loss); run it again to continue where it stopped')
                 WHERE outcome = 'running'",
                [now],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(n)
    }

    // --- facts ---------------------------------------------------------------------------

    pub fn set_fact(&mut self, fact: Fact, at: Option<i64>) -> Result<()> {
        match at {
            Some(at) => self
                .conn
                .execute(
                    "INSERT INTO facts (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
                    params![fact.key(), at],
                )
                .map_err(|e| self.db_err(e))?,
            None => self
                .conn
                .execute("DELETE FROM facts WHERE key = ?1", [fact.key()])
                .map_err(|e| self.db_err(e))?,
        };
        Ok(())
    }

    pub fn facts(&self) -> Result<CutoverFacts> {
        let get = |fact: Fact| -> Result<Option<i64>> {
            self.conn
                .query_row(
                    "SELECT value FROM facts WHERE key = ?1",
                    [fact.key()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.db_err(e))
        };
        Ok(CutoverFacts {
            ttl_lowered_at: get(Fact::TtlLoweredAt)?,
            mx_switched_at: get(Fact::MxSwitchedAt)?,
            dns_all_new_at: get(Fact::DnsAllNewAt)?,
            delta_synced_at: get(Fact::DeltaSyncedAt)?,
            final_synced_at: get(Fact::FinalSyncedAt)?,
            last_mail_seen_at: get(Fact::LastMailSeenAt)?,
            profiles_exported_at: get(Fact::ProfilesExportedAt)?,
            quarantine_archived_at: get(Fact::QuarantineArchivedAt)?,
            clone_kept_at: get(Fact::CloneKeptAt)?,
        })
    }

    // --- small JSON values ---------------------------------------------------------------

    fn get_json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        self.conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get::<_, String>(0)
            })
            .optional()
            .map_err(|e| self.db_err(e))?
            // A value stored as JSON null (an optional setting cleared, e.g. no certificate pin
            // for a host with a publicly signed certificate) reads as absent.
            .map(|json| serde_json::from_str::<Option<T>>(&json).map_err(|e| self.db_err(e)))
            .transpose()
            .map(Option::flatten)
    }

    fn put_json<T: Serialize>(&mut self, key: &str, value: &T) -> Result<()> {
        let json = serde_json::to_string(value).map_err(|e| self.db_err(e))?;
        self.conn
            .execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
                params![key, json],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// A per-project setting stored as JSON (used by phases for what the admin chose last:
    /// resolvers, the new host's MX name, the profiles' folder).
    pub fn setting<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        self.get_json(&format!("setting.{key}"))
    }

    pub fn set_setting<T: Serialize>(&mut self, key: &str, value: &T) -> Result<()> {
        self.put_json(&format!("setting.{key}"), value)
    }
}

fn outcome_str(outcome: RunOutcome) -> &'static str {
    match outcome {
        RunOutcome::Running => "running",
        RunOutcome::Succeeded => "succeeded",
        RunOutcome::Attention => "attention",
        RunOutcome::Failed => "failed",
        RunOutcome::Cancelled => "cancelled",
    }
}

fn outcome_parse(s: &str) -> RunOutcome {
    match s {
        "running" => RunOutcome::Running,
        "succeeded" => RunOutcome::Succeeded,
        "attention" => RunOutcome::Attention,
        "cancelled" => RunOutcome::Cancelled,
        _ => RunOutcome::Failed,
    }
}

/// Layout 1. Tables are small; the plan and the log are read whole.
const SCHEMA_V1: &str = "
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE inventories (id INTEGER PRIMARY KEY, taken_at INTEGER NOT NULL, json TEXT NOT NULL);
CREATE TABLE accounts (
  source_address TEXT PRIMARY KEY COLLATE NOCASE,
  login TEXT NOT NULL,
  guid TEXT NOT NULL,
  store TEXT,
  dest_address TEXT NOT NULL,
  included INTEGER NOT NULL,
  method TEXT NOT NULL,
  kind TEXT NOT NULL,
  messages INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  position INTEGER NOT NULL,
  present INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE login_checks (
  account TEXT NOT NULL, side TEXT NOT NULL, status TEXT NOT NULL, advice TEXT NOT NULL,
  checked_at INTEGER NOT NULL, PRIMARY KEY (account, side)
);
CREATE TABLE decisions (
  code TEXT NOT NULL, subject TEXT NOT NULL, decision TEXT NOT NULL, decided_at INTEGER NOT NULL,
  PRIMARY KEY (code, subject)
);
CREATE TABLE runs (
  id INTEGER PRIMARY KEY, phase TEXT NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER,
  outcome TEXT NOT NULL, inputs TEXT NOT NULL, result TEXT NOT NULL
);
CREATE TABLE facts (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
";

/// Creates `path` empty with mode 0600 (its folder 0700 when Ferry creates it): the project
/// names accounts, folders and hosts.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        ferry_safeio::fs::create_private_dir_all(dir)?;
    }
    ferry_safeio::fs::create_new(path, ferry_safeio::fs::PRIVATE_FILE).map(drop)
}

/// SQLite creates `-wal` / `-shm` with the process umask; keep them as private as the file
/// (a symbolic link planted at their names is not followed).
fn restrict_sidecars(path: &Path) {
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = ferry_safeio::fs::narrow_if_exists(
            &PathBuf::from(name),
            ferry_safeio::fs::PRIVATE_FILE,
        );
    }
}

/// Unix seconds of a time.
pub fn unix(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}
