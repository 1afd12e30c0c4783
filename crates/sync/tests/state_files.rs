//! The ledger names accounts, folders and subjects: its file, SQLite's -wal and -shm beside it,
//! its lock file and the folder Ferry creates for it are the owner's only. Real files, the
//! usual umask (022), which left them 0644 / 0755 before.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ferry_sync::StateDb;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[test]
fn the_ledger_its_side_files_and_its_folder_are_private() {
    // The umask is process-wide; this is the only test in this binary.
    unsafe { libc::umask(0o022) };
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("share/ferry");
    let path = base.join("sync-new.example.net.sqlite");
    let db = StateDb::open(&path).unwrap();
    db.start_run("jdoe@example.com").unwrap();
    let files = [
        path.clone(),
        beside(&path, "-wal"),
        beside(&path, "-shm"),
        beside(&path, ".lock"),
    ];
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    for d in [tmp.path().join("share"), base.clone()] {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
    }
    drop(db);

    // Left wide by an older version: narrowed when a sync opens the ledger again.
    for f in &files {
        if f.exists() {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let db = StateDb::open(&path).unwrap();
    db.start_run("jdoe@example.com").unwrap();
    for f in &files {
        assert_eq!(mode(f), 0o600, "{} after reopening", f.display());
    }
    drop(db);

    // A symbolic link where the ledger should be is refused, and its target left alone.
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, b"not a ledger").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let linked = base.join("linked.sqlite");
    std::os::unix::fs::symlink(&victim, &linked).unwrap();
    let err = match StateDb::open(&linked) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a ledger opened through a symbolic link"),
    };
    assert_eq!(
        err,
        format!(
            "state file {}: cannot open it: {}; check that the folder is writable and no other ferry runs on it",
            linked.display(),
            ferry_safeio::fs::symlink_refused()
        )
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"not a ledger");
    assert_eq!(mode(&victim), 0o644);
}
