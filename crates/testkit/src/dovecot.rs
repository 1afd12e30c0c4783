//! Real Dovecot IMAP servers for tests: each in its own temp folder, on its own ephemeral loopback
//! ports, with its own certificate, config, log and pid; stopped by its own pid when dropped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::fixture::{materialize_fixture, run};
use crate::imap_client::{self, Login};
use crate::tls::TestCertificates;

/// The kinds of server a migration meets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// The old macOS Server: Maildir++ with `.` as separator, its store a materialized copy of the
    /// fixture (keyed by GUID), users logging in with their short names.
    OldMac,
    /// The new host: `/` separator, SPECIAL-USE folders, CONDSTORE/QRESYNC, quota, size limit.
    Modern,
    /// A Courier/Cyrus-style host: personal namespace `INBOX.` with `.` as separator.
    Prefixed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestUser {
    pub name: String,
    pub password: String,
}

/// A message as the server serves it over IMAP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    pub uid: u32,
    /// System flags (`\Seen`, ...) and keywords, without `\Recent`.
    pub flags: Vec<String>,
    /// INTERNALDATE as Unix seconds.
    pub internal_date: i64,
    pub bytes: Vec<u8>,
}

pub struct DovecotBuilder {
    preset: Preset,
    plaintext: bool,
    quotas: BTreeMap<String, u64>,
    max_message_size: Option<u64>,
    max_connections_per_user: u32,
    extra_users: Vec<(String, String)>,
    expired_certificate: bool,
    oauth2_introspection: Option<String>,
}

impl DovecotBuilder {
    /// Allow LOGIN without TLS on `imap_port` (off by default: STARTTLS first).
    pub fn plaintext(mut self, allow: bool) -> Self {
        self.plaintext = allow;
        self
    }
    /// A storage quota for one user, in bytes.
    pub fn quota_bytes(mut self, user: &str, bytes: u64) -> Self {
        self.quotas.insert(user.to_string(), bytes);
        self
    }
    /// The largest message the server accepts; also advertised as `APPENDLIMIT`.
    pub fn max_message_size(mut self, bytes: u64) -> Self {
        self.max_message_size = Some(bytes);
        self
    }
    /// Dovecot's `mail_max_userip_connections` (default 10, as Dovecot's own default).
    pub fn max_connections_per_user(mut self, n: u32) -> Self {
        self.max_connections_per_user = n;
        self
    }
    /// One more user with this password.
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.extra_users
            .push((name.to_string(), password.to_string()));
        self
    }
    /// Also sign in with XOAUTH2 and OAUTHBEARER, checked by Dovecot's `oauth2` passdb against
    /// `tokens`' introspection endpoint. Passwords keep working (the kit's own helpers use them).
    ///
    /// Dovecot 2.3's passdb sends only the token to the introspection URL and compares one user
    /// name, so each mailbox gets its own passdb (chosen by `username_filter`) whose URL names
    /// the mailbox; the token server answers `active` only for a token that grants it.
    pub fn oauth2(mut self, tokens: &crate::TokenServer) -> Self {
        self.oauth2_introspection = Some(tokens.introspection_url(""));
        self
    }
    /// Serve a certificate whose validity ended in 2020.
    pub fn expired_certificate(mut self, expired: bool) -> Self {
        self.expired_certificate = expired;
        self
    }

    pub fn start(self) -> Dovecot {
        Dovecot::launch(self)
    }
}

pub struct Dovecot {
    preset: Preset,
    dir: tempfile::TempDir,
    conf: PathBuf,
    child: Option<Child>,
    imap_port: u16,
    imaps_port: u16,
    certs: TestCertificates,
    users: Vec<TestUser>,
    master: TestUser,
    mail_dirs: BTreeMap<String, PathBuf>,
    server_root: Option<PathBuf>,
}

static INSTANCE: AtomicU32 = AtomicU32::new(0);

/// Who owns the mail files: Dovecot refuses to run mail processes as root.
struct MailOwner {
    /// Running as root: files we create must be handed to the mail user.
    is_root: bool,
    uid: u32,
    gid: u32,
    internal_user: String,
    login_user: String,
}

