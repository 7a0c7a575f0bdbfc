//! A node's own wall clock: the host clock the world gives every service (`crate::clock`).
//! Node code stamps versions with [`NodeClock::now_ms`], never with `SystemTime::now()`.

pub use crate::clock::HostClock as NodeClock;
