//! Passwords never leak: a full `ferry credentials` flow (import with bad lines, set, check with
//! good, wrong, missing and unknown logins, an untrusted certificate, JSON and text output, trace
//! logging) with distinctive passwords, against real Dovecot servers. Afterwards every file under
//! the run's HOME / XDG / TMPDIR / working folder and everything Ferry printed is searched for
//! every password and the vault passphrase; any hit fails the test.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use ferry_testkit::{Dovecot, Preset};

const ERIN: &str = "LeakTest-Erin-9z8y7x";
const FRANK_WRONG: &str = "LeakTest-FrankWrong-31337";
const FRANK: &str = "LeakTest-Frank-Right-2718";
const BAD_LINE: &str = "LeakTest-BadLine-555";
const MS_CSV: &str = "LeakTest-MsCsv-4040";
const PASSPHRASE: &str = "LeakTest-Passphrase-0451";

struct Run {
    root: tempfile::TempDir,
    printed: Vec<u8>,
}

impl Run {
    fn dir(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// Runs `ferry` with the run's private HOME and XDG folders, the file vault, and trace logs.
    fn ferry(&mut self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
        cmd.args(args)
            .current_dir(self.dir("work"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir("home"))
            .env("XDG_DATA_HOME", self.dir("data"))
            .env("XDG_CONFIG_HOME", self.dir("config"))
            .env("XDG_CACHE_HOME", self.dir("cache"))
            .env("XDG_STATE_HOME", self.dir("state"))
            .env("TMPDIR", self.dir("tmp"))
            .env("FERRY_VAULT", "file")
            .env("FERRY_VAULT_PASSPHRASE", PASSPHRASE)
            .env("FERRY_LOG", "trace")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run ferry");
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        self.printed.extend_from_slice(&out.stdout);
        self.printed.extend_from_slice(&out.stderr);
        out
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            files_under(&path, out);
        } else if kind.is_file() {
            out.push(path);
        }
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn no_password_in_any_file_or_output() {
    let old = Dovecot::start(Preset::OldMac);
    let new = Dovecot::builder(Preset::Modern)
        .user("erin", ERIN)
        .user("frank", FRANK)
        .start();
    let master = old.master_user().clone();
    let jdoe = old.password("jdoe").to_owned();

    let mut run = Run {
        root: tempfile::tempdir().unwrap(),
        printed: Vec::new(),
    };
    for sub in ["home", "data", "config", "cache", "state", "tmp", "work"] {
        std::fs::create_dir_all(run.dir(sub)).unwrap();
    }
    let host = new.host().to_owned();
    let dest = format!("imaps://{host}:{}", new.imaps_port());
    let source = format!("imaps://{}:{}", old.host(), old.imaps_port());

    // 1. Import an imapsync file with a bad line, then overwrite-and-delete it.
    let csv = run.dir("work").join("passwords.txt");
    std::fs::write(
        &csv,
        format!(
            "# source;user;password;dest;user;password\n\
             {old};jdoe;{jdoe};{host};erin;{ERIN};\n\
             {old};bad;{BAD_LINE}\n\
             {old};asmith;x-{FRANK_WRONG};{host};frank;{FRANK_WRONG};\n",
            old = old.host()
        ),
    )
    .unwrap();
    let out = run.ferry(
        &["credentials", "import", "passwords.txt", "--delete-file"],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "a bad line gives exit 2: {}",
        text(&out)
    );
    let shown = text(&out);
    assert!(shown.contains("line   3"), "{shown}");
    assert!(shown.contains("expected 6 fields"), "{shown}");
    assert!(
        shown.contains("Stored 4 passwords in the encrypted file"),
        "{shown}"
    );
    assert!(shown.contains("Overwrote and deleted"), "{shown}");
    assert!(!csv.exists(), "the password file is gone");

    // 2. A Microsoft CSV, JSON report, kept on request (then scrubbed by the test's own search).
    let ms = run.dir("work").join("ms.csv");
    std::fs::write(
        &ms,
        format!("EmailAddress,UserName,Password\nbm@example.com,bmueller,{MS_CSV}\n"),
    )
    .unwrap();
    let out = run.ferry(
        &[
            "credentials",
            "import",
            "ms.csv",
            "--source-host",
            old.host(),
            "--json",
            "--delete-file",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["stored"][0]["user"], "bmueller");

    // 3. Check: frank's imported password is wrong, "nobody" has none stored, the destination's
    //    certificate is pinned; the source with a master login whose password is not stored yet.
    let fp_new = new.cert_sha256();
    let fp_old = old.cert_sha256();
    let check_args = |json: bool| {
        let mut args = vec![
            "credentials".to_owned(),
            "check".to_owned(),
            "--dest".to_owned(),
            dest.clone(),
            "--dest-cert-sha256".to_owned(),
            fp_new.clone(),
            "--source".to_owned(),
            source.clone(),
            "--source-cert-sha256".to_owned(),
            fp_old.clone(),
            "--source-admin".to_owned(),
            master.name.clone(),
            "--admin-form".to_owned(),
            "master".to_owned(),
            "--account".to_owned(),
            "jdoe,erin".to_owned(),
            "--account".to_owned(),
            "asmith,frank".to_owned(),
            "--account".to_owned(),
            "nosuchuser,nobody".to_owned(),
        ];
        if json {
            args.push("--json".to_owned());
        }
        args
    };
    let args: Vec<String> = check_args(false);
    let out = run.ferry(&args.iter().map(String::as_str).collect::<Vec<_>>(), None);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(shown.contains("wrong password"), "{shown}");
    assert!(shown.contains("no password"), "{shown}");

    // 4. Set frank's right password and the master's from standard input.
    let out = run.ferry(
        &["credentials", "set", "frank", "--host", &host],
        Some(&format!("{FRANK}\n")),
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = run.ferry(
        &["credentials", "set", &master.name, "--host", old.host()],
        Some(&master.password),
    );
    assert!(out.status.success(), "{}", text(&out));

    // 5. Check again, as JSON: everything but the account that exists on neither side is OK.
    let args = check_args(true);
    let out = run.ferry(&args.iter().map(String::as_str).collect::<Vec<_>>(), None);
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    let statuses: Vec<(String, String, String)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["account"].as_str().unwrap().to_owned(),
                r["side"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = |account: &str, side: &str, status: &str| {
        assert!(
            statuses.contains(&(account.into(), side.into(), status.into())),
            "{account} {side} {status} not in {statuses:?}"
        );
    };
    expect("erin", "destination", "ok");
    expect("erin", "source", "ok");
    expect("frank", "destination", "ok");
    expect("frank", "source", "ok");
    expect("nobody", "destination", "missing_password");
    expect("nobody", "source", "no_such_user");

    // 6. Without the pin: the certificate problem, its fingerprint, and how to pin it.
    let out = run.ferry(
        &["credentials", "check", "--dest", &dest, "--account", "erin"],
        None,
    );
    let shown = text(&out);
    assert!(shown.contains("certificate problem"), "{shown}");
    assert!(
        shown.contains(&format!("--dest-cert-sha256 {fp_new}")),
        "{shown}"
    );

    // 7. A wrong passphrase is refused with a clear message.
    let mut cmd_out = {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
        cmd.args(["credentials", "check", "--dest", &dest, "--account", "erin"])
            .env_clear()
            .env("HOME", run.dir("home"))
            .env("XDG_DATA_HOME", run.dir("data"))
            .env("FERRY_VAULT", "file")
            .env("FERRY_VAULT_PASSPHRASE", "not-the-passphrase")
            .stdin(Stdio::null());
        cmd.output().unwrap()
    };
    let shown = text(&cmd_out);
    assert!(!cmd_out.status.success());
    assert!(shown.contains("passphrase does not open"), "{shown}");
    run.printed.append(&mut cmd_out.stdout);
    run.printed.append(&mut cmd_out.stderr);

    // The search: every file the runs wrote, and everything they printed.
    let mut needles = vec![ERIN, FRANK_WRONG, FRANK, BAD_LINE, MS_CSV, PASSPHRASE];
    // The test kit's own passwords are secrets too, where they are distinctive enough to search.
    for extra in [jdoe.as_str(), master.password.as_str()] {
        if extra.len() >= 6 {
            needles.push(extra);
        }
    }
    let mut files = Vec::new();
    files_under(run.root.path(), &mut files);
    assert!(
        files.iter().any(|f| f.starts_with(run.dir("data"))),
        "the vault file was written under XDG_DATA_HOME: {files:?}"
    );
    let mut hits = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for needle in &needles {
            if contains(&bytes, needle) {
                hits.push(format!("{needle} in {}", file.display()));
            }
        }
    }
    for needle in &needles {
        if contains(&run.printed, needle) {
            hits.push(format!("{needle} in Ferry's output"));
        }
    }
    assert!(hits.is_empty(), "secrets leaked: {hits:#?}");
    // The search itself can find things: the output does name the users.
    assert!(contains(&run.printed, "frank"));
}
