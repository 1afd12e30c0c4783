//! A whole migration through the `ferry` binary, as a consultant would script it, against real
//! servers: the simulated old server (the test kit's OldMac Dovecot serving a copy of the
//! fixture, read by Ferry from its store on disk), a Modern Dovecot as the new host (behind a
//! fault proxy), and a DNS server on loopback whose MX records switch while Ferry watches.
//!
//! init -> discover -> destination -> accounts -> credentials (file vault) -> initial sync,
//! killed with SIGKILL mid-copy and run again -> review (nothing missing) -> new mail at the old
//! server -> DNS watch (the MX switches mid-watch; the delta runs by itself) -> profiles -> final
//! sync -> quarantine archive -> decommission with the clock moved 73 hours on -> final report;
//! then every message of every account on the new host exactly once, byte for byte.

#[path = "../crates/cutover/tests/common/mod.rs"]
mod dns_server;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use dns_server::TestDns;
use ferry_testkit::{Dovecot, FaultProxy, Preset};
use sha2::{Digest, Sha256};

const PASSPHRASE: &str = "vault-pass-e2e";
/// The planned accounts (old address -> login on the new host: the same address).
const ACCOUNTS: [(&str, &str); 3] = [
    ("jane.doe@example.com", "jdoe"),
    ("arthur.smith@example.com", "asmith"),
    ("bjoern.mueller@example.org", "bmueller"),
];
const BULK: usize = 600;

