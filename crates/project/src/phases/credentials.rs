//! Phase 3 on the project: passwords into the vault for the plan's accounts, and a login check
//! of every planned account whose result is kept in the project (never the password).

use std::path::Path;

use ferry_vault::check::{LoginMethod, Server, Side, Status};
use ferry_vault::import::{self, BadLine, Role};
use ferry_vault::{Entry, Secret};
use serde::Serialize;
use ts_rs::TS;

use crate::credentials::{AccountRef, CheckOptions, CheckPlan, CheckReport, ImportedBadLine};
use crate::destination::Destination;
use crate::host::ProjectHost;
use crate::phases::sync::{
    destination_endpoint, destination_login, imap_endpoint, SourceImap, SOURCE_IMAP_SETTING,
};
use crate::phases::PhaseError;
use crate::plan::{PlannedAccount, SourceMethod};
use crate::project::{LoginCheckRecord, LoginSide, Project, RunOutcome};

/// Stores the destination password of one planned account (by its old address), under the key
/// the syncs read: (destination host, login there). Returns where it went, in words.
pub fn set_destination_password(
    project: &Project,
    host: &dyn ProjectHost,
    source_address: &str,
    password: &Secret,
) -> Result<String, PhaseError> {
    let dest = project
        .destination()?
        .ok_or_else(|| PhaseError::NotReady("Choose the new mail host first.".into()))?;
    let account = project
        .plan()?
        .into_iter()
        .find(|a| a.source_address.eq_ignore_ascii_case(source_address))
        .ok_or_else(|| crate::project::ProjectError::NoSuchAccount(source_address.into()))?;
    let vault = host.open_vault()?;
    let login = destination_login(&dest, &account);
    vault
        .set(&dest.imap.host, &login, password)
        .map_err(|e| PhaseError::Vault(e.to_string()))?;
    Ok(vault.describe())
}

