//! replisim-sim: the reference SCSP cluster and the simulated world it runs in (clusters of
//! hosts joined by WAN links, each host running a service its factory builds).
//!
//! The reference node (`scsp`) is a hyper HTTP/1.1 server written against the runtime shim
//! (`rt`), so the very same code serves over simulated TCP inside madsim (`world`) and over
//! real loopback TCP under tokio (`serve`). It contains no knowledge of the conformance
//! catalog; the catalog sees it only as HTTP bytes.

// Handlers return the HTTP refusal itself as their error (`Result<_, Response<Body>>`), so
// `?` ends a request with the right status. The refusal is the common path, not a rare
// one, and boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

#[macro_use]
mod defect_table;

pub mod chrome_trace;
pub mod clock;
pub mod ds3;
pub mod faults;
pub mod http;
pub mod invariants;
pub mod nemesis;
pub mod publisher;
pub mod replication;
pub mod replicator;
/// The runtime shim, its own crate so the strict client can use it without the node.
pub use replisim_rt as rt;
/// Per-link latency and loss, applied where simulated streams flush (in the runtime crate).
pub use replisim_rt::netem;
pub mod rucio;
pub mod scsp;
pub mod seeded;
pub mod serve;
pub mod store;
pub mod sweep;
pub mod trace;
pub mod workload;
pub mod world;
