//! The migration as one project, headless: `ferry init`, `status`, `destination`, `accounts`,
//! `sync initial|delta|final`, `review`, `dns` / `dns --watch`, `mailflow`, `profiles export`,
//! `quarantine archive`, `decommission` on the project file (`--project FILE` or
//! `FERRY_PROJECT`). Parsing and printing only: the phases live in `ferry_project::phases`.

use ferry_project::words::plural;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use ferry_project::destination::{PresetId, Security};
use ferry_project::host::ProjectHost;
use ferry_project::jobs::{
    AccountProgress, AccountStage, JobControl, JobEvent, JobKind, JobProgress,
};
use ferry_project::plan::{AccountChange, SourceMethod};
use ferry_project::project::Project;
use ferry_project::store::{PhaseState, Source, SourceKind};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::sync::VaultArgs;

/// Which project file: `--project FILE`, else `FERRY_PROJECT`, else the data folder's.
#[derive(clap::Args, Debug, Clone)]
pub struct ProjectArgs {
    /// The migration's project file (default: FERRY_PROJECT, else migration.ferry in Ferry's data
    /// folder).
    #[arg(long, value_name = "FILE", global = true)]
    pub project: Option<PathBuf>,
}

impl ProjectArgs {
    /// Whether FERRY_PROJECT names a project, or the data folder holds one.
    pub fn default_exists() -> bool {
        Project::exists(&Project::default_path())
    }

    pub fn path(&self) -> PathBuf {
        self.project.clone().unwrap_or_else(Project::default_path)
    }

    /// Opens an existing project; a missing one says how to start.
    pub fn open(&self) -> anyhow::Result<Project> {
        let path = self.path();
        if !Project::exists(&path) {
            anyhow::bail!(
                "no migration at {}: start one with `ferry init --root DIR` (a copy of the server) or `ferry init --this-mac`",
                path.display()
            );
        }
        Ok(Project::open(&path)?)
    }
}

/// The machine as the CLI sees it: the system clock (or `FERRY_NOW`, an RFC 3339 time, to
/// rehearse the waits of a migration), the vault chosen like `ferry credentials`, resolvers.
pub struct CliHost {
    vault: VaultArgs,
    resolvers: Vec<std::net::SocketAddr>,
    now: Option<DateTime<Utc>>,
}

impl CliHost {
    pub fn new(vault: VaultArgs, resolvers: &[String]) -> anyhow::Result<Self> {
        let resolvers = resolvers
            .iter()
            .map(|r| ferry_project::cutover::parse_resolver(r))
            .collect::<Result<Vec<_>, _>>()?;
        let now = match std::env::var("FERRY_NOW") {
            Ok(text) if !text.trim().is_empty() => Some(
                DateTime::parse_from_rfc3339(text.trim())
                    .with_context(|| {
                        format!("FERRY_NOW={text:?} is not a time like 2026-12-04T10:00:00Z")
                    })?
                    .with_timezone(&Utc),
            ),
            _ => None,
        };
        Ok(CliHost {
            vault,
            resolvers,
            now,
        })
    }
}