/// Logs in to the destination for every included account (and to the old server's IMAP
/// service for accounts read over IMAP), keeps each result in the project and logs the run.
pub async fn check_logins(
    project: &mut Project,
    host: &dyn ProjectHost,
) -> Result<CheckReport, PhaseError> {
    let dest = project
        .destination()?
        .ok_or_else(|| PhaseError::NotReady("Choose the new mail host first.".into()))?;
    let plan: Vec<_> = project
        .plan()?
        .into_iter()
        .filter(|a| a.included && a.present)
        .collect();
    let check_plan = CheckPlan {
        // The old server's logins are checked apart (`check_source_logins`), for the accounts
        // read over IMAP only: an account read from the store on disk needs none.
        source: None,
        destination: Server {
            endpoint: destination_endpoint(project, &dest)?,
            login: LoginMethod::UserPassword,
        },
        accounts: plan
            .iter()
            .map(|a| AccountRef {
                address: a.source_address.clone(),
                source_user: Some(a.login.clone()),
                destination_user: destination_login(&dest, a),
            })
            .collect(),
        options: CheckOptions::default(),
    };
    let started = host.now().timestamp();
    let run = project.log_run(
        "login_check",
        started,
        &serde_json::json!({ "accounts": plan.len() }),
    )?;
    let vault = host.open_vault()?;
    let oauth: Option<ferry_oauth::OAuthSettings> =
        project.setting(crate::phases::sync::OAUTH_SETTING)?;
    let mut report = match oauth {
        None => crate::credentials::check(&check_plan, vault.as_ref()).await,
        Some(settings) => {
            check_oauth_mailboxes(&settings, vault.as_ref(), &check_plan, &plan, &dest).await?
        }
    };
    // (the setting is read before the await: a `&Project` held across it is not `Send`)
    let source_imap: Option<SourceImap> = project.setting(SOURCE_IMAP_SETTING)?;
    add_source_logins(
        &mut report,
        check_source_logins(source_imap, vault.as_ref(), &plan, check_plan.options).await,
    );
    let now = host.now().timestamp();
    for result in &report.results {
        // Store-read accounts need no source login: only record what was checked.
        project.record_login_check(&LoginCheckRecord {
            account: result.account.clone(),
            side: match result.side {
                ferry_vault::check::Side::Source => LoginSide::Source,
                ferry_vault::check::Side::Destination => LoginSide::Destination,
            },
            status: serde_json::to_value(result.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            advice: result.advice.clone(),
            checked_at: now,
        })?;
    }
    let summary = if report.problems == 0 {
        format!("{} logins work", report.ok)
    } else {
        format!("{} logins work, {} failed", report.ok, report.problems)
    };
    project.end_run(
        run,
        now,
        if report.results.iter().all(|r| r.status == Status::Ok) {
            RunOutcome::Succeeded
        } else {
            RunOutcome::Attention
        },
        &serde_json::json!({ "summary": summary, "report": report }),
    )?;
    Ok(report)
}

/// OAuth hosts: one admin-level token source, then a sign-in into every planned mailbox, each
/// saying what is missing (consent, the app's permission on that mailbox, ...).
async fn check_oauth_mailboxes(
    settings: &ferry_oauth::OAuthSettings,
    vault: &dyn ferry_vault::Vault,
    check_plan: &CheckPlan,
    plan: &[crate::plan::PlannedAccount],
    dest: &crate::destination::Destination,
) -> Result<CheckReport, PhaseError> {
    let source = ferry_oauth::token_source(settings, vault)
        .map_err(|e| PhaseError::Vault(format!("{e}. {}", e.advice())))?;
    let mailboxes: Vec<String> = plan.iter().map(|a| a.dest_address.clone()).collect();
    let endpoint = &check_plan.destination.endpoint;
    let checks = ferry_oauth::check_mailboxes(
        endpoint,
        source,
        &mailboxes,
        check_plan.options.timeouts,
        check_plan.options.parallel,
    )
    .await;
    let results: Vec<ferry_vault::check::LoginCheck> = plan
        .iter()
        .zip(checks)
        .map(|(account, check)| ferry_vault::check::LoginCheck {
            account: account.source_address.clone(),
            side: ferry_vault::check::Side::Destination,
            server: format!("{}:{}", dest.imap.host, dest.imap.port),
            login: check.mailbox.clone(),
            login_as: None,
            status: if check.ok { Status::Ok } else { Status::Failed },
            message: check.message,
            advice: check.advice.unwrap_or_default(),
            certificate: None,
            wait_ms: None,
        })
        .collect();
    let ok = results.iter().filter(|r| r.status == Status::Ok).count();
    Ok(CheckReport {
        problems: results.len() - ok,
        ok,
        results,
        source_from_store: check_plan.source.is_none(),
    })
}

// ---------------------------------------------------------------------------------------------
// The old server's IMAP service (accounts read over IMAP instead of from the store on disk)

/// Stores the old server's password of one planned account (by its old address), under the key
/// the syncs read for an account read over IMAP: (the old server's IMAP host, its login there).
/// Returns where it went, in words.
pub fn set_source_password(
    project: &Project,
    host: &dyn ProjectHost,
    source_address: &str,
    password: &Secret,
) -> Result<String, PhaseError> {
    let imap: SourceImap = project.setting(SOURCE_IMAP_SETTING)?.ok_or_else(|| {
        PhaseError::NotReady(
            "Set up how Ferry reaches the old server over IMAP first (in Destination, below the accounts).".into(),
        )
    })?;
    let account = project
        .plan()?
        .into_iter()
        .find(|a| a.source_address.eq_ignore_ascii_case(source_address))
        .ok_or_else(|| crate::project::ProjectError::NoSuchAccount(source_address.into()))?;
    let vault = host.open_vault()?;
    vault
        .set(&imap.host, &account.login, password)
        .map_err(|e| PhaseError::Vault(e.to_string()))?;
    Ok(vault.describe())
}

/// Logs in to the old server's IMAP service as each account of `plan` read over IMAP (with the
/// password stored by `set_source_password`). When that service is not set up, each such account
/// gets a failed check that says where to set it up.
async fn check_source_logins(
    source_imap: Option<SourceImap>,
    vault: &dyn ferry_vault::Vault,
    plan: &[PlannedAccount],
    options: crate::credentials::CheckOptions,
) -> Vec<ferry_vault::check::LoginCheck> {
    let over_imap: Vec<&PlannedAccount> = plan
        .iter()
        .filter(|a| a.method == SourceMethod::Imap)
        .collect();
    if over_imap.is_empty() {
        return Vec::new();
    }
    let Some(imap) = source_imap else {
        return over_imap
            .iter()
            .map(|a| ferry_vault::check::LoginCheck {
                account: a.source_address.clone(),
                side: ferry_vault::check::Side::Source,
                server: String::new(),
                login: a.login.clone(),
                login_as: None,
                status: Status::Failed,
                message: "the old server's IMAP service is not set up".into(),
                advice: "Enter how Ferry reaches the old server over IMAP in Destination, below the accounts (or read this account from the store on disk).".into(),
                certificate: None,
                wait_ms: None,
            })
            .collect();
    };
    let servers = std::collections::BTreeMap::from([(
        ferry_vault::check::Side::Source,
        Server {
            endpoint: imap_endpoint(&imap.host, imap.port, imap.security, imap.pinned_sha256),
            login: LoginMethod::UserPassword,
        },
    )]);
    let targets: Vec<ferry_vault::check::LoginTarget> = over_imap
        .iter()
        .map(|a| ferry_vault::check::LoginTarget {
            account: a.source_address.clone(),
            side: ferry_vault::check::Side::Source,
            user: a.login.clone(),
        })
        .collect();
    ferry_vault::check::check_logins(vault, &servers, &targets, options).await
}

/// Adds the old server's login checks to a report, each after its account's destination check.
fn add_source_logins(report: &mut CheckReport, source: Vec<ferry_vault::check::LoginCheck>) {
    report.source_from_store = source.is_empty();
    for check in source {
        let ok = check.status == Status::Ok;
        let at = report
            .results
            .iter()
            .rposition(|r| r.account == check.account)
            .map_or(report.results.len(), |i| i + 1);
        report.results.insert(at, check);
        if ok {
            report.ok += 1;
        } else {
            report.problems += 1;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A password file the admin already has: preview against the plan, import, delete

/// A password list of ten thousand accounts is far smaller; a bigger file is another file chosen
/// by mistake (a mail archive, a disk image), and is not read.
pub const MAX_PASSWORD_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The phase log's name for an import.
pub const PASSWORD_IMPORT_PHASE: &str = "password_import";

/// Why a password file could not be previewed, imported or deleted, in the admin's words (no
/// system error codes, never anything from the file's lines).
#[derive(Debug, thiserror::Error)]
pub enum PasswordFileError {
    #[error(transparent)]
    Phase(#[from] PhaseError),
    #[error("Give the password file's full path (it starts with /); {path} is not one.")]
    NotAbsolute { path: String },
    #[error("Ferry cannot read {path}: {}.", io_words(source, "read"))]
    Unreadable {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is {size}: far too large for a list of passwords. Choose the file that lists each account with its password."
    )]
    TooLarge { path: String, size: String },
    #[error("{path} holds no passwords: it has only blank lines or lines starting with #.")]
    Empty { path: String },
    #[error(
        "Ferry cannot tell what kind of list {path} is: line {line} fits none of the formats it reads. Save the list in one of the formats described here, then choose it again."
    )]
    UnknownFormat { path: String, line: usize },
    #[error(
        "No line of {path} gives a password this migration needs, so nothing was stored. The preview says why for each line."
    )]
    NothingToStore { path: String },
    #[error("The passwords could not be stored, so none was: {0}")]
    Store(String),
    #[error(
        "Ferry did not delete {path}: it is a symbolic link, and Ferry never overwrites a file through a link (it could point at any file). Delete the file it points to yourself: it still holds passwords in clear."
    )]
    Link { path: String },
    #[error(
        "Ferry could not delete {path}: {}. Delete it yourself: it still holds passwords in clear.",
        io_words(source, "change")
    )]
    Delete {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<crate::project::ProjectError> for PasswordFileError {
    fn from(e: crate::project::ProjectError) -> Self {
        PasswordFileError::Phase(e.into())
    }
}

/// Why a file could not be read or changed, in words (not "(os error 2)").
fn io_words(err: &std::io::Error, verb: &str) -> String {
    use std::io::ErrorKind;
    match err.kind() {
        ErrorKind::NotFound => "there is no such file (was it moved or deleted?)".into(),
        ErrorKind::PermissionDenied => format!("the system does not allow Ferry to {verb} it"),
        ErrorKind::IsADirectory => "it is a folder, not a file".into(),
        ErrorKind::NotADirectory => "part of that path is a file, not a folder".into(),
        // Ferry's own explanations (a symbolic link refused, not a regular file) are words already.
        _ if err.raw_os_error().is_none() && err.get_ref().is_some() => err.to_string(),
        other => format!("the system reported: {other}"),
    }
}

/// How a line of the file was matched to a planned account (case-insensitively).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum MatchedBy {
    /// The account's address on the new host.
    NewAddress,
    /// Its login name on the new host (where that is not the address).
    DestinationLogin,
    /// Its address on the old server.
    OldAddress,
    /// Its short login name on the old server.
    ShortName,
}

