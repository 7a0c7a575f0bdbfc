//! The reference Rucio catalog service (issue 14): the replicas REST API of Rucio 41.5.1,
//! calibrated against the real server's recorded answers (tools/rucio/calibration.json).
//!
//! The decision core (`catalog`, `auth`, `bad`, `listing`, `rules`, `daemons`) is plain
//! deterministic state: time is an argument, randomness comes from the seed, no I/O. The
//! REST layer (`rest`) maps HTTP requests onto it with the real server's status codes,
//! content types and error forms; `server` serves it with hyper through the `rt` shim, so
//! it runs inside madsim and on real loopback TCP alike.

pub mod auth;
pub mod bad;
pub mod bootstrap;
pub mod catalog;
pub mod daemons;
pub mod defects;
pub mod error;
pub mod host;
pub mod isodate;
pub mod listing;
pub mod recovery;
pub mod rest;
pub mod rse;
pub mod rules;
pub mod server;
pub mod state;
