//! Scenarios against the reference Rucio catalog: `[cluster] service = "rucio"` runs the
//! steps against one simulated catalog host (bootstrapped like tools/rucio/bootstrap.py)
//! instead of SCSP nodes. The steps themselves are the ordinary HTTP steps: a first
//! `GET /auth/userpass` captures the token that later steps send.

use replisim_sim::rucio::host::RucioHosts;
use replisim_sim::world::WorldBuilder;

/// What the hosts of a one-cluster scenario run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Service {
    /// SCSP storage nodes (the default).
    #[default]
    Scsp,
    /// The reference Rucio catalog, one host.
    Rucio,
}

impl Service {
    /// The `service` values a file may give.
    pub const NAMES: &'static str = "scsp, rucio";

    /// Parses a `service` value.
    pub fn parse(text: &str) -> Option<Service> {
        match text.trim() {
            "scsp" => Some(Service::Scsp),
            "rucio" => Some(Service::Rucio),
            _ => None,
        }
    }
}

/// The world of a rucio scenario: one catalog host.
pub fn world() -> WorldBuilder {
    WorldBuilder::new().cluster("rucio", 1, RucioHosts::new(Default::default()))
}
