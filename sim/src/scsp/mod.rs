//! The reference SCSP node: one module per concern, mirrored by the conformance rules.
//!
//! Entry point: `server::run(ctx)`. A request goes `router` → `read` or `write` (every
//! mutating method) → `placement` (bids gathered by `cluster_view` over `peer`) → either a
//! `redirect` or local service with `replication`; `health` repairs in the background;
//! `journal` records each acknowledged revision for the publisher.

pub mod alternatives;
pub mod auth;
pub mod clock;
pub mod cluster_key;
pub mod cluster_view;
pub mod compose;
pub mod conditional;
pub mod config;
pub mod contexts;
pub mod defects;
pub mod handoff;
pub mod health;
pub mod internal;
pub mod journal;
pub mod key;
pub mod limits;
pub mod metadata;
pub mod multipart;
pub mod node;
pub mod object;
pub mod peer;
pub mod peer_auth;
pub mod placement;
pub mod query;
pub mod read;
pub mod records;
pub mod redirect;
pub mod replication;
pub mod request;
pub mod response;
pub mod router;
pub mod server;
pub mod wire;
pub mod write;

pub use node::{node, ScspNode};
