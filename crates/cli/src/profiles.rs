//! `ferry profiles export --out DIR [--sign FILE.p12] [--with-passwords]`: a `.mobileconfig` for
//! every mail user of the old server, pointing at the new host, plus `manifest.csv` and
//! `all-profiles.plist` for MDMs.
//!
//! Secrets never come from argv: the PKCS#12 password from `FERRY_P12_PASSWORD` or a prompt, the
//! password-file passphrase from `FERRY_VAULT_PASSPHRASE` or a prompt.

use std::path::PathBuf;

use anyhow::{bail, Context};
use ferry_project::destination::{Destination, LoginName, PresetId, Security};
use ferry_project::profiles::{
    accounts_from_inventory, check_choices, export, ExportReport, ExportRequest, Organization,
    Signing,
};
use secrecy::SecretString;

#[derive(clap::Args)]
pub struct ProfilesArgs {
    #[command(subcommand)]
    pub command: ProfilesCommand,
}

#[derive(clap::Subcommand)]
pub enum ProfilesCommand {
    /// Write a configuration profile for every mail user (changes nothing on any server).
    // Boxed: the flags are many, and clippy wants the top-level command enum small.
    Export(Box<ExportArgs>),
}

#[derive(clap::ValueEnum, Clone, Copy)]
pub enum SecurityArg {
    Tls,
    Starttls,
    Plain,
}

#[derive(clap::ValueEnum, Clone, Copy)]
pub enum LoginArg {
    /// The full address.
    Address,
    /// The part before the '@'.
    LocalPart,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    /// Folder to write the profiles, manifest.csv and all-profiles.plist into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The old server's root folder, read to find the mail users (`/` on the server itself).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// The new host: google, m365, fastmail or imap (generic; needs --imap-host and --smtp-host).
    /// Without it: the migration project's new host and account plan.
    #[arg(long, value_name = "PRESET")]
    pub dest_preset: Option<String>,
    #[arg(long, value_name = "HOST")]
    pub imap_host: Option<String>,
    #[arg(long, value_name = "PORT")]
    pub imap_port: Option<u16>,
    #[arg(long, value_enum)]
    pub imap_security: Option<SecurityArg>,
    /// IMAP path prefix the host needs (e.g. INBOX on Courier/Cyrus-style hosts).
    #[arg(long, value_name = "PREFIX")]
    pub imap_path_prefix: Option<String>,
    #[arg(long, value_name = "HOST")]
    pub smtp_host: Option<String>,
    #[arg(long, value_name = "PORT")]
    pub smtp_port: Option<u16>,
    #[arg(long, value_enum)]
    pub smtp_security: Option<SecurityArg>,
    /// What users log in with on the new host.
    #[arg(long, value_enum)]
    pub login: Option<LoginArg>,
    /// Organization name shown to the person installing (default: the organization's domain).
    #[arg(long, value_name = "NAME")]
    pub org_name: Option<String>,
    /// Organization's DNS domain; profile identifiers are its reverse DNS (default: the old
    /// server's first mail domain).
    #[arg(long, value_name = "DOMAIN")]
    pub org_domain: Option<String>,
    /// Stable id of this migration, part of every profile UUID (default: the old server's host
    /// name). Keep it the same between exports so devices replace profiles instead of adding.
    #[arg(long, value_name = "ID")]
    pub migration_id: Option<String>,
    /// Sign every profile with this PKCS#12 identity (password from FERRY_P12_PASSWORD or a prompt).
    #[arg(long, value_name = "FILE.p12")]
    pub sign: Option<PathBuf>,
    /// Sign with this Keychain identity (common name or email address of its certificate).
    #[cfg(target_os = "macos")]
    #[arg(long, value_name = "NAME", conflicts_with = "sign")]
    pub sign_keychain: Option<String>,
    /// Put each user's password (or app password) for the new host into their profile, read
    /// from the vault. Refused for hosts that sign people in on their own page (Microsoft 365).
    /// The files then hold passwords in clear: hand them out privately and delete them afterwards.
    #[arg(long)]
    pub with_passwords: bool,
    /// Where the passwords are (with --with-passwords): the same store and flags as
    /// `ferry credentials` and `ferry sync` (--vault, --vault-file, FERRY_VAULT_PASSPHRASE).
    #[command(flatten)]
    pub vault: crate::sync::VaultArgs,
    /// With Google, also add the IMAP account (app password) next to the Google one on iPhones
    /// and iPads. Refused for Microsoft 365, which takes no password over IMAP.
    #[arg(long)]
    pub imap_too: bool,
    /// With Microsoft 365, also write Mac profiles that use Exchange Web Services: only for a
    /// tenant that still allows EWS for Apple Mail (Exchange Online switches EWS off on
    /// 1 April 2027). Without it Macs get no profile.
    #[arg(long)]
    pub mac_ews: bool,
    /// Print the export report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &ProfilesArgs) -> anyhow::Result<std::process::ExitCode> {
    match &args.command {
        ProfilesCommand::Export(export_args) => run_export(export_args),
    }
}

