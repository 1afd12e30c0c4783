//! `scripts/demo` where no window can open: a whole migration, start to finish, with the real
//! `ferry` binary on one project file, against
//! - a simulated old macOS Server (the test kit's OldMac Dovecot: a copy of the fixture, which
//!   Ferry reads from its store on disk),
//! - a local new host (the test kit's Modern Dovecot, one login per planned address),
//! - a DNS server on loopback whose MX records the demo switches while `ferry dns --watch` runs.
//!
//! Before each step it says in plain words what happens and why (and where that is in the app),
//! then shows the command line and runs it with its real output. It stops with a non-zero exit at
//! the first step that fails, stops its servers on every way out, and never prints a password.
//!
//! Usage: `ferry-demo [--ferry PATH] [--work DIR]`

#[path = "../../cutover/tests/common/mod.rs"]
mod dns_server;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dns_server::TestDns;
use ferry_testkit::{Dovecot, Preset};

/// The accounts that move: the old address (the new host's login too) and the short name the
/// old server knows the user by.
const ACCOUNTS: [(&str, &str); 3] = [
    ("jane.doe@example.com", "jdoe"),
    ("arthur.smith@example.com", "asmith"),
    ("bjoern.mueller@example.org", "bmueller"),
];
/// Archived messages added to Jane's inbox so the copy lasts long enough to watch.
const BULK_MESSAGES: usize = 800;
const BULK_SIZE: usize = 25_000;
/// The new host's MX name, as a provider would give it.
const NEW_MX: &str = "mx.new.example.net";
const OLD_MX: &str = "mail.example.com";
const DOMAINS: [&str; 2] = ["example.com", "example.org"];
/// SPF once the admin followed Ferry's advice: the new host (198.51.100.10) may send too.
const NEW_SPF: &str = "v=spf1 mx ip4:198.51.100.10 -all";
const WIDTH: usize = 78;

/// Ctrl-C on the demo: the step running stops (ferry gets it too), the next one is not started,
/// and the servers are stopped on the way out.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut ferry = None;
    let mut work = None;
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--ferry", Some(path)) => ferry = Some(PathBuf::from(path)),
            ("--work", Some(dir)) => work = Some(PathBuf::from(dir)),
            _ => {
                eprintln!("ferry-demo: usage: ferry-demo [--ferry PATH] [--work DIR]");
                return ExitCode::from(2);
            }
        }
    }
    let started = Instant::now();
    // Every server lives inside `run` and is stopped when it returns, whichever way.
    match run(ferry, work) {
        Ok(()) => {
            println!(
                "\nThe demo took {} s; its servers are stopped.",
                started.elapsed().as_secs()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("\n{}", styled("1;31", &format!("The demo stopped: {err}")));
            eprintln!("Its servers are stopped.");
            ExitCode::FAILURE
        }
    }
}

/// The `ferry` binary: the one given, else the one built beside this demo.
fn find_ferry(given: Option<PathBuf>) -> Result<PathBuf> {
    let path = match given {
        Some(p) => p,
        None => std::env::current_exe()
            .map_err(|e| format!("cannot find this program's folder: {e}"))?
            .with_file_name("ferry"),
    };
    if !path.is_file() {
        return Err(format!(
            "the ferry program is not at {}: build it first (cargo build -p ferry-cli) or pass --ferry PATH",
            path.display()
        ));
    }
    std::fs::canonicalize(&path).map_err(|e| format!("{}: {e}", path.display()))
}

