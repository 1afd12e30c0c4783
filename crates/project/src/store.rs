//! The current migration on disk: which old server it is about (the chosen root) and what the last
//! discovery found, so that quitting and reopening the app (or running the CLI later) returns to
//! the same migration. One small JSON file, written atomically (temp file, fsync, rename), so a
//! crash mid-write leaves the previous version intact. JSON rather than SQLite for now: the file
//! holds one record, an admin can read it, and the later phases' state (sync ledger) has its own
//! database in `ferry-sync`.

use std::fs;
use std::path::{Path, PathBuf};

use ferry_discover::Inventory;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Version of the file's layout; a newer file is refused rather than misread.
pub const FORMAT: u32 = 1;

/// Where the old server's files are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Ferry runs on the old Mac itself and reads `/`.
    ThisMac,
    /// A folder holding a copy of the old server's root (rehearsals, a backup).
    Copy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Source {
    pub kind: SourceKind,
    /// The folder read as the server's `/`.
    pub root: String,
}

/// The migration as remembered between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Migration {
    pub format: u32,
    pub source: Source,
    /// The last successful discovery; `null` until one has run.
    pub inventory: Option<Inventory>,
    /// When `inventory` was taken, Unix seconds.
    #[ts(type = "number | null")]
    pub discovered_at: Option<i64>,
}

impl Migration {
    /// A migration whose source has just been discovered.
    pub fn discovered(source: Source, inventory: Inventory, at_unix: i64) -> Self {
        Migration {
            format: FORMAT,
            source,
            inventory: Some(inventory),
            discovered_at: Some(at_unix),
        }
    }
}

/// The wizard's steps, in order (DESIGN.md's phases).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Discover,
    Destination,
    Credentials,
    InitialSync,
    Review,
    DnsPrep,
    Cutover,
    Profiles,
    FinalSync,
    Quarantine,
    Decommission,
}

impl Phase {
    pub const ALL: [Phase; 11] = [
        Phase::Discover,
        Phase::Destination,
        Phase::Credentials,
        Phase::InitialSync,
        Phase::Review,
        Phase::DnsPrep,
        Phase::Cutover,
        Phase::Profiles,
        Phase::FinalSync,
        Phase::Quarantine,
        Phase::Decommission,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Phase::Discover => "Discover",
            Phase::Destination => "Destination",
            Phase::Credentials => "Credentials",
            Phase::InitialSync => "Initial sync",
            Phase::Review => "Review",
            Phase::DnsPrep => "DNS prep",
            Phase::Cutover => "Cut-over",
            Phase::Profiles => "Profiles",
            Phase::FinalSync => "Final sync",
            Phase::Quarantine => "Quarantine",
            Phase::Decommission => "Decommission",
        }
    }

    /// One sentence: what happens in this step.
    pub fn summary(self) -> &'static str {
        match self {
            Phase::Discover => "Find the domains, accounts, aliases and mailboxes of the old server, with their sizes.",
            Phase::Destination => "Choose the new mail host and how old addresses map to new ones.",
            Phase::Credentials => "Enter or import passwords and test every login on both sides.",
            Phase::InitialSync => "Copy all mailboxes to the new host, in parallel, resumable.",
            Phase::Review => "Check errors and counts per account and folder; retry what failed.",
            Phase::DnsPrep => "Look up MX and A records and their TTLs; lower TTLs before the switch.",
            Phase::Cutover => "Switch MX to the new host; Ferry watches DNS, then copies what arrived meanwhile.",
            Phase::Profiles => "Make a configuration profile per user for their Macs, iPhones and iPads.",
            Phase::FinalSync => "One last copy of anything that still arrived at the old server.",
            Phase::Quarantine => "Archive the spam and virus quarantine mailboxes.",
            Phase::Decommission => "Watch the old server until no mail arrives for 72 hours, then switch it off.",
        }
    }

    /// Whether this version of Ferry has the step's screen yet.
    pub fn built(self) -> bool {
        matches!(self, Phase::Discover)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum PhaseState {
    NotStarted,
    Running,
    Done,
    NeedsAttention,
}

/// One line of the wizard's sidebar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PhaseStatus {
    pub phase: Phase,
    /// 1-based position, as in DESIGN.md.
    pub number: u8,
    pub title: String,
    pub summary: String,
    pub state: PhaseState,
    /// False for steps this version of Ferry cannot do yet.
    pub built: bool,
    /// A short reason for the state (`3 warnings to read`), if any.
    pub note: Option<String>,
}

