//! The reference Replicator of DX Content Router: the WAN replication service that runs
//! beside cluster B, reads an enumerator of cluster A's publisher (spec section 2) and
//! applies every event to B through SCSP.
//!
//! One concern per module: `config` (knobs and named defects), `item` (a Metadata
//! enumerator's answer as an event), `session` (the durable cursor on the host's disk),
//! `scsp` (reading A and writing B over SCSP, following redirects), `apply` (what one event
//! asks of B, decided against A's current state), `service` (the Start/Next loop with
//! `syncToken` acknowledgement) and `host` (the factory a simulated host runs). Choices
//! where the documents are silent are docs/choices.md rows RP1..RP8.

pub mod apply;
pub mod config;
pub mod host;
pub mod item;
pub mod scsp;
pub mod service;
pub mod session;

pub use self::config::{ReplicatorAlternative, ReplicatorConfig, ReplicatorDefect};
pub use self::host::ReplicatorHost;