fn run(ferry: Option<PathBuf>, work: Option<PathBuf>) -> Result<()> {
    let ferry = find_ferry(ferry)?;
    let work = work.unwrap_or_else(|| std::env::temp_dir().join("ferry-demo"));
    if work.exists() {
        std::fs::remove_dir_all(&work)
            .map_err(|e| format!("cannot empty the demo folder {}: {e}", work.display()))?;
    }
    std::fs::create_dir_all(&work)
        .map_err(|e| format!("cannot create the demo folder {}: {e}", work.display()))?;
    let work = std::fs::canonicalize(&work).map_err(|e| e.to_string())?;

    title("A whole mail migration in the terminal");
    say(
        "This demo retires the mail service of an old macOS Server, the way an administrator \
         would with Ferry: every step is the real `ferry` command, run on one project file. \
         Nothing here is faked except the machines (the old server, the new mail host and the \
         internet's DNS are local stand-ins started for the demo) and, near the end, the \
         clock. In the app, each step is one \
         screen of the wizard; here you see the same steps as commands.",
    );

    // --- the stand-ins ---------------------------------------------------------------------
    step("Starting the stand-ins");
    let old = Dovecot::start(Preset::OldMac);
    let secrets = Secrets::new();
    let mut builder = Dovecot::builder(Preset::Modern);
    for (address, _) in ACCOUNTS {
        builder = builder.user(address, secrets.password(address));
    }
    let new = builder.start();
    let rt = tokio::runtime::Runtime::new().map_err(|e| format!("tokio: {e}"))?;
    rt.spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            INTERRUPTED.store(true, Ordering::SeqCst);
        }
    });
    let dns = rt.block_on(TestDns::start());
    for domain in DOMAINS {
        rt.block_on(dns.set_mx(domain, 3600, &[(10, OLD_MX)]));
    }
    rt.block_on(dns.set_a(OLD_MX, 3600, &["192.0.2.5"]));
    rt.block_on(dns.set_a(NEW_MX, 300, &["198.51.100.10"]));
    for domain in DOMAINS {
        rt.block_on(dns.set_txt(domain, 3600, &["v=spf1 mx -all"]));
    }
    let bulk_bytes = add_archive(&old)?;
    let root = old.server_root().to_path_buf();
    println!("old server  a copy of a macOS Server's disk, which Ferry reads directly:");
    println!("              {}", root.display());
    println!(
        "            (its Dovecot serves it on 127.0.0.1:{}, as Server.app would)",
        old.imaps_port()
    );
    println!(
        "            + {BULK_MESSAGES} archived messages ({}) in Jane's inbox, so that the\n\
         \x20             copy lasts long enough to watch",
        human_bytes(bulk_bytes)
    );
    println!(
        "new host    IMAP on 127.0.0.1:{}, with a login for each person who moves\n\
         \x20           (no public authority signed its certificate: Ferry pins it)",
        new.imaps_port()
    );
    println!(
        "DNS         a DNS server on {}, standing in for the internet's:\n\
         \x20           the MX of {} is {OLD_MX}\n\
         \x20           (the old server), TTL 1 hour",
        dns.addr,
        DOMAINS.join(" and ")
    );
    let demo = Demo {
        ferry,
        work: work.clone(),
        secrets,
    };
    println!("\nThe commands run in {}, with:", work.display());
    println!("  FERRY_PROJECT=migration.ferry");
    println!("      the project file: everything the migration knows (no secret)");
    println!("  FERRY_VAULT=file  FERRY_VAULT_FILE=passwords.ferry-vault");
    println!("      passwords go to an encrypted file (on a Mac: the Keychain)");
    println!("  FERRY_VAULT_PASSPHRASE=(not shown)");
    println!("      that file's passphrase");

    // --- 1. discover -------------------------------------------------------------------------
    step("Start a migration project");
    say(
        "The admin points Ferry at the old server: here a copy of its disk (on the server \
         itself it would be `--this-mac`). Ferry creates the project file that will remember \
         every step, so the migration can stop and resume at any point, over days.",
    );
    demo.ferry(&["init", "--root", &root.display().to_string()], &[0])?;
    say(
        "`ferry status` is the migration on one screen: the eleven phases, what is done, what \
         is next (→) and what it waits for. Nothing is done yet.",
    );
    demo.ferry(&["status"], &[0])?;

    step("1. Discover: what the old server holds");
    say(
        "Ferry reads the server's configuration, directory and mail store (it changes \
         nothing): domains, people, aliases, folders and sizes, and warnings about anything \
         unusual. In the app this is the Discover screen.",
    );
    demo.ferry(&["discover"], &[0])?;
    say(
        "Each warning deserves a look; in the app each gets a decision. For the demo we accept \
         them all as read.",
    );
    demo.ferry(&["accounts", "decide", "--all", "noted"], &[0])?;

    // --- 2. destination --------------------------------------------------------------------------
    step("2. Destination: the new host and the account plan");
    say(
        "The admin chooses the new host: Google Workspace, Microsoft 365 and Fastmail are \
         presets; here it is another IMAP host. Its certificate is pinned by fingerprint, and \
         --mx names the host the MX records will point to on cut-over day.",
    );
    let port = new.imaps_port().to_string();
    let pin = new.cert_sha256();
    demo.ferry(
        &[
            "destination",
            "--preset",
            "imap",
            "--imap-host",
            "127.0.0.1",
            "--imap-port",
            &port,
            "--pin-sha256",
            &pin,
            "--mx",
            NEW_MX,
        ],
        &[0],
    )?;
    say(
        "Marta's mail is forwarded to another address (Discover said so), so her account has \
         nothing to move: leave it out. The plan then lists who moves, to which new address, \
         and how their mail is read (straight from the store on disk: no user passwords \
         needed on the old side).",
    );
    demo.ferry(&["accounts", "exclude", "marta.wolf@example.com"], &[0])?;

    // --- 3. credentials ------------------------------------------------------------------------
    step("3. Credentials: a password for each new mailbox");
    say(
        "Ferry logs in to the new host as each person. The passwords go into the vault (an \
         encrypted file here), never into the project file, a command line or a log. `ferry` \
         asks for each one without echo; the demo types it on standard input.",
    );
    for (address, _) in ACCOUNTS {
        demo.ferry_with(
            &["credentials", "password", address],
            &[0],
            Extra {
                stdin: Some(format!("{}\n", demo.secrets.password(address))),
                shown_stdin: Some("(the password, typed on standard input; not shown)"),
                ..Extra::default()
            },
        )?;
    }
    say(
        "Then every login is tried before any mail moves, so a wrong password shows up now \
         rather than halfway through the copy.",
    );
    demo.ferry(&["credentials", "check"], &[0])?;

    // --- 4. initial sync -------------------------------------------------------------------------
    step("4. Initial sync: copy everything, weeks before the switch");
    say(
        "The old server keeps working while Ferry copies every message of every account to the \
         new host, several accounts at once, each exactly once: a sync stopped halfway (Ctrl-C, a \
         crash, a lost network) continues where it stopped when run again. To show that, the \
         demo presses Ctrl-C for you (it sends the signal) once some messages are across.",
    );
    let ledger = work.join("migration.ferry.sync.sqlite");
    let copied_at_interrupt = Arc::new(std::sync::atomic::AtomicI64::new(-1));
    let seen = copied_at_interrupt.clone();
    demo.ferry_with(
        &["sync", "initial"],
        &[130],
        Extra {
            during: Some(Box::new(move |pid, ended| {
                while copied_in_ledger(&ledger) < INTERRUPT_AFTER && !ended.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                if !ended.load(Ordering::SeqCst) {
                    seen.store(copied_in_ledger(&ledger), Ordering::SeqCst);
                    // SAFETY: a signal to our own child, by its id; it is not reaped before
                    // this thread is joined, so the id cannot belong to another process.
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
                }
            })),
            ..Extra::default()
        },
    )?;
    let first_run = copied_in_ledger(&work.join("migration.ferry.sync.sqlite"));
    say(&format!(
        "The demo pressed Ctrl-C when {} messages were across; ferry finished the ones in \
         flight ({first_run} copied in all, says its ledger) and stopped with exit status 130 \
         (interrupted). The board shows the initial sync as not finished:",
        copied_at_interrupt.load(Ordering::SeqCst)
    ));
    demo.ferry(&["status"], &[0])?;
    say("The same command again continues: it copies only what is not on the new host yet.");
    let second = demo.ferry(&["sync", "initial"], &[0])?;
    let both_runs = copied_in_ledger(&work.join("migration.ferry.sync.sqlite"));
    // Which run meets Arthur's deleted message depends on where the interruption landed.
    let skipped = if second.contains("1 skipped") {
        " The one skipped is Arthur's message flagged deleted but never expunged (Discover \
         warned about it): gone for him, so not copied."
    } else {
        ""
    };
    say(&format!(
        "Both runs together: {first_run} + {} = {both_runs} messages copied, each once.{skipped}",
        both_runs - first_run
    ));
    demo.ferry(&["status"], &[0])?;

    // --- 5. review -----------------------------------------------------------------------------
    step("5. Review: is everything there?");
    say(
        "Ferry compares, per account and folder, what the old server holds with what the new \
         host holds, and lists any message that failed with the reason and what to do.",
    );
    demo.ferry(&["review"], &[0])?;

    // --- 6, 7. DNS, cut-over -----------------------------------------------------------------------
    step("Meanwhile, mail keeps arriving at the old server");
    let late = b"From: Customer <c@example.net>\r\nTo: jane.doe@example.com\r\nSubject: Late order\r\nDate: Fri, 4 Dec 2026 09:00:00 +0000\r\nMessage-ID: <late-order-1@example.net>\r\n\r\nPlease ship today.\r\n";
    old.deliver("jdoe", "INBOX", late);
    say(
        "Until the MX records point elsewhere, new mail lands on the old server. The demo just \
         delivered one (\"Late order\", to Jane). It is not on the new host yet; the cut-over \
         sync below will bring it.",
    );

    step("6. DNS prep: where mail goes today");
    say(
        "Ferry asks DNS (here the local stand-in) where each domain's mail goes, and the TTL: \
         how long resolvers may remember the old answer. It also reads each domain's SPF record \
         (which servers may send its mail).",
    );
    let resolver = dns.addr.to_string();
    demo.ferry(&["dns", "--resolver", &resolver], &[0])?;
    for domain in DOMAINS {
        rt.block_on(dns.set_mx(domain, 300, &[(10, OLD_MX)]));
        rt.block_on(dns.set_txt(domain, 3600, &[NEW_SPF]));
    }
    rt.block_on(dns.set_a(OLD_MX, 300, &["192.0.2.5"]));
    say(&format!(
        "The admin does what it advises, at the DNS provider (the demo does it at its DNS \
         server): the TTL of the MX records down to 5 minutes, and the new host's address added \
         to SPF (\"{NEW_SPF}\"). Then tells Ferry when the TTL was lowered:"
    ));
    demo.ferry(&["mark", "ttl-lowered"], &[0])?;

    step("7. Cut-over: switch the MX records, Ferry watches and syncs");
    say(&format!(
        "A TTL later (the demo does not wait the hour), the admin points the MX records at the \
         new host and Ferry watches DNS. The demo makes that switch at its DNS server 3 seconds into the watch (example.com \
         first, example.org a second later). When every resolver answers only the new MX \
         ({NEW_MX}), Ferry runs the delta sync by itself: the mail that arrived at the old \
         server in the meantime moves too."
    ));
    let handle = rt.handle().clone();
    let dns_switch = Arc::new(dns);
    let switcher = dns_switch.clone();
    demo.ferry_with(
        &[
            "dns",
            "--watch",
            "--resolver",
            &resolver,
            "--interval",
            "1",
            "--max-wait",
            "120",
        ],
        &[0],
        Extra {
            during: Some(Box::new(move |_, _| {
                std::thread::sleep(Duration::from_secs(3));
                handle.block_on(switcher.set_mx(DOMAINS[0], 300, &[(10, NEW_MX)]));
                eprintln!("   (demo: the MX of {} now points to {NEW_MX})", DOMAINS[0]);
                std::thread::sleep(Duration::from_secs(1));
                handle.block_on(switcher.set_mx(DOMAINS[1], 300, &[(10, NEW_MX)]));
                eprintln!("   (demo: the MX of {} now points to {NEW_MX})", DOMAINS[1]);
            })),
            ..Extra::default()
        },
    )?;
    demo.ferry(&["status"], &[0])?;

    // --- 8. profiles ---------------------------------------------------------------------------
    step("8. Profiles: point everyone's Mac, iPhone and iPad at the new host");
    say(
        "Ferry writes one configuration profile (.mobileconfig) per person from the plan: \
         opened on a Mac or an iPhone, it sets up the new account (it asks its person for the \
         password; none is stored in the file).",
    );
    demo.ferry(&["profiles", "export", "--out", "profiles"], &[0])?;

    // --- 9. final sync ---------------------------------------------------------------------------
    step("9. Final sync: the last copy, verified");
    say(
        "Once everyone's devices use the new host, so nobody works on the old server any more, \
         a last sync copies whatever is still new \
         there, then verifies every account message by message.",
    );
    demo.ferry(&["sync", "final"], &[0])?;

    // --- 10. quarantine --------------------------------------------------------------------------
    step("10. Quarantine: keep the spam-training mail and the quarantine");
    say(
        "The old server's junk-training mailboxes and its virus/spam quarantine are not \
         anyone's mail, but may be wanted later: Ferry archives them to mbox files.",
    );
    demo.ferry(&["quarantine", "archive", "--mbox", "quarantine"], &[0])?;

    // --- 11. decommission -------------------------------------------------------------------------
    step("11. Decommission: may the old server be switched off?");
    say(
        "Ferry checks everything from the project. Two things are not done yet: mail reached \
         the old server minutes ago, and Ferry wants 72 quiet hours first (a sender's server may \
         retry for days); and nobody has confirmed that a clone of the old server is kept. So \
         this check says \"not ready\" and exits with status 2.",
    );
    demo.ferry(&["decommission"], &[2])?;
    let later = (chrono::Utc::now() + chrono::Duration::hours(73))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    say(
        "The demo cannot wait three days: FERRY_NOW moves Ferry's clock 73 hours on. The admin \
         also confirms that a clone of the old server is kept, then asks for the final report.",
    );
    demo.ferry_with(
        &["mark", "clone-kept"],
        &[0],
        Extra {
            now: Some(later.clone()),
            ..Extra::default()
        },
    )?;
    let report = work.join("final-report.html");
    demo.ferry_with(
        &["decommission", "--report", "final-report.html"],
        &[0],
        Extra {
            now: Some(later.clone()),
            ..Extra::default()
        },
    )?;
    for written in [report.clone(), report.with_extension("json")] {
        if !written.is_file() {
            return Err(format!(
                "the final report {} was not written",
                written.display()
            ));
        }
    }
    demo.ferry_with(
        &["status"],
        &[0],
        Extra {
            now: Some(later),
            ..Extra::default()
        },
    )?;

    // --- the demo's own check ----------------------------------------------------------------------
    step("The demo's own check: the new host against the old server");
    say(
        "Independently of Ferry, the demo reads every message of every folder on both servers \
         and compares them byte for byte (messages marked deleted on the old server are not \
         copied, so they are left out).",
    );
    println!();
    let mut all_same = true;
    for (address, login) in ACCOUNTS {
        let source = contents(&old, login, true);
        let dest = contents(&new, address, false);
        let (n_source, n_dest) = (source.values().sum::<usize>(), dest.values().sum::<usize>());
        let same = source == dest;
        all_same &= same;
        println!(
            "{address:<28} old {n_source:>4}   new {n_dest:>4}   {}",
            if same {
                "the same, each exactly once"
            } else {
                "DIFFERENT"
            }
        );
    }
    let jane = contents(&new, ACCOUNTS[0].0, false);
    let late_count = jane.get(late.as_slice()).copied().unwrap_or(0);
    println!("\"Late order\", delivered before the switch: {late_count} copy on the new host");
    if !all_same || late_count != 1 {
        return Err("the new host does not hold exactly the old server's messages".into());
    }
    let checked = demo.secrets.check_files(&work)?;
    say(&format!(
        "No password appears in anything `ferry` printed on its standard output, nor in \
         any of the {checked} files it wrote."
    ));

    // --- summary -------------------------------------------------------------------------------
    title("What you just saw");
    for line in [
        " 1. Discover read the old server from a copy of its disk: 3 people move;",
        "    Marta's mail is forwarded elsewhere, so her account was left out.",
        " 2. Destination: another IMAP host, its certificate pinned.",
        " 3. Credentials: passwords into an encrypted vault, every login checked.",
        " 4. Initial sync from the store on disk, several accounts at once;",
        "    interrupted with Ctrl-C, the same command continued where it stopped.",
        " 5. Review: every folder, old server against new host: nothing missing.",
        " 6. DNS prep: TTL and SPF advice, followed.",
        " 7. Cut-over: the watch saw the MX switch and ran the delta sync by itself",
        "    (the late order moved).",
        " 8. Profiles for everyone's devices.  9. The final sync, verified.",
        "10. Quarantine and junk-training mail archived to mbox files.",
        "11. Decommission: not ready while mail was recent; ready 73 hours later,",
        "    with the final report.",
    ] {
        println!("  {line}");
    }
    println!("\nThe final report (one HTML page, printable; its JSON beside it):");
    println!("  file://{}", report.display());
    println!("Also left in {}:", work.display());
    println!("  the project file (migration.ferry), profiles/ and quarantine/.");
    println!("Look at the finished migration yourself:");
    println!(
        "  FERRY_PROJECT={}/migration.ferry \\\n    {} status",
        work.display(),
        demo.ferry.display()
    );
    drop(dns_switch);
    Ok(())
}

