//! HTTP plumbing shared by every world: the flush fix for simulated TCP and a small client.

pub mod client;
pub mod flush;
pub mod pool;
