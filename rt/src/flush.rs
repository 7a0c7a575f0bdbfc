//! `FlushIfDirty`: forwards a flush only when bytes were written since the last one.
//!
//! madsim's simulated `TcpStream` sends a message on every flush, even an empty one, and the
//! receiver spends at least 1 ms of virtual time per message. hyper flushes often, so without
//! this wrapper each request's latency grows by milliseconds of virtual time (see
//! notes/madsim.md §3).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A stream wrapper that swallows flushes with nothing to flush.
pub struct FlushIfDirty<S> {
    inner: S,
    dirty: bool,
}

impl<S> FlushIfDirty<S> {
    /// Wraps a stream; starts clean.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            dirty: false,
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
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        if matches!(result, Poll::Ready(Ok(()))) {
            self.dirty = false;
        }
        result
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.dirty {
            match Pin::new(&mut self.inner).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.dirty = false,
                other => return other,
            }
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
