//! What a pool keeps open between requests, per peer: idle HTTP/1.1 connections, or idle
//! message channels in the simulator (`http::message`). One list serves both, so the bound
//! and the "skip what closed while idle" rule are written once.

use std::net::SocketAddr;
use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;

use crate::rt;

/// Idle connections or channels kept per peer inside a simulation (memory per seed grows
/// with the square of the nodes, and simulated requests rarely overlap more).
const PER_PEER_MAX_SIM: usize = 4;

/// Idle connections kept per peer on real sockets (`serve`): a busy node asks every peer
/// for a bid on every client request, so as many requests overlap as clients are
/// connected; with fewer idle connections each burst closed the extra ones and opened new
/// TCP connections for the next (half the throughput under 16 clients).
const PER_PEER_MAX_REAL: usize = 64;

/// Something that can close while it waits idle.
pub trait Reusable {
    /// True when it can no longer carry a request.
    fn is_closed(&self) -> bool;
}

impl Reusable for SendRequest<Full<Bytes>> {
    fn is_closed(&self) -> bool {
        SendRequest::is_closed(self)
    }
}

impl Reusable for rt::channel::Channel {
    fn is_closed(&self) -> bool {
        rt::channel::Channel::is_closed(self)
    }
}

/// Idle items by peer address, newest first out. The peers are a short list in address
/// order: a pool talks to a cluster's few nodes, and comparing addresses for equality is
/// cheaper than ordering them through a tree on every take and put.
pub struct Idle<T> {
    by_peer: Mutex<Vec<(SocketAddr, Vec<T>)>>,
}

impl<T> Default for Idle<T> {
    fn default() -> Self {
        Self {
            by_peer: Mutex::new(Vec::new()),
        }
    }
}

impl<T> std::fmt::Debug for Idle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idle").finish_non_exhaustive()
    }
}

impl<T: Reusable> Idle<T> {
    /// The most recently returned item for `addr` that is still open.
    pub fn take(&self, addr: SocketAddr) -> Option<T> {
        let mut by_peer = self.by_peer.lock().unwrap_or_else(|p| p.into_inner());
        let (_, list) = by_peer.iter_mut().find(|(a, _)| *a == addr)?;
        while let Some(item) = list.pop() {
            if !item.is_closed() {
                return Some(item);
            }
        }
        None
    }

    /// Keeps `item` for the next request to `addr`, unless it closed or the peer already
    /// has as many idle as the world allows.
    pub fn put(&self, addr: SocketAddr, item: T) {
        if item.is_closed() {
            return;
        }
        let mut by_peer = self.by_peer.lock().unwrap_or_else(|p| p.into_inner());
        let at = match by_peer.iter().position(|(a, _)| *a == addr) {
            Some(at) => at,
            // Kept in address order, as the tree was: a dropped pool closes its idle
            // connections in that order, and each close wakes the peer's task.
            None => {
                let at = by_peer.partition_point(|(a, _)| *a < addr);
                by_peer.insert(at, (addr, Vec::new()));
                at
            }
        };
        let max = if rt::in_sim() {
            PER_PEER_MAX_SIM
        } else {
            PER_PEER_MAX_REAL
        };
        let list = &mut by_peer[at].1;
        if list.len() < max {
            list.push(item);
        }
    }
}
