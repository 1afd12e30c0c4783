//! `ferry sync` and `ferry verify`: copy every message of one account pair (or of every pair in
//! an accounts file) exactly once, and check afterwards. Passwords come from the environment
//! (`FERRY_SOURCE_PASSWORD`, `FERRY_DEST_PASSWORD`) or else from the password vault by (host,
//! user), the one `ferry credentials` fills; never from the command line. For an accounts file
//! the vault comes first (one entry per account), the environment is the fallback for all.
//!
//! One writing run per state file (a lock beside it); `verify` and `--dry-run` write nothing and
//! may run alongside.
//!
//! Exit status: 0 complete; 2 some messages could not be copied (listed; a re-run copies only
//! what is missing); 3 the daily upload limit was reached (the time to run again is printed);
//! 1 an account could not be synced at all (login, network, state file).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context};
use ferry_project::sync::{
    parse_accounts, parse_imap_url, run_sync, run_verify, AccountPair, ImapAccount, ImapUrl,
    RunOptions, SourceSpec, SyncReport, VerifyReport,
};
use ferry_sync::mapping::MappingRules;
use ferry_sync::{Progress, SyncOptions};
use secrecy::SecretString;

const SOURCE_PW: &str = "FERRY_SOURCE_PASSWORD";
const DEST_PW: &str = "FERRY_DEST_PASSWORD";

#[derive(clap::Args, Debug)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Exit status of `ferry sync`: 0 complete; 2 some messages could not be \
copied (listed; a re-run copies only what is missing); 3 the daily upload limit was reached \
(--daily-upload-limit): the rest goes with a run after the time printed (\"run again after ...\", \
`budget_exhausted_until` in --json); 1 an account could not be synced at all (login, network, \
state file).\nExit status of `ferry verify`: 0 every message there, 2 messages missing, 1 could \
not check."
)]
pub struct SyncArgs {
    /// On the migration project (`ferry init`): initial, delta or final. Without it, one pair or
    /// an accounts file as given by --source / --dest / --accounts.
    #[command(subcommand)]
    pub phase: Option<crate::migration::SyncPhaseCommand>,
    /// Source: imaps://USER@HOST:PORT (TLS), imap://USER@HOST:PORT (STARTTLS), or maildir:PATH
    /// (a Dovecot Maildir store on disk). With --accounts: the source host's URL without user.
    #[arg(long)]
    source: Option<String>,
    /// Destination: imaps://USER@HOST:PORT or imap://USER@HOST:PORT. With --accounts: the host.
    #[arg(long)]
    dest: Option<String>,
    /// Many pairs: imapsync's `host1;user1;password1;host2;user2;password2` lines, or
    /// Microsoft's `EmailAddress,UserName,Password` CSV (hosts from --source / --dest; Password is
    /// the source login's). Passwords not in the file: the vault by (host, login), else
    /// FERRY_SOURCE_PASSWORD / FERRY_DEST_PASSWORD.
    #[arg(long, value_name = "FILE")]
    accounts: Option<PathBuf>,
    /// The state file (SQLite). Default: one per destination host in Ferry's data folder. One
    /// sync at a time per state file: a second one stops at once.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Show the folder mapping and what would be copied; change nothing anywhere.
    #[arg(long)]
    dry_run: bool,
    /// Print the summary as JSON on stdout (progress and logs stay on stderr).
    #[arg(long)]
    json: bool,
    /// Allow imap:// without TLS, to a loopback address only (tests, an SSH tunnel).
    #[arg(long)]
    allow_plaintext: bool,
    /// Trust exactly this certificate (SHA-256, hex) on the source, e.g. the old server's
    /// self-signed one.
    #[arg(long, value_name = "HEX")]
    source_cert_sha256: Option<String>,
    /// Trust exactly this certificate (SHA-256, hex) on the destination.
    #[arg(long, value_name = "HEX")]
    dest_cert_sha256: Option<String>,
    /// IMAP connections per side and account.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Accounts synced at the same time.
    #[arg(long, default_value_t = 2)]
    parallel_accounts: usize,
    /// Copy only folders matching this pattern (`*` anything, `%` anything but `/`; repeatable).
    #[arg(long, value_name = "PATTERN")]
    include: Vec<String>,
    /// Do not copy folders matching this pattern (and their sub-folders; repeatable).
    #[arg(long, value_name = "PATTERN")]
    exclude: Vec<String>,
    /// Rename a source folder (and its sub-folders): `Old/Name=New/Name` (repeatable).
    #[arg(long, value_name = "FROM=TO")]
    rename: Vec<String>,
    /// Skip messages larger than this many bytes (below the destination's own limit).
    #[arg(long, value_name = "BYTES")]
    max_message_size: Option<u64>,
    /// Upload at most this many megabytes (1 MB = 1,000,000 bytes) per account in any 24 hours
    /// (Google Workspace: 500). The newest mail goes first, across all folders; at the limit the
    /// run stops, says when to run again, and exits with status 3. The next run continues.
    #[arg(long, value_name = "MB")]
    daily_upload_limit: Option<u64>,
    #[command(flatten)]
    vault: VaultArgs,
}

