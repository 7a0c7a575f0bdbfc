//! Opening a connection to an [`Endpoint`]: resolve the name, connect over the runtime's
//! TCP, and for `https` run the TLS handshake. Each step names itself in the exchange's
//! stage, so a timeout says where it stalled (`resolve`, `connect`, `tls-handshake`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use replisim_rt as rt;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::endpoint::{Endpoint, Host, Scheme};
use super::tls::Tls;
use super::wire::Connecting;
use super::ClientError;

/// An open connection, plain or TLS.
pub(crate) enum Transport {
    /// Plain TCP (simulated or real).
    Plain(rt::Stream),
    /// TLS over TCP.
    Tls(Box<TlsStream<rt::Stream>>),
}

/// The connect step of [`wire::drive`](super::wire) for `endpoint`.
pub(crate) fn opener(
    endpoint: Endpoint,
    tls: Tls,
) -> impl for<'s> FnOnce(&'s mut &'static str) -> Connecting<'s, Transport> {
    move |stage| Box::pin(async move { open(endpoint, &tls, stage).await })
}

/// Opens a connection to `endpoint`, recording the step reached in `stage`.
pub(crate) async fn open(
    endpoint: Endpoint,
    tls: &Tls,
    stage: &mut &'static str,
) -> Result<Transport, ClientError> {
    let addrs = match endpoint.host {
        Host::Ip(ip) => vec![std::net::SocketAddr::new(ip, endpoint.port)],
        Host::Name(name) => {
            *stage = "resolve";
            let addrs = rt::lookup(name, endpoint.port)
                .await
                .map_err(|e| ClientError::Connect(format!("cannot resolve {name}: {e}")))?;
            if addrs.is_empty() {
                return Err(ClientError::Connect(format!(
                    "{name} resolves to no address"
                )));
            }
            addrs
        }
    };
    *stage = "connect";
    let single = addrs.len() == 1;
    let mut failures = Vec::new();
    let mut stream = None;
    for addr in addrs {
        match rt::connect(addr).await {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            // One address keeps the plain error text; several say which failed how.
            Err(e) if single => failures.push(e.to_string()),
            Err(e) => failures.push(format!("{addr}: {e}")),
        }
    }
    let Some(stream) = stream else {
        return Err(ClientError::Connect(failures.join("; ")));
    };
    match endpoint.scheme {
        Scheme::Http => Ok(Transport::Plain(stream)),
        Scheme::Https => {
            *stage = "tls-handshake";
            let name = match endpoint.host {
                Host::Ip(ip) => ServerName::IpAddress(ip.into()),
                Host::Name(name) => ServerName::try_from(name)
                    .map_err(|e| ClientError::Tls(format!("{name}: not a TLS server name: {e}")))?,
            };
            let connector = TlsConnector::from(tls.config());
            let tls_stream = connector.connect(name, stream).await.map_err(|e| {
                ClientError::Tls(format!(
                    "handshake with {endpoint} failed (trusting {}): {e}",
                    tls.source()
                ))
            })?;
            Ok(Transport::Tls(Box::new(tls_stream)))
        }
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, data),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
