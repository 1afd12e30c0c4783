//! `ferry credentials`: phase 3. Passwords come from standard input, a no-echo prompt, the
//! environment (`FERRY_VAULT_PASSPHRASE` for the file store) or the vault — never from argv.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use ferry_project::credentials::{
    self as creds, AccountRef, AdminForm, CheckOptions, CheckPlan, CheckReport, ImportOptions,
    LoginMethod, Server, Side, Status, VaultChoice,
};
use ferry_vault::{Secret, Vault, VaultError};
use secrecy::SecretString;

#[derive(clap::Args)]
pub struct CredentialsArgs {
    /// Password store: auto (Keychain on macOS; on Linux the Secret Service, else the encrypted
    /// file), keychain, secret-service or file.
    #[arg(long, env = "FERRY_VAULT", default_value = "auto", global = true)]
    vault: String,
    /// The encrypted password file (default: ~/.local/share/ferry/passwords.ferry-vault). Its
    /// passphrase comes from FERRY_VAULT_PASSPHRASE or a prompt.
    #[arg(long, env = "FERRY_VAULT_FILE", value_name = "FILE", global = true)]
    vault_file: Option<PathBuf>,
    #[command(subcommand)]
    command: CredentialsCommand,
}

#[derive(clap::Subcommand)]
enum CredentialsCommand {
    /// Store the passwords of a password file (imapsync's host1;user1;password1;host2;user2;password2,
    /// Microsoft's EmailAddress,UserName,Password, or address,password), then offer to overwrite and
    /// delete the file.
    Import(ImportArgs),
    /// Store one password, read without echo from the terminal or from standard input.
    Set(SetArgs),
    /// On the migration project: store the new host's password of one planned account (its old
    /// address), read without echo or from standard input.
    Password(PasswordArgs),
    /// Log in to the destination (and the source, when it is an IMAP server) for every account and
    /// report what works and what to do about what does not.
    Check(CheckArgs),
}

