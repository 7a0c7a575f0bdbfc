//! Per-link latency and loss for simulated TCP, which madsim 0.2.34 only offers for the
//! whole network (`NetSim::update_config`).
//!
//! The world writes a shape per directed pair of host addresses; the flush wrapper of every
//! simulated stream ([`crate::flush::FlushIfDirty`]) asks [`delay`] how long the bytes
//! it is about to send wait before they leave. Extra latency is a uniform draw from the
//! link's range; loss is modelled the way TCP experiences it on an established stream: a
//! lost segment is sent again after a retransmission timeout (200 ms, doubling while it is
//! lost again). Partitions stay madsim's clogs (they refuse connects and stall streams).
//!
//! The table is per OS thread: every simulation runs on its own thread (see
//! `replisim_sim::world::try_simulate`), and madsim runs all of a simulation's tasks on that thread. Outside
//! a simulation the table is empty and nothing waits.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

/// How one direction of a link misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shape {
    /// Least extra one-way latency, in milliseconds.
    pub latency_min_ms: u64,
    /// Most extra one-way latency, in milliseconds.
    pub latency_max_ms: u64,
    /// Per-mille of sends lost (and resent after a timeout).
    pub loss_permille: u32,
}

impl Shape {
    /// True when the shape changes nothing.
    pub fn is_clear(&self) -> bool {
        self.latency_max_ms == 0 && self.loss_permille == 0
    }
}

/// The first retransmission timeout of a lost send.
pub const RESEND_AFTER: Duration = Duration::from_millis(200);

thread_local! {
    static TABLE: RefCell<BTreeMap<(IpAddr, IpAddr), Shape>> = const { RefCell::new(BTreeMap::new()) };
    /// The address of every simulated host the world created, by madsim node: a message
    /// channel (`crate::channel`) needs its own end of the link to look the shape up, and
    /// madsim tells a stream its local address but not an endpoint.
    static HOSTS: RefCell<BTreeMap<madsim::task::NodeId, IpAddr>> = const { RefCell::new(BTreeMap::new()) };
    /// The last host [`own_ip`] found: a node sends its bids and pushes to several peers in
    /// a row, so most lookups repeat the one before (every node-to-node exchange asks).
    static LAST_HOST: Cell<Option<(madsim::task::NodeId, IpAddr)>> = const { Cell::new(None) };
}

/// Records that simulated host `node` has address `ip` (the world calls this for every host
/// it creates; [`clear`] forgets them with the shapes).
pub fn set_host(node: madsim::task::NodeId, ip: IpAddr) {
    HOSTS.with(|h| h.borrow_mut().insert(node, ip));
    LAST_HOST.with(|last| last.set(None));
}

/// The address of the simulated host the calling task runs on, when the world recorded it
/// (`None` outside a simulation and on hosts created by hand).
pub fn own_ip() -> Option<IpAddr> {
    if !crate::in_sim() {
        return None;
    }
    let node = madsim::plugin::node();
    if let Some((last, ip)) = LAST_HOST.with(Cell::get) {
        if last == node {
            return Some(ip);
        }
    }
    let ip = HOSTS.with(|h| h.borrow().get(&node).copied())?;
    LAST_HOST.with(|last| last.set(Some((node, ip))));
    Some(ip)
}

/// Sets the shape of the direction `from` → `to` (a clear shape removes it).
pub fn set(from: IpAddr, to: IpAddr, shape: Shape) {
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        if shape.is_clear() {
            t.remove(&(from, to));
        } else {
            t.insert((from, to), shape);
        }
    });
}

/// The shape of the direction `from` → `to`.
pub fn get(from: IpAddr, to: IpAddr) -> Shape {
    TABLE.with(|t| t.borrow().get(&(from, to)).copied().unwrap_or_default())
}

/// Forgets every shape and host address (a new world starts with a clean network).
pub fn clear() {
    TABLE.with(|t| t.borrow_mut().clear());
    HOSTS.with(|h| h.borrow_mut().clear());
    LAST_HOST.with(|last| last.set(None));
}

/// How long a send from `from` to `to` waits before it leaves: zero on a clear link. Draws
/// from the simulation's seeded RNG, so it is deterministic per seed.
pub fn delay(from: IpAddr, to: IpAddr) -> Duration {
    let shape = get(from, to);
    if shape.is_clear() || !crate::in_sim() {
        return Duration::ZERO;
    }
    let span = shape.latency_max_ms.saturating_sub(shape.latency_min_ms);
    let extra = shape.latency_min_ms + madsim::rand::random::<u64>() % (span + 1);
    let mut wait = Duration::from_millis(extra);
    let mut resend = RESEND_AFTER;
    // Bounded: a link at 100% loss still delivers after eight resends (about 51 s), as
    // madsim's own lossy streams never lose bytes either.
    for _ in 0..8 {
        if (madsim::rand::random::<u32>() % 1000) >= shape.loss_permille {
            break;
        }
        wait += resend;
        resend *= 2;
    }
    wait
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn shapes_are_per_direction_and_clear_shapes_vanish() {
        let (a, b) = (
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1)),
        );
        let slow = Shape {
            latency_min_ms: 50,
            latency_max_ms: 80,
            loss_permille: 0,
        };
        set(a, b, slow);
        assert_eq!(get(a, b), slow);
        assert_eq!(get(b, a), Shape::default());
        assert_eq!(
            delay(a, b),
            Duration::ZERO,
            "outside a simulation nothing waits"
        );
        set(a, b, Shape::default());
        assert!(get(a, b).is_clear());
        set(b, a, slow);
        clear();
        assert!(get(b, a).is_clear());
    }
}
