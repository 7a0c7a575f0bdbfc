//! Scenarios against the reference Rucio catalog: `[cluster] service = "rucio"` runs the
//! steps against one simulated catalog host (bootstrapped like tools/rucio/bootstrap.py)
//! instead of SCSP nodes. The steps themselves are the ordinary HTTP steps: a first
//! `GET /auth/userpass` captures the token that later steps send.
//!
//! `service = "rucio-storage"` adds the RSEs' storage, as the rucio family's rule worlds
//! have it: nodes 1-2 are EAST's 2-node SCSP cluster, 3-4 WEST's, and a `rucio_daemons`
//! step runs one round of the catalog's daemons (minos, auditor, necromancer,
//! judge-cleaner, reaper) on the simulated clock.

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
    /// The catalog (node 0) and the storage of its RSEs EAST (nodes 1-2) and WEST (3-4).
    RucioStorage,
}

/// Hosts of a `rucio-storage` world: the catalog and two 2-node RSE clusters.
pub const STORAGE_HOSTS: usize = 5;

impl Service {
    /// The `service` values a file may give.
    pub const NAMES: &'static str = "scsp, rucio, rucio-storage";

    /// Whether the hosts serve the Rucio catalog (with or without storage).
    pub fn is_rucio(self) -> bool {
        matches!(self, Service::Rucio | Service::RucioStorage)
    }

    /// Parses a `service` value.
    pub fn parse(text: &str) -> Option<Service> {
        match text.trim() {
            "scsp" => Some(Service::Scsp),
            "rucio" => Some(Service::Rucio),
            "rucio-storage" => Some(Service::RucioStorage),
            _ => None,
        }
    }
}

/// The world of a rucio scenario: one catalog host, with the RSEs' storage for
/// `rucio-storage`.
pub fn world(service: Service) -> WorldBuilder {
    if service == Service::RucioStorage {
        crate::families::rucio::world_with_storage(Default::default())
    } else {
        WorldBuilder::new().cluster("rucio", 1, RucioHosts::new(Default::default()))
    }
}
