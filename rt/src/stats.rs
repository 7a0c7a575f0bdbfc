//! Counters of simulated network traffic, for benchmarks: how many connections were opened
//! and accepted, and how many messages (flushed writes) each side sent.
//!
//! A benchmark divides the CPU a simulation took by the HTTP exchanges it made. With
//! keep-alive pools, connections no longer equal exchanges, and hyper sends every request
//! and every response in one flushed write through [`crate::flush::FlushIfDirty`], so the
//! messages accepted sockets send are the responses: one per exchange answered. The counters
//! are process-wide relaxed atomics (one add per flushed write), so they are exact only while
//! one simulation runs at a time; nothing in a simulation reads them, so they cannot change
//! its course.
//!
//! Node-to-node exchanges inside the simulator travel as whole messages on channels
//! (`crate::channel`), not as bytes on streams: they have counters of their own beside the
//! stream ones, and [`NetStats::exchanges`] adds both.

use std::sync::atomic::{AtomicU64, Ordering};

static OPENED: AtomicU64 = AtomicU64::new(0);
static ACCEPTED: AtomicU64 = AtomicU64::new(0);
static SENT_BY_CLIENTS: AtomicU64 = AtomicU64::new(0);
static SENT_BY_SERVERS: AtomicU64 = AtomicU64::new(0);
static CHANNELS_OPENED: AtomicU64 = AtomicU64::new(0);
static CHANNELS_ACCEPTED: AtomicU64 = AtomicU64::new(0);
static MESSAGES_BY_CLIENTS: AtomicU64 = AtomicU64::new(0);
static MESSAGES_BY_SERVERS: AtomicU64 = AtomicU64::new(0);

/// Which end of a connection a stream is: it decides which counter its messages go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Opened with [`crate::connect`]: sends requests.
    Client,
    /// Accepted by a [`crate::Listener`]: sends responses.
    Server,
}

/// The simulated network's counters at one moment, summed over every simulation of the
/// process so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Simulated connections opened.
    pub opened: u64,
    /// Simulated connections accepted.
    pub accepted: u64,
    /// Flushed writes on connecting sockets (HTTP requests).
    pub sent_by_clients: u64,
    /// Flushed writes on accepted sockets (HTTP responses, one per exchange answered).
    pub sent_by_servers: u64,
    /// Message channels opened (node-to-node, simulator only).
    pub channels_opened: u64,
    /// Message channels accepted.
    pub channels_accepted: u64,
    /// Messages sent on opened channels (whole requests).
    pub messages_by_clients: u64,
    /// Messages sent on accepted channels (whole responses, one per exchange answered).
    pub messages_by_servers: u64,
}

impl NetStats {
    /// The counters now.
    pub fn now() -> Self {
        Self {
            opened: OPENED.load(Ordering::Relaxed),
            accepted: ACCEPTED.load(Ordering::Relaxed),
            sent_by_clients: SENT_BY_CLIENTS.load(Ordering::Relaxed),
            sent_by_servers: SENT_BY_SERVERS.load(Ordering::Relaxed),
            channels_opened: CHANNELS_OPENED.load(Ordering::Relaxed),
            channels_accepted: CHANNELS_ACCEPTED.load(Ordering::Relaxed),
            messages_by_clients: MESSAGES_BY_CLIENTS.load(Ordering::Relaxed),
            messages_by_servers: MESSAGES_BY_SERVERS.load(Ordering::Relaxed),
        }
    }

    /// HTTP exchanges answered, whichever way they travelled: responses written on accepted
    /// streams plus responses sent on accepted channels.
    pub fn exchanges(&self) -> u64 {
        self.sent_by_servers + self.messages_by_servers
    }

    /// Connections accepted, streams and channels.
    pub fn connections(&self) -> u64 {
        self.accepted + self.channels_accepted
    }

    /// What happened between `earlier` and `self`.
    pub fn since(self, earlier: NetStats) -> NetStats {
        NetStats {
            opened: self.opened - earlier.opened,
            accepted: self.accepted - earlier.accepted,
            sent_by_clients: self.sent_by_clients - earlier.sent_by_clients,
            sent_by_servers: self.sent_by_servers - earlier.sent_by_servers,
            channels_opened: self.channels_opened - earlier.channels_opened,
            channels_accepted: self.channels_accepted - earlier.channels_accepted,
            messages_by_clients: self.messages_by_clients - earlier.messages_by_clients,
            messages_by_servers: self.messages_by_servers - earlier.messages_by_servers,
        }
    }
}

pub(crate) fn count_connection(side: Side) {
    match side {
        Side::Client => OPENED.fetch_add(1, Ordering::Relaxed),
        Side::Server => ACCEPTED.fetch_add(1, Ordering::Relaxed),
    };
}

pub(crate) fn count_message(side: Side) {
    match side {
        Side::Client => SENT_BY_CLIENTS.fetch_add(1, Ordering::Relaxed),
        Side::Server => SENT_BY_SERVERS.fetch_add(1, Ordering::Relaxed),
    };
}

thread_local! {
    static CHANNELS_ACCEPTED_HERE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Message channels accepted on the calling thread so far: per simulation, since each runs
/// on its own thread (benchmarks that run several at once count connections this way).
pub fn channels_accepted_on_this_thread() -> u64 {
    CHANNELS_ACCEPTED_HERE.with(|c| c.get())
}

pub(crate) fn count_channel(side: Side) {
    match side {
        Side::Client => CHANNELS_OPENED.fetch_add(1, Ordering::Relaxed),
        Side::Server => {
            CHANNELS_ACCEPTED_HERE.with(|c| c.set(c.get() + 1));
            CHANNELS_ACCEPTED.fetch_add(1, Ordering::Relaxed)
        }
    };
}

pub(crate) fn count_channel_message(side: Side) {
    match side {
        Side::Client => MESSAGES_BY_CLIENTS.fetch_add(1, Ordering::Relaxed),
        Side::Server => MESSAGES_BY_SERVERS.fetch_add(1, Ordering::Relaxed),
    };
}
