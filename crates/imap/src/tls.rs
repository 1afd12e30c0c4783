//! TLS: system roots by default, or exactly one pinned leaf certificate; never "accept any".
//!
//! The verifier remembers the certificate it refused, so the error can show its
//! fingerprint, subject, issuer and dates to the admin, who may then pin it.

use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

use crate::error::{CertificateInfo, ImapError};

/// SHA-256 of a DER certificate, lowercase hex.
pub fn sha256_hex(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Normalizes a fingerprint as an admin may paste it (`AB:CD:…`, spaces, upper case) to
/// 64 lowercase hex digits, or `None` if it is not a SHA-256 fingerprint.
pub fn normalize_fingerprint(input: &str) -> Option<String> {
    let hex: String = input
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())).then_some(hex)
}

/// Reads subject, issuer, dates and names of a DER certificate. `reason` is left empty.
pub fn certificate_info(der: &[u8]) -> CertificateInfo {
    let sha256 = sha256_hex(der);
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => {
            let date = |t: x509_parser::time::ASN1Time| {
                chrono::DateTime::from_timestamp(t.timestamp(), 0)
                    .map(|d| d.to_rfc3339())
                    .unwrap_or_else(|| t.to_string())
            };
            let mut dns_names = Vec::new();
            if let Ok(Some(san)) = cert.subject_alternative_name() {
                for name in &san.value.general_names {
                    match name {
                        x509_parser::extensions::GeneralName::DNSName(n) => {
                            dns_names.push((*n).to_string())
                        }
                        x509_parser::extensions::GeneralName::IPAddress(ip) => {
                            dns_names.push(format_ip(ip))
                        }
                        _ => {}
                    }
                }
            }
            CertificateInfo {
                sha256,
                subject: cert.subject().to_string(),
                issuer: cert.issuer().to_string(),
                not_before: date(cert.validity().not_before),
                not_after: date(cert.validity().not_after),
                dns_names,
                reason: String::new(),
            }
        }
        Err(e) => CertificateInfo {
            sha256,
            subject: format!("(unreadable certificate: {e})"),
            issuer: String::new(),
            not_before: String::new(),
            not_after: String::new(),
            dns_names: Vec::new(),
            reason: String::new(),
        },
    }
}

fn format_ip(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(bytes);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => hex::encode(bytes),
    }
}

fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The system's root certificates, loaded once per process.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = RootCertStore::empty();
            let loaded = rustls_native_certs::load_native_certs();
            for e in &loaded.errors {
                tracing::warn!("loading a system root certificate failed: {e}");
            }
            let (added, ignored) = store.add_parsable_certificates(loaded.certs);
            tracing::debug!("system roots: {added} loaded, {ignored} unparsable");
            Arc::new(store)
        })
        .clone()
}

/// The certificate a verifier saw and refused (or accepted, for [`probe`]).
#[derive(Debug, Default)]
pub(crate) struct Seen {
    pub(crate) der: Option<Vec<u8>>,
    pub(crate) refusal: Option<String>,
}

type SeenCell = Arc<Mutex<Seen>>;

fn remember(seen: &SeenCell, der: &[u8], refusal: Option<String>) {
    if let Ok(mut s) = seen.lock() {
        s.der = Some(der.to_vec());
        s.refusal = refusal;
    }
}

fn describe(err: &rustls::Error) -> String {
    match err {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => {
                "not issued by an authority this computer trusts (self-signed or private CA)".into()
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => "expired".into(),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "not valid yet (check this computer's clock)".into()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "issued for another host name".into()
            }
            CertificateError::Revoked => "revoked".into(),
            CertificateError::BadEncoding => "malformed".into(),
            other => format!("{other:?}"),
        },
        other => other.to_string(),
    }
}

/// How the server's certificate is judged.
#[derive(Debug)]
enum Trust {
    /// The system's root certificates (`None`: this computer has none usable).
    SystemRoots(Option<Arc<WebPkiServerVerifier>>),
    /// Exactly one leaf certificate, by SHA-256. Host name and dates are not checked (the admin
    /// pinned this very certificate, typically an old self-signed or expired one), but the
    /// handshake signature is, so only the holder of its private key gets through.
    Pinned { sha256: String },
}

