//! HTTP plumbing shared by every world: the flush fix for simulated TCP.

pub mod flush;