/// Passwords the demo made up for this run, and the vault's passphrase: used, never printed.
struct Secrets {
    passwords: BTreeMap<String, String>,
    passphrase: String,
}

impl Secrets {
    fn new() -> Secrets {
        // Different every run: a leak search below cannot be fooled by a fixed string.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
            ^ u128::from(std::process::id());
        let passwords = ACCOUNTS
            .iter()
            .enumerate()
            .map(|(i, (address, _))| {
                (
                    address.to_string(),
                    format!("Demo-{:016x}-{i}", seed as u64 ^ (i as u64 * 0x9e37_79b9)),
                )
            })
            .collect();
        Secrets {
            passwords,
            passphrase: format!("vault-{:x}", seed >> 3),
        }
    }

    fn password(&self, address: &str) -> &str {
        &self.passwords[address]
    }

    fn all(&self) -> impl Iterator<Item = &str> {
        self.passwords
            .values()
            .map(String::as_str)
            .chain([self.passphrase.as_str()])
    }

    fn leaked_in(&self, text: &[u8]) -> bool {
        self.all()
            .any(|s| text.windows(s.len()).any(|w| w == s.as_bytes()))
    }

    /// Every file under `dir` searched for a secret; returns how many were searched.
    fn check_files(&self, dir: &Path) -> Result<usize> {
        let mut count = 0;
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))? {
                let path = entry.map_err(|e| e.to_string())?.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let bytes =
                        std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                    if self.leaked_in(&bytes) {
                        return Err(format!(
                            "a password is written in clear in {}",
                            path.display()
                        ));
                    }
                    count += 1;
                }
            }
        }
        Ok(count)
    }
}