fn run_export(args: &ExportArgs) -> anyhow::Result<std::process::ExitCode> {
    let destination = destination(args)?;
    // Before anything is read or asked for (the vault passphrase above all).
    check_choices(
        &destination,
        args.with_passwords,
        args.imap_too,
        args.mac_ews,
    )
    .map_err(|e| {
        let flag = match e {
            ferry_project::profiles::ExportError::PasswordsNotTaken { .. } => {
                " (leave out --with-passwords)"
            }
            ferry_project::profiles::ExportError::ImapNotTaken { .. } => " (leave out --imap-too)",
            ferry_project::profiles::ExportError::NoExchange { .. } => " (leave out --mac-ews)",
            _ => "",
        };
        anyhow::anyhow!("{e}{flag}")
    })?;
    let inventory = ferry_project::discover::run(&args.root)
        .with_context(|| format!("reading the mail users of {} failed", args.root.display()))?;
    let (accounts, skipped) = accounts_from_inventory(&inventory);
    let domain = match (&args.org_domain, inventory.domains.first()) {
        (Some(d), _) => d.clone(),
        (None, Some(d)) => d.clone(),
        (None, None) => bail!("the old server lists no mail domain; pass --org-domain"),
    };
    let organization = Organization {
        name: args.org_name.clone().unwrap_or_else(|| domain.clone()),
        domain,
    };
    let migration_id = args
        .migration_id
        .clone()
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| inventory.hostname.clone());
    let vault = if args.with_passwords {
        // One code path for every command that reads the vault.
        Some(crate::sync::open_vault(&args.vault).map_err(|e| anyhow::anyhow!(e))?)
    } else {
        None
    };
    let signing = signing(args)?;
    let report = export(ExportRequest {
        out_dir: args.out.clone(),
        migration_id,
        organization,
        destination,
        accounts,
        passwords: vault.as_deref(),
        signing,
        imap_with_native: args.imap_too,
        ews_on_mac: args.mac_ews,
    })
    .context("profile export failed")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report, &skipped));
    }
    if report.contains_passwords {
        // Also on stderr, so it is seen even when stdout goes to a file or a script.
        eprintln!(
            "ferry: WARNING: the profiles in {} hold passwords in clear",
            report.out_dir
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn destination(args: &ExportArgs) -> anyhow::Result<Destination> {
    let slug = args.dest_preset.as_deref().unwrap_or_default();
    let preset = PresetId::from_slug(slug).with_context(|| {
        format!(
            "unknown --dest-preset {:?}; use one of google, m365, fastmail, imap",
            args.dest_preset
        )
    })?;
    let mut d = Destination::preset(preset);
    if let Some(host) = &args.imap_host {
        d.imap.host = host.clone();
        if preset == PresetId::GenericImap {
            d.name = host.clone();
        }
    }
    if let Some(host) = &args.smtp_host {
        d.smtp.host = host.clone();
    }
    if let Some(port) = args.imap_port {
        d.imap.port = port;
    }
    if let Some(port) = args.smtp_port {
        d.smtp.port = port;
    }
    if let Some(s) = args.imap_security {
        d.imap.security = security(s);
    }
    if let Some(s) = args.smtp_security {
        d.smtp.security = security(s);
    }
    if let Some(prefix) = &args.imap_path_prefix {
        d.imap_path_prefix = Some(prefix.clone()).filter(|p| !p.is_empty());
    }
    if let Some(login) = args.login {
        d.login = match login {
            LoginArg::Address => LoginName::Address,
            LoginArg::LocalPart => LoginName::LocalPart,
        };
    }
    d.validate().context("the destination is incomplete")?;
    Ok(d)
}

fn security(s: SecurityArg) -> Security {
    match s {
        SecurityArg::Tls => Security::Tls,
        SecurityArg::Starttls => Security::StartTls,
        SecurityArg::Plain => Security::Plain,
    }
}

pub(crate) fn signing(args: &ExportArgs) -> anyhow::Result<Option<Signing>> {
    #[cfg(target_os = "macos")]
    if let Some(identity) = &args.sign_keychain {
        return Ok(Some(Signing::Keychain {
            identity: identity.clone(),
        }));
    }
    let Some(path) = &args.sign else {
        return Ok(None);
    };
    let password = secret_from_env_or_prompt(
        "FERRY_P12_PASSWORD",
        &format!("Password of {}: ", path.display()),
    )?;
    Ok(Some(Signing::Pkcs12 {
        path: path.clone(),
        password,
    }))
}

fn secret_from_env_or_prompt(var: &str, prompt: &str) -> anyhow::Result<SecretString> {
    if let Ok(value) = std::env::var(var) {
        return Ok(SecretString::from(value));
    }
    let value = rpassword::prompt_password(prompt)
        .with_context(|| format!("cannot read it from the terminal; set {var} instead"))?;
    Ok(SecretString::from(value))
}

pub(crate) fn render(report: &ExportReport, skipped: &[String]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let users: std::collections::BTreeSet<&str> =
        report.profiles.iter().map(|p| p.user.as_str()).collect();
    let _ = writeln!(
        out,
        "Wrote {} for {} to {}",
        ferry_project::words::plural(report.profiles.len() as u64, "profile", "profiles"),
        ferry_project::words::plural(users.len() as u64, "person", "people"),
        report.out_dir
    );
    let width = report
        .profiles
        .iter()
        .map(|p| p.address.chars().count())
        .max()
        .unwrap_or(0);
    let file_width = report
        .profiles
        .iter()
        .map(|p| p.file.chars().count())
        .max()
        .unwrap_or(0);
    for p in &report.profiles {
        let asks = if p.asks_for.is_empty() {
            "asks for nothing (holds a password)".to_string()
        } else {
            let words: Vec<&str> = p.asks_for.iter().map(|a| a.words()).collect();
            format!("asks for: {}", words.join(" + "))
        };
        let _ = writeln!(
            out,
            "  {:<w$}  {:<fw$}  {}",
            p.address,
            p.file,
            asks,
            w = width,
            fw = file_width
        );
    }
    let _ = writeln!(
        out,
        "For MDM import: {} (one row per file, with payload UUIDs) and {} (every profile in one file)",
        report.manifest, report.combined
    );
    match &report.signed_by {
        Some(signer) => {
            let _ = writeln!(out, "Signed by {signer}");
        }
        None => {
            let _ = writeln!(
                out,
                "Not signed: devices show the profiles as unverified (use --sign FILE.p12)"
            );
        }
    }
    for note in &report.notes {
        let _ = writeln!(out, "Note: {note}");
    }
    if !skipped.is_empty() {
        let _ = writeln!(
            out,
            "No profile for {} (mail forwarded elsewhere or turned off)",
            skipped.join(", ")
        );
    }
    if report.contains_passwords {
        let _ = writeln!(
            out,
            "\nWARNING: these files hold passwords in clear. Give each person only their own file, \
             over a private channel, and delete the folder once the profiles are installed."
        );
    }
    out
}

/// `ferry profiles export --out DIR` without --dest-preset and --root: the project's.
pub fn on_project(args: &ProfilesArgs) -> bool {
    let ProfilesCommand::Export(a) = &args.command;
    a.dest_preset.is_none() && a.root == std::path::Path::new("/")
}

pub fn run_on_project(
    args: &ProfilesArgs,
    project: &crate::migration::ProjectArgs,
) -> anyhow::Result<std::process::ExitCode> {
    let ProfilesCommand::Export(a) = &args.command;
    let choice = ferry_project::phases::profiles::ProfilesChoice {
        out_dir: a.out.display().to_string(),
        with_passwords: a.with_passwords,
        imap_with_native: a.imap_too,
        ews_on_mac: a.mac_ews,
        organization_name: a.org_name.clone(),
    };
    let vault = crate::sync::VaultArgs::from_env();
    crate::migration::profiles(project, choice, signing(a)?, vault, a.json)
}
