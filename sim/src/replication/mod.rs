//! WAN replication as an experiment: the world recipe (cluster A with its publisher,
//! cluster B with its replicator, optionally the symmetric pair), the replication
//! invariants judged from the disks, the catch-up bound, and one seed of the replication
//! sweep (`replisim sweep --world replication`).

pub mod check;
pub mod sweep;
pub mod world;

pub use self::world::{publisher_factory, ReplicationSpec};