struct Demo {
    ferry: PathBuf,
    work: PathBuf,
    secrets: Secrets,
}

/// An action of the demo's while ferry runs: given ferry's process id, and a flag set once its
/// output has ended.
type During = Box<dyn FnOnce(u32, Arc<AtomicBool>) + Send>;

/// What a step adds to a plain `ferry` run.
#[derive(Default)]
struct Extra {
    /// Written to ferry's standard input.
    stdin: Option<String>,
    /// How that input is shown.
    shown_stdin: Option<&'static str>,
    /// FERRY_NOW: Ferry's clock moved.
    now: Option<String>,
    /// Done by the demo while the command runs (on another thread), given ferry's process id
    /// and whether its output has ended (it is not reaped before this is joined).
    during: Option<During>,
}

impl Demo {
    fn ferry(&self, args: &[&str], expected: &[i32]) -> Result<String> {
        self.ferry_with(args, expected, Extra::default())
    }

    /// Shows the command line, runs it with its output live (progress on standard error goes
    /// straight to the terminal; standard output is read line by line and searched for a
    /// password before it is shown), and checks its exit status.
    /// Returns what it printed on standard output.
    fn ferry_with(&self, args: &[&str], expected: &[i32], extra: Extra) -> Result<String> {
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Err("interrupted (Ctrl-C)".into());
        }
        let shown_args = args
            .iter()
            .map(|a| {
                if a.contains(' ') {
                    format!("'{a}'")
                } else {
                    a.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        let prefix = extra
            .now
            .as_deref()
            .map(|n| format!("FERRY_NOW={n} "))
            .unwrap_or_default();
        println!(
            "\n{}",
            styled("1;36", &format!("$ {prefix}ferry {shown_args}"))
        );
        if let Some(shown) = extra.shown_stdin {
            println!("{}", styled("2", shown));
        }
        let _ = std::io::stdout().flush();

        let mut cmd = Command::new(&self.ferry);
        cmd.args(args).current_dir(&self.work);
        // The demo's own settings only: a FERRY_* of the caller's must not point it elsewhere.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("FERRY_") {
                cmd.env_remove(&key);
            }
        }
        cmd.env("FERRY_PROJECT", self.work.join("migration.ferry"))
            .env("FERRY_VAULT", "file")
            .env("FERRY_VAULT_FILE", self.work.join("passwords.ferry-vault"))
            .env("FERRY_VAULT_PASSPHRASE", &self.secrets.passphrase);
        if let Some(now) = &extra.now {
            cmd.env("FERRY_NOW", now);
        }
        cmd.stdin(if extra.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.ferry.display()))?;
        if let Some(input) = &extra.stdin {
            let mut stdin = child.stdin.take().expect("piped stdin");
            stdin
                .write_all(input.as_bytes())
                .map_err(|e| format!("cannot write to ferry's input: {e}"))?;
        }
        let pid = child.id();
        let ended = Arc::new(AtomicBool::new(false));
        let during = extra.during.map(|f| {
            let ended = ended.clone();
            std::thread::spawn(move || f(pid, ended))
        });
        let stdout = child.stdout.take().expect("piped stdout");
        let mut leaked = false;
        let mut printed = String::new();
        for line in BufReader::new(stdout).split(b'\n') {
            let line = line.map_err(|e| format!("reading ferry's output: {e}"))?;
            if self.secrets.leaked_in(&line) {
                leaked = true;
                println!(
                    "{}",
                    styled("1;31", "(a line holding a password, not shown)")
                );
            } else {
                let line = String::from_utf8_lossy(&line);
                println!("{line}");
                printed.push_str(&line);
                printed.push('\n');
            }
        }
        ended.store(true, Ordering::SeqCst);
        if let Some(during) = during {
            during
                .join()
                .map_err(|_| "the demo's own action during the command failed".to_string())?;
        }
        let status = child
            .wait()
            .map_err(|e| format!("waiting for ferry: {e}"))?;
        if leaked {
            return Err(format!("`ferry {shown_args}` printed a password"));
        }
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Err(format!("interrupted (Ctrl-C) during `ferry {shown_args}`"));
        }
        let Some(code) = status.code() else {
            return Err(format!(
                "`ferry {shown_args}` was ended by a signal ({status})"
            ));
        };
        if !expected.contains(&code) {
            return Err(format!(
                "`ferry {shown_args}` ended with exit status {code} (expected {})",
                expected
                    .iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
        if code != 0 {
            println!(
                "{}",
                styled("2", &format!("(exit status {code}, as expected)"))
            );
        }
        Ok(printed)
    }
}

/// Messages copied (recorded in the project's sync ledger, read while a sync writes it: SQLite
/// WAL) before the demo interrupts the initial sync.
const INTERRUPT_AFTER: i64 = 60;

fn copied_in_ledger(ledger: &Path) -> i64 {
    rusqlite::Connection::open_with_flags(ledger, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("SELECT count(*) FROM message", [], |r| r.get(0)))
        .unwrap_or(0)
}

/// Jane's archive: files written into the store's new/ as a delivery agent would.
fn add_archive(old: &Dovecot) -> Result<u64> {
    let inbox_new = old.mail_dir("jdoe").join("new");
    let mut total = 0;
    for n in 0..BULK_MESSAGES {
        let mut raw = format!(
            "From: Archive <archive@example.com>\r\nTo: jane.doe@example.com\r\nSubject: Project file {n}\r\nDate: Mon, 3 Jun 2019 10:{:02}:00 +0000\r\nMessage-ID: <archive-{n}@example.com>\r\n\r\n",
            n % 60
        )
        .into_bytes();
        while raw.len() < BULK_SIZE {
            raw.extend_from_slice(
                format!("line {n} of a long report, kept for the records\r\n").as_bytes(),
            );
        }
        // S= is the size Dovecot trusts: it must be the file's.
        let path = inbox_new.join(format!(
            "15599{n:05}.M{n}P1.mail.example.com,S={}",
            raw.len()
        ));
        std::fs::write(&path, &raw).map_err(|e| format!("{}: {e}", path.display()))?;
        old.give_to_mail_user(&path);
        total += raw.len() as u64;
    }
    Ok(total)
}

/// Every message of a user over every folder, as a multiset of their bytes. `skip_deleted`:
/// leave out messages flagged \Deleted (the old server's expunge-pending mail is not copied).
fn contents(server: &Dovecot, user: &str, skip_deleted: bool) -> BTreeMap<Vec<u8>, usize> {
    let mut all = BTreeMap::new();
    for mailbox in server.mailboxes(user) {
        for m in server.messages(user, &mailbox) {
            if skip_deleted && m.flags.iter().any(|f| f == "\\Deleted") {
                continue;
            }
            *all.entry(m.bytes).or_insert(0) += 1;
        }
    }
    all
}

/// Sizes as `ferry` prints them (binary units), so the numbers can be compared.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else if v < 10.0 {
        format!("{v:.1} {}", UNITS[i])
    } else {
        format!("{v:.0} {}", UNITS[i])
    }
}

fn title(text: &str) {
    let rule = "=".repeat(WIDTH);
    println!("\n{}", styled("1", &format!("{rule}\n{text}\n{rule}")));
}

fn step(text: &str) {
    let rule = "─".repeat(WIDTH.saturating_sub(text.chars().count() + 4));
    println!("\n{}", styled("1", &format!("── {text} {rule}")));
}

/// `text` in an ANSI style (bold, a colour) on a terminal; plain in a file or a pipe.
fn styled(code: &str, text: &str) -> String {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// A paragraph for the reader, wrapped to the terminal's usual width.
fn say(text: &str) {
    println!();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > WIDTH {
            println!("{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        println!("{line}");
    }
}
