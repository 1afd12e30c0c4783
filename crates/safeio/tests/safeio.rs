//! Real files, real symbolic links pointing at a victim file, a real child process.

use std::io::{Read, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use ferry_safeio::fs::{self, PRIVATE_DIR, PRIVATE_FILE};

const VICTIM: &[u8] = b"the victim's own content\n";

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

/// A folder with `victim.txt` and `link` -> victim.txt.
fn planted() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, VICTIM).unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let link = dir.path().join("link");
    symlink(&victim, &link).unwrap();
    (dir, victim, link)
}

fn assert_refused(err: std::io::Error) {
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
    assert_eq!(err.to_string(), fs::symlink_refused().to_string());
}

fn assert_untouched(victim: &Path) {
    assert_eq!(std::fs::read(victim).unwrap(), VICTIM);
    assert_eq!(mode(victim), 0o644);
}

#[test]
fn no_function_writes_through_a_symlink() {
    let (_dir, victim, link) = planted();
    assert_refused(fs::write_replace(&link, b"x", PRIVATE_FILE).unwrap_err());
    assert_refused(fs::open_append(&link, PRIVATE_FILE).unwrap_err());
    assert_refused(fs::open_existing_for_write(&link).unwrap_err());
    assert_refused(fs::open_read(&link).unwrap_err());
    assert_refused(fs::narrow_if_exists(&link, PRIVATE_FILE).unwrap_err());
    assert_refused(fs::open_private(&link).unwrap_err());
    let err = fs::create_new(&link, PRIVATE_FILE).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists, "{err}");
    assert_untouched(&victim);
    // The link is still there, still a link.
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn a_dangling_symlink_is_not_followed_either() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("would-be-created");
    let link = dir.path().join("link");
    symlink(&target, &link).unwrap();
    assert!(fs::create_new(&link, PRIVATE_FILE).is_err());
    assert_refused(fs::open_append(&link, PRIVATE_FILE).unwrap_err());
    assert_refused(fs::open_private(&link).unwrap_err());
    assert!(!target.exists(), "a file was created through the link");
}

#[test]
fn write_replace_replaces_atomically_with_the_mode_and_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file.json");
    fs::write_replace(&path, b"one", PRIVATE_FILE).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"one");
    assert_eq!(mode(&path), 0o600);
    // Over a wider existing file: the new one has the asked mode.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    fs::write_replace(&path, b"two", PRIVATE_FILE).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"two");
    assert_eq!(mode(&path), 0o600);
    fs::write_replace(&path, b"three", 0o644).unwrap();
    assert_eq!(mode(&path), 0o644);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("file.json")]);
}

#[test]
fn append_creates_private_and_narrows_a_wide_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.mbox");
    fs::open_append(&path, PRIVATE_FILE)
        .unwrap()
        .write_all(b"1\n")
        .unwrap();
    assert_eq!(mode(&path), 0o600);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    fs::open_append(&path, PRIVATE_FILE)
        .unwrap()
        .write_all(b"2\n")
        .unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(std::fs::read(&path).unwrap(), b"1\n2\n");
    let mut text = String::new();
    fs::open_read(&path)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "1\n2\n");
}

#[test]
fn folders_and_ledger_files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("a/b/c");
    fs::create_private_dir_all(&deep).unwrap();
    for d in [dir.path().join("a"), dir.path().join("a/b"), deep.clone()] {
        assert_eq!(mode(&d), PRIVATE_DIR, "{}", d.display());
    }
    let db = deep.join("state.sqlite");
    fs::open_private(&db).unwrap();
    assert_eq!(mode(&db), 0o600);
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&db, b"kept").unwrap();
    fs::open_private(&db).unwrap();
    assert_eq!(mode(&db), 0o600);
    assert_eq!(std::fs::read(&db).unwrap(), b"kept");
    // Files made by another program beside ours: narrowed when there, never created.
    let wal = deep.join("state.sqlite-wal");
    fs::narrow_if_exists(&wal, PRIVATE_FILE).unwrap();
    assert!(!wal.exists());
    std::fs::write(&wal, b"w").unwrap();
    std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
    fs::narrow_if_exists(&wal, PRIVATE_FILE).unwrap();
    assert_eq!(mode(&wal), 0o600);
    // A folder that exists keeps its mode: it may be the admin's.
    let open = dir.path().join("shared");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    fs::create_private_dir_all(&open).unwrap();
    assert_eq!(mode(&open), 0o755);
}

#[test]
fn a_child_gets_no_secret_from_the_environment() {
    // Only this test in this binary changes the environment.
    std::env::set_var("FERRY_DEST_PASSWORD", "s3cret-dest");
    std::env::set_var("FERRY_VAULT_PASSPHRASE", "s3cret-vault");
    std::env::set_var("LANG", "C.UTF-8");
    let out = ferry_safeio::child::command("/usr/bin/env")
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut names: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split_once('=').unwrap().0.to_string())
        .collect();
    names.sort();
    let mut expected: Vec<String> = ["PATH", "LANG"]
        .into_iter()
        .chain(
            ["HOME", "USER", "LOGNAME", "TMPDIR", "LC_ALL", "LC_CTYPE"]
                .into_iter()
                .filter(|n| std::env::var_os(n).is_some()),
        )
        .map(str::to_string)
        .collect();
    expected.sort();
    assert_eq!(names, expected);
}
