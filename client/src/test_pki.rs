//! A throwaway certificate authority for tests: a CA and one server certificate it signed,
//! made fresh at test time (rcgen), so no key material lives in the repository.
//!
//! Only built for tests (`cfg(test)` here, feature `test-pki` for other crates' tests).

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

/// A CA certificate and a server certificate and key signed by it, all PEM.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA certificate (what `--ca-cert` takes).
    pub ca_pem: String,
    /// The server certificate (what `--tls-cert` takes).
    pub cert_pem: String,
    /// The server's private key (what `--tls-key` takes).
    pub key_pem: String,
}

impl TestPki {
    /// A new CA and a server certificate valid for `names` (DNS names or IP literals).
    /// Panics if rcgen fails: a test cannot go on without its certificates.
    pub fn new(names: &[&str]) -> TestPki {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "replisim test CA");
        let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
        let key = KeyPair::generate().expect("server key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let cert = CertificateParams::new(names)
            .expect("server params")
            .signed_by(&key, &ca_cert, &ca_key)
            .expect("server certificate");
        TestPki {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}
