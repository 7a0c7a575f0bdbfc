//! TLS on a node's listening port (`replisim serve --tls-cert FILE --tls-key FILE`).
//!
//! The reference nodes talk to each other in plain HTTP on the same ports their clients use,
//! so a TLS port must still take plain HTTP from peers. Each accepted connection therefore
//! looks at its first byte before anything is read: a TLS handshake record (content type
//! 22) starts a TLS session, anything else is served as plain HTTP. The handshake runs in the
//! connection's own task (on its first read), never in the accept loop, so a client that
//! stalls mid-handshake holds up only itself.
//!
//! Real TCP only: the simulator has no TLS (its nodes never serve it).

use std::fmt;
use std::future::Future as _;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::{Accept, TlsAcceptor};

/// The first byte of a TLS record carrying a handshake message (RFC 8446 §5.1).
const TLS_HANDSHAKE_RECORD: u8 = 22;

/// A node's certificate chain and key, ready to accept TLS connections. Cheap to clone.
#[derive(Clone)]
pub struct TlsServer {
    acceptor: TlsAcceptor,
    /// Where the certificate came from, for messages.
    source: Arc<str>,
}

impl fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServer")
            .field("cert", &self.source)
            .finish()
    }
}

impl TlsServer {
    /// Loads a PEM certificate chain (leaf first) and its PEM private key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<TlsServer, String> {
        let cert_pem = std::fs::read(cert).map_err(|e| format!("{}: {e}", cert.display()))?;
        let key_pem = std::fs::read(key).map_err(|e| format!("{}: {e}", key.display()))?;
        TlsServer::from_pem(&cert_pem, &key_pem, &cert.display().to_string())
    }

    /// Builds from PEM text; `source` names the certificate in messages.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8], source: &str) -> Result<TlsServer, String> {
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{source}: not a PEM certificate file: {e}"))?;
        if chain.is_empty() {
            return Err(format!("{source}: no CERTIFICATE block in the file"));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| format!("key for {source}: no usable PEM private key: {e}"))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| format!("{source}: certificate and key do not fit together: {e}"))?;
        Ok(TlsServer {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            source: Arc::from(source),
        })
    }

    pub(crate) fn start(&self, tcp: TcpStream) -> TlsOrPlain {
        TlsOrPlain {
            state: State::Sniff {
                tcp,
                acceptor: self.acceptor.clone(),
            },
        }
    }
}

/// An accepted connection on a TLS port: TLS or plain, decided by its first byte.
pub struct TlsOrPlain {
    state: State,
}

enum State {
    /// Nothing received yet.
    Sniff {
        tcp: TcpStream,
        acceptor: TlsAcceptor,
    },
    /// A TLS handshake in progress (boxed: it carries the whole TLS session state).
    Handshake(Box<Accept<TcpStream>>),
    /// TLS established.
    Tls(Box<TlsStream<TcpStream>>),
    /// Plain HTTP (a peer node, or a client that does not speak TLS).
    Plain(TcpStream),
    /// The handshake failed; the error was returned once.
    Failed,
}

impl TlsOrPlain {
    /// Drives the sniff and the handshake until the connection carries application bytes.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match &mut self.state {
                State::Sniff { tcp, .. } => {
                    let mut first = [0u8; 1];
                    let mut buf = ReadBuf::new(&mut first);
                    let seen = match tcp.poll_peek(cx, &mut buf) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Ready(Ok(n)) => n,
                    };
                    let State::Sniff { tcp, acceptor } =
                        std::mem::replace(&mut self.state, State::Failed)
                    else {
                        continue;
                    };
                    self.state = if seen == 1 && first[0] == TLS_HANDSHAKE_RECORD {
                        State::Handshake(Box::new(acceptor.accept(tcp)))
                    } else {
                        State::Plain(tcp)
                    };
                }
                State::Handshake(accept) => match Pin::new(accept.as_mut()).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(tls)) => self.state = State::Tls(Box::new(tls)),
                    Poll::Ready(Err(e)) => {
                        self.state = State::Failed;
                        return Poll::Ready(Err(e));
                    }
                },
                State::Failed => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::NotConnected,
                        "TLS handshake failed",
                    )))
                }
                State::Tls(_) | State::Plain(_) => return Poll::Ready(Ok(())),
            }
        }
    }
}

impl AsyncRead for TlsOrPlain {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Poll::Ready(Err(e)) = this.poll_ready(cx) {
            return Poll::Ready(Err(e));
        }
        match &mut this.state {
            State::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            State::Plain(s) => Pin::new(s).poll_read(cx, buf),
            _ => Poll::Pending,
        }
    }
}

impl AsyncWrite for TlsOrPlain {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Poll::Ready(Err(e)) = this.poll_ready(cx) {
            return Poll::Ready(Err(e));
        }
        match &mut this.state {
            State::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
            State::Plain(s) => Pin::new(s).poll_write(cx, data),
            _ => Poll::Pending,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().state {
            State::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            State::Plain(s) => Pin::new(s).poll_flush(cx),
            // Nothing was written before the handshake finished.
            _ => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().state {
            State::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            State::Plain(s) => Pin::new(s).poll_shutdown(cx),
            State::Sniff { tcp, .. } => Pin::new(tcp).poll_shutdown(cx),
            State::Handshake(_) | State::Failed => Poll::Ready(Ok(())),
        }
    }
}
