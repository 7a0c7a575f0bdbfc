//! replisim-conformance: the SCSP rule catalog, the targets it runs against, the strict
//! HTTP client it talks through, and the reports it writes.
//!
//! Architecture invariant: rules see a target only as HTTP bytes plus an optional
//! `target::Control`; only `runner` knows the simulated world exists.

pub mod baseline;
pub mod catalog;
pub mod clause;
pub mod cli;
pub mod families;
/// The strict HTTP client, its own crate (`replisim-client`) with no dependency on the node.
pub use replisim_client as client;
pub mod hook;
pub mod model;
pub mod mutants;
pub mod patterns;
pub mod replication_sweep;
pub mod replicator_serve;
pub mod report;
pub mod restore;
pub mod rules;
pub mod rules_doc;
pub mod runner;
pub mod scenario;
pub mod simcontrol;
pub mod sources;
pub mod sweep;
pub mod target;
pub mod verdict;
