//! `scripts/demo` where no window can open: the migration's phases, run with the real `ferry`
//! binary against a simulated old macOS Server (the fixture's store served by a local Dovecot, as
//! Server.app would) and a local "new host" (a second Dovecot, with SPECIAL-USE folders).
//!
//! Usage: `ferry-demo --ferry PATH`

use std::path::{Path, PathBuf};
use std::process::Command;

use ferry_testkit::{Dovecot, Preset};

/// The fixture's mail users, as the new host will know them.
const USERS: &[&str] = &["jdoe", "asmith", "bmueller"];

fn main() {
    let mut args = std::env::args().skip(1);
    let mut ferry = PathBuf::from("target/debug/ferry");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--ferry" => ferry = PathBuf::from(args.next().expect("--ferry PATH")),
            other => {
                eprintln!("ferry-demo: unknown argument {other}; usage: ferry-demo --ferry PATH");
                std::process::exit(2);
            }
        }
    }

    heading("Starting the simulated old server and a local new host");
    let old = Dovecot::start(Preset::OldMac);
    let mut new = Dovecot::builder(Preset::Modern);
    for user in USERS {
        new = new.user(user, &format!("new-host-{user}"));
    }
    let new = new.start();
    println!(
        "old server: {} (its files), IMAP on {}:{}",
        old.server_root().display(),
        old.host(),
        old.imaps_port()
    );
    println!(
        "new host:   IMAP on {}:{} (certificate {}…)",
        new.host(),
        new.imaps_port(),
        &new.cert_sha256()[..16]
    );
    let work = std::env::temp_dir().join(format!("ferry-demo-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("demo work folder");

    heading("Phase 1 — Discover: what the old server holds (ferry discover)");
    ferry_cmd(&ferry, &["discover", "--root"], &[old.server_root()]);

    heading("Phase 4 — Initial sync, straight from the old store (no user passwords needed)");
    for user in USERS {
        sync(&ferry, &old, &new, user, &work, false);
    }

    heading("Phase 7 — A re-run copies nothing that is already there");
    sync(&ferry, &old, &new, "jdoe", &work, false);

    heading("Phase 5 — Verify: every message on the new host, by identity (ferry verify)");
    sync(&ferry, &old, &new, "bmueller", &work, true);

    heading("Phase 8 — Profiles for every user's Macs, iPhones and iPads (ferry profiles export)");
    let profiles = work.join("profiles");
    let port = new.imaps_port().to_string();
    let mut c = Command::new(&ferry);
    c.args(["profiles", "export", "--out"])
        .arg(&profiles)
        .arg("--root")
        .arg(old.server_root())
        .args(["--dest-preset", "imap", "--imap-host", "mail.example.net"])
        .args(["--imap-port", &port, "--smtp-host", "smtp.example.net"]);
    run(c);

    heading("Done");
    println!(
        "The servers stop now; the profiles stay in {}.",
        profiles.display()
    );
}

fn sync(ferry: &Path, old: &Dovecot, new: &Dovecot, user: &str, work: &Path, verify: bool) {
    let mut c = Command::new(ferry);
    c.arg(if verify { "verify" } else { "sync" })
        .arg("--source")
        .arg(format!("maildir:{}", old.mail_dir(user).display()))
        .arg("--dest")
        .arg(format!(
            "imaps://{user}@{}:{}",
            new.host(),
            new.imaps_port()
        ))
        .arg("--dest-cert-sha256")
        .arg(new.cert_sha256())
        .arg("--state")
        .arg(work.join("state.sqlite"))
        // Passwords travel in the environment (or the vault), never in argv.
        .env("FERRY_DEST_PASSWORD", new.password(user));
    println!(
        "$ ferry {} --source maildir:<{user}'s store> --dest imaps://{user}@new-host …",
        if verify { "verify" } else { "sync" }
    );
    run(c);
}

fn ferry_cmd(ferry: &Path, args: &[&str], paths: &[&Path]) {
    let mut c = Command::new(ferry);
    c.args(args).args(paths);
    run(c);
}

fn run(mut c: Command) {
    let status = c
        .status()
        .unwrap_or_else(|err| panic!("cannot run {:?}: {err}", c.get_program()));
    if !status.success() {
        println!("(exit status {status})");
    }
}

fn heading(text: &str) {
    println!("\n\x1b[1m== {text}\x1b[0m\n");
}
