//! `FlushIfDirty`: forwards a flush only when bytes were written since the last one.
//!
//! madsim's simulated `TcpStream` sends a message on every flush, even an empty one, and the
//! receiver spends at least 1 ms of virtual time per message. hyper flushes often, so without
//! this wrapper each request's latency grows by milliseconds of virtual time (see
//! notes/madsim.md §3).
//!
//! It is also where per-link latency and loss apply (`crate::netem`): every simulated
//! stream passes through here, and a flush is the moment bytes leave.

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A stream wrapper that swallows flushes with nothing to flush.
pub struct FlushIfDirty<S> {
    inner: S,
    dirty: bool,
    /// Which counter a flushed write goes to (`crate::stats`).
    side: crate::stats::Side,
    /// Where per-link shaping applies (`None`: not a simulated link). Boxed so a stream
    /// stays small beside the TLS one it sits next to in the client.
    link: Option<Box<Link>>,
}

/// The shaping state of one simulated stream.
struct Link {
    /// Local and remote address, for the link's shape.
    ends: (IpAddr, IpAddr),
    /// The wait of the flush under way on a shaped link.
    held: Option<Pin<Box<madsim::time::Sleep>>>,
    /// The current bytes have served their wait (the inner flush may still be pending).
    released: bool,
}

/// A stream whose two ends have addresses: the link a shape applies to.
pub trait LinkEnds {
    /// (local, remote) address, when known.
    fn ends(&self) -> Option<(IpAddr, IpAddr)>;
}

impl LinkEnds for madsim::net::TcpStream {
    fn ends(&self) -> Option<(IpAddr, IpAddr)> {
        Some((self.local_addr().ok()?.ip(), self.peer_addr().ok()?.ip()))
    }
}

impl<S: LinkEnds> FlushIfDirty<S> {
    /// Wraps a stream; starts clean. `side` says which end of the connection it is.
    pub fn new(inner: S, side: crate::stats::Side) -> Self {
        crate::stats::count_connection(side);
        let link = inner.ends().map(|ends| {
            Box::new(Link {
                ends,
                held: None,
                released: false,
            })
        });
        Self {
            inner,
            dirty: false,
            side,
            link,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FlushIfDirty<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FlushIfDirty<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.dirty = true;
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.dirty {
            return Poll::Ready(Ok(()));
        }
        if let Some(link) = self.link.as_mut() {
            if link.held.is_none() && !link.released {
                link.released = true;
                let wait = crate::netem::delay(link.ends.0, link.ends.1);
                if !wait.is_zero() {
                    link.held = Some(Box::pin(madsim::time::sleep(wait)));
                }
            }
            if let Some(held) = link.held.as_mut() {
                if held.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                link.held = None;
            }
        }
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        if matches!(result, Poll::Ready(Ok(()))) {
            self.dirty = false;
            crate::stats::count_message(self.side);
            if let Some(link) = self.link.as_mut() {
                link.released = false;
            }
        }
        result
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.dirty {
            match Pin::new(&mut self.inner).poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    self.dirty = false;
                    crate::stats::count_message(self.side);
                }
                other => return other,
            }
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