#[derive(clap::Args)]
struct ImportArgs {
    file: PathBuf,
    /// Server of the source logins, where the file does not name it (Microsoft's CSV; a plain list
    /// with --plain-side source).
    #[arg(long, value_name = "HOST")]
    source_host: Option<String>,
    /// Server of the destination logins, where the file does not name it (a plain list).
    #[arg(long, value_name = "HOST")]
    dest_host: Option<String>,
    /// Which side a plain address,password list is for.
    #[arg(long, value_enum, default_value = "destination")]
    plain_side: SideArg,
    /// Overwrite and delete the file after a successful import, without asking.
    #[arg(long, conflicts_with = "keep_file")]
    delete_file: bool,
    /// Keep the file, without asking.
    #[arg(long)]
    keep_file: bool,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct SetArgs {
    /// The login name (often the address), e.g. jdoe@example.com.
    address: String,
    /// The server this password is for.
    #[arg(long, value_name = "HOST")]
    host: String,
}

#[derive(clap::Args)]
struct PasswordArgs {
    /// The account's address on the old server (as `ferry accounts` lists it).
    account: String,
}

#[derive(clap::Args)]
struct CheckArgs {
    /// The new host: imaps://HOST[:PORT] (TLS) or imap://HOST[:PORT] (STARTTLS). Without it:
    /// every account of the migration project.
    #[arg(long, value_name = "URL")]
    dest: Option<String>,
    /// The old server over IMAP; leave out when the source is read from the store on disk.
    #[arg(long, value_name = "URL")]
    source: Option<String>,
    /// An account: DEST_LOGIN, or SOURCE_LOGIN,DEST_LOGIN (repeatable).
    #[arg(long = "account", value_name = "SPEC")]
    accounts: Vec<String>,
    /// A file of accounts, one SPEC per line.
    #[arg(long = "accounts", value_name = "FILE")]
    accounts_file: Option<PathBuf>,
    /// Trust exactly this destination certificate (SHA-256, hex).
    #[arg(long, value_name = "HEX")]
    dest_cert_sha256: Option<String>,
    /// Trust exactly this source certificate (SHA-256, hex).
    #[arg(long, value_name = "HEX")]
    source_cert_sha256: Option<String>,
    /// Log in to the destination as this admin / master user for every account.
    #[arg(long, value_name = "USER")]
    dest_admin: Option<String>,
    /// Log in to the source as this admin / master user for every account.
    #[arg(long, value_name = "USER")]
    source_admin: Option<String>,
    /// How admin logins are made: plain (SASL PLAIN with authorization identity) or master
    /// (Dovecot's user*admin).
    #[arg(long, value_enum, default_value = "plain")]
    admin_form: AdminFormArg,
    /// Logins at the same time.
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    /// Seconds before a silent server counts as unreachable.
    #[arg(long, default_value_t = 20)]
    timeout: u64,
    /// imap:// URLs without STARTTLS (loopback addresses only).
    #[arg(long)]
    allow_plaintext: bool,
    #[arg(long)]
    json: bool,
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum SideArg {
    Source,
    Destination,
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum AdminFormArg {
    Plain,
    Master,
}

pub fn run(
    args: &CredentialsArgs,
    project: &crate::migration::ProjectArgs,
) -> anyhow::Result<ExitCode> {
    let vault_args = || crate::sync::VaultArgs::new(args.vault.clone(), args.vault_file.clone());
    match &args.command {
        CredentialsCommand::Password(a) => {
            return crate::migration::set_account_password(project, vault_args(), &a.account)
        }
        CredentialsCommand::Check(a) if a.dest.is_none() => {
            return crate::migration::check_logins(project, vault_args(), a.json)
        }
        _ => {}
    }
    let choice = VaultChoice::parse(&args.vault).with_context(|| {
        format!(
            "unknown password store {:?}: use auto, keychain, secret-service or file",
            args.vault
        )
    })?;
    let vault = creds::open_vault(choice, args.vault_file.as_deref(), &mut vault_passphrase)
        .context("cannot open the password store")?;
    match &args.command {
        CredentialsCommand::Import(a) => import(a, vault.as_ref()),
        CredentialsCommand::Set(a) => set(a, vault.as_ref()),
        CredentialsCommand::Check(a) => check(a, vault.as_ref()),
        CredentialsCommand::Password(_) => unreachable!("handled above"),
    }
}

fn vault_passphrase(path: &Path) -> Result<SecretString, VaultError> {
    if let Ok(value) = std::env::var("FERRY_VAULT_PASSPHRASE") {
        return Ok(SecretString::from(value));
    }
    let prompt = if path.exists() {
        format!("Passphrase of the password file {}: ", path.display())
    } else {
        format!(
            "New passphrase for the password file {} (it protects every password Ferry keeps): ",
            path.display()
        )
    };
    rpassword::prompt_password(prompt)
        .map(SecretString::from)
        .map_err(|e| VaultError::Unavailable {
            backend: "password file",
            reason: format!("cannot ask for its passphrase ({e}); set FERRY_VAULT_PASSPHRASE"),
        })
}

fn import(args: &ImportArgs, vault: &dyn Vault) -> anyhow::Result<ExitCode> {
    let options = ImportOptions {
        source_host: args.source_host.clone(),
        destination_host: args.dest_host.clone(),
        plain_side: Some(match args.plain_side {
            SideArg::Source => Side::Source,
            SideArg::Destination => Side::Destination,
        }),
    };
    let report = creds::import_file(&args.file, vault, &options)?;
    let shown = args.file.display();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{shown}: {}", report.format);
        println!(
            "Stored {} in {}.",
            ferry_project::words::plural(report.stored.len() as u64, "password", "passwords"),
            report.stored_in
        );
        for login in &report.stored {
            println!(
                "  line {:>3}  {:<11}  {} at {}",
                login.line,
                login.side.name(),
                login.user,
                login.host
            );
        }
        if !report.bad_lines.is_empty() {
            println!(
                "Skipped {}:",
                ferry_project::words::plural(report.bad_lines.len() as u64, "line", "lines")
            );
            for bad in &report.bad_lines {
                println!("  line {:>3}  {}", bad.line, bad.reason);
            }
        }
    }

    // The file holds passwords in clear; now that they live in the vault it should go.
    let delete = if args.delete_file {
        true
    } else if args.keep_file || args.json || !std::io::stdin().is_terminal() {
        false
    } else {
        eprint!("{shown} holds these passwords in clear. Overwrite and delete it now? [y/N] ");
        std::io::stderr().flush().ok();
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        matches!(answer.trim(), "y" | "Y" | "yes" | "Yes")
    };
    if delete {
        creds::scrub_file(&args.file)?;
        eprintln!("Overwrote and deleted {shown}.");
    } else {
        eprintln!(
            "{shown} still holds the passwords in clear: delete it when you are done \
             (`ferry credentials import {shown} --delete-file` overwrites and deletes it)."
        );
    }
    Ok(if report.bad_lines.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// The password from the terminal (no echo, typed twice) or, when piped, standard input up to its
/// end (one trailing line break removed).
pub(crate) fn read_password(what: &str) -> anyhow::Result<Secret> {
    let stdin = std::io::stdin();
    let value = if stdin.is_terminal() {
        let first = rpassword::prompt_password(format!("Password for {what}: "))?;
        let second = rpassword::prompt_password("Again: ")?;
        if first != second {
            bail!("the two entries differ; nothing was stored");
        }
        first
    } else {
        let mut value = String::new();
        stdin
            .lock()
            .read_to_string(&mut value)
            .context("cannot read the password from standard input")?;
        if value.ends_with('\n') {
            value.pop();
            if value.ends_with('\r') {
                value.pop();
            }
        }
        value
    };
    let secret = Secret::new(value);
    if secret.is_empty() {
        bail!("the password is empty; nothing was stored");
    }
    Ok(secret)
}

fn set(args: &SetArgs, vault: &dyn Vault) -> anyhow::Result<ExitCode> {
    let secret = read_password(&format!("{} at {}", args.address, args.host))?;
    let stored_in = creds::set_password(vault, &args.host, &args.address, &secret)?;
    println!(
        "Stored the password of {} at {} in {stored_in}.",
        args.address, args.host
    );
    Ok(ExitCode::SUCCESS)
}

fn server(
    url: &str,
    allow_plaintext: bool,
    pin: &Option<String>,
    admin: &Option<String>,
    form: AdminFormArg,
) -> anyhow::Result<Server> {
    let parsed = ferry_project::sync::parse_imap_url(url, allow_plaintext)?;
    let mut endpoint = parsed.endpoint;
    endpoint.pinned_sha256 = pin.clone();
    let login = match admin {
        None => LoginMethod::UserPassword,
        Some(admin_user) => LoginMethod::Admin {
            admin_user: admin_user.clone(),
            form: match form {
                AdminFormArg::Plain => AdminForm::PlainAuthzid,
                AdminFormArg::Master => AdminForm::DovecotMaster,
            },
        },
    };
    Ok(Server { endpoint, login })
}

fn check(args: &CheckArgs, vault: &dyn Vault) -> anyhow::Result<ExitCode> {
    let mut accounts: Vec<AccountRef> = Vec::new();
    for spec in &args.accounts {
        accounts.push(
            creds::parse_account(spec).map_err(|e| anyhow::anyhow!("--account {spec:?}: {e}"))?,
        );
    }
    if let Some(path) = &args.accounts_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        accounts.extend(
            creds::parse_account_list(&text).with_context(|| format!("{}", path.display()))?,
        );
    }
    if accounts.is_empty() {
        bail!("no accounts to check: give --account SPEC or --accounts FILE");
    }
    let destination = server(
        args.dest.as_deref().unwrap_or_default(),
        args.allow_plaintext,
        &args.dest_cert_sha256,
        &args.dest_admin,
        args.admin_form,
    )?;
    let source = args
        .source
        .as_deref()
        .map(|url| {
            server(
                url,
                args.allow_plaintext,
                &args.source_cert_sha256,
                &args.source_admin,
                args.admin_form,
            )
        })
        .transpose()?;
    let plan = CheckPlan {
        source,
        destination,
        accounts,
        options: CheckOptions {
            parallel: args.parallel.max(1),
            timeouts: ferry_imap_timeouts(args.timeout),
        },
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(creds::check(&plan, vault));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(if report.problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn ferry_imap_timeouts(secs: u64) -> ferry_imap::Timeouts {
    ferry_imap::Timeouts::all(Duration::from_secs(secs.max(1)))
}

fn render(report: &CheckReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for r in &report.results {
        let _ = writeln!(
            out,
            "{:<32} {:<11} {:<22} {}",
            r.account,
            r.side.name(),
            r.server,
            r.status.label()
        );
        if r.status != Status::Ok {
            let _ = writeln!(out, "    {}", r.message);
            if let Some(cert) = &r.certificate {
                let _ = writeln!(
                    out,
                    "    certificate: SHA-256 {}\n      subject {}\n      issuer  {}\n      valid   {} to {}",
                    cert.sha256, cert.subject, cert.issuer, cert.not_before, cert.not_after
                );
                let flag = match r.side {
                    Side::Source => "--source-cert-sha256",
                    Side::Destination => "--dest-cert-sha256",
                };
                let _ = writeln!(
                    out,
                    "    to trust exactly this certificate after comparing it: {flag} {}",
                    cert.sha256
                );
            }
            if !r.advice.is_empty() {
                let _ = writeln!(out, "    -> {}", r.advice);
            }
            if matches!(r.status, Status::MissingPassword | Status::WrongPassword) {
                let host = r
                    .server
                    .rsplit_once(':')
                    .map_or(r.server.as_str(), |(h, _)| h);
                let _ = writeln!(
                    out,
                    "    -> ferry credentials set {} --host {host}",
                    r.login
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "{} OK, {} with problems{}",
        ferry_project::words::plural(report.ok as u64, "login", "logins"),
        report.problems,
        if report.source_from_store {
            " (source read from the store on disk: no source logins needed)"
        } else {
            ""
        }
    );
    out
}
