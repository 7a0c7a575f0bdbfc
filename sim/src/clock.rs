//! A host's own wall clock: the world's clock plus a per-host skew.
//!
//! madsim has a single global clock, so per-host skew and jumps are modelled here. Services stamp
//! versions with [`HostClock::now_ms`], never with `SystemTime::now()` directly.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use crate::rt;

/// A shareable, adjustable host clock (the world adjusts the skew; the service reads it).
#[derive(Debug, Clone, Default)]
pub struct HostClock {
    skew_ms: Arc<AtomicI64>,
}

impl HostClock {
    /// A clock with no skew.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the offset from the world clock (positive = this host runs ahead).
    pub fn set_skew_ms(&self, skew_ms: i64) {
        self.skew_ms.store(skew_ms, Ordering::SeqCst);
    }

    /// Moves the clock by `delta_ms` from where it is now (a jump; negative goes back).
    pub fn jump_ms(&self, delta_ms: i64) {
        self.skew_ms.fetch_add(delta_ms, Ordering::SeqCst);
    }

    /// The current offset from the world clock.
    pub fn skew_ms(&self) -> i64 {
        self.skew_ms.load(Ordering::SeqCst)
    }

    /// Milliseconds since the Unix epoch as this host sees them.
    pub fn now_ms(&self) -> u64 {
        let world_ms = rt::wall_now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        (world_ms + self.skew_ms()).max(0) as u64
    }
}
