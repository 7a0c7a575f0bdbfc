//! Which servers the client trusts over `https://`: the webpki roots by default, or the
//! certificates of a CA file (`--ca-cert`), for test clusters and private PKIs.
//!
//! rustls with the ring provider: it builds with the C compiler alone (no cmake), and it
//! verifies names and chains the way browsers do. There is deliberately no "accept any
//! certificate" switch: a target whose certificate does not verify fails with the reason.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// The trust settings of a client's TLS connections. Cheap to clone.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ClientConfig>,
    /// Where the roots came from, for messages: `webpki roots` or the CA file's path.
    source: Arc<str>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").field("roots", &self.source).finish()
    }
}

impl Default for Tls {
    /// The webpki roots (Mozilla's list, compiled in), built once per process.
    fn default() -> Self {
        static DEFAULT: OnceLock<Tls> = OnceLock::new();
        DEFAULT
            .get_or_init(|| {
                let roots = RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                };
                Tls::with_roots(roots, "webpki roots")
            })
            .clone()
    }
}

impl Tls {
    /// Trusts exactly the certificates in this PEM file (one or more CA certificates).
    pub fn from_ca_file(path: &Path) -> Result<Tls, String> {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Tls::from_ca_pem(&pem, &path.display().to_string())
    }

    /// Trusts exactly the certificates in `pem`; `source` names it in messages.
    pub fn from_ca_pem(pem: &[u8], source: &str) -> Result<Tls, String> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| format!("{source}: not a PEM certificate file: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("{source}: unusable CA certificate: {e}"))?;
        }
        if roots.is_empty() {
            return Err(format!("{source}: no CERTIFICATE block in the file"));
        }
        Ok(Tls::with_roots(roots, source))
    }

    fn with_roots(roots: RootCertStore, source: &str) -> Tls {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            // Not input: the ring provider always offers TLS 1.2 and 1.3 suites.
            .expect("the ring provider supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Tls {
            config: Arc::new(config),
            source: Arc::from(source),
        }
    }

    /// Where the trusted roots came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub(crate) fn config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }
}
