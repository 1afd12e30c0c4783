//! Test helper: a materialized copy of the shared macOS Server 5 fixture in a temp dir.
//! (Mirrors `ferry_testkit::materialize_fixture`, kept here so these tests need no Dovecot.)
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// `$FERRY_SHARED`, else `<repo>/../shared`: the read-only shared folder (CI clones the repo
/// with shared/ beside it).
pub fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FERRY_SHARED") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .canonicalize()
        .expect("the shared/ folder beside the repository")
}

/// Copies the fixture into `dest/root`, runs `--materialize`, restores the `users/` symlinks that a
/// checkout may have turned into small files. Returns the copy's root.
pub fn materialize(dest: &Path) -> PathBuf {
    let root = dest.join("root");
    let status = Command::new("cp")
        .args(["-R", "--no-preserve=mode,ownership"])
        .arg(shared_dir().join("fixtures/macos-server-5"))
        .arg(&root)
        .status()
        .expect("cp");
    assert!(status.success(), "copying the fixture failed");
    let status = Command::new("python3")
        .arg(shared_dir().join("fixtures/gen_macos_server_5.py"))
        .arg("--materialize")
        .arg(&root)
        .status()
        .expect("python3");
    assert!(status.success(), "--materialize failed");
    let users = root.join("Library/Server/Mail/Data/mail/users");
    for entry in std::fs::read_dir(&users).expect("users/").flatten() {
        let path = entry.path();
        if path.is_symlink() {
            continue;
        }
        let target = std::fs::read_to_string(&path).unwrap_or_default();
        let target = target.trim().to_string();
        if target.starts_with("../") {
            std::fs::remove_file(&path).unwrap();
            std::os::unix::fs::symlink(&target, &path).unwrap();
        }
    }
    root
}

/// Every path under `root` with its kind, size and mtime (nanoseconds), sorted; symlinks are
/// not followed.
pub fn snapshot(root: &Path) -> Vec<(PathBuf, String, u64, i128)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String, u64, i128)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let mtime = m
                .modified()
                .unwrap()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as i128)
                .unwrap_or(0);
            let kind = if m.file_type().is_symlink() {
                format!("link:{}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_dir() {
                "dir".into()
            } else {
                "file".into()
            };
            out.push((p.clone(), kind, m.len(), mtime));
            if m.is_dir() {
                walk(&p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, &mut out);
    out.sort();
    out
}
