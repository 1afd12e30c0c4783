//! What the phases need from the machine they run on, behind one narrow trait, so that tests run
//! every phase without a desktop, with a clock they move and a vault in memory or a file.

use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use ferry_cutover::dns::DnsOptions;
use ferry_vault::Vault;

use crate::store::{Source, SourceKind};

/// The machine: clock, the old server's command outputs, the password vault, DNS resolvers.
pub trait ProjectHost: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// Where `serveradmin` and `dscl` output comes from for `source`. A copy of a server is read
    /// only from the outputs saved in its `commands/` folder, never with this Mac's own
    /// directory (which would mix the rehearsal machine's users into the copy's inventory).
    fn discover_commands(&self, source: &Source) -> Box<dyn ferry_discover::Host> {
        let root = Path::new(&source.root);
        match source.kind {
            SourceKind::Copy => Box::new(ferry_discover::SavedOutputs::new(root)),
            SourceKind::ThisMac => ferry_discover::default_host(root),
        }
    }

    /// The password vault (asks for its passphrase the host's way: prompt, dialog, environment).
    fn vault(&self) -> Result<Box<dyn Vault>, String>;

    /// [`ProjectHost::vault`], with a password file still waiting for its passphrase told apart
    /// ([`OpenVaultError::Locked`]: the app then asks for it in a dialog and tries again). The
    /// phases open the vault with this; a host that never waits keeps the default.
    fn open_vault(&self) -> Result<Box<dyn Vault>, OpenVaultError> {
        self.vault().map_err(OpenVaultError::Failed)
    }

    /// Which DNS resolvers the cut-over checks ask (empty: the system's).
    fn dns_options(&self) -> DnsOptions {
        DnsOptions::default()
    }

    /// The clock the sync engine counts the daily upload limit's window with.
    fn sync_clock(&self) -> std::sync::Arc<dyn ferry_sync::Clock> {
        std::sync::Arc::new(ferry_sync::SystemClock)
    }

    /// Waits until `at` by this host's clock (a job waiting for the next upload window).
    fn sleep_until(&self, at: DateTime<Utc>) -> futures::future::BoxFuture<'static, ()> {
        let wait = (at - self.now()).to_std().unwrap_or_default();
        Box::pin(tokio::time::sleep(wait))
    }
}

/// Why the vault could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenVaultError {
    /// The encrypted password file is the store here, and nobody has given its passphrase yet.
    #[error("{0}")]
    Locked(VaultLocked),
    #[error("{0}")]
    Failed(String),
}

/// The encrypted password file waiting for its passphrase.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Ferry's password file {} is locked: its passphrase has not been given{}",
    path.display(),
    if *exists { "" } else { " (the file does not exist yet: choose one)" }
)]
pub struct VaultLocked {
    pub path: std::path::PathBuf,
    /// Whether the file is there already (enter its passphrase) or not yet (choose one).
    pub exists: bool,
}

/// The real machine: the system clock, the vault the environment chooses (`FERRY_VAULT`,
/// `FERRY_VAULT_FILE`, `FERRY_VAULT_PASSPHRASE`), the resolvers given.
pub struct SystemHost {
    pub dns: DnsOptions,
    /// Opens the vault; the CLI and the app each ask for a passphrase their own way.
    #[allow(clippy::type_complexity)]
    pub open_vault: Box<dyn Fn() -> Result<Box<dyn Vault>, String> + Send + Sync>,
}

impl ProjectHost for SystemHost {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn vault(&self) -> Result<Box<dyn Vault>, String> {
        (self.open_vault)()
    }
    fn dns_options(&self) -> DnsOptions {
        self.dns.clone()
    }
}

/// A clock the caller sets (tests; `FERRY_NOW` in the CLI for rehearsals of the 72-hour wait).
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        FixedClock(Mutex::new(at))
    }
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
    pub fn get(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
