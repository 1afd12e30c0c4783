//! RS256-signed JSON Web Tokens (RFC 7519, RFC 7515) for the two assertions Ferry makes: the
//! Microsoft client assertion (certificate credential) and the Google service-account grant.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

use ferry_imap::{TokenError, TokenErrorKind};

/// An RSA private key ready to sign; `Debug` prints nothing of it.
pub struct SigningKey(RsaKeyPair);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

fn bad(what: &str, reason: impl std::fmt::Display) -> TokenError {
    TokenError::new(TokenErrorKind::BadSettings, format!("{what}: {reason}"))
}

impl SigningKey {
    /// Reads a PEM RSA private key (`BEGIN PRIVATE KEY` or `BEGIN RSA PRIVATE KEY`); `what`
    /// names it in errors ("the app's private key").
    pub fn from_pem(pem: &str, what: &str) -> Result<SigningKey, TokenError> {
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| bad(what, format!("no PEM private key found ({e})")))?;
        let pair = match &der {
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            _ => return Err(bad(what, "it is not an RSA key")),
        }
        .map_err(|e| bad(what, format!("not a usable RSA key ({e})")))?;
        Ok(SigningKey(pair))
    }

    /// The public half, as the PKCS#1 `RSAPublicKey` DER a certificate's subject public key holds.
    pub fn public_key_der(&self) -> &[u8] {
        self.0.public().as_ref()
    }

    /// `header.claims.signature`, RS256.
    pub fn sign(&self, header: &Value, claims: &Value) -> Result<String, TokenError> {
        let mut out = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.0.public().modulus_len()];
        self.0
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                out.as_bytes(),
                &mut signature,
            )
            .map_err(|_| bad("signing the assertion", "the RSA key refused to sign"))?;
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(out)
    }
}

/// The thumbprints Microsoft identifies a certificate credential by: `x5t` (SHA-1) and
/// `x5t#S256` (SHA-256) of the certificate's DER, base64url.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbprints {
    pub sha1: String,
    pub sha256: String,
}

impl Thumbprints {
    /// From the first certificate in `pem`.
    pub fn from_certificate_pem(pem: &str) -> Result<Thumbprints, TokenError> {
        Ok(Thumbprints::from_der(&certificate_der(pem)?))
    }

    pub fn from_der(der: &[u8]) -> Thumbprints {
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
        let sha256 = ring::digest::digest(&ring::digest::SHA256, der);
        Thumbprints {
            sha1: URL_SAFE_NO_PAD.encode(sha1.as_ref()),
            sha256: URL_SAFE_NO_PAD.encode(sha256.as_ref()),
        }
    }
}

/// The DER of the first certificate in `pem`.
pub fn certificate_der(pem: &str) -> Result<Vec<u8>, TokenError> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|der| der.to_vec())
        .map_err(|e| {
            bad(
                "the app's certificate",
                format!("no PEM certificate found ({e})"),
            )
        })
}

/// Whether `key` is the private key of the certificate `certificate_der`: its public key (the
/// PKCS#1 DER the certificate's subject public key info holds as it is) is in the certificate.
pub fn key_matches_certificate(key: &SigningKey, certificate_der: &[u8]) -> bool {
    let public = key.public_key_der();
    !public.is_empty()
        && certificate_der
            .windows(public.len())
            .any(|window| window == public)
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
