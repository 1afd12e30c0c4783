//! What the project's phase tests share: a host with an encrypted file vault, a project on the
//! test kit's OldMac copy with another IMAP host (a Modern Dovecot) as destination, and the
//! messages of a mailbox as SHA-256 digests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use ferry_project::destination::PresetId;
use ferry_project::host::ProjectHost;
use ferry_project::phases;
use ferry_project::plan::AccountChange;
use ferry_project::project::Project;
use ferry_project::store::{Source, SourceKind};
use ferry_testkit::Dovecot;
use ferry_vault::{Backend, Vault};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

/// The system clock and an encrypted password file in the test's folder.
pub struct FileVaultHost {
    pub vault_file: PathBuf,
}

impl ProjectHost for FileVaultHost {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn vault(&self) -> Result<Box<dyn Vault>, String> {
        open_vault(&self.vault_file)
    }
}

pub fn open_vault(path: &Path) -> Result<Box<dyn Vault>, String> {
    ferry_vault::open(Backend::File {
        path: path.to_path_buf(),
        passphrase: SecretString::from("test-passphrase".to_string()),
    })
    .map_err(|e| e.to_string())
}

/// A project at `path`: `old` discovered, `new` (pinned, TLS) as another IMAP host, and only
/// `include` in the plan. Returns the open project.
pub fn project_to(
    path: &Path,
    host: &dyn ProjectHost,
    old: &Dovecot,
    new: &Dovecot,
    include: &[&str],
) -> Project {
    let mut project = Project::open(path).unwrap();
    let source = Source {
        kind: SourceKind::Copy,
        root: old.server_root().display().to_string(),
    };
    phases::discover::discover(&mut project, host, Some(source)).unwrap();
    phases::destination::choose(
        &mut project,
        host,
        &phases::destination::DestinationChoice {
            preset: PresetId::GenericImap,
            imap_host: Some("127.0.0.1".into()),
            imap_port: Some(new.imaps_port()),
            imap_security: None,
            smtp_host: None,
            pinned_sha256: Some(new.cert_sha256()),
        },
    )
    .unwrap();
    for a in project.plan().unwrap() {
        let wanted = include.contains(&a.source_address.as_str());
        project
            .update_account(&a.source_address, &AccountChange::Included(wanted))
            .unwrap();
    }
    project
}

/// Every message of `user` not flagged \Deleted, as sorted SHA-256 digests.
pub fn digests(server: &Dovecot, user: &str) -> Vec<String> {
    let mut all: Vec<String> = server
        .mailboxes(user)
        .iter()
        .flat_map(|m| server.messages(user, m))
        .filter(|m| !m.flags.iter().any(|f| f == "\\Deleted"))
        .map(|m| hex::encode(Sha256::digest(&m.bytes)))
        .collect();
    all.sort();
    all
}
