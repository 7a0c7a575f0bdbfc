//! The reference Publisher of DX Content Router (spec section 2, rules ENUM-1..16).
//!
//! It watches an SCSP cluster's object events, keeps them in a durable journal, runs them
//! through per-channel filter rules and serves enumerators over HTTP/1.1. The decision core
//! (`journal`, `rules`, `enumerator`, `core`) is plain deterministic state: time is an
//! argument and nothing in it touches the network, so every rule can be tested without a
//! runtime. `http` puts the core behind hyper through the `rt` shim; `durable` is the one
//! place that knows the node's disk model; `watcher` is how events are learnt from the nodes.

pub mod alternatives;
pub mod core;
pub mod defects;
pub mod durable;
#[cfg(test)]
mod enum_rules;
pub mod enumerator;
pub mod event;
pub mod host;
pub mod http;
pub mod iso8601;
pub mod journal;
pub mod rules;
pub mod watcher;

pub use self::core::{Publisher, PublisherError};
pub use self::event::{Event, EventCode, ObjectClass};
