//! The macOS Keychain: one generic-password item per (host, user), service `Ferry: <host>`,
//! account `<user>`, in the user's default (login) keychain. Written against security-framework 3's
//! `passwords` module; it is compiled on macOS only.

use security_framework::base::Error as SfError;
use security_framework::passwords::{
    delete_generic_password, generic_password, set_generic_password, PasswordOptions,
};
use zeroize::Zeroize;

use crate::{check_key, normalize_host, service_name, Secret, Vault, VaultError};

const BACKEND: &str = "macOS Keychain";
// OSStatus values from <Security/SecBase.h>.
const ERR_SEC_ITEM_NOT_FOUND: i32 = -25300;
const ERR_SEC_USER_CANCELED: i32 = -128;
const ERR_SEC_AUTH_FAILED: i32 = -25293;
const ERR_SEC_INTERACTION_NOT_ALLOWED: i32 = -25308;

pub struct KeychainVault;

fn from_sf(err: SfError) -> VaultError {
    match err.code() {
        ERR_SEC_USER_CANCELED | ERR_SEC_AUTH_FAILED | ERR_SEC_INTERACTION_NOT_ALLOWED => {
            VaultError::Locked { backend: BACKEND }
        }
        code => VaultError::Backend {
            backend: BACKEND,
            // The message comes from Security.framework and names the failure, never the secret.
            reason: format!(
                "{} (OSStatus {code})",
                err.message().unwrap_or_else(|| "unknown error".into())
            ),
        },
    }
}

impl Vault for KeychainVault {
    fn get(&self, host: &str, user: &str) -> Result<Option<Secret>, VaultError> {
        check_key(host, user)?;
        let options = PasswordOptions::new_generic_password(&service_name(host), user);
        match generic_password(options) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Ok(Some(Secret::new(text))),
                Err(e) => {
                    let mut bytes = e.into_bytes();
                    bytes.zeroize();
                    Err(VaultError::Backend {
                        backend: BACKEND,
                        reason: format!(
                            "the stored password for {user} at {} is not UTF-8 text; set it again",
                            normalize_host(host)
                        ),
                    })
                }
            },
            Err(e) if e.code() == ERR_SEC_ITEM_NOT_FOUND => Ok(None),
            Err(e) => Err(from_sf(e)),
        }
    }

    fn set(&self, host: &str, user: &str, secret: &Secret) -> Result<(), VaultError> {
        check_key(host, user)?;
        // Creates the item, or updates the password of the existing one.
        set_generic_password(&service_name(host), user, secret.expose().as_bytes()).map_err(from_sf)
    }

    fn delete(&self, host: &str, user: &str) -> Result<bool, VaultError> {
        check_key(host, user)?;
        match delete_generic_password(&service_name(host), user) {
            Ok(()) => Ok(true),
            Err(e) if e.code() == ERR_SEC_ITEM_NOT_FOUND => Ok(false),
            Err(e) => Err(from_sf(e)),
        }
    }

    fn describe(&self) -> String {
        "the macOS Keychain (login keychain, items named \"Ferry: <host>\", visible in Keychain Access)"
            .into()
    }
}