fn password(env: &'static str) -> Option<SecretString> {
    std::env::var(env).ok().map(SecretString::from)
}

fn pin(mut u: ImapUrl, pin: &Option<String>) -> ImapUrl {
    if let Some(p) = pin {
        u.endpoint.pinned_sha256 = Some(p.clone());
    }
    u
}

/// The vault `ferry credentials` uses: the same FERRY_VAULT / FERRY_VAULT_FILE choice, the file's
/// passphrase from FERRY_VAULT_PASSPHRASE or a prompt. `ferry profiles` opens it here too.
pub(crate) fn open_vault(v: &VaultArgs) -> Result<Box<dyn ferry_vault::Vault>, String> {
    open_vault_asking(v, true)
}

/// `ask`: may prompt for the file's passphrase on the terminal (not when another source of the
/// password exists: a script with FERRY_DEST_PASSWORD must not stop at a prompt).
fn open_vault_asking(v: &VaultArgs, ask: bool) -> Result<Box<dyn ferry_vault::Vault>, String> {
    use ferry_project::credentials::{open_vault, VaultChoice};
    let choice = VaultChoice::parse(&v.vault).ok_or_else(|| {
        format!(
            "unknown password store {:?}: use auto, keychain, secret-service or file",
            v.vault
        )
    })?;
    let mut passphrase = |path: &std::path::Path| {
        if let Ok(value) = std::env::var("FERRY_VAULT_PASSPHRASE") {
            return Ok(SecretString::from(value));
        }
        if !ask {
            return Err(ferry_vault::VaultError::Unavailable {
                backend: "password file",
                reason: "FERRY_VAULT_PASSPHRASE is not set".into(),
            });
        }
        rpassword::prompt_password(format!(
            "Passphrase of the password file {}: ",
            path.display()
        ))
        .map(SecretString::from)
        .map_err(|e| ferry_vault::VaultError::Unavailable {
            backend: "password file",
            reason: format!("cannot ask for its passphrase ({e}); set FERRY_VAULT_PASSPHRASE"),
        })
    };
    open_vault(choice, v.vault_file.as_deref(), &mut passphrase).map_err(|e| e.to_string())
}

/// Which password store to read (the one `ferry credentials` fills).
#[derive(clap::Args, Debug)]
pub struct VaultArgs {
    /// Password store: auto (Keychain on macOS; on Linux the Secret Service, else the encrypted
    /// file), keychain, secret-service or file.
    #[arg(long, env = "FERRY_VAULT", default_value = "auto")]
    vault: String,
    /// The encrypted password file (passphrase from FERRY_VAULT_PASSPHRASE or a prompt).
    #[arg(long, env = "FERRY_VAULT_FILE", value_name = "FILE")]
    vault_file: Option<PathBuf>,
}

fn account(
    u: &ImapUrl,
    which: &'static str,
    env: &'static str,
    vault: &VaultArgs,
) -> anyhow::Result<ImapAccount> {
    let user = u
        .user
        .clone()
        .with_context(|| format!("the {which} URL needs a user: imaps://USER@HOST:PORT"))?;
    let password = ferry_project::sync::resolve_password(
        which,
        env,
        password(env),
        &u.endpoint.host,
        &user,
        || open_vault(vault),
    )?;
    Ok(ImapAccount {
        endpoint: u.endpoint.clone(),
        user,
        password,
        oauth: None,
    })
}

