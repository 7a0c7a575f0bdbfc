//! The reference catalog as a simulated host (`world::host::HostFactory`), so the rucio
//! family's rules run inside madsim like SCSP's: one catalog per host, bootstrapped like
//! tools/rucio/bootstrap.py, kept across restarts of its host (the real server keeps its
//! database), with the asked defects.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crate::rt;
use crate::rucio::bootstrap::bootstrapped;
use crate::rucio::defects::Defect;
use crate::rucio::server::{run_on, SharedCatalog};
use crate::world::host::{HostEnv, HostFactory, ServiceFuture};

/// Builds the catalog service of every host of a cluster.
#[derive(Debug, Default)]
pub struct RucioHosts {
    defects: BTreeSet<Defect>,
    catalogs: Mutex<BTreeMap<usize, SharedCatalog>>,
}

impl RucioHosts {
    /// Catalogs with these defects (none: the calibrated catalog).
    pub fn new(defects: BTreeSet<Defect>) -> Self {
        Self {
            defects,
            catalogs: Mutex::new(BTreeMap::new()),
        }
    }

    /// The catalog of host `global` (once started), for tests that look inside.
    pub fn catalog(&self, global: usize) -> Option<SharedCatalog> {
        let catalogs = self.catalogs.lock().unwrap_or_else(|p| p.into_inner());
        catalogs.get(&global).cloned()
    }
}

impl HostFactory for RucioHosts {
    fn kind(&self) -> &'static str {
        "rucio"
    }

    fn start(&self, env: HostEnv) -> ServiceFuture {
        let catalog = {
            let mut catalogs = self.catalogs.lock().unwrap_or_else(|p| p.into_inner());
            catalogs
                .entry(env.id.global)
                .or_insert_with(|| {
                    let c = bootstrapped(env.seed, &["EAST", "WEST"])
                        .with_defects(self.defects.clone());
                    Arc::new(Mutex::new(c))
                })
                .clone()
        };
        Box::pin(async move {
            match rt::listen(env.addr).await {
                Ok(listener) => {
                    if let Err(e) = run_on(catalog, listener).await {
                        env.trace
                            .record(&env.name, format!("rucio catalog stopped: {e}"));
                    }
                }
                Err(e) => env
                    .trace
                    .record(&env.name, format!("rucio catalog cannot listen: {e}")),
            }
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