/// What the import does with one password of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ImportAction {
    /// The import will store it for the matched account.
    Store,
    /// The import stored it.
    Stored,
    /// No account of this migration has that name.
    NotInMigration,
    /// The account is left out of the migration (or no longer on the old server).
    Excluded,
    /// Not needed: the old server's password of an account read from its disk, or a
    /// destination password where the new host signs in with OAuth.
    NotNeeded,
    /// The old server's password of an account read over its IMAP service, which is not set up.
    NeedsSourceImap,
    /// An earlier line gives the same account's password on the same side.
    Duplicate,
    /// The name fits more than one account.
    Ambiguous,
}

/// One password of the file and what the import does with it. Never the password itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ImportRow {
    /// The file's line (an imapsync line gives two rows: the old server's and the new host's).
    pub line: usize,
    pub side: Side,
    /// The login name the line gives.
    pub user: String,
    /// The planned account it fills (its old address), when one matches.
    pub account: Option<String>,
    /// That account's address on the new host.
    pub new_address: Option<String>,
    pub matched_by: Option<MatchedBy>,
    pub action: ImportAction,
    /// For a duplicate: the line that gives this password first.
    pub first_line: Option<usize>,
    /// What happens, in words.
    pub note: String,
}

/// A password file read against the migration's plan: what an import would store, and why each
/// other line would be left aside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ImportPreview {
    pub file: String,
    /// The format found, in words.
    pub format: String,
    pub rows: Vec<ImportRow>,
    /// Lines that could not be read, by number and reason (nothing from the line itself).
    pub bad_lines: Vec<ImportedBadLine>,
    /// Rows the import stores (or stored).
    pub to_store: usize,
    /// Rows left aside.
    pub skipped: usize,
    /// Accounts of the migration that need a password on the new host and get none from this
    /// file (their old addresses).
    pub not_in_file: Vec<String>,
}

