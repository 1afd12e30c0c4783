//! The simulated old server (`../shared/fixtures/macos-server-5`) and a writable, materialized copy.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The project's read-only `shared/` folder: `$FERRY_SHARED`, or `shared/` beside the repository
/// (where CI and every developer machine put it).
pub fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FERRY_SHARED") {
        return PathBuf::from(dir);
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared = repo.join("../shared");
    shared.canonicalize().unwrap_or_else(|err| {
        panic!(
            "the shared folder is not at {} ({err}); set FERRY_SHARED to its path",
            shared.display()
        )
    })
}

/// The fixture's root folder, read-only: acts as `/` of the old Mac.
pub fn fixture_root() -> PathBuf {
    shared_dir().join("fixtures/macos-server-5")
}

/// Copies the fixture into `dest` and restores what git drops (empty `cur/ new/ tmp/`, message
/// mtimes, the `users/<short> -> ../<GUID>` symlinks). Returns the copy's root folder.
pub fn materialize_fixture(dest: &Path) -> PathBuf {
    let root = dest.join("macos-server-5");
    std::fs::create_dir_all(dest).unwrap_or_else(|err| panic!("mkdir {}: {err}", dest.display()));
    run(Command::new("cp")
        .args(["-R", "--no-preserve=mode,ownership"])
        .arg(fixture_root())
        .arg(&root));
    run(Command::new("python3")
        .arg(shared_dir().join("fixtures/gen_macos_server_5.py"))
        .arg("--materialize")
        .arg(&root));
    restore_user_symlinks(&root.join("Library/Server/Mail/Data/mail/users"));
    root
}

/// A checkout may turn the `users/` symlinks into small files holding their target.
fn restore_user_symlinks(users: &Path) {
    let Ok(entries) = std::fs::read_dir(users) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_symlink() {
            continue;
        }
        let target = std::fs::read_to_string(&path).unwrap_or_default();
        let target = target.trim();
        if target.starts_with("../") && !target.contains('\n') {
            std::fs::remove_file(&path).expect("remove placeholder");
            std::os::unix::fs::symlink(target, &path).expect("create users/ symlink");
        }
    }
}

pub(crate) fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|err| panic!("cannot run {cmd:?}: {err}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