impl ProjectHost for CliHost {
    fn now(&self) -> DateTime<Utc> {
        self.now.unwrap_or_else(Utc::now)
    }
    fn vault(&self) -> Result<Box<dyn ferry_vault::Vault>, String> {
        crate::sync::open_vault(&self.vault)
    }
    fn dns_options(&self) -> ferry_project::cutover::DnsOptions {
        ferry_project::cutover::DnsOptions {
            resolvers: self.resolvers.clone(),
            ..Default::default()
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

// --- init, status ------------------------------------------------------------------------

#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// A folder holding a copy of the old server's root (it contains Library/Server/Mail).
    #[arg(long, value_name = "DIR", conflicts_with = "this_mac")]
    root: Option<PathBuf>,
    /// Ferry runs on the old server itself and reads `/`.
    #[arg(long)]
    this_mac: bool,
    #[arg(long)]
    json: bool,
}

pub fn init(project: &ProjectArgs, args: &InitArgs) -> anyhow::Result<ExitCode> {
    let source = match (&args.root, args.this_mac) {
        (Some(root), false) => {
            let root = std::fs::canonicalize(root).with_context(|| {
                format!(
                    "cannot open the folder {}: check the path (it should contain Library/Server/Mail)",
                    root.display()
                )
            })?;
            Source {
                kind: SourceKind::Copy,
                root: root.display().to_string(),
            }
        }
        (None, true) => Source {
            kind: SourceKind::ThisMac,
            root: "/".into(),
        },
        _ => anyhow::bail!(
            "say which server to migrate: --root DIR (a copy of its files) or --this-mac"
        ),
    };
    let path = project.path();
    let existed = Project::exists(&path);
    let mut p = Project::open(&path)?;
    if let Some(current) = p.source()? {
        if current != source {
            anyhow::bail!(
                "{} already holds the migration of {}; to migrate another server, use another file (--project FILE)",
                path.display(),
                current.root
            );
        }
    }
    p.set_source(&source)?;
    if args.json {
        print_json(&serde_json::json!({ "project": path, "source": source, "created": !existed }))?;
    } else {
        println!(
            "{} {}",
            if existed {
                "Migration at"
            } else {
                "New migration at"
            },
            path.display()
        );
        println!("Old server: {}", source.root);
        println!("Next: ferry discover");
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    #[arg(long)]
    json: bool,
}

fn state_word(state: PhaseState) -> &'static str {
    match state {
        PhaseState::NotStarted => "not started",
        PhaseState::Running => "running",
        PhaseState::Done => "done",
        PhaseState::NeedsAttention => "needs attention",
    }
}

pub fn status(project: &ProjectArgs, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let p = project.open()?;
    let status = ferry_project::status::status(&p)?;
    if args.json {
        print_json(&status)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", status.headline);
    println!();
    for line in &status.phases {
        let marker = match line.state {
            PhaseState::Done => "✓",
            PhaseState::NeedsAttention => "!",
            PhaseState::Running => "…",
            PhaseState::NotStarted if Some(line.phase) == status.next => "→",
            PhaseState::NotStarted => " ",
        };
        let mut text = format!(
            "{marker} {:>2}. {:<13} {}",
            line.number,
            line.title,
            state_word(line.state)
        );
        if let Some(note) = &line.note {
            text.push_str(&format!(": {note}"));
        }
        println!("{text}");
        if line.state != PhaseState::Done {
            for blocker in &line.blockers {
                println!("        waits for: {blocker}");
            }
        }
    }
    println!("\nProject file: {}", p.path().display());
    Ok(ExitCode::SUCCESS)
}

// --- discover ------------------------------------------------------------------------------

pub fn discover(project: &ProjectArgs, json: bool) -> anyhow::Result<ExitCode> {
    let mut p = project.open()?;
    let host = CliHost::new(VaultArgs::from_env(), &[])?;
    let snapshot = ferry_project::phases::discover::discover(&mut p, &host, None)?;
    if json {
        print_json(&snapshot.inventory)?;
    } else {
        print!("{}", crate::discover::render(&snapshot.inventory));
        let open = ferry_project::status::undecided_warnings(&p)?;
        if open > 0 {
            println!(
                "\n{} to decide on: `ferry accounts decide` lists them with what to type.",
                plural(open as u64, "warning", "warnings")
            );
        }
        println!("Next: ferry destination --preset google|m365|fastmail|imap");
    }
    Ok(ExitCode::SUCCESS)
}

// --- destination ---------------------------------------------------------------------------

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum OAuthArg {
    Microsoft,
    Google,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum PresetArg {
    Google,
    M365,
    Fastmail,
    Imap,
}

#[derive(clap::Args, Debug)]
pub struct DestinationArgs {
    /// The new host: google (Google Workspace), m365 (Microsoft 365), fastmail, or imap (another
    /// IMAP host). Without it, shows the current choice.
    #[arg(long, value_enum)]
    preset: Option<PresetArg>,
    /// The new host's MX name, as the provider told you to put it in the MX records (only needed
    /// for another IMAP host; the presets know theirs). Repeat for several.
    #[arg(long, value_name = "NAME")]
    mx: Vec<String>,
    /// The IMAP host (with --preset imap).
    #[arg(long, value_name = "HOST")]
    imap_host: Option<String>,
    #[arg(long, value_name = "PORT")]
    imap_port: Option<u16>,
    /// Connect with STARTTLS instead of TLS from the first byte.
    #[arg(long)]
    starttls: bool,
    /// SHA-256 of the host's certificate to accept, when no known authority signed it.
    #[arg(long, value_name = "HEX")]
    pin_sha256: Option<String>,
    /// The SMTP host for the profiles (default: the IMAP host).
    #[arg(long, value_name = "HOST")]
    smtp_host: Option<String>,
    /// Sign in to the new host with OAuth 2.0 instead of users' passwords: `microsoft` (an app
    /// registration with IMAP.AccessAsApp: --tenant, --client-id) or `google` (a service account
    /// with domain-wide delegation: --service-account). See the README for the set-up.
    #[arg(long, value_enum)]
    oauth: Option<OAuthArg>,
    #[arg(long, value_name = "TENANT", requires = "oauth")]
    tenant: Option<String>,
    #[arg(long, value_name = "ID", requires = "oauth")]
    client_id: Option<String>,
    /// Microsoft: the app signs in with a certificate (its PEM private key and certificate in
    /// the secret file) instead of a client secret.
    #[arg(long, requires = "oauth")]
    certificate: bool,
    #[arg(long, value_name = "EMAIL", requires = "oauth")]
    service_account: Option<String>,
    /// The client secret, the PEM key and certificate, or Google's JSON key file: read from this
    /// file (never the command line) into the password store. Delete the file afterwards.
    #[arg(long, value_name = "FILE", requires = "oauth")]
    oauth_secret_file: Option<PathBuf>,
    /// Another token endpoint than the provider's (test servers).
    #[arg(long, value_name = "URL", requires = "oauth")]
    oauth_token_url: Option<String>,
    #[arg(long)]
    json: bool,
}

pub fn destination(project: &ProjectArgs, args: &DestinationArgs) -> anyhow::Result<ExitCode> {
    let mut p = project.open()?;
    let host = CliHost::new(VaultArgs::from_env(), &[])?;
    if !args.mx.is_empty() {
        let mut settings: ferry_project::phases::cutover::DnsSettings = p
            .setting(ferry_project::phases::cutover::DNS_SETTING)?
            .unwrap_or_default();
        settings.new_mx.names = args.mx.clone();
        p.set_setting(ferry_project::phases::cutover::DNS_SETTING, &settings)?;
    }
    let destination = match args.preset {
        None => p.destination()?.context(
            "no new host chosen yet: ferry destination --preset google|m365|fastmail|imap",
        )?,
        Some(preset) => ferry_project::phases::destination::choose(
            &mut p,
            &host,
            &ferry_project::phases::destination::DestinationChoice {
                preset: match preset {
                    PresetArg::Google => PresetId::GoogleWorkspace,
                    PresetArg::M365 => PresetId::Microsoft365,
                    PresetArg::Fastmail => PresetId::Fastmail,
                    PresetArg::Imap => PresetId::GenericImap,
                },
                imap_host: args.imap_host.clone(),
                imap_port: args.imap_port,
                imap_security: args.starttls.then_some(Security::StartTls),
                smtp_host: args.smtp_host.clone(),
                pinned_sha256: args.pin_sha256.clone(),
            },
        )?,
    };
    if let Some(kind) = args.oauth {
        let settings = match kind {
            OAuthArg::Microsoft => ferry_oauth::OAuthSettings::MicrosoftApp {
                tenant: args.tenant.clone().context(
                    "--oauth microsoft needs --tenant (the tenant ID or primary domain)",
                )?,
                client_id: args
                    .client_id
                    .clone()
                    .context("--oauth microsoft needs --client-id (the app's Application ID)")?,
                credential: if args.certificate {
                    ferry_oauth::MicrosoftCredentialKind::Certificate
                } else {
                    ferry_oauth::MicrosoftCredentialKind::ClientSecret
                },
                token_url: args.oauth_token_url.clone(),
            },
            OAuthArg::Google => ferry_oauth::OAuthSettings::GoogleServiceAccount {
                client_email: args.service_account.clone().context(
                    "--oauth google needs --service-account (name@project.iam.gserviceaccount.com)",
                )?,
                token_url: args.oauth_token_url.clone(),
            },
        };
        let secret = match &args.oauth_secret_file {
            Some(file) => Some(ferry_vault::Secret::from(
                std::fs::read_to_string(file)
                    .with_context(|| format!("cannot read {}", file.display()))?
                    .trim_end()
                    .to_string(),
            )),
            None => None,
        };
        let vault_host = CliHost::new(VaultArgs::from_env(), &[])?;
        ferry_project::phases::destination::set_oauth(
            &mut p,
            &vault_host,
            &settings,
            secret.as_ref(),
        )?;
        if !args.json {
            println!(
                "Sign-in: OAuth 2.0 ({kind:?}); no user passwords are needed on the new host."
            );
        }
    }
    if args.json {
        print_json(&destination)?;
    } else {
        println!(
            "New host: {} (IMAP {}:{})",
            destination.name, destination.imap.host, destination.imap.port
        );
        let plan = p.plan()?;
        println!(
            "{} of {} accounts will be copied; see them with `ferry accounts`.",
            plan.iter().filter(|a| a.included && a.present).count(),
            plan.len()
        );
        println!("Next: ferry credentials password ACCOUNT (one per account), then ferry credentials check");
    }
    Ok(ExitCode::SUCCESS)
}

// --- accounts --------------------------------------------------------------------------------

#[derive(clap::Args, Debug)]
pub struct AccountsArgs {
    #[command(subcommand)]
    command: Option<AccountsCommand>,
    #[arg(long, global = true)]
    json: bool,
}

#[derive(clap::Subcommand, Debug)]
enum AccountsCommand {
    /// The plan: old address -> new address, included or not, how it is read.
    List,
    /// Copy OLD's mail to NEW on the new host.
    Map { old: String, new: String },
    /// Copy this account.
    Include { old: String },
    /// Do not copy this account.
    Exclude { old: String },
    /// Read this account over the old server's IMAP service instead of from the store on disk
    /// (or back: `--store`).
    Method {
        old: String,
        #[arg(long)]
        store: bool,
    },
    /// New addresses: every address at FROM becomes the same name at TO.
    RenameDomain { from: String, to: String },
    /// Record a decision on a discovery warning (CODE and SUBJECT as `ferry status`/discover
    /// show them); `--all DECISION` for every open warning.
    Decide {
        code: Option<String>,
        subject: Option<String>,
        decision: Option<String>,
        #[arg(long, value_name = "DECISION")]
        all: Option<String>,
    },
}

pub fn accounts(project: &ProjectArgs, args: &AccountsArgs) -> anyhow::Result<ExitCode> {
    let mut p = project.open()?;
    let now = CliHost::new(VaultArgs::from_env(), &[])?.now().timestamp();
    match &args.command {
        None | Some(AccountsCommand::List) => {}
        Some(AccountsCommand::Map { old, new }) => {
            p.update_account(old, &AccountChange::DestAddress(new.clone()))?
        }
        Some(AccountsCommand::Include { old }) => {
            p.update_account(old, &AccountChange::Included(true))?
        }
        Some(AccountsCommand::Exclude { old }) => {
            p.update_account(old, &AccountChange::Included(false))?
        }
        Some(AccountsCommand::Method { old, store }) => p.update_account(
            old,
            &AccountChange::Method(if *store {
                SourceMethod::Store
            } else {
                SourceMethod::Imap
            }),
        )?,
        Some(AccountsCommand::RenameDomain { from, to }) => {
            let n = p.rename_domain(from, to)?;
            eprintln!("{} now at {to}", plural(n as u64, "address", "addresses"));
        }
        Some(AccountsCommand::Decide {
            code,
            subject,
            decision,
            all,
        }) => {
            let snapshot = p
                .inventory()?
                .context("nothing discovered yet: run `ferry discover` first")?;
            let chosen: Vec<(String, String, String)> = match (all, code, decision) {
                (Some(d), _, _) => snapshot
                    .inventory
                    .warnings
                    .iter()
                    .map(|w| {
                        (
                            ferry_project::status::warning_code(&w.code),
                            w.subject.clone().unwrap_or_default(),
                            d.clone(),
                        )
                    })
                    .collect(),
                (None, Some(c), Some(d)) => {
                    vec![(c.clone(), subject.clone().unwrap_or_default(), d.clone())]
                }
                _ => {
                    let decided = p.decisions()?;
                    let mut open = 0;
                    for w in &snapshot.inventory.warnings {
                        let code = ferry_project::status::warning_code(&w.code);
                        let subject = w.subject.clone().unwrap_or_default();
                        if decided
                            .iter()
                            .any(|d| d.code == code && d.subject == subject)
                        {
                            continue;
                        }
                        open += 1;
                        println!("{code} {subject}\n    {}", w.message);
                    }
                    if open == 0 {
                        println!("Every warning has a decision.");
                    } else {
                        println!(
                            "\nRecord each with `ferry accounts decide CODE SUBJECT DECISION` (for example `copy`, `skip` or `noted`), or all at once with `ferry accounts decide --all noted`."
                        );
                    }
                    return Ok(ExitCode::SUCCESS);
                }
            };
            for (code, subject, decision) in chosen {
                p.record_decision(&ferry_project::project::Decision {
                    code,
                    subject,
                    decision,
                    decided_at: now,
                })?;
            }
        }
    }
    let plan = p.plan()?;
    if args.json {
        print_json(&plan)?;
        return Ok(ExitCode::SUCCESS);
    }
    let destination = p.destination()?;
    // Two lines per account: the mapping, then what it holds; fits an 80-column terminal.
    let width = plan
        .iter()
        .map(|a| a.source_address.chars().count())
        .max()
        .unwrap_or(0);
    for a in &plan {
        let moved = if a.dest_address == a.source_address {
            "same address".to_string()
        } else {
            format!("-> {}", a.dest_address)
        };
        println!(
            "{} {:<width$}  {moved}",
            if a.included { "+" } else { "-" },
            a.source_address,
        );
        let days = destination
            .as_ref()
            .and_then(|d| ferry_project::plan::upload_days(a, d))
            .filter(|_| a.included)
            .map(|days| {
                format!(
                    "; first copy takes {} at the new host's daily upload limit",
                    plural(u64::from(days), "day", "days")
                )
            })
            .unwrap_or_default();
        println!(
            "    {}, {}, read from {}{}{days}",
            plural(a.messages, "message", "messages"),
            ferry_project::discover::human_bytes(a.bytes),
            match a.method {
                SourceMethod::Store => "the store on disk",
                SourceMethod::Imap => "the old server's IMAP service",
            },
            match a.kind {
                ferry_project::plan::AccountKind::User if a.store.is_none() =>
                    "; no mail store: nothing to copy",
                ferry_project::plan::AccountKind::User => "",
                ferry_project::plan::AccountKind::JunkTraining =>
                    "; junk training mailbox (archived in Quarantine)",
                ferry_project::plan::AccountKind::NotJunkTraining =>
                    "; not-junk training mailbox (archived in Quarantine)",
            }
        );
    }
    println!("(+ copied, - left out: ferry accounts include|exclude ADDRESS)");
    Ok(ExitCode::SUCCESS)
}

// --- credentials on the project ------------------------------------------------------------

/// `ferry credentials password ACCOUNT`: the new host's password of one planned account, read
/// without echo (or from standard input), stored in the vault where the syncs read it.
pub fn set_account_password(
    project: &ProjectArgs,
    vault: VaultArgs,
    account: &str,
) -> anyhow::Result<ExitCode> {
    let p = project.open()?;
    let host = CliHost::new(vault, &[])?;
    let secret = crate::credentials::read_password(&format!("{account} on the new host"))?;
    let stored_in =
        ferry_project::phases::credentials::set_destination_password(&p, &host, account, &secret)?;
    println!("Stored in {stored_in}.");
    Ok(ExitCode::SUCCESS)
}

/// `ferry credentials check` on the project: every planned login, results kept in the project.
pub fn check_logins(
    project: &ProjectArgs,
    vault: VaultArgs,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut p = project.open()?;
    let host = CliHost::new(vault, &[])?;
    let report = runtime()?.block_on(ferry_project::phases::credentials::check_logins(
        &mut p, &host,
    ))?;
    if json {
        print_json(&report)?;
    } else {
        for r in &report.results {
            let side = match r.side {
                ferry_vault::check::Side::Source => "old server",
                ferry_vault::check::Side::Destination => "new host",
            };
            println!("{:<32} {:<10} {}", r.account, side, r.message);
            if !r.advice.is_empty() {
                println!("{:<43} {}", "", r.advice);
            }
            if matches!(
                r.status,
                ferry_vault::check::Status::MissingPassword
                    | ferry_vault::check::Status::WrongPassword
            ) {
                let command = match r.side {
                    // the old server's password goes under (its host, the login), as the sync reads it
                    ferry_vault::check::Side::Source => format!(
                        "ferry credentials set {} --host {}",
                        r.login,
                        r.server
                            .rsplit_once(':')
                            .map_or(r.server.as_str(), |(h, _)| h)
                    ),
                    ferry_vault::check::Side::Destination => {
                        format!("ferry credentials password {}", r.account)
                    }
                };
                println!("{:<43} {command}", "");
            }
        }
        println!(
            "{} {}, {}",
            plural(report.ok as u64, "login", "logins"),
            if report.ok == 1 { "works" } else { "work" },
            plural(report.problems as u64, "problem", "problems")
        );
        if report.problems == 0 {
            println!("Next: ferry sync initial");
        }
    }
    Ok(if report.problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

// --- sync jobs -------------------------------------------------------------------------------

/// Shows a job's progress: one bar per account on a terminal, else one line per account when it
/// ends (logs and CI stay readable).
struct ProgressView {
    bars: Option<(
        MultiProgress,
        Mutex<std::collections::HashMap<String, ProgressBar>>,
    )>,
    json: bool,
}

impl ProgressView {
    fn new(json: bool) -> Arc<Self> {
        let tty = std::io::stderr().is_terminal() && !json;
        Arc::new(ProgressView {
            bars: tty.then(|| (MultiProgress::new(), Mutex::new(Default::default()))),
            json,
        })
    }

    /// A line above the bars (or on its own without them).
    fn note(&self, text: &str) {
        if let Some((multi, _)) = &self.bars {
            let _ = multi.println(text);
        } else if !self.json {
            eprintln!("{text}");
        }
    }

    fn on_event(&self, event: &JobEvent) {
        match &event.event {
            JobProgress::Account { progress } => self.account(progress),
            JobProgress::Started { accounts, .. } => {
                for a in accounts {
                    self.account(a)
                }
            }
            JobProgress::Note { text } => self.note(text),
            JobProgress::Finished { .. } => {}
        }
    }

    fn account(&self, p: &AccountProgress) {
        let Some((multi, bars)) = &self.bars else {
            if !self.json {
                match p.stage {
                    // Said as the app says it, rather than "0 of 0 messages (0 B)".
                    AccountStage::Done if p.messages_total == 0 && p.failures == 0 => {
                        eprintln!("{}: nothing new", p.account)
                    }
                    AccountStage::Done | AccountStage::DoneWithFailures => eprintln!(
                        "{}: {} of {} messages ({}){}",
                        p.account,
                        p.messages_done,
                        p.messages_total,
                        ferry_project::discover::human_bytes(p.bytes_done),
                        if p.failures > 0 {
                            format!(", {} failed", p.failures)
                        } else {
                            String::new()
                        }
                    ),
                    AccountStage::Stopped => eprintln!(
                        "{}: stopped: {}",
                        p.account,
                        p.error.as_deref().unwrap_or("")
                    ),
                    AccountStage::WaitingForLimit => eprintln!(
                        "{}: the new host's daily upload limit is reached; the rest follows in the next window",
                        p.account
                    ),
                    _ => {}
                }
            }
            return;
        };
        let mut bars = bars.lock().unwrap_or_else(|e| e.into_inner());
        let bar = bars.entry(p.account.clone()).or_insert_with(|| {
            let bar = multi.add(ProgressBar::new(0));
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:<28} [{bar:30}] {bytes:>10}/{total_bytes:<10} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(p.account.clone());
            bar
        });
        bar.set_length(p.bytes_total.max(p.bytes_done));
        bar.set_position(p.bytes_done);
        let eta = p
            .eta_seconds
            .filter(|s| *s > 0)
            .map(|s| format!(", {} left", human_duration(s)))
            .unwrap_or_default();
        let msg = match p.stage {
            AccountStage::Waiting => "waiting".to_string(),
            AccountStage::Planning => "looking at folders".to_string(),
            AccountStage::Copying => format!(
                "{}/{} msgs, {}{eta}{}",
                p.messages_done,
                p.messages_total,
                if p.bytes_per_second > 0.0 {
                    format!(
                        "{}/s",
                        ferry_project::discover::human_bytes(p.bytes_per_second as u64)
                    )
                } else {
                    "measuring speed".to_string()
                },
                p.folder
                    .as_deref()
                    .map(|f| format!(" ({f})"))
                    .unwrap_or_default()
            ),
            AccountStage::Done => {
                format!("done, {}", plural(p.messages_done, "message", "messages"))
            }
            AccountStage::DoneWithFailures => {
                format!("done, {} failed (see ferry review)", p.failures)
            }
            AccountStage::Stopped => format!("stopped: {}", p.error.as_deref().unwrap_or("")),
            AccountStage::WaitingForLimit => "daily upload limit reached".to_string(),
        };
        bar.set_message(msg);
        match p.stage {
            AccountStage::Done | AccountStage::DoneWithFailures => bar.finish(),
            // Left where it stopped: a full bar would say it was done.
            AccountStage::Stopped | AccountStage::WaitingForLimit => bar.abandon(),
            _ => {}
        }
    }
}

fn human_duration(seconds: u64) -> String {
    match seconds {
        s if s < 90 => format!("{s} s"),
        s if s < 90 * 60 => format!("{} min", s.div_ceil(60)),
        s => format!("{:.1} h", s as f64 / 3600.0),
    }
}

/// `ferry sync initial|delta|final`.
#[derive(clap::Subcommand, Debug)]
pub enum SyncPhaseCommand {
    /// Phase 4 on the project: every included account, the first time (re-runs copy only what
    /// is missing).
    Initial(PhaseRunArgs),
    /// Phase 7: what arrived since, on cut-over day (`ferry dns --watch` runs it by itself).
    Delta(PhaseRunArgs),
    /// Phase 9: the last copy, then a verification of every account.
    Final(PhaseRunArgs),
}

#[derive(clap::Args, Debug)]
pub struct PhaseRunArgs {
    /// The report as JSON on stdout (progress stays on stderr).
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug)]
pub enum SyncPhaseArg {
    /// Phase 4: everything, the first time (re-runs copy only what is missing).
    Initial,
    /// Phase 7: what arrived since, on cut-over day (`ferry dns --watch` runs it by itself).
    Delta,
    /// Phase 9: the last copy, then a verification of every account.
    Final,
}

/// `ferry sync initial|delta|final` on the project. Ctrl-C stops it cleanly (what was sent is
/// recorded; the same command continues).
pub fn sync(
    project: &ProjectArgs,
    vault: VaultArgs,
    phase: SyncPhaseArg,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let path = project.path();
    project.open()?;
    let host = CliHost::new(vault, &[])?;
    let kind = match phase {
        SyncPhaseArg::Initial => JobKind::InitialSync,
        SyncPhaseArg::Delta => JobKind::DeltaSync,
        SyncPhaseArg::Final => JobKind::FinalSync,
    };
    let control = JobControl::new(kind);
    let view = ProgressView::new(json);
    let events: ferry_project::jobs::JobEvents = {
        let view = view.clone();
        Arc::new(move |e: JobEvent| view.on_event(&e))
    };
    let rt = runtime()?;
    let report = rt.block_on(async {
        let cancel = control.cancel.clone();
        let view = view.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                view.note(
                    "Stopping after the messages in flight (press Ctrl-C again to quit at once)...",
                );
                cancel.cancel();
                let _ = tokio::signal::ctrl_c().await;
                std::process::exit(130);
            }
        });
        ferry_project::phases::sync::run(&path, &host, &control, events, None).await
    })?;
    if json {
        print_json(&report)?;
    } else {
        println!("{}", report.summary);
        for a in &report.not_started {
            println!("  {}: {}", a.account, a.error);
        }
        for s in report.report.accounts.iter().filter(|s| s.fatal.is_some()) {
            println!("  {}: {}", s.account, s.fatal.as_deref().unwrap_or(""));
        }
    }
    Ok(if report.cancelled {
        ExitCode::from(130)
    } else if report.resumes_at.is_some() {
        ExitCode::from(3)
    } else {
        ExitCode::from(
            report
                .report
                .exit_code()
                .max(u8::from(!report.not_started.is_empty())),
        )
    })
}

// --- DNS, cut-over, mail flow ----------------------------------------------------------------

pub fn dns(
    project: &ProjectArgs,
    vault: VaultArgs,
    args: &crate::dns::DnsArgs,
) -> anyhow::Result<ExitCode> {
    let path = project.path();
    let mut p = project.open()?;
    let host = CliHost::new(vault, &args.resolvers)?;
    let rt = runtime()?;
    if !args.watch {
        let report = rt.block_on(ferry_project::phases::cutover::dns_check(&mut p, &host))?;
        if args.json {
            print_json(&report)?;
        } else {
            print!("{}", crate::dns::render(&report));
            match ferry_project::phases::cutover::ttl_wait(&p)? {
                Some(wait) if !report.all_new => println!(
                    "{}",
                    ferry_project::phases::cutover::ttl_wait_words(&wait, host.now().timestamp())
                ),
                _ => {}
            }
            println!("Next: when the TTL advice allows, switch the MX records, then run `ferry dns --watch`.");
        }
        return Ok(ExitCode::SUCCESS);
    }
    drop(p);
    let control = JobControl::new(JobKind::DnsWatch);
    let view = ProgressView::new(args.json);
    let events: ferry_project::jobs::JobEvents = {
        let view = view.clone();
        Arc::new(move |e: JobEvent| view.on_event(&e))
    };
    let watch = ferry_project::cutover::WatchOptions {
        interval: Duration::from_secs(args.interval.max(1)),
        max_wait: Duration::from_secs(args.max_wait),
    };
    let outcome = rt.block_on(ferry_project::phases::cutover::cutover_watch(
        &path, &host, &control, events, &watch,
    ))?;
    if args.json {
        print_json(&outcome)?;
    } else {
        println!(
            "{}",
            ferry_project::phases::cutover::round_note(&outcome.dns)
        );
        if let Some(delta) = &outcome.delta {
            println!("{}", delta.summary);
            println!("Next: ferry profiles export --out DIR, then ferry sync final");
        } else {
            println!("DNS has not switched everywhere yet: run `ferry dns --watch` again later.");
        }
    }
    Ok(match &outcome.delta {
        None => ExitCode::from(2),
        Some(d) => ExitCode::from(d.report.exit_code()),
    })
}

// --- quarantine ----------------------------------------------------------------------------

pub fn quarantine(
    project: &ProjectArgs,
    vault: VaultArgs,
    target: ferry_project::phases::cutover::QuarantineTarget,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut p = project.open()?;
    let host = CliHost::new(vault, &[])?;
    let archive = runtime()?.block_on(ferry_project::phases::cutover::quarantine(
        &mut p, &host, &target,
    ))?;
    if json {
        print_json(&archive)?;
    } else {
        for m in &archive.mailboxes {
            println!(
                "{:<28} {:>5} found, {:>5} added, {:>5} already there -> {}",
                m.label, m.found, m.added, m.already_there, m.destination
            );
        }
        for w in &archive.warnings {
            println!("warning: {w}");
        }
    }
    Ok(if archive.complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

// --- facts the admin records ---------------------------------------------------------------

#[derive(clap::Args, Debug)]
pub struct MarkArgs {
    #[command(subcommand)]
    what: MarkCommand,
}

#[derive(clap::Subcommand, Debug)]
enum MarkCommand {
    /// You lowered the MX records' TTL now: Ferry counts down the old TTL before the switch.
    TtlLowered,
    /// You keep a clone or backup of the old server (asked before it is switched off).
    CloneKept,
}

pub fn mark(project: &ProjectArgs, args: &MarkArgs) -> anyhow::Result<ExitCode> {
    let mut p = project.open()?;
    let host = CliHost::new(VaultArgs::from_env(), &[])?;
    match args.what {
        MarkCommand::TtlLowered => {
            let wait = ferry_project::phases::cutover::mark_ttl_lowered(&mut p, &host)?;
            println!(
                "{}",
                ferry_project::phases::cutover::ttl_wait_words(&wait, wait.lowered_at)
            );
        }
        MarkCommand::CloneKept => {
            p.set_fact(
                ferry_project::project::Fact::CloneKeptAt,
                Some(host.now().timestamp()),
            )?;
            println!("Noted: a clone of the old server is kept.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

// --- review, profiles, decommission ----------------------------------------------------------

#[derive(clap::Args, Debug)]
pub struct ReviewArgs {
    /// Copy again just the messages that failed.
    #[arg(long)]
    retry: bool,
    /// Keep a message the new host refuses for good: ACCOUNT FOLDER KEY as the review lists them.
    #[arg(long, num_args = 3, value_names = ["ACCOUNT", "FOLDER", "KEY"])]
    resolve: Option<Vec<String>>,
    /// With --resolve: export it to this mbox file instead of delivering it wrapped.
    #[arg(long, value_name = "FILE", requires = "resolve")]
    mbox: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn review(project: &ProjectArgs, args: &ReviewArgs) -> anyhow::Result<ExitCode> {
    let path = project.path();
    let mut p = project.open()?;
    let host = CliHost::new(VaultArgs::from_env(), &[])?;
    let rt = runtime()?;
    if let Some(parts) = &args.resolve {
        drop(p);
        let choice = match &args.mbox {
            Some(file) => ferry_project::review::ResolveChoice::Mbox {
                path: file.display().to_string(),
            },
            None => ferry_project::review::ResolveChoice::Wrapped,
        };
        let resolved = rt.block_on(ferry_project::phases::review::resolve(
            &path,
            &host,
            &parts[0],
            &ferry_project::review::MessageRef {
                folder: parts[1].clone(),
                key: parts[2].clone(),
            },
            &choice,
        ))?;
        if args.json {
            print_json(&resolved)?;
        } else {
            println!(
                "Kept another way: {} ({:?})",
                resolved.subject.as_deref().unwrap_or("(no subject)"),
                resolved.how
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.retry {
        drop(p);
        let control = JobControl::new(JobKind::Retry);
        let view = ProgressView::new(args.json);
        let events: ferry_project::jobs::JobEvents = {
            let view = view.clone();
            Arc::new(move |e: JobEvent| view.on_event(&e))
        };
        let report = rt.block_on(ferry_project::phases::review::retry(
            &path, &host, &control, events,
        ))?;
        if args.json {
            print_json(&report)?;
        } else {
            println!("{}", report.summary);
        }
        return Ok(if report.still_failing == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        });
    }
    let review = rt.block_on(ferry_project::phases::review::review(&mut p, &host))?;
    if args.json {
        print_json(&review)?;
        return Ok(ExitCode::from(if review.ok { 0 } else { 2 }));
    }
    let plan = p.plan()?;
    let included: Vec<_> = plan.iter().filter(|a| a.included && a.present).collect();
    for (i, account) in review.accounts.iter().enumerate() {
        let name = included
            .get(i)
            .map_or(account.account.as_str(), |a| a.source_address.as_str());
        println!(
            "{name}: old server {} messages ({}), new host {} ({}), {} missing",
            account.source_messages,
            ferry_project::discover::human_bytes(account.source_bytes),
            account.dest_messages,
            ferry_project::discover::human_bytes(account.dest_bytes),
            account.missing
        );
        if let Some(error) = &account.error {
            println!("  could not compare: {error}");
        }
        for f in &account.failures {
            println!(
                "  failed: {} / {} \"{}\": {}",
                f.folder,
                f.key,
                f.subject.as_deref().unwrap_or(""),
                f.reason
            );
            if !f.advice.is_empty() {
                println!("    {}", f.advice);
            }
        }
    }
    println!(
        "{}",
        if review.ok {
            "Every message is on the new host.".to_string()
        } else {
            format!(
                "{} missing, {} failed: `ferry review --retry` copies them again.",
                review.missing, review.failed
            )
        }
    );
    if !review.resolved_text.is_empty() {
        println!("Kept another way: {}", review.resolved_text);
    }
    Ok(if review.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// `ferry profiles export --out DIR` on the project.
pub fn profiles(
    project: &ProjectArgs,
    choice: ferry_project::phases::profiles::ProfilesChoice,
    signing: Option<ferry_project::profiles::Signing>,
    vault: VaultArgs,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut p = project.open()?;
    let host = CliHost::new(vault, &[])?;
    let report = ferry_project::phases::profiles::export(&mut p, &host, &choice, signing)?;
    if json {
        print_json(&report)?;
    } else {
        print!("{}", crate::profiles::render(&report, &[]));
    }
    if report.contains_passwords {
        eprintln!(
            "ferry: WARNING: the profiles in {} hold passwords in clear",
            report.out_dir
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args, Debug)]
pub struct DecommissionArgs {
    /// Write the final report (one HTML page; the JSON beside it).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn decommission(project: &ProjectArgs, args: &DecommissionArgs) -> anyhow::Result<ExitCode> {
    let mut p = project.open()?;
    let host = CliHost::new(VaultArgs::from_env(), &[])?;
    let view = runtime()?.block_on(ferry_project::phases::decommission::decommission(
        &mut p,
        &host,
        args.report.as_deref(),
    ))?;
    if args.json {
        print_json(&view)?;
    } else {
        for item in &view.checklist.items {
            let mark = match item.state {
                ferry_project::decommission::ItemState::Done => "✓",
                _ => "✗",
            };
            println!("{mark} {}: {}", item.title, item.detail);
            if let Some(todo) = &item.todo {
                println!("    {todo}");
            }
        }
        if let Some(html) = &view.report_html {
            println!("Final report: {html}");
        }
        println!(
            "{}",
            if view.checklist.ready {
                "Ready: the old server's mail service can be switched off."
            } else {
                "Not ready yet: do what is listed above, then run `ferry decommission` again."
            }
        );
    }
    Ok(if view.checklist.ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
