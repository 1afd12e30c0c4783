//! Where the output of `serveradmin settings mail` and `dscl` comes from: the commands themselves
//! (on the server, with a time limit) or saved outputs in `<root>/commands/` (fixtures, and
//! dumps an admin sends).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use wait_timeout::ChildExt;

use crate::error::HostError;

/// Text printed by a command, and how to name it in messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    pub text: String,
    /// `<root>/commands/dscl-readall-Users.txt` or `dscl /LDAPv3/127.0.0.1 -readall /Users`.
    pub source: String,
}

pub trait Host {
    /// `serveradmin settings mail`.
    fn serveradmin_settings_mail(&self) -> Result<CommandOutput, HostError>;
    /// `dscl <node> -readall /Users EMailAddress GeneratedUID RealName RecordName UniqueID`.
    fn dscl_readall_users(&self) -> Result<CommandOutput, HostError>;
}

/// Saved outputs in `<root>/commands/`, with the fixtures' file names.
#[derive(Debug, Clone)]
pub struct SavedOutputs {
    pub dir: PathBuf,
}

pub const SETTINGS_FILE: &str = "serveradmin-settings-mail.txt";
pub const DSCL_READALL_FILE: &str = "dscl-readall-Users.txt";

impl SavedOutputs {
    pub fn new(root: &Path) -> Self {
        SavedOutputs {
            dir: root.join("commands"),
        }
    }

    fn read(&self, file: &str, command: &str) -> Result<CommandOutput, HostError> {
        let path = self.dir.join(file);
        let bytes = std::fs::read(&path).map_err(|source| HostError::Saved {
            path: path.clone(),
            command: command.to_string(),
            source,
        })?;
        Ok(CommandOutput {
            text: String::from_utf8_lossy(&bytes).into_owned(),
            source: path.display().to_string(),
        })
    }
}

impl Host for SavedOutputs {
    fn serveradmin_settings_mail(&self) -> Result<CommandOutput, HostError> {
        self.read(SETTINGS_FILE, "serveradmin settings mail")
    }
    fn dscl_readall_users(&self) -> Result<CommandOutput, HostError> {
        self.read(
            DSCL_READALL_FILE,
            "dscl /LDAPv3/127.0.0.1 -readall /Users EMailAddress GeneratedUID RealName RecordName UniqueID",
        )
    }
}

