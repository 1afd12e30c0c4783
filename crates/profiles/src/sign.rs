//! Signing: a CMS (PKCS #7) SignedData with the profile embedded (attached, DER), which macOS and
//! iOS show as "Verified" when they trust the signer. The identity comes from a PKCS#12 file (any
//! platform) or, on macOS, from the Keychain.

use crate::ProfileError;
use openssl::pkcs12::Pkcs12;
use openssl::pkcs7::{Pkcs7, Pkcs7Flags};
use openssl::pkey::{PKey, Private};
use openssl::stack::Stack;
use openssl::x509::X509;
use secrecy::{ExposeSecret, SecretString};

/// A signing identity: certificate, private key and the chain to send along.
pub struct Signer {
    cert: X509,
    key: PKey<Private>,
    chain: Stack<X509>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("subject", &self.subject())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Reads a PKCS#12 (.p12 / .pfx) file's bytes. `origin` names the file in error messages.
    pub fn from_pkcs12(
        der: &[u8],
        password: &SecretString,
        origin: &str,
    ) -> Result<Self, ProfileError> {
        let bad = |reason: String| ProfileError::Pkcs12 {
            origin: origin.to_string(),
            reason,
        };
        let parsed = Pkcs12::from_der(der)
            .map_err(|e| bad(format!("not a PKCS#12 file ({e})")))?
            .parse2(password.expose_secret())
            .map_err(|e| {
                bad(format!(
                    "cannot open it: wrong password, or an algorithm this OpenSSL refuses \
                     (old RC2-40 files need re-exporting) ({e})"
                ))
            })?;
        let cert = parsed
            .cert
            .ok_or_else(|| bad("it holds no certificate".into()))?;
        let key = parsed
            .pkey
            .ok_or_else(|| bad("it holds no private key".into()))?;
        let matches = cert
            .public_key()
            .map(|public| public.public_eq(&key))
            .unwrap_or(false);
        if !matches {
            return Err(bad(
                "its private key does not belong to its certificate".into()
            ));
        }
        let mut chain = Stack::new().map_err(|e| bad(e.to_string()))?;
        for ca in parsed.ca.into_iter().flatten() {
            chain.push(ca).map_err(|e| bad(e.to_string()))?;
        }
        Ok(Signer { cert, key, chain })
    }

    /// The signer's subject, one line ("CN=Example IT, O=Example GmbH"), for output and logs.
    pub fn subject(&self) -> String {
        self.cert
            .subject_name()
            .entries()
            .map(|e| {
                let field = e.object().nid().short_name().unwrap_or("?");
                let value = e.data().to_string().unwrap_or_default();
                format!("{field}={value}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Signs `content` (the profile's plist) and returns the DER SignedData that embeds it.
    pub fn sign(&self, content: &[u8]) -> Result<Vec<u8>, ProfileError> {
        // BINARY: embed the bytes as they are (no MIME CRLF canonicalisation of the plist).
        let signed = Pkcs7::sign(
            &self.cert,
            &self.key,
            &self.chain,
            content,
            Pkcs7Flags::BINARY,
        )
        .map_err(|e| ProfileError::Sign(e.to_string()))?;
        signed
            .to_der()
            .map_err(|e| ProfileError::Sign(e.to_string()))
    }
}

/// Signs with a Keychain identity, named as `security cms -N` takes it (common name or email
/// address of its certificate). macOS only; the Keychain may ask the admin to allow the key's use.
#[cfg(target_os = "macos")]
pub fn sign_with_keychain_identity(
    content: &[u8],
    identity: &str,
) -> Result<Vec<u8>, ProfileError> {
    use std::io::Write;
    use std::process::Stdio;
    // A clean environment: Ferry's holds FERRY_P12_PASSWORD and FERRY_VAULT_PASSPHRASE.
    let mut child = ferry_safeio::child::command("/usr/bin/security")
        .args(["cms", "-S", "-N", identity])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ProfileError::Sign(format!("cannot run /usr/bin/security: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(content)
            .map_err(|e| ProfileError::Sign(format!("security cms: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| ProfileError::Sign(format!("security cms: {e}")))?;
    if !out.status.success() || out.stdout.is_empty() {
        return Err(ProfileError::Sign(format!(
            "security cms -S -N {identity:?} failed ({}): {}; check the identity's name in Keychain Access",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}
