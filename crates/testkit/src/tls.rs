//! A certificate authority and a server certificate made fresh for each test server, so that no
//! client trusts it by default: exactly an old server's self-made certificate.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use sha2::{Digest, Sha256};

pub(crate) struct TestCertificates {
    pub ca_pem: String,
    pub ca_der: Vec<u8>,
    pub leaf_pem: String,
    pub leaf_der: Vec<u8>,
    pub leaf_key_pem: String,
}

impl TestCertificates {
    /// `expired`: the leaf's validity ended in 2020, like a forgotten old server's certificate.
    pub fn generate(expired: bool) -> Self {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Ferry test CA");
        let ca = ca_params.self_signed(&ca_key).expect("CA certificate");

        let leaf_key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_string()]).expect("server params");
        // An IP SAN, not a DNS name "127.0.0.1": strict clients (mbsync) check it.
        params.subject_alt_names.push(rcgen::SanType::IpAddress(
            std::net::Ipv4Addr::LOCALHOST.into(),
        ));
        params
            .distinguished_name
            .push(DnType::CommonName, "mail.example.com");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Ferry test server");
        if expired {
            params.not_before = rcgen::date_time_ymd(2015, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        }
        let leaf = params
            .signed_by(&leaf_key, &ca, &ca_key)
            .expect("server certificate");
        TestCertificates {
            ca_pem: ca.pem(),
            ca_der: ca.der().to_vec(),
            leaf_pem: leaf.pem(),
            leaf_der: leaf.der().to_vec(),
            leaf_key_pem: leaf_key.serialize_pem(),
        }
    }

    pub fn leaf_sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.leaf_der))
    }
}
