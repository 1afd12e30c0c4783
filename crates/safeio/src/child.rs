//! Child processes with a clean environment.

use std::ffi::OsStr;
use std::process::Command;

/// The only variables a child gets from Ferry's environment (when set): what system tools need
/// to find the user's files and speak the user's language. Nothing else, so no secret Ferry was
/// given through its environment reaches a child.
pub const PASSED_THROUGH: &[&str] = &[
    "HOME", "USER", "LOGNAME", "TMPDIR", "LANG", "LC_ALL", "LC_CTYPE",
];

/// `PATH` for children: the system folders only (callers name programs by absolute path anyway).
pub const CHILD_PATH: &str = "/usr/bin:/bin:/usr/sbin:/sbin";

/// A `Command` for `program` whose environment is cleared, then given [`CHILD_PATH`] and the
/// variables of [`PASSED_THROUGH`] that are set.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear().env("PATH", CHILD_PATH);
    for name in PASSED_THROUGH {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
    cmd
}