/// Passwords of accounts-file logins the file does not carry (every destination login in
/// Microsoft's format): the vault's entry for (host, login), where `ferry credentials import` and
/// `ferry credentials set` put it, else FERRY_SOURCE_PASSWORD / FERRY_DEST_PASSWORD (one password
/// for every account, e.g. an admin's). The vault is opened once, on the first need.
struct RowPasswords<'a> {
    args: &'a VaultArgs,
    vault: Option<Result<Box<dyn ferry_vault::Vault>, String>>,
}

impl RowPasswords<'_> {
    fn get(&mut self, which: &'static str, host: &str, user: &str) -> Result<SecretString, String> {
        let env = if which == "source" {
            SOURCE_PW
        } else {
            DEST_PW
        };
        let args = self.args;
        let vault = self.vault.get_or_insert_with(|| {
            let fallback = password(SOURCE_PW).is_some() || password(DEST_PW).is_some();
            open_vault_asking(args, !fallback)
        });
        let problem = match vault {
            Ok(v) => match v.get(host, user) {
                Ok(Some(secret)) if !secret.is_empty() => return Ok(secret.to_secret_string()),
                Ok(_) => None,
                Err(e) => Some(e.to_string()),
            },
            Err(e) => Some(e.clone()),
        };
        if let Some(p) = password(env) {
            return Ok(p);
        }
        let problem = problem
            .map(|p| format!(" (the password store could not be read: {p})"))
            .unwrap_or_default();
        Err(format!(
            "no password for the {which} login {user:?} at {host}{problem}: store it with \
             `ferry credentials set {user} --host {host}` (it reads the password from the \
             terminal or standard input), or import a password file with `ferry credentials \
             import`, or set {env} for every account; never on the command line"
        ))
    }
}

fn rules(args: &SyncArgs) -> anyhow::Result<MappingRules> {
    let mut renames = Vec::new();
    for r in &args.rename {
        let Some((from, to)) = r.split_once('=') else {
            bail!("--rename {r:?}: write FROM=TO, e.g. --rename 'Old Stuff=Archive/Old'");
        };
        renames.push((from.trim().to_string(), to.trim().to_string()));
    }
    Ok(MappingRules {
        renames,
        include: args.include.clone(),
        exclude: args.exclude.clone(),
        copy_virtual: false,
    })
}

fn pairs(args: &SyncArgs) -> anyhow::Result<Vec<AccountPair>> {
    let maildir = args
        .source
        .as_deref()
        .and_then(|s| s.strip_prefix("maildir:"))
        .map(PathBuf::from);
    let source_url = match (&args.source, &maildir) {
        (Some(s), None) => Some(pin(
            parse_imap_url(s, args.allow_plaintext)?,
            &args.source_cert_sha256,
        )),
        _ => None,
    };
    let dest_url = match &args.dest {
        Some(d) => Some(pin(
            parse_imap_url(d, args.allow_plaintext)?,
            &args.dest_cert_sha256,
        )),
        None => None,
    };
    if let Some(path) = &args.accounts {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the accounts file {}", path.display()))?;
        let mut lookup = RowPasswords {
            args: &args.vault,
            vault: None,
        };
        return Ok(parse_accounts(
            path,
            &text,
            source_url.as_ref(),
            dest_url.as_ref(),
            &mut |which, host, user| lookup.get(which, host, user),
        )?);
    }
    let Some(dest_url) = dest_url else {
        bail!("--dest imaps://USER@HOST:PORT is needed (or --accounts FILE)");
    };
    let dest = account(&dest_url, "destination", DEST_PW, &args.vault)?;
    let source = match (maildir, source_url) {
        (Some(p), _) => SourceSpec::Maildir(p),
        (None, Some(u)) => SourceSpec::Imap(account(&u, "source", SOURCE_PW, &args.vault)?),
        (None, None) => bail!("--source imaps://USER@HOST:PORT or --source maildir:PATH is needed"),
    };
    Ok(vec![AccountPair { source, dest }])
}

