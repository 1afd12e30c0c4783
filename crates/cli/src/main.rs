//! `ferry`: the migration's phases, headless. Each subcommand lives in its own module and is a thin
//! adapter over `ferry_project`; output is readable text by default and JSON with `--json`.

use clap::{Parser, Subcommand};

mod credentials;
mod discover;
mod dns;
mod mailflow;
mod profiles;
mod quarantine;
mod sync;

#[derive(Parser)]
#[command(
    name = "ferry",
    version,
    about = "Retire the mail service of an old macOS Server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print Ferry's version and build information.
    Version,
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
    let result: anyhow::Result<std::process::ExitCode> = match cli.command {
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
        Command::Credentials(args) => credentials::run(&args),
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