/// What an import stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct PasswordImport {
    /// The preview's rows, those stored now marked `stored`.
    pub preview: ImportPreview,
    pub stored: usize,
    /// Where the passwords now live, in words.
    pub stored_in: String,
    /// One line for the log and the screen.
    pub summary: String,
}

enum Found<'a> {
    One(&'a PlannedAccount, MatchedBy),
    Many(Vec<&'a PlannedAccount>),
    None,
}

/// Whether a planned account goes by a name, one way of matching.
type NameRule<'r> = &'r dyn Fn(&PlannedAccount, &str) -> bool;

/// The planned account `names` (the line's login, then its address) stand for: the first name
/// and rule under which exactly one account matches.
fn find_account<'a>(plan: &'a [PlannedAccount], dest: &Destination, names: &[&str]) -> Found<'a> {
    let rules: [(MatchedBy, NameRule); 4] = [
        (MatchedBy::NewAddress, &|a, n| {
            a.dest_address.eq_ignore_ascii_case(n)
        }),
        (MatchedBy::DestinationLogin, &|a, n| {
            destination_login(dest, a).eq_ignore_ascii_case(n)
        }),
        (MatchedBy::OldAddress, &|a, n| {
            a.source_address.eq_ignore_ascii_case(n)
        }),
        (MatchedBy::ShortName, &|a, n| {
            a.login.eq_ignore_ascii_case(n)
        }),
    ];
    let mut many = Vec::new();
    for name in names {
        for (by, rule) in &rules {
            let by = *by;
            let hits: Vec<&PlannedAccount> = plan.iter().filter(|a| rule(a, name)).collect();
            match hits.len() {
                0 => {}
                1 => return Found::One(hits[0], by),
                _ if many.is_empty() => many = hits,
                _ => {}
            }
        }
    }
    if many.is_empty() {
        Found::None
    } else {
        Found::Many(many)
    }
}

