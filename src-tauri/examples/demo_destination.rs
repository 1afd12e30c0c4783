//! `scripts/demo`'s local "new host" for the app: a Modern Dovecot from the test kit on loopback,
//! with one user per account the old server's copy will move (the plan's new addresses) and a
//! password per user printed here, so the whole wizard can be clicked through. It writes
//! `host:port` to the file given and runs until it is stopped (Ctrl-C or SIGTERM).
//!
//! Usage: `demo_destination SERVER-COPY ADDRESS-FILE`

use std::path::PathBuf;

use ferry_project::plan::AccountKind;
use ferry_project::project::Project;
use ferry_testkit::{Dovecot, Preset};

fn main() {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (Some(root), Some(address_file)) = (args.next(), args.next()) else {
        eprintln!("usage: demo_destination SERVER-COPY ADDRESS-FILE");
        std::process::exit(2);
    };
    let inventory = ferry_project::discover::run_copy(&root).unwrap_or_else(|e| {
        eprintln!("demo_destination: cannot read the server copy: {e}");
        std::process::exit(1);
    });
    // The plan Ferry will make from this inventory: a throwaway project computes it.
    let scratch = tempfile::tempdir().expect("a temp folder");
    let mut project = Project::open(&scratch.path().join("plan.ferry")).expect("a scratch project");
    project.record_inventory(&inventory, 0).expect("the plan");
    let (movers, empty): (Vec<_>, Vec<_>) = project
        .plan()
        .expect("the plan")
        .into_iter()
        .filter(|a| a.included && a.present && a.kind == AccountKind::User)
        .partition(|a| a.store.is_some());
    let mut builder = Dovecot::builder(Preset::Modern);
    for account in &movers {
        builder = builder.user(&account.dest_address, &format!("demo-{}", account.login));
    }
    let server = builder.start();
    let address = format!("{}:{}", server.host(), server.imaps_port());
    std::fs::write(&address_file, &address).expect("write the address file");
    println!("new host (a local Dovecot): {address}");
    println!("  certificate SHA-256: {}", server.cert_sha256());
    println!("  passwords to type on the Credentials screen:");
    for account in &movers {
        println!("    {:<28} demo-{}", account.dest_address, account.login);
    }
    for account in &empty {
        println!(
            "  {} has no mail store (nothing to copy): untick it on Destination",
            account.source_address
        );
    }
    println!("  (stops when the app closes)");
    // Runs until the demo script stops it; the server stops (by its pid) when dropped.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let _ = ctrlc_like_wait(tx);
    let _ = rx.recv();
    drop(server);
}

/// Waits for SIGTERM or SIGINT without a signal crate: a blocked read of stdin ends when the
/// script closes it, which it does when the app exits.
fn ctrlc_like_wait(tx: std::sync::mpsc::Sender<()>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut sink = String::new();
        while std::io::stdin()
            .read_line(&mut sink)
            .map(|n| n > 0)
            .unwrap_or(false)
        {
            sink.clear();
        }
        let _ = tx.send(());
    })
}