fn options(args: &SyncArgs) -> anyhow::Result<RunOptions> {
    Ok(RunOptions {
        sync: SyncOptions {
            rules: rules(args)?,
            dry_run: args.dry_run,
            parallel: args.connections.max(1),
            max_message_size: args.max_message_size,
            budget: args.daily_upload_limit.map(|mb| ferry_sync::DailyBudget {
                bytes_per_day: mb.saturating_mul(1_000_000),
            }),
            ..SyncOptions::default()
        },
        connections: args.connections.max(1),
        parallel_accounts: args.parallel_accounts.max(1),
        state: args.state.clone(),
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A progress bar on stderr (hidden when stderr is not a terminal or with --json).
fn progress_bar(hidden: bool) -> (ferry_sync::ProgressFn, indicatif::ProgressBar) {
    let bar = if hidden {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::stderr())
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} messages {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let totals: Arc<Mutex<HashMap<String, (u64, u64)>>> = Arc::default();
    let b = bar.clone();
    let f: ferry_sync::ProgressFn = Arc::new(move |p: &Progress| {
        let mut t = totals.lock().unwrap_or_else(|e| e.into_inner());
        match p {
            // Known before the first batch: the bar has its length from the start.
            Progress::Totals {
                account,
                messages_now,
                ..
            } => {
                t.insert(account.clone(), (0, *messages_now));
            }
            Progress::Copied {
                account,
                messages_done,
                bytes_per_second,
                ..
            } => {
                let entry = t.entry(account.clone()).or_default();
                entry.0 = *messages_done;
                b.set_message(format!("{:.1} MB/s", bytes_per_second / 1e6));
            }
            Progress::Throttled { wait_ms, .. } => {
                b.set_message(format!(
                    "the server asked to slow down: waiting {:.1} s",
                    *wait_ms as f64 / 1000.0
                ));
            }
            _ => return,
        }
        let (done, total) = t.values().fold((0, 0), |a, v| (a.0 + v.0, a.1 + v.1));
        b.set_length(total);
        b.set_position(done);
    });
    (f, bar)
}

pub fn run_sync_command(args: &SyncArgs) -> anyhow::Result<std::process::ExitCode> {
    let pairs = pairs(args)?;
    let opts = options(args)?;
    let (progress, bar) = progress_bar(args.json);
    let report = runtime()?.block_on(run_sync(pairs, opts, progress))?;
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_sync(&report, args.dry_run);
    }
    Ok(std::process::ExitCode::from(exit_code(&report)))
}

/// The latest time an account's daily upload limit lets it go on, when one was reached.
fn limit_reached_until(r: &SyncReport) -> Option<chrono::DateTime<chrono::Utc>> {
    r.accounts
        .iter()
        .filter_map(|a| a.budget_exhausted_until)
        .max()
}

/// 1 an account stopped; 3 the daily upload limit was reached (run again later); 2 some messages
/// failed; 0 complete.
fn exit_code(r: &SyncReport) -> u8 {
    match r.exit_code() {
        1 => 1,
        _ if limit_reached_until(r).is_some() => 3,
        code => code,
    }
}

fn local_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&chrono::Local)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

pub fn run_verify_command(args: &SyncArgs) -> anyhow::Result<std::process::ExitCode> {
    let pairs = pairs(args)?;
    let opts = options(args)?;
    let rules = opts.sync.rules.clone();
    let report = runtime()?.block_on(run_verify(pairs, opts, rules))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_verify(&report);
    }
    Ok(std::process::ExitCode::from(if !report.errors.is_empty() {
        1
    } else if report.missing > 0 {
        2
    } else {
        0
    }))
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn print_sync(r: &SyncReport, dry_run: bool) {
    for a in &r.accounts {
        println!("{} -> {}", a.source, a.dest);
        if let Some(f) = &a.fatal {
            println!("  STOPPED: {f}");
        }
        if let Some(t) = a.budget_exhausted_until {
            println!(
                "  DAILY UPLOAD LIMIT reached: {} messages left for a run after {}",
                a.deferred,
                local_time(t)
            );
        }
        if a.throttled > 0 {
            println!(
                "  the server asked to slow down {} times: waited as asked each time",
                a.throttled
            );
        }
        if dry_run {
            println!("  folder mapping:");
            for m in &a.plan.folders {
                let create = if m.create { " (will be created)" } else { "" };
                println!("    {:30} -> {}{create}   [{}]", m.source, m.dest, m.reason);
            }
            for x in &a.plan.excluded {
                println!("    {:30}    not copied: {}", x.source, x.reason);
            }
        }
        for f in &a.folders {
            if f.unchanged {
                continue;
            }
            let verb = if dry_run { "would copy" } else { "copied" };
            println!(
                "  {:30} {verb} {:>6} ({}), already there {}, skipped {}, failed {}",
                f.source,
                f.copied,
                mb(f.bytes),
                f.already_there,
                f.skipped,
                f.failed
            );
        }
        for f in &a.failures {
            println!(
                "  {:?} {} UID {} ({} bytes, {:?}, {:?}): {} -- {}",
                f.class,
                f.folder,
                f.uid.map_or("-".to_string(), |u| u.to_string()),
                f.size,
                f.subject.as_deref().unwrap_or(""),
                f.date.as_deref().unwrap_or(""),
                f.server_text,
                f.advice
            );
        }
    }
    let verb = if dry_run { "would copy" } else { "copied" };
    println!(
        "{verb} {} messages ({}), already there {}, skipped {}, failed {} in {:.1} s ({:.0} messages/s, {:.1} MB/s); state: {}",
        r.copied,
        mb(r.bytes),
        r.already_there,
        r.skipped,
        r.failed,
        r.seconds,
        r.messages_per_second,
        r.bytes_per_second / 1e6,
        r.state_file
    );
    if dry_run && r.fatal == 0 {
        if r.copied == 0 {
            println!("nothing to copy: every message is on the destination already, or listed as skipped (dry run; nothing was changed)");
        } else {
            println!(
                "a real run would copy {} messages ({}) (dry run; nothing was changed)",
                r.copied,
                mb(r.bytes)
            );
        }
    }
    if !dry_run {
        let code = exit_code(r);
        let text = match (code, limit_reached_until(r)) {
            (0, _) => "complete: every message is on the destination (or listed as skipped)".to_string(),
            (3, Some(t)) => format!(
                "daily upload limit reached: the newest mail is there; run again after {} to continue (nothing is copied twice)",
                local_time(t)
            ),
            (2, _) => "not complete: the messages listed above failed; run again after fixing, only what is missing is copied".to_string(),
            _ => "stopped: an account could not be synced (see above); run again after fixing".to_string(),
        };
        println!("{text}");
    }
}

fn print_verify(r: &VerifyReport) {
    for a in &r.accounts {
        println!("{}", a.account);
        for f in &a.folders {
            println!(
                "  {:30} source {:>6}  on destination {:>6}  other mail there {:>5}  missing {}",
                f.dest,
                f.source_messages,
                f.dest_matching,
                f.dest_other,
                f.missing.len()
            );
            for m in &f.missing {
                println!(
                    "    missing: {} UID {} ({} bytes){}",
                    m.folder,
                    m.uid.map_or(m.key.clone(), |u| u.to_string()),
                    m.size,
                    m.reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                );
            }
        }
    }
    for e in &r.errors {
        println!("could not verify: {e}");
    }
    println!(
        "{}",
        if r.ok {
            "verified: every source message is on the destination".to_string()
        } else {
            format!("{} messages missing", r.missing)
        }
    );
}

impl VaultArgs {
    pub fn new(vault: String, vault_file: Option<PathBuf>) -> Self {
        VaultArgs { vault, vault_file }
    }

    /// The store the environment chooses (FERRY_VAULT, FERRY_VAULT_FILE), for commands without
    /// their own flags.
    pub fn from_env() -> Self {
        VaultArgs {
            vault: std::env::var("FERRY_VAULT")
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "auto".into()),
            vault_file: std::env::var_os("FERRY_VAULT_FILE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        }
    }
}
