//! Rule checks, one module per SCSP method family (mirroring the node's modules).

pub mod common;
pub mod redirect;
pub mod replication;
pub mod update;
pub mod write;
