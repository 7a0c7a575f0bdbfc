//! The reference BlackPearl DS3 gateway (spec section 3, rules BP-1..20): bulk PUT, GET and
//! VERIFY jobs with their chunks and blobs, the cache and permanent store on the generic
//! disk, DS3 request signing, and job replication between systems.
//!
//! Decision core as plain state, time as an argument (`gateway`); the disk layer
//! (`durable`); the wire documents (`xml`, `replicate`); signing (`auth`); the HTTP layer
//! (`http`); the host factory and real-socket server (`host`); seeded ids (`ids`).
//! Its deliberate deviations are its own defect table (`defects`).

pub mod auth;
pub mod defects;
pub mod durable;
pub mod gateway;
pub mod host;
pub mod http;
pub mod ids;
pub mod replicate;
pub mod xml;