/// The preview and, for each row to store, its vault entry (row index, key and password).
struct Reading {
    preview: ImportPreview,
    entries: Vec<(usize, Entry)>,
}

/// Reads the file (at most [`MAX_PASSWORD_FILE_BYTES`]); the bytes are wiped after parsing.
fn read_password_file(path: &Path) -> Result<(import::Parsed, String), PasswordFileError> {
    let shown = path.display().to_string();
    if !path.is_absolute() {
        return Err(PasswordFileError::NotAbsolute { path: shown });
    }
    let unreadable = |source| PasswordFileError::Unreadable {
        path: shown.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if meta.is_dir() {
        return Err(unreadable(std::io::Error::from(
            std::io::ErrorKind::IsADirectory,
        )));
    }
    if meta.len() > MAX_PASSWORD_FILE_BYTES {
        return Err(PasswordFileError::TooLarge {
            path: shown,
            size: crate::report::human_bytes(meta.len()),
        });
    }
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_PASSWORD_FILE_BYTES + 1),
        &mut bytes,
    )
    .map_err(unreadable)?;
    let text = zeroize::Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
    let parsed = import::parse(&text).map_err(|e| match e {
        import::ImportError::Empty => PasswordFileError::Empty {
            path: shown.clone(),
        },
        import::ImportError::UnknownFormat { line } => PasswordFileError::UnknownFormat {
            path: shown.clone(),
            line,
        },
    })?;
    Ok((parsed, shown))
}

