//! A node's own wall clock: the world's clock plus a per-node skew.
//!
//! madsim has a single global clock, so per-node skew is modelled here. Node code stamps
//! versions with [`NodeClock::now_ms`], never with `SystemTime::now()` directly.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use crate::rt;

/// A shareable, adjustable node clock (the world adjusts the skew; the node reads it).
#[derive(Debug, Clone, Default)]
pub struct NodeClock {
    skew_ms: Arc<AtomicI64>,
}

impl NodeClock {
    /// A clock with no skew.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the offset from the world clock (positive = this node runs ahead).
    pub fn set_skew_ms(&self, skew_ms: i64) {
        self.skew_ms.store(skew_ms, Ordering::SeqCst);
    }

    /// The current offset from the world clock.
    pub fn skew_ms(&self) -> i64 {
        self.skew_ms.load(Ordering::SeqCst)
    }

    /// Milliseconds since the Unix epoch as this node sees them.
    pub fn now_ms(&self) -> u64 {
        let world_ms = rt::wall_now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        (world_ms + self.skew_ms()).max(0) as u64
    }
}