fn ferry_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("FERRY_TEST_BIN") {
        return bin.into();
    }
    // target/debug/deps/whole_migration-HASH -> target/debug/ferry
    let exe = std::env::current_exe().expect("test executable");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("ferry"))
        .expect("target folder");
    assert!(
        bin.exists(),
        "{} is missing: build it first (cargo build -p ferry-cli), or set FERRY_TEST_BIN",
        bin.display()
    );
    bin
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(ferry_bin());
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("FERRY_PROJECT", self.dir.path().join("migration.ferry"))
            .env("FERRY_VAULT", "file")
            .env(
                "FERRY_VAULT_FILE",
                self.dir.path().join("passwords.ferry-vault"),
            )
            .env("FERRY_VAULT_PASSPHRASE", PASSPHRASE)
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run ferry")
    }

    /// Runs and asserts the exit status.
    fn ok(&self, args: &[&str], status: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(status),
            "ferry {}\n{}",
            args.join(" "),
            shown(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn project(&self) -> PathBuf {
        self.dir.path().join("migration.ferry")
    }
}

fn shown(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Every message of a user, over every folder, as a multiset of SHA-256 digests. `skip_deleted`:
/// leave out messages flagged \Deleted (the old server's expunge-pending mail is not copied).
fn digests(server: &Dovecot, user: &str, skip_deleted: bool) -> BTreeMap<String, usize> {
    let mut all = BTreeMap::new();
    for mailbox in server.mailboxes(user) {
        for m in server.messages(user, &mailbox) {
            if skip_deleted && m.flags.iter().any(|f| f == "\\Deleted") {
                continue;
            }
            *all.entry(sha(&m.bytes)).or_insert(0) += 1;
        }
    }
    all
}

fn message(n: usize, size: usize) -> Vec<u8> {
    let mut raw = format!(
        "From: Archive <archive@example.com>\r\nTo: jane.doe@example.com\r\nSubject: Project file {n}\r\nDate: Mon, 3 Jun 2019 10:{:02}:00 +0000\r\nMessage-ID: <bulk-{n}@example.com>\r\n\r\n",
        n % 60
    )
    .into_bytes();
    while raw.len() < size {
        raw.extend_from_slice(
            format!("line {n} of a long report, kept for the records\r\n").as_bytes(),
        );
    }
    raw
}

/// Copied messages in the project's ledger (read while a sync writes: SQLite WAL).
fn copied_in_ledger(project: &Path) -> i64 {
    let mut ledger = project.as_os_str().to_owned();
    ledger.push(".sync.sqlite");
    rusqlite::Connection::open_with_flags(
        PathBuf::from(ledger),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .and_then(|c| c.query_row("SELECT count(*) FROM message", [], |r| r.get(0)))
    .unwrap_or(0)
}

fn kill_9(child: &mut Child) {
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
}

#[test]
fn a_whole_migration_through_the_cli() {
    let env = Env {
        dir: tempfile::tempdir().unwrap(),
    };
    let old = Dovecot::start(Preset::OldMac);
    let mut new = Dovecot::builder(Preset::Modern);
    for (address, _) in ACCOUNTS {
        new = new.user(address, &format!("pw-{address}"));
    }
    let new = new.start();
    let proxy = FaultProxy::start(new.imaps_port());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dns = rt.block_on(TestDns::start());
    let resolver = dns.addr.to_string();

    // A bigger mailbox than the fixture's, so a kill lands mid-copy: files written into the
    // store's new/ as a delivery agent would, not yet numbered by Dovecot.
    let inbox_new = old.mail_dir("jdoe").join("new");
    for n in 0..BULK {
        let raw = message(n, 30_000);
        // S= is the size Dovecot trusts: it must be the file's.
        let path = inbox_new.join(format!(
            "17000{n:05}.M{n}P1.mail.example.com,S={}",
            raw.len()
        ));
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(&raw))
            .unwrap();
        old.give_to_mail_user(&path);
    }

    // 1. A new migration of the copy of the server, and discovery.
    let root = old.server_root().display().to_string();
    let out = env.ok(&["init", "--root", &root], 0);
    assert!(out.contains("Next: ferry discover"), "{out}");
    let status = env.ok(&["status"], 0);
    assert!(
        status.contains("Start by discovering the old server."),
        "{status}"
    );
    let out = env.ok(&["discover"], 0);
    assert!(out.contains("jane.doe@example.com"), "{out}");
    env.ok(&["accounts", "decide", "--all", "noted"], 0);

    // 2. The new host (another IMAP host: the Modern Dovecot behind the proxy, pinned), the plan.
    let port = proxy.port().to_string();
    let pin = new.cert_sha256();
    env.ok(
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
            "mx.new.test",
        ],
        0,
    );
    env.ok(&["accounts", "exclude", "marta.wolf@example.com"], 0);
    let plan: serde_json::Value =
        serde_json::from_str(&env.ok(&["accounts", "--json"], 0)).unwrap();
    let included: Vec<&str> = plan
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["included"] == true)
        .map(|a| a["source_address"].as_str().unwrap())
        .collect();
    assert_eq!(included, ACCOUNTS.map(|(a, _)| a).to_vec());

    // 3. A login check before any password is stored says, per account, what to type.
    let out = env.ok(&["credentials", "check"], 2);
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    for (address, _) in ACCOUNTS {
        assert!(
            lines.contains(&format!("ferry credentials password {address}").as_str()),
            "{out}"
        );
    }
    assert!(out.contains("0 logins work, 3 problems"), "{out}");

    // Passwords into the encrypted file vault, then a login check of every account.
    for (address, _) in ACCOUNTS {
        let mut child = env
            .command(&["credentials", "password", address])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("pw-{address}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", shown(&out));
    }
    let out = env.ok(&["credentials", "check"], 0);
    assert!(out.contains("3 logins work, 0 problems"), "{out}");

    // 4. The initial sync, killed mid-copy, then the same command again.
    let mut child = env
        .command(&["sync", "initial"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while copied_in_ledger(&env.project()) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the initial sync copied nothing in 60 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    proxy.stall(); // whatever is in flight stays in flight
    std::thread::sleep(Duration::from_millis(200));
    kill_9(&mut child);
    let copied_before = copied_in_ledger(&env.project());
    let total: usize = ACCOUNTS
        .iter()
        .map(|(_, login)| digests(&old, login, true).values().sum::<usize>())
        .sum();
    assert!(
        copied_before > 0 && (copied_before as usize) < total,
        "killed after {copied_before} of {total} messages: not mid-copy"
    );
    proxy.resume();
    let status = env.ok(&["status"], 0);
    assert!(status.contains("Initial sync"), "{status}");
    let out = env.ok(&["sync", "initial"], 0);
    assert!(out.starts_with("Initial sync: "), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&env.ok(&["sync", "initial", "--json"], 0)).unwrap();
    assert_eq!(
        report["report"]["copied"], 0,
        "a re-run copies nothing: {report}"
    );

    // 5. Review: every message there.
    let out = env.ok(&["review"], 0);
    assert!(out.contains("Every message is on the new host."), "{out}");

    // 6. Mail still arrives at the old server before the switch.
    let late = b"From: Customer <c@example.net>\r\nTo: jane.doe@example.com\r\nSubject: Late order\r\nDate: Fri, 4 Dec 2026 09:00:00 +0000\r\nMessage-ID: <late-1@example.net>\r\n\r\nPlease ship today.\r\n";
    old.deliver("jdoe", "INBOX", late);

    // 7. DNS before: both domains at the old server; TTL advice; then the watch, and the switch.
    for domain in ["example.com", "example.org"] {
        rt.block_on(dns.set_mx(domain, 3600, &[(10, "mail.example.com")]));
    }
    rt.block_on(dns.set_a("mail.example.com", 3600, &["192.0.2.5"]));
    rt.block_on(dns.set_a("mx.new.test", 300, &["198.51.100.10"]));
    let out = env.ok(&["dns", "--resolver", &resolver], 0);
    assert!(out.contains("example.com"), "{out}");
    // The TTL lowered (at a time given, to read the countdown exactly): the old TTL, 1 h, is
    // counted from then, and `ferry dns` says when the switch may be made.
    let out = env
        .command(&["mark", "ttl-lowered"])
        .env("FERRY_NOW", "2026-12-04T09:00:00Z")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "You lowered the TTL at 2026-12-04 09:00 UTC: resolvers may hold the old answer for its old TTL (1 h). Switch the MX records after 2026-12-04 10:00 UTC (in 1 h).\n"
    );
    let out = env
        .command(&["dns", "--resolver", &resolver])
        .env("FERRY_NOW", "2026-12-04T09:20:00Z")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\nYou lowered the TTL at 2026-12-04 09:00 UTC: resolvers may hold the old answer for its old TTL (1 h). Switch the MX records after 2026-12-04 10:00 UTC (in 40 min).\n"),
        "{}",
        shown(&out)
    );
    let out = env.ok(&["dns", "--resolver", &resolver], 0);
    assert!(
        out.contains("\nThe old TTL (1 h) has passed since you lowered it at 2026-12-04 09:00 UTC: you can switch the MX records now.\n"),
        "{out}"
    );
    let watch = env
        .command(&[
            "dns",
            "--watch",
            "--resolver",
            &resolver,
            "--interval",
            "1",
            "--max-wait",
            "120",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    for domain in ["example.com", "example.org"] {
        rt.block_on(dns.set_mx(domain, 300, &[(10, "mx.new.test")]));
    }
    let out = watch.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Every resolver answers only the new MX."),
        "{text}"
    );
    assert!(text.contains("Cut-over sync: 1 message copied"), "{text}");
    let waited = String::from_utf8_lossy(&out.stderr);
    assert!(
        waited.contains("still the old MX"),
        "the watch named the old MX: {waited}"
    );

    // 8. Profiles for the plan's people.
    let profiles = env.dir.path().join("profiles");
    env.ok(
        &["profiles", "export", "--out", profiles.to_str().unwrap()],
        0,
    );
    let written: Vec<_> = std::fs::read_dir(&profiles)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".mobileconfig"))
        .collect();
    assert_eq!(written.len(), 3, "{written:?}");

    // 9. Final sync, verified.
    let out = env.run(&["sync", "final"]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("verified: every message is on the new host"),
        "{}",
        shown(&out)
    );
    // The cut-over sync already brought the late message: each account says so in words.
    let lines = String::from_utf8_lossy(&out.stderr);
    for (address, _) in ACCOUNTS {
        assert!(
            lines
                .lines()
                .any(|l| l == format!("{address}: nothing new")),
            "{}",
            shown(&out)
        );
    }

    // 10. The quarantine, archived to mbox files.
    let archive = env.dir.path().join("quarantine");
    env.ok(
        &["quarantine", "archive", "--mbox", archive.to_str().unwrap()],
        0,
    );

    // 11. Decommission: not yet today (mail arrived minutes ago); ready 73 hours later.
    let out = env.run(&["decommission"]);
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    let later = (chrono_now_plus_hours(73)).to_string();
    let out = env
        .command(&["mark", "clone-kept"])
        .env("FERRY_NOW", &later)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", shown(&out));
    let report = env.dir.path().join("final-report.html");
    let out = env
        .command(&["decommission", "--report", report.to_str().unwrap()])
        .env("FERRY_NOW", &later)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        html.contains("jane.doe@example.com"),
        "the report lists the accounts"
    );
    assert!(report.with_extension("json").exists());
    let status = env
        .command(&["status"])
        .env("FERRY_NOW", &later)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("the old server can be switched off"),
        "{}",
        shown(&status)
    );

    // The new host holds every message of every account exactly once, byte for byte: the old
    // server's (without expunge-pending ones), the bulk, and the late one.
    for (address, login) in ACCOUNTS {
        let source = digests(&old, login, true);
        let dest = digests(&new, address, false);
        assert_eq!(
            dest, source,
            "{address}: the new host differs from the old server"
        );
    }
    let jdoe = digests(&new, "jane.doe@example.com", false);
    assert_eq!(
        jdoe.get(&sha(late)),
        Some(&1),
        "the late message arrived once"
    );
    assert!(jdoe.values().sum::<usize>() >= BULK);
}

