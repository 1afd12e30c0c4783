//! Running each tool on the same pair of servers, timed, with its peak RSS from the kernel.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use ferry_testkit::Dovecot;

/// Runs one tool once; returns (wall seconds, peak RSS in KiB, exited successfully).
pub fn run(
    tool: &str,
    ferry: &Path,
    source: &Dovecot,
    source_user: &str,
    dest: &Dovecot,
    dest_user: &str,
) -> (f64, i64, bool) {
    let work = work_dir(tool);
    let cmd = match tool {
        "ferry" | "ferry-maildir" => {
            let mut c = Command::new(ferry);
            c.arg("sync");
            if tool == "ferry" {
                c.args([
                    "--source",
                    &format!("imaps://{source_user}@127.0.0.1:{}", source.imaps_port()),
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
                &format!("imaps://{dest_user}@127.0.0.1:{}", dest.imaps_port()),
                "--dest-cert-sha256",
                &dest.cert_sha256(),
                "--json",
            ])
            .arg("--state")
            .arg(work.join("state.sqlite"))
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
                source.imaps_port(),
                source.password(source_user),
                ca.display(),
                dest.imaps_port(),
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
                .arg(format!("imapc_port={}", source.imaps_port()))
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
        .arg("%M")
        .arg("-o")
        .arg(&rss_file)
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .envs(cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let out = timed
        .output()
        .unwrap_or_else(|err| panic!("cannot start {tool} under /usr/bin/time: {err}"));
    let seconds = start.elapsed().as_secs_f64();
    if !out.status.success() {
        let errors = String::from_utf8_lossy(&out.stderr);
        eprintln!(
            "  {tool} failed ({}): {}",
            out.status,
            errors.lines().take(8).collect::<Vec<_>>().join("\n  ")
        );
    }
    let peak_rss_kb = std::fs::read_to_string(&rss_file)
        .ok()
        .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()))
        .unwrap_or(0);
    (seconds, peak_rss_kb, out.status.success())
}

fn work_dir(tool: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferry-bench-{}-{tool}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench work dir");
    dir
}
