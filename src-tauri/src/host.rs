//! The app's side of `ferry_project::host::ProjectHost`: the system clock (or `FERRY_NOW`, to
//! rehearse the 72-hour wait), the password store the environment chooses (the Keychain on a Mac;
//! `FERRY_VAULT`, `FERRY_VAULT_FILE` and `FERRY_VAULT_PASSPHRASE` as for the CLI), the system's
//! DNS resolvers (or `FERRY_DNS_RESOLVERS`, `ip:port` separated by commas: each asked on its own,
//! as the CLI's `--resolver`).

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use ferry_project::credentials::{open_vault, VaultChoice};
use ferry_project::host::ProjectHost;
use ferry_vault::{Vault, VaultError};
use secrecy::SecretString;

pub struct AppHost {
    now: Option<DateTime<Utc>>,
    vault: VaultChoice,
    vault_file: Option<PathBuf>,
    dns: ferry_cutover::dns::DnsOptions,
}

impl AppHost {
    pub fn from_env() -> Self {
        AppHost {
            now: std::env::var("FERRY_NOW")
                .ok()
                .and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok())
                .map(|t| t.with_timezone(&Utc)),
            vault: std::env::var("FERRY_VAULT")
                .ok()
                .and_then(|v| VaultChoice::parse(&v))
                .unwrap_or(VaultChoice::Auto),
            vault_file: std::env::var_os("FERRY_VAULT_FILE").map(PathBuf::from),
            dns: ferry_cutover::dns::DnsOptions {
                resolvers: std::env::var("FERRY_DNS_RESOLVERS")
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|r| r.trim().parse().ok())
                    .collect(),
                ..Default::default()
            },
        }
    }
}

impl ProjectHost for AppHost {
    fn now(&self) -> DateTime<Utc> {
        self.now.unwrap_or_else(Utc::now)
    }

    fn vault(&self) -> Result<Box<dyn Vault>, String> {
        let mut passphrase = |path: &std::path::Path| {
            std::env::var("FERRY_VAULT_PASSPHRASE")
                .map(SecretString::from)
                .map_err(|_| VaultError::Unavailable {
                    backend: "password file",
                    reason: format!(
                        "no system password store runs here, and the passphrase of the password file {} is not set",
                        path.display()
                    ),
                })
        };
        open_vault(self.vault, self.vault_file.as_deref(), &mut passphrase)
            .map_err(|e| e.to_string())
    }

    fn dns_options(&self) -> ferry_cutover::dns::DnsOptions {
        self.dns.clone()
    }
}
