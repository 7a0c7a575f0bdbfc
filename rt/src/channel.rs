//! Message channels between simulated hosts: connection-oriented like TCP, but each send
//! carries one whole value (`Box<dyn Any>`) instead of bytes, so nothing is encoded or
//! parsed on the way.
//!
//! They ride madsim's own connection machinery (`Endpoint::connect1`/`accept1`), the same
//! one its simulated TCP streams use, so a channel fails exactly where a stream would: a
//! connect to a clogged or dead host is refused, a send on a clogged link stalls until the
//! link clears (madsim retries it with backoff), and a killed or restarted host drops its
//! ends, which the other end sees as a reset. Per-link latency and loss (`crate::netem`)
//! apply to each send as they apply to each flushed write of a stream.
//!
//! A listener is a madsim endpoint (madsim's UDP socket table), so it may share the
//! address and port of a host's TCP listener. Simulator only: outside madsim every
//! function here answers `Unsupported`.

use std::any::Any;
use std::io;
use std::net::{IpAddr, SocketAddr};

use crate::stats::{self, Side};

/// One message: any value that may cross threads.
pub type Payload = Box<dyn Any + Send + Sync>;

fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "message channels exist only inside a simulation",
    )
}

/// True when channels can be opened from the calling task: inside a simulation, on a host
/// whose address the world recorded (the link's shape needs both ends).
pub fn available() -> bool {
    crate::netem::own_ip().is_some()
}

/// A bound address accepting channels.
pub struct ChannelListener {
    endpoint: madsim::net::Endpoint,
}

/// Binds `addr` for channels (beside a TCP listener on the same address, if any).
pub async fn listen(addr: SocketAddr) -> io::Result<ChannelListener> {
    if !crate::in_sim() {
        return Err(unsupported());
    }
    Ok(ChannelListener {
        endpoint: madsim::net::Endpoint::bind(addr).await?,
    })
}

impl ChannelListener {
    /// Waits for the next channel; returns it and the address it comes from.
    pub async fn accept(&self) -> io::Result<(Channel, SocketAddr)> {
        let (tx, rx, from) = self.endpoint.accept1().await?;
        let local = self.endpoint.local_addr()?.ip();
        stats::count_channel(Side::Server);
        Ok((
            Channel {
                tx,
                rx,
                ends: (local, from.ip()),
                side: Side::Server,
            },
            from,
        ))
    }
}

/// Opens a channel to `addr` from the calling task's host (an ephemeral port, as a TCP
/// connect binds one).
pub async fn connect(addr: SocketAddr) -> io::Result<Channel> {
    let local = crate::netem::own_ip().ok_or_else(unsupported)?;
    let endpoint = madsim::net::Endpoint::bind("0.0.0.0:0").await?;
    let (tx, rx) = endpoint.connect1(addr).await?;
    stats::count_channel(Side::Client);
    Ok(Channel {
        tx,
        rx,
        ends: (local, addr.ip()),
        side: Side::Client,
    })
}

/// One end of a channel: reliable, ordered messages both ways.
pub struct Channel {
    tx: madsim::net::Sender,
    rx: madsim::net::Receiver,
    /// Local and remote address, for the link's shape.
    ends: (IpAddr, IpAddr),
    /// Which counter a sent message goes to.
    side: Side,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("ends", &self.ends)
            .finish_non_exhaustive()
    }
}

impl Channel {
    /// Sends one message after the link's extra latency and loss (`crate::netem`), as a
    /// stream's flush would. Fails with a reset when the other end is gone. Takes `&mut`
    /// like [`Channel::recv`]: the receiving half is not `Sync`, so a future that held a
    /// shared borrow across the wait could not be sent between threads.
    pub async fn send(&mut self, message: Payload) -> io::Result<()> {
        let wait = crate::netem::delay(self.ends.0, self.ends.1);
        if !wait.is_zero() {
            madsim::time::sleep(wait).await;
        }
        self.tx.send(message).await?;
        stats::count_channel_message(self.side);
        Ok(())
    }

    /// The next message; a reset once the other end is gone and everything it sent was
    /// received.
    pub async fn recv(&mut self) -> io::Result<Payload> {
        self.rx.recv().await
    }

    /// True when the other end is gone (a send would fail).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}