/// Runs `program args` and returns its stdout, killing it after `limit`.
pub fn run_with_limit(program: &str, args: &[&str], limit: Duration) -> Result<String, HostError> {
    let command = std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    // A clean environment: Ferry's holds passwords (FERRY_*_PASSWORD, FERRY_VAULT_PASSPHRASE).
    let mut child = ferry_safeio::child::command(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| HostError::Spawn {
            command: command.clone(),
            source,
        })?;
    // Read both pipes on threads so a chatty command cannot block on a full pipe.
    let mut out_pipe = child.stdout.take();
    let mut err_pipe = child.stderr.take();
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(p) = out_pipe.as_mut() {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    });
    let err_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(p) = err_pipe.as_mut() {
            let _ = p.take(64 * 1024).read_to_end(&mut buf);
        }
        buf
    });
    let status = match child.wait_timeout(limit) {
        Ok(Some(status)) => status,
        Ok(None) | Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(HostError::Timeout {
                command,
                seconds: limit.as_secs(),
            });
        }
    };
    let stdout = out_thread.join().unwrap_or_default();
    let stderr = err_thread.join().unwrap_or_default();
    if !status.success() {
        return Err(HostError::Failed {
            command,
            status: status.to_string(),
            stderr: String::from_utf8_lossy(&stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&stdout).into_owned())
}

/// The commands themselves, as on the old server.
#[derive(Debug, Clone)]
pub struct LiveCommands {
    /// Candidates for `serveradmin`, first existing one is used (Server 5 keeps it in the app).
    pub serveradmin: Vec<String>,
    pub dscl: String,
    /// Directory nodes to read users from; their outputs are joined.
    pub nodes: Vec<String>,
    pub limit: Duration,
}

impl Default for LiveCommands {
    fn default() -> Self {
        LiveCommands {
            serveradmin: vec![
                "/Applications/Server.app/Contents/ServerRoot/usr/sbin/serveradmin".into(),
                "/usr/sbin/serveradmin".into(),
            ],
            dscl: "/usr/bin/dscl".into(),
            nodes: vec!["/LDAPv3/127.0.0.1".into(), "/Local/Default".into()],
            limit: Duration::from_secs(60),
        }
    }
}

impl Host for LiveCommands {
    fn serveradmin_settings_mail(&self) -> Result<CommandOutput, HostError> {
        let program = self
            .serveradmin
            .iter()
            .find(|p| Path::new(p).exists())
            .or(self.serveradmin.first())
            .cloned()
            .unwrap_or_else(|| "serveradmin".into());
        let text = run_with_limit(&program, &["settings", "mail"], self.limit)?;
        Ok(CommandOutput {
            text,
            source: "serveradmin settings mail".into(),
        })
    }

    fn dscl_readall_users(&self) -> Result<CommandOutput, HostError> {
        let mut text = String::new();
        let mut first_err = None;
        let mut sources = Vec::new();
        for node in &self.nodes {
            let args = [
                node.as_str(),
                "-readall",
                "/Users",
                "EMailAddress",
                "GeneratedUID",
                "RealName",
                "RecordName",
                "UniqueID",
            ];
            match run_with_limit(&self.dscl, &args, self.limit) {
                Ok(out) => {
                    if !text.is_empty() && !out.trim().is_empty() {
                        text.push_str("\n-\n");
                    }
                    text.push_str(&out);
                    sources.push(node.clone());
                }
                // A server that is not an Open Directory master has no LDAPv3 node: not fatal
                // as long as one node answers.
                Err(e) => first_err = first_err.or(Some(e)),
            }
        }
        match (sources.is_empty(), first_err) {
            (true, Some(e)) => Err(e),
            _ => Ok(CommandOutput {
                text,
                source: format!("dscl {} -readall /Users", sources.join(" + ")),
            }),
        }
    }
}

/// The host to use for `root`: saved outputs when `<root>/commands/` exists; otherwise, on macOS,
/// the live commands.
pub fn default_host(root: &Path) -> Box<dyn Host> {
    let saved = SavedOutputs::new(root);
    if saved.dir.is_dir() {
        return Box::new(saved);
    }
    live_or_unavailable(saved)
}

#[cfg(target_os = "macos")]
fn live_or_unavailable(_saved: SavedOutputs) -> Box<dyn Host> {
    Box::new(LiveCommands::default())
}

#[cfg(not(target_os = "macos"))]
fn live_or_unavailable(saved: SavedOutputs) -> Box<dyn Host> {
    Box::new(Unavailable { dir: saved.dir })
}

/// Off macOS without a `commands/` folder there is nothing to ask.
#[cfg(not(target_os = "macos"))]
struct Unavailable {
    dir: PathBuf,
}

#[cfg(not(target_os = "macos"))]
impl Host for Unavailable {
    fn serveradmin_settings_mail(&self) -> Result<CommandOutput, HostError> {
        Err(HostError::Unavailable {
            command: "serveradmin settings mail".into(),
            commands_dir: self.dir.clone(),
        })
    }
    fn dscl_readall_users(&self) -> Result<CommandOutput, HostError> {
        Err(HostError::Unavailable {
            command: "dscl -readall /Users".into(),
            commands_dir: self.dir.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_and_limits_commands() {
        let out =
            run_with_limit("sh", &["-c", "printf 'a = 1\\n'"], Duration::from_secs(10)).unwrap();
        assert_eq!(out, "a = 1\n");
        let started = std::time::Instant::now();
        let err = run_with_limit("sleep", &["30"], Duration::from_millis(300)).unwrap_err();
        assert!(matches!(err, HostError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
        let err = run_with_limit(
            "sh",
            &["-c", "echo nope >&2; exit 3"],
            Duration::from_secs(10),
        )
        .unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        let err =
            run_with_limit("/nonexistent/serveradmin", &[], Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, HostError::Spawn { .. }));
    }

    #[test]
    fn big_output_does_not_block() {
        let out = run_with_limit(
            "sh",
            &["-c", "head -c 1000000 /dev/zero | tr '\\0' x"],
            Duration::from_secs(20),
        )
        .unwrap();
        assert_eq!(out.len(), 1_000_000);
    }
}
