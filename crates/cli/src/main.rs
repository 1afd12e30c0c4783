//! `ferry`: the migration's phases, headless. Each subcommand lives in its own module and is a thin
//! adapter over `ferry_project`; output is readable text by default and JSON with `--json`.

use clap::{Parser, Subcommand};

mod credentials;
mod discover;
mod dns;
mod mailflow;
mod migration;
mod profiles;
mod quarantine;
mod sync;

#[derive(Parser)]
#[command(
    name = "ferry",
    version,
    about = "Retire the mail service of an old macOS Server",
    after_help = "A migration is one project file (--project FILE, or FERRY_PROJECT; default: \
migration.ferry in Ferry's data folder): ferry init --root DIR, then ferry status says what is \
next at every step.\n\nExit status: 0 done; 1 could not run (the message says why and what to \
do); 2 done with something to look at (messages that failed or are missing, logins that failed, \
DNS not switched yet, the old server not quiet yet: see the output); 3 the new host's daily \
upload limit was reached (run the same command again after the time printed); 130 stopped with \
Ctrl-C (run the same command again to continue where it stopped)."
)]
struct Cli {
    #[command(flatten)]
    project: migration::ProjectArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print Ferry's version and build information.
    Version,
    /// Start a migration project: which old server (a copy of its files, or this Mac).
    Init(migration::InitArgs),
    /// Where the migration stands, phase by phase: what is done, what is next, what blocks it.
    Status(migration::StatusArgs),
    /// Phase 2: the new host (a preset or another IMAP host); without --preset, the current one.
    Destination(migration::DestinationArgs),
    /// Phase 2: the account plan: old address -> new address, include / exclude, decisions.
    Accounts(migration::AccountsArgs),
    /// Record what you did outside Ferry: lowered the MX TTL, kept a clone of the old server.
    Mark(migration::MarkArgs),
    /// Phase 5: every account compared (old server against new host, per folder), failures with
    /// advice; --retry copies just those again. Exit 0 all there, 2 something missing.
    Review(migration::ReviewArgs),
    /// Phase 11: the checklist before the old server is switched off, and the final report.
    /// Exit 0 ready, 2 not yet.
    Decommission(migration::DecommissionArgs),
    /// Phases 6 and 7: MX, addresses, TTLs and SPF of every domain; `--watch` until every
    /// resolver answers the new host (exit 2 when it gave up first).
    Dns(dns::DnsArgs),
    /// Phase 11: is mail still arriving at the old server? Last delivery per account, quiet time.
    Mailflow(mailflow::MailflowArgs),
    /// Phase 10: archive the junk-training mailboxes and the amavis quarantine.
    Quarantine(quarantine::QuarantineArgs),
    /// Phase 1: read the old server's accounts, addresses, folders and sizes (changes nothing).
    Discover(discover::DiscoverArgs),
    /// Phase 8: configuration profiles (.mobileconfig) that point Macs, iPhones and iPads at the
    /// new host.
    Profiles(profiles::ProfilesArgs),
    /// Phases 4, 7, 9: copy every message to the new host exactly once (re-runs copy only what
    /// is missing). Exit 0 complete, 2 some messages failed (listed), 1 an account stopped.
    Sync(sync::SyncArgs),
    /// Phase 5: compare source and destination per folder, by message identity; list what is
    /// missing. Exit 0 all there, 2 messages missing, 1 could not check.
    Verify(sync::SyncArgs),
    /// Phase 3: store passwords (import a file, or one at a time) and check every login.
    Credentials(credentials::CredentialsArgs),
}

fn main() -> std::process::ExitCode {
    init_logging();
    let cli = Cli::parse();
    let project = cli.project.clone();
    // Verbs that also run one-off (with --root, --new-host, --source ...) work on the migration
    // project when those are absent and a project exists.
    let on_project = project.project.is_some() || migration::ProjectArgs::default_exists();
    let result: anyhow::Result<std::process::ExitCode> = match cli.command {
        Command::Init(args) => migration::init(&project, &args),
        Command::Status(args) => migration::status(&project, &args),
        Command::Destination(args) => migration::destination(&project, &args),
        Command::Accounts(args) => migration::accounts(&project, &args),
        Command::Discover(args) if args.root.is_none() && on_project => {
            migration::discover(&project, args.json)
        }
        Command::Dns(args)
            if args.new_hosts.is_empty() && args.new_ips.is_empty() && on_project =>
        {
            migration::dns(&project, crate::sync::VaultArgs::from_env(), &args)
        }
        Command::Sync(args) if args.phase.is_some() => {
            let (phase, run) = match args.phase.expect("checked above") {
                migration::SyncPhaseCommand::Initial(run) => {
                    (migration::SyncPhaseArg::Initial, run)
                }
                migration::SyncPhaseCommand::Delta(run) => (migration::SyncPhaseArg::Delta, run),
                migration::SyncPhaseCommand::Final(run) => (migration::SyncPhaseArg::Final, run),
            };
            migration::sync(
                &project,
                crate::sync::VaultArgs::from_env(),
                phase,
                run.json,
            )
        }
        Command::Quarantine(args) if on_project && quarantine::project_target(&args).is_some() => {
            let (target, json) = quarantine::project_target(&args).expect("checked above");
            migration::quarantine(&project, crate::sync::VaultArgs::from_env(), target, json)
        }
        Command::Mark(args) => migration::mark(&project, &args),
        Command::Review(args) => migration::review(&project, &args),
        Command::Decommission(args) => migration::decommission(&project, &args),
        Command::Profiles(args) if on_project && profiles::on_project(&args) => {
            profiles::run_on_project(&args, &project)
        }
        Command::Version => {
            println!("ferry {}", env!("CARGO_PKG_VERSION"));
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Discover(args) => discover::run(&args),
        Command::Dns(args) => dns::run(&args),
        Command::Mailflow(args) => mailflow::run(&args),
        Command::Quarantine(args) => quarantine::run(&args),
        Command::Profiles(args) => profiles::run(&args),
        Command::Sync(args) => sync::run_sync_command(&args),
        Command::Verify(args) => sync::run_verify_command(&args),
        Command::Credentials(args) => credentials::run(&args, &project),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ferry: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, filtered by `FERRY_LOG` (e.g. `FERRY_LOG=debug`); stdout stays for results.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERRY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
