//! Rule checks, one module per SCSP method family (mirroring the node's modules).

pub mod append;
pub mod common;
pub mod conditional;
pub mod contexts;
pub mod copy;
pub mod limits;
pub mod multipart;
pub mod read;
pub mod redirect;
pub mod replication;
pub mod storage;
pub mod transport;
pub mod update;
pub mod versions;
pub mod write;
