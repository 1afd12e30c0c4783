//! Certificate trust: system roots by default, or exactly one pinned leaf certificate.

mod common;

use common::*;
use ferry_imap::{probe_certificate, Client, Endpoint, ImapError};
use ferry_testkit::{Dovecot, Preset};

fn untrusted(e: ImapError) -> ferry_imap::CertificateInfo {
    match e {
        ImapError::UntrustedCertificate { cert, .. } => *cert,
        other => panic!("expected UntrustedCertificate, got {other:?}"),
    }
}

#[tokio::test]
async fn pinned_certificate_is_accepted_and_another_refused() {
    let server = Dovecot::start(Preset::Modern);
    let other = Dovecot::start(Preset::Modern);
    assert_ne!(server.cert_sha256(), other.cert_sha256());

    // The right pin, as an admin may paste it (upper case, colons): accepted, TLS and STARTTLS.
    let pasted: String = server
        .cert_sha256()
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":");
    for endpoint in [
        Endpoint::tls(server.host(), server.imaps_port()).pinned(pasted.clone()),
        Endpoint::starttls(server.host(), server.imap_port()).pinned(pasted.clone()),
    ] {
        let client = Client::connect(&endpoint, quick()).await.expect("pinned");
        assert_eq!(client.certificate().unwrap().sha256, server.cert_sha256());
        client.login(&creds(&server, "alice")).await.expect("login");
    }

    // A different certificate than the pinned one (the server's certificate changed).
    for endpoint in [
        Endpoint::tls(server.host(), server.imaps_port()).pinned(other.cert_sha256()),
        Endpoint::starttls(server.host(), server.imap_port()).pinned(other.cert_sha256()),
    ] {
        let cert = untrusted(Client::connect(&endpoint, quick()).await.unwrap_err());
        assert_eq!(cert.sha256, server.cert_sha256());
        assert!(cert.reason.contains("pinned"), "{}", cert.reason);
        assert!(
            cert.subject.contains("mail.example.com"),
            "{}",
            cert.subject
        );
        assert!(cert.issuer.contains("Ferry test CA"), "{}", cert.issuer);
    }

    // A malformed pin is an input error, not a connection attempt.
    let e = Client::connect(
        &Endpoint::tls(server.host(), server.imaps_port()).pinned("abc"),
        quick(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ImapError::InvalidInput { .. }), "{e:?}");
}

#[tokio::test]
async fn unknown_certificate_is_refused_with_what_to_pin() {
    let server = Dovecot::start(Preset::OldMac);
    let endpoint = Endpoint::tls(server.host(), server.imaps_port());
    let e = Client::connect(&endpoint, quick()).await.unwrap_err();
    let message = e.to_string();
    assert!(e.advice().contains("pin"));
    let cert = untrusted(e);
    assert_eq!(cert.sha256, server.cert_sha256());
    assert!(message.contains(&server.cert_sha256()), "{message}");
    assert!(cert.reason.contains("trust"), "{}", cert.reason);
    assert!(
        cert.dns_names.contains(&"localhost".to_string()),
        "{:?}",
        cert.dns_names
    );
    assert!(cert.not_before < cert.not_after);

    // The probe shows the same certificate without failing, for the admin to compare.
    let probed = probe_certificate(&endpoint, quick()).await.expect("probe");
    assert_eq!(probed.sha256, server.cert_sha256());
    let starttls = Endpoint::starttls(server.host(), server.imap_port());
    let probed = probe_certificate(&starttls, quick())
        .await
        .expect("probe STARTTLS");
    assert_eq!(probed.sha256, server.cert_sha256());
}

#[tokio::test]
async fn an_expired_certificate_is_refused_unless_pinned() {
    let server = Dovecot::builder(Preset::OldMac)
        .expired_certificate(true)
        .start();
    let cert = untrusted(
        Client::connect(&Endpoint::tls(server.host(), server.imaps_port()), quick())
            .await
            .unwrap_err(),
    );
    assert!(
        cert.not_after.starts_with("2020-01-01"),
        "{}",
        cert.not_after
    );
    assert!(
        cert.not_before.starts_with("2015-01-01"),
        "{}",
        cert.not_before
    );
    // Pinned: the admin trusts exactly this old certificate, dates and all.
    let session = Client::connect(&tls(&server), quick())
        .await
        .expect("pinned expired certificate")
        .login(&creds(&server, "jdoe"))
        .await
        .expect("login");
    assert_eq!(session.certificate().unwrap().sha256, server.cert_sha256());
}