fn mail_owner() -> MailOwner {
    // SAFETY: geteuid/getegid have no preconditions.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if euid == 0 {
        // Debian's `mail` user (8:8) exists on every system; dovecot/dovenull come with the package.
        MailOwner {
            is_root: true,
            uid: 8,
            gid: 8,
            internal_user: "dovecot".into(),
            login_user: "dovenull".into(),
        }
    } else {
        let name = std::env::var("USER").unwrap_or_else(|_| run(Command::new("id").arg("-un")));
        let name = name.trim().to_string();
        MailOwner {
            is_root: false,
            uid: euid,
            gid: egid,
            internal_user: name.clone(),
            login_user: name,
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("an ephemeral loopback port")
        .port()
}

/// A password that is easy to find in a leak search and differs per run.
fn password_for(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "Pw-{name}-{:08x}",
        nanos ^ std::process::id() ^ INSTANCE.load(Ordering::Relaxed)
    )
}

impl Dovecot {
    pub fn start(preset: Preset) -> Dovecot {
        Self::builder(preset).start()
    }

    pub fn builder(preset: Preset) -> DovecotBuilder {
        DovecotBuilder {
            preset,
            plaintext: false,
            quotas: BTreeMap::new(),
            max_message_size: None,
            max_connections_per_user: 10,
            extra_users: Vec::new(),
            expired_certificate: false,
            oauth2_introspection: None,
        }
    }

    fn launch(b: DovecotBuilder) -> Dovecot {
        let instance = INSTANCE.fetch_add(1, Ordering::Relaxed);
        let dir = tempfile::Builder::new()
            .prefix("ferry-dovecot-")
            .tempdir()
            .expect("temp dir for a test server");
        let base = dir.path().to_path_buf();
        set_mode(&base, 0o755);
        let owner = mail_owner();

        let certs = TestCertificates::generate(b.expired_certificate);
        std::fs::write(
            base.join("cert.pem"),
            format!("{}{}", certs.leaf_pem, certs.ca_pem),
        )
        .expect("write cert");
        std::fs::write(base.join("key.pem"), &certs.leaf_key_pem).expect("write key");
        set_mode(&base.join("key.pem"), 0o600);
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir_all(base.join(sub)).expect("server dirs");
        }

        // Users and where their mail lives.
        let mut mail_dirs = BTreeMap::new();
        let mut server_root = None;
        let mut names: Vec<String> = match b.preset {
            Preset::OldMac => {
                let root = materialize_fixture(&base.join("server"));
                let users = root.join("Library/Server/Mail/Data/mail/users");
                let mut names = Vec::new();
                for entry in std::fs::read_dir(&users).expect("fixture users/") {
                    let entry = entry.expect("users/ entry");
                    let short = entry.file_name().to_string_lossy().into_owned();
                    let target = std::fs::read_link(entry.path()).expect("users/ symlink");
                    mail_dirs.insert(short.clone(), users.join(target).canonicalize().unwrap());
                    names.push(short);
                }
                names.sort();
                server_root = Some(root);
                names
            }
            Preset::Modern | Preset::Prefixed => vec!["alice".into(), "bob".into()],
        };
        let mut passwords: BTreeMap<String, String> =
            names.iter().map(|n| (n.clone(), password_for(n))).collect();
        for (name, password) in &b.extra_users {
            if !names.contains(name) {
                names.push(name.clone());
            }
            passwords.insert(name.clone(), password.clone());
        }
        for name in &names {
            mail_dirs
                .entry(name.clone())
                .or_insert_with(|| base.join("mail").join(name));
        }
        let master = TestUser {
            name: "ferrymaster".into(),
            password: password_for("ferrymaster"),
        };

        let mut passwd = String::new();
        for name in &names {
            let home = base.join("mail").join(name);
            let mut extra = format!("userdb_mail=maildir:{}", mail_dirs[name].display());
            if b.preset == Preset::Modern {
                extra = format!("userdb_mail=sdbox:{}", mail_dirs[name].display());
            }
            if let Some(bytes) = b.quotas.get(name) {
                let _ = write!(extra, " userdb_quota_rule=*:storage={bytes}B");
            }
            let _ = writeln!(
                passwd,
                "{name}:{{PLAIN}}{}:{}:{}::{}::{extra}",
                passwords[name],
                owner.uid,
                owner.gid,
                home.display()
            );
        }
        std::fs::write(base.join("passwd"), passwd).expect("passwd file");
        std::fs::write(
            base.join("masters"),
            format!("{}:{{PLAIN}}{}\n", master.name, master.password),
        )
        .expect("master passwd file");
        for name in &names {
            std::fs::create_dir_all(base.join("mail").join(name)).expect("home");
        }
        if owner.is_root {
            chown_recursive(&base.join("mail"), &owner);
            if let Some(root) = &server_root {
                chown_recursive(root, &owner);
                // The imap processes run as the mail user and must reach the store through the
                // temp folders above it.
                let mut p = root.clone();
                while p != base {
                    set_mode(&p, 0o755);
                    p.pop();
                }
            }
        }