fn read_against_plan(project: &Project, path: &Path) -> Result<Reading, PasswordFileError> {
    let dest = project.destination()?.ok_or_else(|| {
        PhaseError::NotReady(
            "Choose the new mail host first (step 2): the passwords are for accounts there.".into(),
        )
    })?;
    let plan = project.plan()?;
    let source_imap: Option<SourceImap> = project.setting(SOURCE_IMAP_SETTING)?;
    let oauth = project
        .setting::<serde_json::Value>(crate::phases::sync::OAUTH_SETTING)?
        .is_some_and(|v| !v.is_null());
    let (parsed, file) = read_password_file(path)?;

    let mut rows = Vec::new();
    let mut entries = Vec::new();
    // (account, side) -> the first line that gives it
    let mut first: std::collections::BTreeMap<(String, Side), usize> = Default::default();
    for credential in parsed.credentials {
        let side = match credential.role {
            Role::Source => Side::Source,
            Role::Destination | Role::Unspecified => Side::Destination,
        };
        let mut names = vec![credential.user.as_str()];
        if let Some(address) = credential.address.as_deref() {
            if !address.eq_ignore_ascii_case(&credential.user) {
                names.push(address);
            }
        }
        let mut row = ImportRow {
            line: credential.line,
            side,
            user: credential.user.clone(),
            account: None,
            new_address: None,
            matched_by: None,
            action: ImportAction::NotInMigration,
            first_line: None,
            note: String::new(),
        };
        let account = match find_account(&plan, &dest, &names) {
            Found::None => {
                row.note = format!("No account of this migration is called {}.", row.user);
                rows.push(row);
                continue;
            }
            Found::Many(accounts) => {
                row.action = ImportAction::Ambiguous;
                let list: Vec<&str> = accounts.iter().map(|a| a.source_address.as_str()).collect();
                row.note = format!(
                    "{} fits more than one account ({}); type this password in the table instead.",
                    row.user,
                    list.join(", ")
                );
                rows.push(row);
                continue;
            }
            Found::One(account, by) => {
                row.account = Some(account.source_address.clone());
                row.new_address = Some(account.dest_address.clone());
                row.matched_by = Some(by);
                account
            }
        };
        let name = &account.source_address;
        let key = match side {
            _ if !account.present => {
                row.action = ImportAction::Excluded;
                row.note = format!("{name} is no longer on the old server.");
                None
            }
            _ if !account.included => {
                row.action = ImportAction::Excluded;
                row.note = format!(
                    "{name} is left out of the migration (include it in step 2 to use this line)."
                );
                None
            }
            Side::Destination if oauth => {
                row.action = ImportAction::NotNeeded;
                row.note = "Ferry signs in to the new host with OAuth, not with passwords.".into();
                None
            }
            Side::Destination => Some((dest.imap.host.clone(), destination_login(&dest, account))),
            Side::Source if account.method == SourceMethod::Store && account.store.is_some() => {
                row.action = ImportAction::NotNeeded;
                row.note = format!(
                    "This is the old server's password, and Ferry reads {name}'s mail from the server's disk."
                );
                None
            }
            Side::Source => match &source_imap {
                Some(imap) => Some((imap.host.clone(), account.login.clone())),
                None => {
                    row.action = ImportAction::NeedsSourceImap;
                    row.note = format!(
                        "{name} is read over the old server's IMAP service, which is not set up yet; set it up, then import again."
                    );
                    None
                }
            },
        };
        if let Some((host, user)) = key {
            match first.get(&(name.clone(), side)) {
                Some(&line) => {
                    row.action = ImportAction::Duplicate;
                    row.first_line = Some(line);
                    row.note = format!("Line {line} already gives this password.");
                }
                None => {
                    first.insert((name.clone(), side), row.line);
                    row.action = ImportAction::Store;
                    row.note = store_note(side);
                    entries.push((
                        rows.len(),
                        Entry {
                            host,
                            user,
                            secret: credential.secret,
                        },
                    ));
                }
            }
        }
        rows.push(row);
    }
    let not_in_file = if oauth {
        Vec::new()
    } else {
        plan.iter()
            .filter(|a| a.included && a.present)
            .filter(|a| !first.contains_key(&(a.source_address.clone(), Side::Destination)))
            .map(|a| a.source_address.clone())
            .collect()
    };
    let to_store = entries.len();
    Ok(Reading {
        preview: ImportPreview {
            file,
            format: parsed.format.describe().to_owned(),
            skipped: rows.len() - to_store,
            rows,
            bad_lines: parsed
                .bad_lines
                .into_iter()
                .map(|BadLine { line, reason }| ImportedBadLine { line, reason })
                .collect(),
            to_store,
            not_in_file,
        },
        entries,
    })
}

fn store_note(side: Side) -> String {
    match side {
        Side::Destination => "Its password on the new host.".into(),
        Side::Source => "Its password on the old server (read over IMAP).".into(),
    }
}

