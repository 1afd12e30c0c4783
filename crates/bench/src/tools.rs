//! Running each tool on the same pair of servers, timed, with its peak RSS from the kernel.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use ferry_testkit::Dovecot;

/// What one run of a tool cost.
pub struct Cost {
    pub seconds: f64,
    pub peak_rss_kb: i64,
    /// The tool's own user + system CPU seconds.
    pub tool_cpu: f64,
    /// CPU seconds the whole machine spent meanwhile: the tool, both Dovecots, the kernel.
    pub machine_cpu: f64,
    /// CPU seconds of the source's and the destination's Dovecot (master and every child).
    pub source_cpu: f64,
    pub dest_cpu: f64,
    pub exit_ok: bool,
}

/// Where each tool connects: the servers' own ports, or a delaying proxy's in front of the far
/// side (the destination for Ferry and mbsync; the source for dsync, which writes into the
/// destination Dovecot locally and reads the other side over IMAP).
#[derive(Clone, Copy)]
pub struct Ports {
    pub source: u16,
    pub dest: u16,
    /// dsync's source when the far side is delayed.
    pub dsync_source: u16,
}

/// Runs one tool once.
pub fn run(
    tool: &str,
    ferry: &Path,
    source: &Dovecot,
    source_user: &str,
    dest: &Dovecot,
    dest_user: &str,
    ports: Ports,
) -> Cost {
    let work = work_dir(tool);
    let cmd = match tool {
        "ferry" | "ferry-maildir" => {
            let mut c = Command::new(ferry);
            c.arg("sync");
            if tool == "ferry" {
                c.args([
                    "--source",
                    &format!("imaps://{source_user}@127.0.0.1:{}", ports.source),
                    "--source-cert-sha256",
                    &source.cert_sha256(),
                ]);
                c.env("FERRY_SOURCE_PASSWORD", source.password(source_user));
            } else {
                c.arg("--source").arg(format!(
                    "maildir:{}",
                    source.mail_dir(source_user).display()
                ));
            }
            c.args([
                "--dest",
                &format!("imaps://{dest_user}@127.0.0.1:{}", ports.dest),
                "--dest-cert-sha256",
                &dest.cert_sha256(),
                "--json",
            ])
            .arg("--state")
            .arg(work.join("state.sqlite"))
            // Extra arguments to try a setting (e.g. `--connections 8`), space-separated.
            .args(
                std::env::var("FERRY_BENCH_FERRY_ARGS")
                    .unwrap_or_default()
                    .split_whitespace(),
            )
            .env("FERRY_DEST_PASSWORD", dest.password(dest_user));
            c
        }
        "mbsync" => {
            let ca = work.join("ca.pem");
            std::fs::write(&ca, source.ca_pem()).expect("CA file");
            let dest_ca = work.join("dest-ca.pem");
            std::fs::write(&dest_ca, dest.ca_pem()).expect("CA file");
            std::fs::create_dir_all(work.join("state")).expect("mbsync state dir");
            let config = format!(
                "IMAPAccount far\nHost localhost\nPort {}\nUser {source_user}\nPass {}\nSSLType IMAPS\nCertificateFile {}\n\n\
                 IMAPStore far\nAccount far\n\n\
                 IMAPAccount near\nHost localhost\nPort {}\nUser {dest_user}\nPass {}\nSSLType IMAPS\nCertificateFile {}\n\n\
                 IMAPStore near\nAccount near\n\n\
                 Channel bench\nFar :far:\nNear :near:\nPatterns * !Archive !Drafts !Junk !Sent !Trash\nSync Pull\nCreate Near\nCopyArrivalDate yes\nSyncState {}/\n",
                ports.source,
                source.password(source_user),
                ca.display(),
                ports.dest,
                dest.password(dest_user),
                dest_ca.display(),
                work.join("state").display(),
            );
            let file = work.join("mbsyncrc");
            std::fs::write(&file, config).expect("mbsyncrc");
            let mut c = Command::new("mbsync");
            c.arg("-c").arg(&file).arg("-q").arg("bench");
            c
        }
        "dsync" => {
            // Dovecot's own migration path: doveadm backup from an imapc source into the
            // destination Dovecot (it can only write into Dovecot).
            let mut c = Command::new("doveadm");
            c.arg("-c")
                .arg(dest.config_path())
                .args(["-o", "imapc_host=127.0.0.1"])
                .arg("-o")
                .arg(format!("imapc_port={}", ports.dsync_source))
                .args(["-o", "imapc_ssl=imaps", "-o", "imapc_ssl_verify=no"])
                .arg("-o")
                .arg(format!("imapc_user={source_user}"))
                .arg("-o")
                .arg(format!("imapc_password={}", source.password(source_user)))
                .args(["-o", "imapc_features=rfc822.size fetch-headers"])
                .args(["-o", "mail_prefetch_count=20"])
                .args(["backup", "-R", "-u", dest_user, "imapc:"]);
            c
        }
        other => panic!("unknown tool {other}"),
    };
    // GNU time reports the tool's own peak RSS: a child forked from this (large) process would
    // carry our high-water mark into its rusage.
    let rss_file = work.join("peak-rss");
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-f")
        .arg("%M %U %S")
        .arg("-o")
        .arg(&rss_file)
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .envs(cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let machine_before = machine_busy_seconds();
    let source_before = server_cpu_seconds(source);
    let dest_before = server_cpu_seconds(dest);
    let start = Instant::now();
    let out = timed
        .output()
        .unwrap_or_else(|err| panic!("cannot start {tool} under /usr/bin/time: {err}"));
    let seconds = start.elapsed().as_secs_f64();
    let machine_cpu = machine_busy_seconds() - machine_before;
    // Dovecot's imap processes end just after the tool logs out; give them a moment to be reaped.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let source_cpu = server_cpu_seconds(source) - source_before;
    let dest_cpu = server_cpu_seconds(dest) - dest_before;
    if !out.status.success() {
        let errors = String::from_utf8_lossy(&out.stderr);
        eprintln!(
            "  {tool} failed ({}): {}",
            out.status,
            errors.lines().take(8).collect::<Vec<_>>().join("\n  ")
        );
    }
    // The last line is ours ("%M %U %S"); earlier ones are time's notes on a failed exit.
    let report = std::fs::read_to_string(&rss_file).unwrap_or_default();
    let fields: Vec<&str> = report
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let number = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    Cost {
        seconds,
        peak_rss_kb: number(0).unwrap_or(0.0) as i64,
        tool_cpu: number(1).unwrap_or(0.0) + number(2).unwrap_or(0.0),
        machine_cpu,
        source_cpu,
        dest_cpu,
        exit_ok: out.status.success(),
    }
}

/// CPU seconds a Dovecot server has used: its master's own and reaped children's, plus those of
/// its children still alive (auth, log, imap processes yet to exit).
fn server_cpu_seconds(server: &Dovecot) -> f64 {
    let Some(master) = server.pid() else {
        return 0.0;
    };
    // Fields after the command's closing parenthesis: state is 0, ppid 1, utime 11, stime 12,
    // cutime 13, cstime 14 (proc(5) numbering minus 3).
    let fields = |pid: &str| -> Option<Vec<String>> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = &stat[stat.rfind(')')? + 2..];
        Some(rest.split_whitespace().map(str::to_string).collect())
    };
    let ticks = |f: &[String], from: usize, to: usize| -> f64 {
        (from..=to)
            .filter_map(|i| f.get(i)?.parse::<f64>().ok())
            .sum()
    };
    let master = master.to_string();
    let mut total = fields(&master).map_or(0.0, |f| ticks(&f, 11, 14));
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let pid = entry.file_name().to_string_lossy().to_string();
            if let Some(f) = fields(&pid).filter(|f| f.get(1) == Some(&master)) {
                total += ticks(&f, 11, 14);
            }
        }
    }
    total / 100.0
}

/// Busy CPU seconds of the whole machine since boot (/proc/stat: everything but idle and iowait).
fn machine_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(cpu) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0.0;
    };
    let ticks: Vec<f64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...; USER_HZ is 100 on Linux.
    let busy: f64 = ticks
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, t)| t)
        .sum();
    busy / 100.0
}

fn work_dir(tool: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferry-bench-{}-{tool}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench work dir");
    dir
}