        let users = names
            .iter()
            .map(|n| TestUser {
                name: n.clone(),
                password: passwords[n].clone(),
            })
            .collect();

        let conf = base.join("dovecot.conf");
        let mut server = Dovecot {
            preset: b.preset,
            dir,
            conf,
            child: None,
            imap_port: 0,
            imaps_port: 0,
            certs,
            users,
            master,
            mail_dirs,
            server_root,
        };

        // Ports are picked free, then bound by Dovecot: another process may take one in between,
        // so retry with new ports when that happens.
        let mut last_log = String::new();
        for _attempt in 0..5 {
            server.imap_port = free_port();
            server.imaps_port = free_port();
            std::fs::write(&server.conf, config(&b, &server, &owner, instance))
                .expect("write dovecot.conf");
            let child = Command::new("dovecot")
                .arg("-F")
                .arg("-c")
                .arg(&server.conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|err| {
                    panic!("cannot start dovecot ({err}); scripts/test installs dovecot-imapd")
                });
            server.child = Some(child);
            if server.wait_listening(Duration::from_secs(15)) {
                return server;
            }
            last_log = server.log();
            server.stop();
        }
        panic!("dovecot did not start; its log:\n{last_log}");
    }

    fn wait_listening(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(_status)) = child.try_wait() {
                    return false;
                }
            }
            let up = |port| TcpStream::connect(("127.0.0.1", port)).is_ok();
            if up(self.imaps_port) && up(self.imap_port) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn preset(&self) -> Preset {
        self.preset
    }
    pub fn host(&self) -> &str {
        "127.0.0.1"
    }
    /// Implicit TLS.
    pub fn imaps_port(&self) -> u16 {
        self.imaps_port
    }
    /// STARTTLS, or plaintext where the builder allowed it.
    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }
    /// The server's certificate (PEM), issued by a per-run CA that nobody trusts.
    pub fn cert_pem(&self) -> &str {
        &self.certs.leaf_pem
    }
    pub fn cert_der(&self) -> &[u8] {
        &self.certs.leaf_der
    }
    /// SHA-256 of the server certificate's DER, lowercase hex: what an admin pins.
    pub fn cert_sha256(&self) -> String {
        self.certs.leaf_sha256()
    }
    /// The per-run CA (DER), for tests that want a client to trust it the ordinary way.
    pub fn ca_der(&self) -> &[u8] {
        &self.certs.ca_der
    }
    pub fn users(&self) -> &[TestUser] {
        &self.users
    }
    pub fn password(&self, user: &str) -> &str {
        &self
            .users
            .iter()
            .find(|u| u.name == user)
            .unwrap_or_else(|| panic!("no test user {user}"))
            .password
    }
    /// The master user: log in as `user*ferrymaster` with its password, or PLAIN with authzid.
    pub fn master_user(&self) -> &TestUser {
        &self.master
    }
    /// OldMac: the materialized fixture copy, acting as the old server's `/`.
    pub fn server_root(&self) -> &Path {
        self.server_root
            .as_deref()
            .expect("only the OldMac preset has a server root")
    }
    /// Where a user's store lives on disk.
    pub fn mail_dir(&self, user: &str) -> &Path {
        self.mail_dirs
            .get(user)
            .unwrap_or_else(|| panic!("no test user {user}"))
    }
    /// Hands files written by a test into a store to the user Dovecot's mail processes run as.
    pub fn give_to_mail_user(&self, path: &Path) {
        let owner = mail_owner();
        if owner.is_root {
            chown_recursive(path, &owner);
        }
    }
    /// The per-run CA (PEM), for peers such as mbsync that take a certificate file.
    pub fn ca_pem(&self) -> &str {
        &self.certs.ca_pem
    }
    pub fn config_path(&self) -> &Path {
        &self.conf
    }
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// Runs `doveadm` against this server's config; panics with its output if it fails.
    pub fn doveadm(&self, args: &[&str]) -> String {
        run(Command::new("doveadm").arg("-c").arg(&self.conf).args(args))
    }

    /// Mailbox names as Dovecot lists them (UTF-8, the server's separator and prefix).
    pub fn mailboxes(&self, user: &str) -> Vec<String> {
        self.doveadm(&["mailbox", "list", "-u", user])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Delivers one message as the MTA would (`doveadm save`), creating the mailbox if needed.
    pub fn deliver(&self, user: &str, mailbox: &str, raw: &[u8]) {
        if !self.mailboxes(user).iter().any(|m| m == mailbox) {
            self.doveadm(&["mailbox", "create", "-u", user, mailbox]);
        }
        let mut child = Command::new("doveadm")
            .arg("-c")
            .arg(&self.conf)
            .args(["save", "-u", user, "-m", mailbox])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("doveadm save");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(raw)
            .expect("write message to doveadm save");
        let out = child.wait_with_output().expect("doveadm save");
        assert!(
            out.status.success(),
            "doveadm save -u {user} -m {mailbox} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn login_as<'a>(&'a self, user: &'a str) -> Login<'a> {
        Login {
            host: self.host(),
            port: self.imaps_port,
            ca_der: &self.certs.ca_der,
            user,
            password: self.password(user),
        }
    }

    /// Every message of a mailbox as the server serves it over IMAP, by UID.
    pub fn messages(&self, user: &str, mailbox: &str) -> Vec<StoredMessage> {
        imap_client::messages(&self.login_as(user), mailbox)
    }

    /// APPEND over IMAP with flags and an INTERNALDATE like `01-Jan-2020 10:00:00 +0000`.
    pub fn append(
        &self,
        user: &str,
        mailbox: &str,
        flags: &[&str],
        internal_date: Option<&str>,
        raw: &[u8],
    ) {
        self.try_append(user, mailbox, flags, internal_date, raw)
            .unwrap_or_else(|err| panic!("APPEND to {mailbox}: {err}"))
    }

    /// APPEND that returns the server's refusal (over quota, too big) instead of panicking.
    pub fn try_append(
        &self,
        user: &str,
        mailbox: &str,
        flags: &[&str],
        internal_date: Option<&str>,
        raw: &[u8],
    ) -> Result<(), String> {
        imap_client::append(&self.login_as(user), mailbox, flags, internal_date, raw)
    }

    /// LOGIN over implicit TLS with any name and password (e.g. `jdoe*ferrymaster`).
    pub fn check_login(&self, login: &str, password: &str) -> Result<(), String> {
        imap_client::check_login(&Login {
            host: self.host(),
            port: self.imaps_port,
            ca_der: &self.certs.ca_der,
            user: login,
            password,
        })
    }

    /// CREATE over IMAP (UTF-8 name; encoded to modified UTF-7 on the wire).
    pub fn create_mailbox(&self, user: &str, mailbox: &str) {
        imap_client::create(&self.login_as(user), mailbox)
    }

    /// Stops the server by its own pid: SIGTERM, then SIGKILL if it lingers. Idempotent.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id() as libc::pid_t;
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let start = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if start.elapsed() < Duration::from_secs(10) => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
            }
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|err| panic!("chmod {}: {err}", path.display()));
}