/// RFC 3339, `hours` from now.
fn chrono_now_plus_hours(hours: u64) -> String {
    let t = std::time::SystemTime::now() + Duration::from_secs(hours * 3600);
    let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The same flow to a host that takes only OAuth 2.0 (as Exchange Online): the app's secret in
/// a file read once into the vault, no user password anywhere, every message exactly once.
#[test]
fn a_migration_to_an_oauth_only_host_through_the_cli() {
    use ferry_testkit::TokenServer;
    let env = Env {
        dir: tempfile::tempdir().unwrap(),
    };
    let old = Dovecot::start(Preset::OldMac);
    let tokens = TokenServer::start(Duration::from_secs(30));
    tokens.add_app_with_secret("contoso.example", "ferry-app", "app-secret-e2e");
    let mut new = Dovecot::builder(Preset::Modern);
    for (address, _) in ACCOUNTS {
        new = new.user(address, "never-used");
        tokens.grant_mailbox("ferry-app", address);
    }
    let new = new.oauth2(&tokens).start();
    let root = old.server_root().display().to_string();
    env.ok(&["init", "--root", &root], 0);
    env.ok(&["discover"], 0);
    let secret_file = env.dir.path().join("client-secret.txt");
    std::fs::write(&secret_file, "app-secret-e2e\n").unwrap();
    let port = new.imaps_port().to_string();
    let pin = new.cert_sha256();
    let token_url = tokens.microsoft_token_url("contoso.example");
    let out = env.ok(
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
            "--oauth",
            "microsoft",
            "--tenant",
            "contoso.example",
            "--client-id",
            "ferry-app",
            "--oauth-secret-file",
            secret_file.to_str().unwrap(),
            "--oauth-token-url",
            &token_url,
        ],
        0,
    );
    assert!(out.contains("no user passwords are needed"), "{out}");
    let out = env.ok(&["credentials", "check"], 0);
    assert!(out.contains("3 logins work, 0 problems"), "{out}");
    let out = env.ok(&["sync", "initial"], 0);
    assert!(out.starts_with("Initial sync: "), "{out}");
    // No secret in the project file; the secret lives only in the (encrypted) vault.
    let project = std::fs::read(env.project()).unwrap();
    assert!(!project.windows(14).any(|w| w == b"app-secret-e2e"));
    for (address, login) in ACCOUNTS {
        assert_eq!(
            digests(&new, address, false),
            digests(&old, login, true),
            "{address}"
        );
    }
}
