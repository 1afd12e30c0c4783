//! The freedesktop Secret Service (GNOME Keyring, KWallet, KeePassXC) on the D-Bus session bus.
//! Items carry the attributes `application=ferry`, `service=Ferry: <host>`, `account=<user>` — the
//! same names as the macOS Keychain items, so the admin finds them under the same words in Seahorse.

use std::collections::HashMap;
use std::sync::Mutex;

use secret_service::blocking::{Collection, SecretService};
use secret_service::{EncryptionType, Error as SsError};

use crate::{check_key, normalize_host, service_name, Secret, Vault, VaultError};

const BACKEND: &str = "Secret Service";

/// One connection and one encrypted session to the Secret Service, kept for the vault's life.
pub struct SecretServiceVault {
    service: Mutex<SecretService<'static>>,
}

fn from_ss(err: SsError) -> VaultError {
    match err {
        SsError::Locked | SsError::Prompt | SsError::PromptDisconnected => {
            VaultError::Locked { backend: BACKEND }
        }
        SsError::Unavailable => VaultError::Unavailable {
            backend: BACKEND,
            reason: "no Secret Service provider or D-Bus session found".into(),
        },
        other => VaultError::Backend {
            backend: BACKEND,
            reason: other.to_string(),
        },
    }
}

/// While connecting, a D-Bus failure means nobody provides the service on this bus.
fn unavailable(err: SsError) -> VaultError {
    match err {
        SsError::Zbus(_) | SsError::ZbusFdo(_) | SsError::Unavailable => VaultError::Unavailable {
            backend: BACKEND,
            reason: err.to_string(),
        },
        other => from_ss(other),
    }
}

impl SecretServiceVault {
    /// Connects to the session bus named by `DBUS_SESSION_BUS_ADDRESS`.
    pub fn connect() -> Result<Self, VaultError> {
        let service = SecretService::connect(EncryptionType::Dh).map_err(unavailable)?;
        Self::checked(service)
    }

    /// Connects to the bus at `address` (e.g. `unix:path=/tmp/bus`), without touching the
    /// environment; the tests use it with a private bus.
    pub fn connect_to(address: &str) -> Result<Self, VaultError> {
        let no_bus = |e: zbus::Error| VaultError::Unavailable {
            backend: BACKEND,
            reason: format!("cannot connect to the D-Bus at {address}: {e}"),
        };
        let conn = zbus::blocking::connection::Builder::address(address)
            .map_err(no_bus)?
            .build()
            .map_err(no_bus)?;
        let service =
            SecretService::connect_with_existing(EncryptionType::Dh, conn).map_err(unavailable)?;
        Self::checked(service)
    }

    /// A bus without a provider answers the connection but fails the first call; ask once now so
    /// the caller can fall back to the file store at once.
    fn checked(service: SecretService<'static>) -> Result<Self, VaultError> {
        service
            .get_all_collections()
            .map_err(|e| VaultError::Unavailable {
                backend: BACKEND,
                reason: e.to_string(),
            })?;
        Ok(SecretServiceVault {
            service: Mutex::new(service),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SecretService<'static>> {
        self.service.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn attributes<'a>(service: &'a str, user: &'a str) -> HashMap<&'a str, &'a str> {
    HashMap::from([
        ("application", "ferry"),
        ("service", service),
        ("account", user),
    ])
}

fn default_collection<'a>(ss: &'a SecretService<'static>) -> Result<Collection<'a>, VaultError> {
    let collection = ss
        .get_default_collection()
        .or_else(|_| ss.get_any_collection())
        .map_err(from_ss)?;
    collection.ensure_unlocked().map_err(from_ss)?;
    Ok(collection)
}

impl Vault for SecretServiceVault {
    fn get(&self, host: &str, user: &str) -> Result<Option<Secret>, VaultError> {
        check_key(host, user)?;
        let service_attr = service_name(host);
        let ss = self.lock();
        let found = ss
            .search_items(attributes(&service_attr, user))
            .map_err(from_ss)?;
        let item = match (found.unlocked.first(), found.locked.first()) {
            (Some(item), _) => item,
            (None, Some(item)) => {
                item.ensure_unlocked().map_err(from_ss)?;
                item
            }
            (None, None) => return Ok(None),
        };
        let bytes = item.get_secret().map_err(from_ss)?;
        let text = String::from_utf8(bytes).map_err(|e| {
            // Wipe the bytes that are not UTF-8 before reporting.
            let mut bytes = e.into_bytes();
            zeroize::Zeroize::zeroize(&mut bytes);
            VaultError::Backend {
                backend: BACKEND,
                reason: format!(
                    "the stored password for {user} at {} is not UTF-8 text; set it again",
                    normalize_host(host)
                ),
            }
        })?;
        Ok(Some(Secret::new(text)))
    }

    fn set(&self, host: &str, user: &str, secret: &Secret) -> Result<(), VaultError> {
        check_key(host, user)?;
        let service_attr = service_name(host);
        let label = format!("Ferry: {user} at {}", normalize_host(host));
        let ss = self.lock();
        let collection = default_collection(&ss)?;
        collection
            .create_item(
                &label,
                attributes(&service_attr, user),
                secret.expose().as_bytes(),
                true, // replace the item with the same attributes
                "text/plain",
            )
            .map_err(from_ss)?;
        Ok(())
    }

    fn delete(&self, host: &str, user: &str) -> Result<bool, VaultError> {
        check_key(host, user)?;
        let service_attr = service_name(host);
        let ss = self.lock();
        let found = ss
            .search_items(attributes(&service_attr, user))
            .map_err(from_ss)?;
        let mut deleted = false;
        for item in found.unlocked.iter().chain(found.locked.iter()) {
            item.delete().map_err(from_ss)?;
            deleted = true;
        }
        Ok(deleted)
    }

    fn describe(&self) -> String {
        "the Secret Service (your desktop keyring: items named \"Ferry: <user> at <host>\", \
         visible in Passwords and Keys / Seahorse)"
            .into()
    }
}