/// The state of every phase for the current migration (`None`: nothing started yet).
pub fn phase_board(migration: Option<&Migration>) -> Vec<PhaseStatus> {
    Phase::ALL
        .iter()
        .zip(1u8..)
        .map(|(&phase, number)| {
            let (state, note) = match phase {
                Phase::Discover => discover_state(migration),
                _ if !phase.built() => (
                    PhaseState::NotStarted,
                    Some("Not built yet in this version of Ferry".to_string()),
                ),
                _ => (PhaseState::NotStarted, None),
            };
            PhaseStatus {
                phase,
                number,
                title: phase.title().to_string(),
                summary: phase.summary().to_string(),
                state,
                built: phase.built(),
                note,
            }
        })
        .collect()
}

fn discover_state(migration: Option<&Migration>) -> (PhaseState, Option<String>) {
    match migration.and_then(|m| m.inventory.as_ref()) {
        None => (PhaseState::NotStarted, None),
        Some(inv) if inv.warnings.is_empty() => (
            PhaseState::Done,
            Some(format!("{} accounts found", inv.accounts.len())),
        ),
        Some(inv) => (
            PhaseState::NeedsAttention,
            Some(match inv.warnings.len() {
                1 => "1 warning to read".to_string(),
                n => format!("{n} warnings to read"),
            }),
        ),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read the migration file {path}: {source}. Check its permissions, or move it aside to start a new migration")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the migration file {path} is damaged ({source}). Restore it from a backup, or move it aside to start a new migration")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the migration file {path} was written by a newer Ferry (format {found}, this one reads up to {FORMAT}). Use that newer Ferry")]
    TooNew { path: PathBuf, found: u32 },
    #[error("cannot save the migration file {path}: {source}. Check free disk space and the folder's permissions")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The migration file in a folder (the app's data folder, or one given for tests and the CLI).
#[derive(Debug, Clone)]
pub struct ProjectStore {
    path: PathBuf,
}

impl ProjectStore {
    pub const FILE_NAME: &'static str = "migration.json";

    pub fn in_dir(dir: impl AsRef<Path>) -> Self {
        ProjectStore {
            path: dir.as_ref().join(Self::FILE_NAME),
        }
    }

    /// The JSON file at an exact path (the previous release's file, found beside a project).
    pub fn at(path: impl AsRef<Path>) -> Self {
        ProjectStore {
            path: path.as_ref().to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved migration, or `None` if none was started.
    pub fn load(&self) -> Result<Option<Migration>, StoreError> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Read {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        // Read the format first, so a newer file says so instead of failing on an unknown field.
        #[derive(Deserialize)]
        struct Head {
            format: u32,
        }
        let corrupt = |source| StoreError::Corrupt {
            path: self.path.clone(),
            source,
        };
        let head: Head = serde_json::from_slice(&bytes).map_err(corrupt)?;
        if head.format > FORMAT {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: head.format,
            });
        }
        serde_json::from_slice(&bytes).map(Some).map_err(corrupt)
    }

    /// Replaces the saved migration; the old file stays whole until the new one is on disk.
    pub fn save(&self, migration: &Migration) -> Result<(), StoreError> {
        let write_err = |source| StoreError::Write {
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        // The migration names accounts and hosts: 0600 in a 0700 folder (when Ferry creates
        // it), through a new temp file (never a link planted at a predictable temp name).
        ferry_safeio::fs::create_private_dir_all(dir).map_err(write_err)?;
        let json = serde_json::to_vec_pretty(migration).map_err(|e| write_err(e.into()))?;
        ferry_safeio::fs::write_replace(&self.path, &json, ferry_safeio::fs::PRIVATE_FILE)
            .map_err(write_err)
    }

    /// Forgets the migration (the admin starts over); absent is fine.
    pub fn clear(&self) -> Result<(), StoreError> {
        match fs::remove_file(&self.path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(StoreError::Write {
                path: self.path.clone(),
                source: err,
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_discover::{Totals, Warning, WarningCode};

    fn inventory(warnings: usize) -> Inventory {
        Inventory {
            root: "/srv/copy".into(),
            hostname: "mail.example.com".into(),
            domains: vec!["example.com".into()],
            partitions: vec![],
            accounts: vec![],
            training_mailboxes: vec![],
            orphans: vec![],
            aliases: vec![],
            non_mail_users: vec![],
            totals: Totals {
                accounts: 0,
                folders: 0,
                messages: 12,
                bytes: 3456,
                deleted_pending: 0,
            },
            warnings: (0..warnings)
                .map(|i| Warning {
                    code: WarningCode::MissingStore,
                    subject: Some(format!("user{i}")),
                    message: "no store".into(),
                })
                .collect(),
        }
    }

    fn migration(warnings: usize) -> Migration {
        Migration::discovered(
            Source {
                kind: SourceKind::Copy,
                root: "/srv/copy".into(),
            },
            inventory(warnings),
            1_764_400_000,
        )
    }

    #[test]
    fn nothing_saved_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ProjectStore::in_dir(dir.path()).load().unwrap(), None);
    }

    #[test]
    fn save_then_load_round_trips_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = ProjectStore::in_dir(dir.path().join("nested"));
        let m = migration(2);
        store.save(&m).unwrap();
        assert_eq!(store.load().unwrap(), Some(m.clone()));
        // a second save replaces the first
        let mut m2 = m;
        m2.discovered_at = Some(1_764_400_100);
        store.save(&m2).unwrap();
        assert_eq!(store.load().unwrap(), Some(m2));
        let names: Vec<_> = fs::read_dir(dir.path().join("nested"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec![ProjectStore::FILE_NAME.to_string()]);
    }

    #[test]
    fn saved_privately_and_never_through_a_planted_link() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = ProjectStore::in_dir(dir.path().join("nested"));
        let victim = dir.path().join("victim.txt");
        fs::write(&victim, b"the admin's own file").unwrap();
        fs::create_dir(dir.path().join("nested")).unwrap();
        // The temp name saves used to create (and truncate) by name.
        std::os::unix::fs::symlink(&victim, store.path().with_extension("json.tmp")).unwrap();
        store.save(&migration(2)).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"the admin's own file");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(store.path()), 0o600);
        let fresh = ProjectStore::in_dir(dir.path().join("new/folder"));
        fresh.save(&migration(2)).unwrap();
        assert_eq!(mode(&dir.path().join("new/folder")), 0o700);
    }

    #[test]
    fn damaged_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = ProjectStore::in_dir(dir.path());
        fs::write(store.path(), b"{\"format\": 1, \"source\": ").unwrap();
        let err = store.load().unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("migration.json"), "{text}");
        assert!(text.contains("move it aside"), "{text}");
    }

    #[test]
    fn newer_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = ProjectStore::in_dir(dir.path());
        fs::write(store.path(), br#"{"format": 7, "something": "new"}"#).unwrap();
        let err = store.load().unwrap_err();
        assert!(
            matches!(err, StoreError::TooNew { found: 7, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn clear_forgets_and_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let store = ProjectStore::in_dir(dir.path());
        store.save(&migration(0)).unwrap();
        store.clear().unwrap();
        assert_eq!(store.load().unwrap(), None);
        store.clear().unwrap();
    }

    #[test]
    fn unwritable_folder_is_a_write_error() {
        let dir = tempfile::tempdir().unwrap();
        // a file where the folder should be: create_dir_all fails, also as root
        let blocker = dir.path().join("blocker");
        fs::write(&blocker, b"").unwrap();
        let err = ProjectStore::in_dir(blocker.join("sub"))
            .save(&migration(0))
            .unwrap_err();
        assert!(matches!(err, StoreError::Write { .. }), "{err:?}");
    }

    #[test]
    fn phase_board_lists_every_phase_in_order() {
        let board = phase_board(None);
        assert_eq!(board.len(), 11);
        assert_eq!(
            board.iter().map(|p| p.number).collect::<Vec<_>>(),
            (1..=11).collect::<Vec<_>>()
        );
        assert_eq!(board[0].phase, Phase::Discover);
        assert_eq!(board[10].phase, Phase::Decommission);
        assert_eq!(board[0].state, PhaseState::NotStarted);
        assert!(board[0].built);
        for p in &board[1..] {
            assert!(!p.built);
            assert_eq!(
                p.note.as_deref(),
                Some("Not built yet in this version of Ferry")
            );
        }
    }

    #[test]
    fn discover_is_done_or_needs_attention_after_a_run() {
        let clean = migration(0);
        let board = phase_board(Some(&clean));
        assert_eq!(board[0].state, PhaseState::Done);
        assert_eq!(board[0].note.as_deref(), Some("0 accounts found"));
        let warned = migration(3);
        let board = phase_board(Some(&warned));
        assert_eq!(board[0].state, PhaseState::NeedsAttention);
        assert_eq!(board[0].note.as_deref(), Some("3 warnings to read"));
    }
}
