//! Signed profiles verify with OpenSSL's own `smime -verify`, and a byte changed inside the
//! embedded profile makes verification fail. The PKCS#12 identity is made here with openssl.

mod common;

use common::*;
use ferry_profiles::{build_all, Profile, ProfileOptions, ProfileRequest, Signer};
use secrecy::SecretString;
use std::path::Path;
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl on PATH (scripts/test installs it)")
}

/// A self-signed S/MIME signing identity in `signer.p12` (password "p12-pass") and `signer.pem`.
fn make_identity(dir: &Path) -> Vec<u8> {
    let out = openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            "signer.key",
            "-out",
            "signer.pem",
            "-subj",
            "/CN=Ferry Test Signer/O=Müller & Doe GmbH",
            "-utf8",
            "-addext",
            "keyUsage=critical,digitalSignature",
            "-addext",
            "extendedKeyUsage=emailProtection",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = openssl(
        dir,
        &[
            "pkcs12",
            "-export",
            "-inkey",
            "signer.key",
            "-in",
            "signer.pem",
            "-out",
            "signer.p12",
            "-passout",
            "pass:p12-pass",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(dir.join("signer.p12")).unwrap()
}

fn profile() -> Profile {
    let requests: Vec<ProfileRequest> = users()
        .into_iter()
        .map(|user| ProfileRequest {
            user,
            password: None,
        })
        .collect();
    build_all(
        "m",
        &org(),
        &imap_only(),
        &requests,
        &ProfileOptions::default(),
    )
    .unwrap()
    .into_iter()
    .find(|p| p.user_key == "bmueller")
    .unwrap()
}

fn verify(dir: &Path, signed: &[u8], extra: &[&str]) -> (bool, Vec<u8>, String) {
    std::fs::write(dir.join("signed.mobileconfig"), signed).unwrap();
    let _ = std::fs::remove_file(dir.join("content.out"));
    let mut args = vec![
        "smime",
        "-verify",
        "-inform",
        "der",
        "-in",
        "signed.mobileconfig",
        "-out",
        "content.out",
    ];
    args.extend_from_slice(extra);
    let out = openssl(dir, &args);
    let content = std::fs::read(dir.join("content.out")).unwrap_or_default();
    (
        out.status.success(),
        content,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn signed_profile_verifies_and_tampering_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let p12 = make_identity(dir.path());
    let signer = Signer::from_pkcs12(
        &p12,
        &SecretString::from("p12-pass".to_string()),
        "signer.p12",
    )
    .expect("identity from the PKCS#12 file");
    assert!(
        signer.subject().contains("CN=Ferry Test Signer"),
        "{}",
        signer.subject()
    );

    let mut p = profile();
    let plist = p.bytes.clone();
    p.sign(&signer).unwrap();
    assert!(p.signed);
    assert_ne!(p.bytes, plist);
    assert_eq!(p.bytes[0], 0x30, "DER SEQUENCE");

    // Signature and embedded content, without a trust check...
    let (ok, content, err) = verify(dir.path(), &p.bytes, &["-noverify"]);
    assert!(ok, "{err}");
    assert_eq!(
        content, plist,
        "the embedded profile is the plist, byte for byte"
    );
    // ...and with the signer's certificate as the trusted CA.
    let (ok, _, err) = verify(dir.path(), &p.bytes, &["-CAfile", "signer.pem"]);
    assert!(ok, "{err}");

    // Flip one byte inside the embedded profile (in the IMAP host name).
    let needle = b"imap.example.net";
    let at = p
        .bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the profile is embedded, not detached");
    let mut tampered = p.bytes.clone();
    tampered[at] ^= 0x01;
    let (ok, _, err) = verify(dir.path(), &tampered, &["-noverify"]);
    assert!(!ok, "a tampered profile must not verify");
    assert!(
        err.to_lowercase().contains("digest") || err.contains("failure"),
        "{err}"
    );
}

#[test]
fn a_wrong_password_or_a_non_pkcs12_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p12 = make_identity(dir.path());
    let err = Signer::from_pkcs12(&p12, &SecretString::from("wrong".to_string()), "signer.p12")
        .unwrap_err();
    assert!(err.to_string().contains("wrong password"), "{err}");
    assert!(!err.to_string().contains("p12-pass"));
    let err = Signer::from_pkcs12(b"not a p12", &SecretString::from("x".to_string()), "x.p12")
        .unwrap_err();
    assert!(err.to_string().contains("not a PKCS#12 file"), "{err}");
}

#[test]
fn the_chain_in_the_pkcs12_file_travels_with_the_signature() {
    // root CA -> intermediate CA -> signer; the device (here: openssl) trusts only the root, so the
    // profile verifies only if the intermediate is embedded.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        d.join("ext.cnf"),
        "[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
         [leaf]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=emailProtection\n",
    )
    .unwrap();
    ok(openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            "root.key",
            "-out",
            "root.pem",
            "-subj",
            "/CN=Test Root",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    ));
    ok(openssl(
        d,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "int.key",
            "-out",
            "int.csr",
            "-subj",
            "/CN=Test Intermediate",
        ],
    ));
    ok(openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "int.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "int.pem",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "ca",
        ],
    ));
    ok(openssl(
        d,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=Example IT Profiles",
        ],
    ));
    ok(openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "int.pem",
            "-CAkey",
            "int.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "leaf.pem",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "leaf",
        ],
    ));
    ok(openssl(
        d,
        &[
            "pkcs12",
            "-export",
            "-inkey",
            "leaf.key",
            "-in",
            "leaf.pem",
            "-certfile",
            "int.pem",
            "-out",
            "leaf.p12",
            "-passout",
            "pass:pw",
        ],
    ));

    let p12 = std::fs::read(d.join("leaf.p12")).unwrap();
    let signer =
        Signer::from_pkcs12(&p12, &SecretString::from("pw".to_string()), "leaf.p12").unwrap();
    let mut p = profile();
    let plist = p.bytes.clone();
    p.sign(&signer).unwrap();
    let (ok_chain, content, err) = verify(d, &p.bytes, &["-CAfile", "root.pem"]);
    assert!(ok_chain, "{err}");
    assert_eq!(content, plist);

    // The same leaf without its intermediate does not reach the root: the check above is real.
    let out = openssl(
        d,
        &[
            "pkcs12", "-export", "-inkey", "leaf.key", "-in", "leaf.pem", "-out", "bare.p12",
            "-passout", "pass:pw",
        ],
    );
    assert!(out.status.success());
    let bare = Signer::from_pkcs12(
        &std::fs::read(d.join("bare.p12")).unwrap(),
        &SecretString::from("pw".to_string()),
        "bare.p12",
    )
    .unwrap();
    let mut q = profile();
    q.sign(&bare).unwrap();
    let (ok_bare, _, _) = verify(d, &q.bytes, &["-CAfile", "root.pem"]);
    assert!(
        !ok_bare,
        "without the intermediate the chain must not verify"
    );
}
