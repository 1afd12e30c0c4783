//! What the `ferry sync` tests share: the command between two test servers, and a readable dump
//! of a finished one. (Each test binary uses only part of it.)
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

use ferry_testkit::Dovecot;

/// `ferry VERB` from alice on `src` (reached on `src_port`: its own or a fault proxy's) to bob on
/// `dst`, both certificates pinned, passwords from the environment, ledger at `state`.
pub fn ferry_between(
    src_port: u16,
    src: &Dovecot,
    dst: &Dovecot,
    state: &Path,
    verb: &str,
) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferry"));
    c.arg(verb)
        .arg("--source")
        .arg(format!("imaps://alice@127.0.0.1:{src_port}"))
        .arg("--dest")
        .arg(format!("imaps://bob@127.0.0.1:{}", dst.imaps_port()))
        .arg("--source-cert-sha256")
        .arg(src.cert_sha256())
        .arg("--dest-cert-sha256")
        .arg(dst.cert_sha256())
        .arg("--state")
        .arg(state)
        .env("FERRY_SOURCE_PASSWORD", src.password("alice"))
        .env("FERRY_DEST_PASSWORD", dst.password("bob"))
        .stdin(Stdio::null());
    c
}

/// A finished command's status, stdout and stderr, for assertion messages.
pub fn shown(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
