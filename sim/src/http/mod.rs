//! HTTP plumbing shared by every world: the flush fix for simulated TCP and a small client.

pub mod accept;
pub mod body;
pub mod client;
pub mod content_md5;
pub mod idle;
pub use replisim_rt::flush;
pub mod limits;
pub mod message;
pub mod pool;