/// Reads a password file against the plan: for each password in it, the account it fills or why
/// it is left aside; bad lines by number. Stores nothing; no password in the result.
pub fn preview_password_file(
    project: &Project,
    path: &Path,
) -> Result<ImportPreview, PasswordFileError> {
    Ok(read_against_plan(project, path)?.preview)
}

/// Stores the passwords the preview of `path` matches, under the keys the syncs read (one write
/// to the vault: all of them or none), and logs the import (which lines, never a password).
pub fn import_password_file(
    project: &mut Project,
    host: &dyn ProjectHost,
    path: &Path,
) -> Result<PasswordImport, PasswordFileError> {
    let Reading {
        mut preview,
        entries,
    } = read_against_plan(project, path)?;
    if entries.is_empty() {
        return Err(PasswordFileError::NothingToStore { path: preview.file });
    }
    let vault = host.open_vault().map_err(PhaseError::from)?;
    let started = host.now().timestamp();
    let run = project.log_run(
        PASSWORD_IMPORT_PHASE,
        started,
        &serde_json::json!({ "file": preview.file, "format": preview.format }),
    )?;
    let (rows, keys): (Vec<usize>, Vec<Entry>) = entries.into_iter().unzip();
    if let Err(e) = vault.set_many(&keys) {
        let error = format!("{e}");
        project.end_run(
            run,
            host.now().timestamp(),
            RunOutcome::Failed,
            &serde_json::json!({ "error": error }),
        )?;
        return Err(PasswordFileError::Store(error));
    }
    drop(keys);
    for &i in &rows {
        let row = &mut preview.rows[i];
        row.action = ImportAction::Stored;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| preview.file.clone());
    let mut summary = format!(
        "{} from {name}",
        crate::words::plural(rows.len() as u64, "password stored", "passwords stored")
    );
    let mut aside = Vec::new();
    // passwords, not lines: an imapsync line gives two, one stored while the other is not needed
    if preview.skipped > 0 {
        aside.push(format!("{} skipped", preview.skipped));
    }
    if !preview.bad_lines.is_empty() {
        aside.push(crate::words::plural(
            preview.bad_lines.len() as u64,
            "line unreadable",
            "lines unreadable",
        ));
    }
    if !aside.is_empty() {
        summary = format!("{summary} ({})", aside.join(", "));
    }
    let stored_in = vault.describe();
    let stored: Vec<serde_json::Value> = rows
        .iter()
        .map(|&i| {
            let r = &preview.rows[i];
            serde_json::json!({ "line": r.line, "side": r.side, "account": r.account })
        })
        .collect();
    project.end_run(
        run,
        host.now().timestamp(),
        RunOutcome::Succeeded,
        &serde_json::json!({
            "summary": summary,
            "stored": stored,
            "skipped": preview.rows.iter().filter(|r| r.action != ImportAction::Stored).map(|r| r.line).collect::<Vec<_>>(),
            "bad_lines": preview.bad_lines.iter().map(|b| b.line).collect::<Vec<_>>(),
            "stored_in": stored_in,
        }),
    )?;
    Ok(PasswordImport {
        stored: rows.len(),
        preview,
        stored_in,
        summary,
    })
}

/// Overwrites the password file with zeros and deletes it (a symbolic link is refused: its target
/// could be any file).
pub fn delete_password_file(path: &Path) -> Result<(), PasswordFileError> {
    // Told apart first to say it in words; the scrub itself refuses a link too (no race).
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(PasswordFileError::Link {
            path: path.display().to_string(),
        });
    }
    crate::credentials::scrub_file(path).map_err(|e| match e {
        crate::credentials::CredentialsError::Scrub { path, source } => {
            PasswordFileError::Delete { path, source }
        }
        other => PasswordFileError::Delete {
            path: path.display().to_string(),
            source: std::io::Error::other(other.to_string()),
        },
    })
}