fn chown_recursive(path: &Path, owner: &MailOwner) {
    run(Command::new("chown")
        .arg("-R")
        .arg(format!("{}:{}", owner.uid, owner.gid))
        .arg(path));
}

/// One `oauth2` passdb per user (see [`DovecotBuilder::oauth2`]), its settings file written next
/// to the config.
fn oauth_passdbs(b: &DovecotBuilder, s: &Dovecot) -> String {
    let Some(introspection) = &b.oauth2_introspection else {
        return String::new();
    };
    // Dovecot's auth penalty delays an address's logins after a failure (2 s, doubling up to
    // 15 s), longer than a test token lives: a token fetched for the retry would expire while
    // its AUTHENTICATE waits. Closing the penalty's socket turns the penalty off.
    let mut out = String::from(
        "service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}\n",
    );
    // The last passdb takes every other name (as a host answers for a mailbox that does not
    // exist: the token is refused); without it Dovecot reports a temporary failure.
    let others = s
        .users
        .iter()
        .map(|u| format!("!{}", u.name))
        .collect::<Vec<_>>()
        .join(" ");
    let mailboxes = s
        .users
        .iter()
        .map(|u| (u.name.as_str(), u.name.as_str()))
        .chain([("~unknown", others.as_str())]);
    for (mailbox, filter) in mailboxes {
        let ext = s.dir.path().join(format!("oauth2-{mailbox}.conf.ext"));
        // Introspection only (no tokeninfo): the token server answers RFC 7662 with `active`,
        // `username` and `scope`. No `scope` setting: Debian's build would demand every listed
        // scope in the answer, and an app token carries a role, a service account's token a URL.
        std::fs::write(
            &ext,
            format!(
                "introspection_mode = post\nintrospection_url = {introspection}{user}\n\
                 username_attribute = username\nactive_attribute = active\nactive_value = true\n\
                 force_introspection = yes\ntimeout_msecs = 5000\n",
                user = mailbox
            ),
        )
        .expect("write oauth2 passdb settings");
        let _ = write!(
            out,
            "passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  username_filter = {filter}\n  args = {}\n}}\n",
            ext.display()
        );
    }
    out
}

