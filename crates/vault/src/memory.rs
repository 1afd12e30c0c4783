//! A vault that lives as long as the process: for tests, and for a dry run that must not touch the
//! machine's stores.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::{check_key, normalize_host, Secret, Vault, VaultError};

#[derive(Default)]
pub struct MemoryVault {
    entries: Mutex<BTreeMap<(String, String), Secret>>,
}

impl MemoryVault {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), Secret>> {
        // A panic elsewhere while holding the lock leaves the map itself intact.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Vault for MemoryVault {
    fn get(&self, host: &str, user: &str) -> Result<Option<Secret>, VaultError> {
        check_key(host, user)?;
        Ok(self
            .lock()
            .get(&(normalize_host(host), user.to_owned()))
            .cloned())
    }

    fn set(&self, host: &str, user: &str, secret: &Secret) -> Result<(), VaultError> {
        check_key(host, user)?;
        self.lock()
            .insert((normalize_host(host), user.to_owned()), secret.clone());
        Ok(())
    }

    fn delete(&self, host: &str, user: &str) -> Result<bool, VaultError> {
        check_key(host, user)?;
        Ok(self
            .lock()
            .remove(&(normalize_host(host), user.to_owned()))
            .is_some())
    }

    fn describe(&self) -> String {
        "memory only (forgotten when Ferry exits)".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_set_delete() {
        let vault = MemoryVault::new();
        assert!(vault.get("mail.example.com", "jdoe").unwrap().is_none());
        vault
            .set("Mail.Example.com", "jdoe", &Secret::new("one".into()))
            .unwrap();
        assert_eq!(
            vault
                .get("mail.example.com", "jdoe")
                .unwrap()
                .unwrap()
                .expose(),
            "one"
        );
        // User names are exact.
        assert!(vault.get("mail.example.com", "JDOE").unwrap().is_none());
        vault
            .set("mail.example.com", "jdoe", &Secret::new("two".into()))
            .unwrap();
        assert_eq!(
            vault
                .get("mail.example.com", "jdoe")
                .unwrap()
                .unwrap()
                .expose(),
            "two"
        );
        assert!(vault.delete("mail.example.com", "jdoe").unwrap());
        assert!(!vault.delete("mail.example.com", "jdoe").unwrap());
        assert!(vault.get("mail.example.com", "jdoe").unwrap().is_none());
    }
}
