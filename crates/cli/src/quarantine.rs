//! `ferry quarantine archive`: the junk / not-junk training mailboxes and amavis' quarantine,
//! as one mbox file per mailbox (`--mbox DIR`) or into a folder of the destination (`--imap-*`).
//! The IMAP password comes from `FERRY_IMAP_PASSWORD` or a prompt, never from the command line.

use std::path::PathBuf;

use anyhow::{bail, Context};
use ferry_project::cutover::{self, ImapCredentials, ImapEndpoint, QuarantineArchive};
use secrecy::SecretString;

#[derive(clap::Args)]
pub struct QuarantineArgs {
    #[command(subcommand)]
    pub command: QuarantineCommand,
}

#[derive(clap::Subcommand)]
pub enum QuarantineCommand {
    /// Archive every quarantine mailbox (re-runs add only what is new).
    Archive(ArchiveArgs),
}

#[derive(clap::Args)]
pub struct ArchiveArgs {
    /// The old server's root folder (`/` on the server itself; a copy of it elsewhere).
    /// Without it: the migration project's server, or `/`.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// On the migration project: archive into this planned account's mailbox on the new host
    /// (its password is the one the syncs use), below --folder.
    #[arg(long, value_name = "ADDRESS", conflicts_with_all = ["mbox", "imap_host"])]
    pub imap_account: Option<String>,
    /// Write `<mailbox>.mbox` files into this folder.
    #[arg(long, value_name = "DIR")]
    pub mbox: Option<PathBuf>,
    /// Destination IMAP host (implicit TLS unless --starttls).
    #[arg(long, value_name = "HOST")]
    pub imap_host: Option<String>,
    #[arg(long, value_name = "PORT")]
    pub imap_port: Option<u16>,
    /// Login of the account that keeps the archive.
    #[arg(long, value_name = "USER")]
    pub imap_user: Option<String>,
    /// SHA-256 of the destination's certificate, when it is self-signed.
    #[arg(long, value_name = "HEX")]
    pub imap_pin: Option<String>,
    #[arg(long)]
    pub starttls: bool,
    /// Folder on the destination; each mailbox goes below it.
    #[arg(long, value_name = "FOLDER", default_value = "Quarantine")]
    pub folder: String,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &QuarantineArgs) -> anyhow::Result<std::process::ExitCode> {
    let QuarantineCommand::Archive(a) = &args.command;
    let root = a
        .root
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("/"));
    let mut results: Vec<QuarantineArchive> = Vec::new();
    if let Some(dir) = &a.mbox {
        results.push(
            cutover::quarantine_to_mbox(&root, dir)
                .with_context(|| format!("archive to {} failed", dir.display()))?,
        );
    }
    if let Some(host) = &a.imap_host {
        let Some(user) = &a.imap_user else {
            bail!("--imap-host needs --imap-user (the account that keeps the archive)");
        };
        let mut endpoint = if a.starttls {
            ImapEndpoint::starttls(host.clone(), a.imap_port.unwrap_or(143))
        } else {
            ImapEndpoint::tls(host.clone(), a.imap_port.unwrap_or(993))
        };
        if let Some(pin) = &a.imap_pin {
            endpoint = endpoint.pinned(pin.clone());
        }
        let password = match std::env::var("FERRY_IMAP_PASSWORD") {
            Ok(p) => p,
            Err(_) => rpassword::prompt_password(format!("Password of {user} on {host}: "))
                .context("no password: set FERRY_IMAP_PASSWORD or run in a terminal")?,
        };
        let creds = ImapCredentials::new(user.clone(), SecretString::from(password));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        results.push(rt.block_on(cutover::quarantine_to_imap(
            &root, &endpoint, &creds, &a.folder,
        ))?);
    }
    if results.is_empty() {
        bail!("say where to archive: --mbox DIR and/or --imap-host HOST --imap-user USER");
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        for r in &results {
            for m in &r.mailboxes {
                println!(
                    "{:<20} {:>4} found {:>4} added {:>4} already there {:>3} failed -> {}",
                    m.label, m.found, m.added, m.already_there, m.failed, m.destination
                );
            }
            for w in &r.warnings {
                println!("warning: {w}");
            }
        }
    }
    Ok(if results.iter().all(|r| r.complete()) {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(2)
    })
}

/// On the migration project (no --root given): where to archive, from --mbox or --imap-account.
pub fn project_target(
    args: &QuarantineArgs,
) -> Option<(ferry_project::phases::cutover::QuarantineTarget, bool)> {
    use ferry_project::phases::cutover::QuarantineTarget;
    let QuarantineCommand::Archive(a) = &args.command;
    if a.root.is_some() || a.imap_host.is_some() {
        return None;
    }
    let target = match (&a.mbox, &a.imap_account) {
        (Some(dir), None) => QuarantineTarget::Mbox {
            folder: dir.display().to_string(),
        },
        (None, Some(account)) => QuarantineTarget::Imap {
            account: account.clone(),
            base_folder: a.folder.clone(),
        },
        _ => return None,
    };
    Some((target, a.json))
}