fn config(b: &DovecotBuilder, s: &Dovecot, owner: &MailOwner, instance: u32) -> String {
    let base = s.dir.path().display().to_string();
    let mut c = format!(
        r#"# Written by ferry-testkit for one test.
base_dir = {base}/run
state_dir = {base}/state
instance_name = ferry-test-{pid}-{instance}
log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{base}/cert.pem
ssl_key = <{base}/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = {no_plain}
auth_mechanisms = plain login{oauth_mechanisms}
auth_master_user_separator = *
auth_username_format = %u
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = {uid}
first_valid_gid = {gid}
default_internal_user = {internal}
default_login_user = {login}
mail_location = maildir:~/Maildir
# Test servers live in temp folders: no fsync, so that tests and benchmarks measure the tools, not
# the disk.
mail_fsync = never
# A failed login answers at once (Dovecot waits 2 s by default): the many wrong-password tests
# then take milliseconds; what they check (the error's kind and words) is the same.
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {base}/masters
  master = yes
  pass = yes
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {base}/passwd{password_mechanisms}
}}
{oauth_passdbs}userdb {{
  driver = passwd-file
  args = {base}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
"#,
        pid = std::process::id(),
        no_plain = if b.plaintext { "no" } else { "yes" },
        oauth_mechanisms = if b.oauth2_introspection.is_some() {
            " xoauth2 oauthbearer"
        } else {
            ""
        },
        password_mechanisms = if b.oauth2_introspection.is_some() {
            "\n  mechanisms = plain login"
        } else {
            ""
        },
        oauth_passdbs = oauth_passdbs(b, s),
        uid = owner.uid,
        gid = owner.gid,
        internal = owner.internal_user,
        login = owner.login_user,
        imap = s.imap_port,
        imaps = s.imaps_port,
    );
    c.push_str(match b.preset {
        Preset::OldMac => "namespace inbox {\n  inbox = yes\n  separator = .\n  prefix =\n}\n",
        Preset::Prefixed => {
            "namespace inbox {\n  inbox = yes\n  separator = .\n  prefix = INBOX.\n}\n"
        }
        Preset::Modern => concat!(
            "namespace inbox {\n  inbox = yes\n  separator = /\n  prefix =\n",
            "  mailbox Sent {\n    special_use = \\Sent\n    auto = subscribe\n  }\n",
            "  mailbox Trash {\n    special_use = \\Trash\n    auto = subscribe\n  }\n",
            "  mailbox Junk {\n    special_use = \\Junk\n    auto = subscribe\n  }\n",
            "  mailbox Drafts {\n    special_use = \\Drafts\n    auto = subscribe\n  }\n",
            "  mailbox Archive {\n    special_use = \\Archive\n    auto = subscribe\n  }\n",
            "}\n"
        ),
    });
    let quota = b.preset == Preset::Modern || !b.quotas.is_empty() || b.max_message_size.is_some();
    if quota {
        c.push_str("mail_plugins = $mail_plugins quota\n");
    }
    let _ = writeln!(
        c,
        "protocol imap {{\n  mail_max_userip_connections = {}\n{}}}",
        b.max_connections_per_user,
        if quota {
            "  mail_plugins = $mail_plugins imap_quota\n"
        } else {
            ""
        }
    );
    if quota {
        c.push_str("plugin {\n  quota = count:User quota\n  quota_vsizes = yes\n");
        if let Some(max) = b.max_message_size {
            let _ = writeln!(c, "  quota_max_mail_size = {max}B");
        }
        c.push_str("}\n");
    }
    if let Some(max) = b.max_message_size {
        // Dovecot 2.3 enforces the limit through the quota plugin but does not advertise it.
        let _ = writeln!(c, "imap_capability = +APPENDLIMIT={max}");
    }
    c
}