impl Trust {
    /// The certificate accepted, or the TLS error and the reason shown to the admin.
    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, (rustls::Error, String)> {
        match self {
            Trust::SystemRoots(None) => Err((
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
                "this computer has no trusted root certificates".into(),
            )),
            Trust::SystemRoots(Some(inner)) => inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .map_err(|e| {
                    let why = describe(&e);
                    (e, why)
                }),
            Trust::Pinned { sha256 } => {
                if sha256_hex(end_entity) == *sha256 {
                    Ok(ServerCertVerified::assertion())
                } else {
                    Err((
                        rustls::Error::InvalidCertificate(
                            CertificateError::ApplicationVerificationFailure,
                        ),
                        format!("its fingerprint differs from the pinned one ({sha256})"),
                    ))
                }
            }
        }
    }
}

/// Judges the certificate by its [`Trust`] and remembers it, with the reason when refused.
/// The handshake signature is checked the same way whatever the trust: with the provider's
/// algorithms.
#[derive(Debug)]
struct Verifier {
    trust: Trust,
    seen: SeenCell,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let checked = self
            .trust
            .check(end_entity, intermediates, server_name, ocsp_response, now);
        match checked {
            Ok(verified) => {
                remember(&self.seen, end_entity, None);
                Ok(verified)
            }
            Err((err, why)) => {
                remember(&self.seen, end_entity, Some(why));
                Err(err)
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client configuration for one connection, and the cell where its verifier records the
/// server's certificate.
pub(crate) fn client_config(
    server: &str,
    pinned_sha256: Option<&str>,
) -> Result<(Arc<rustls::ClientConfig>, SeenCell), ImapError> {
    let seen: SeenCell = Arc::new(Mutex::new(Seen::default()));
    let trust = match pinned_sha256 {
        Some(pin) => {
            let sha256 = normalize_fingerprint(pin).ok_or_else(|| ImapError::InvalidInput {
                what: "pinned certificate fingerprint".into(),
                reason: format!("{pin:?} is not a SHA-256 fingerprint (64 hex digits)"),
            })?;
            Trust::Pinned { sha256 }
        }
        None => Trust::SystemRoots(
            WebPkiServerVerifier::builder_with_provider(system_roots(), provider())
                .build()
                .ok(),
        ),
    };
    let verifier = Arc::new(Verifier {
        trust,
        seen: seen.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ImapError::Tls {
            server: server.to_string(),
            reason: e.to_string(),
        })?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok((Arc::new(config), seen))
}

/// The error for a failed handshake: the refused certificate if the verifier saw one, else
/// the TLS failure itself.
pub(crate) fn handshake_error(server: &str, seen: &SeenCell, err: std::io::Error) -> ImapError {
    let seen = seen.lock().ok().and_then(|mut s| {
        let refusal = s.refusal.take()?;
        Some((s.der.take()?, refusal))
    });
    if let Some((der, reason)) = seen {
        let mut cert = certificate_info(&der);
        cert.reason = if cert.subject == cert.issuer && !reason.contains("pinned") {
            format!("{reason}; self-signed")
        } else {
            reason
        };
        return ImapError::UntrustedCertificate {
            server: server.to_string(),
            cert: Box::new(cert),
        };
    }
    let reason = match err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(e) => e.to_string(),
        None => err.to_string(),
    };
    ImapError::Tls {
        server: server.to_string(),
        reason,
    }
}

/// The certificate the server presented in the handshake that just succeeded.
pub(crate) fn accepted_certificate(seen: &SeenCell) -> Option<CertificateInfo> {
    let s = seen.lock().ok()?;
    s.der.as_deref().map(certificate_info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_normalize() {
        let hex = "AB:CD:".to_string() + &"0".repeat(60);
        assert_eq!(
            normalize_fingerprint(&hex).unwrap(),
            "abcd".to_string() + &"0".repeat(60)
        );
        assert!(normalize_fingerprint("abcd").is_none());
        assert!(normalize_fingerprint(&"g".repeat(64)).is_none());
    }

    #[test]
    fn reads_a_generated_certificate() {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["mail.example.com".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let info = certificate_info(cert.der());
        assert_eq!(info.sha256, sha256_hex(cert.der()));
        assert_eq!(info.dns_names, vec!["mail.example.com".to_string()]);
        assert_eq!(info.subject, info.issuer);
        assert!(info.not_before < info.not_after, "{info:?}");
    }
}
