//! The simulated target's [`Control`]: the whole fault vocabulary, carried out by
//! `World::apply`, plus the operator switch, the look at the disks, and (in a rucio world)
//! the Rucio daemons and the RSEs' storage. Rule checks, scenario
//! steps and property-test runs all drive a simulated world through this one type.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use replisim_sim::rucio::host::RucioHosts;
use replisim_sim::rucio::recovery::{recover, Found, RecoveryConfig, Storage};
use replisim_sim::rucio::server::SharedCatalog;

use replisim_sim::faults::{Fault, FaultKind};
use replisim_sim::store::Disk;
use replisim_sim::world::World;

use crate::target::{Capabilities, Control, ControlFuture};

/// Control over a simulated world; its operations run where they are called (the client
/// node of a rule check, the scenario or property-test driver).
#[derive(Clone)]
pub struct SimControl {
    world: Arc<World>,
}

impl SimControl {
    /// A control for `world`.
    pub fn new(world: Arc<World>) -> Self {
        Self { world }
    }

    /// The world it controls.
    pub fn world(&self) -> &Arc<World> {
        &self.world
    }

    /// The Rucio catalog of the world's `rucio` cluster and the storage of its RSEs (each
    /// RSE's cluster is named after it in lower case: EAST is `east`), for the daemon
    /// controls; why not, for a world that runs no catalog.
    fn rucio(&self) -> Result<(SharedCatalog, Storage), String> {
        let hosts = self
            .world
            .factory(RUCIO_CLUSTER)
            .and_then(|f| f.as_any().downcast_ref::<RucioHosts>())
            .ok_or("this world runs no Rucio catalog")?;
        let first = self
            .world
            .cluster_hosts(RUCIO_CLUSTER)
            .map(|r| r.start)
            .ok_or("this world runs no Rucio catalog")?;
        let catalog = hosts
            .catalog(first)
            .ok_or("the Rucio catalog host has not started")?;
        let rses: Vec<String> = {
            let c = catalog.lock().unwrap_or_else(|p| p.into_inner());
            c.rses().map(|r| r.name.clone()).collect()
        };
        let clusters = rses
            .into_iter()
            .filter_map(|rse| {
                let addrs = self.world.cluster_addrs(&rse.to_ascii_lowercase())?;
                Some((rse, addrs))
            })
            .collect();
        Ok((catalog, Storage::new(clusters, Duration::from_secs(3))))
    }
}

/// The cluster whose host serves the Rucio catalog in a rucio world.
pub const RUCIO_CLUSTER: &str = "rucio";

impl Control for SimControl {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            faults: true,
            admin: true,
            introspection: true,
        }
    }

    fn fault_kinds(&self) -> BTreeSet<FaultKind> {
        FaultKind::ALL.into_iter().collect()
    }

    fn apply(&self, fault: Fault) -> ControlFuture<'_, Result<(), String>> {
        let done = self.world.apply(&fault).map(|_| ());
        Box::pin(async move { done })
    }

    fn heal_all(&self) -> ControlFuture<'_, Result<(), String>> {
        self.world.heal_all();
        Box::pin(async { Ok(()) })
    }

    fn set_retiring(&self, node: usize, on: bool) -> ControlFuture<'_, Result<(), String>> {
        let done = if node < self.world.len() {
            self.world.set_retiring(node, on);
            Ok(())
        } else {
            Err(format!(
                "no node {node} in a {}-node world",
                self.world.len()
            ))
        };
        Box::pin(async move { done })
    }

    fn change_publisher_rules(&self, rules: String) -> ControlFuture<'_, Result<(), String>> {
        let done = match self.world.factory("publisher").and_then(|f| {
            f.as_any()
                .downcast_ref::<replisim_sim::publisher::host::PublisherFactory>()
        }) {
            Some(publisher) => publisher.reload_rules(&rules),
            None => Err("this world runs no publisher".to_string()),
        };
        Box::pin(async move { done })
    }

    fn run_rucio_daemons(&self) -> ControlFuture<'_, Result<String, String>> {
        Box::pin(async move {
            let (catalog, storage) = self.rucio()?;
            storage.prepare().await?;
            let now = replisim_sim::rt::wall_now();
            let round = recover(&catalog, &storage, now, RecoveryConfig::default()).await;
            Ok(format!(
                "at {}: {} found gone, {} made unavailable, {} re-replicated, {} lost, {} copies failed, {} rules expired, {} reaped, {} deletions failed",
                replisim_sim::rucio::isodate::format(now),
                round.found_gone.len(),
                round.made_unavailable.len(),
                round.replicated.len(),
                round.lost.len(),
                round.copy_failed.len(),
                round.expired_rules.len(),
                round.reaped.len(),
                round.reap_failed.len()
            ))
        })
    }

    fn put_rse_file(
        &self,
        rse: &str,
        scope: &str,
        name: &str,
        body: Bytes,
    ) -> ControlFuture<'_, Result<(), String>> {
        let (rse, scope, name) = (rse.to_string(), scope.to_string(), name.to_string());
        Box::pin(async move {
            let (_, storage) = self.rucio()?;
            storage.prepare().await?;
            storage.put(&rse, &scope, &name, body).await
        })
    }

    fn rse_file(
        &self,
        rse: &str,
        scope: &str,
        name: &str,
    ) -> ControlFuture<'_, Result<Option<Bytes>, String>> {
        let (rse, scope, name) = (rse.to_string(), scope.to_string(), name.to_string());
        Box::pin(async move {
            let (_, storage) = self.rucio()?;
            match storage.get(&rse, &scope, &name).await {
                Found::Present(body) => Ok(Some(body)),
                Found::Gone => Ok(None),
                Found::Unreachable(e) => Err(format!("the storage of {rse} did not answer: {e}")),
            }
        })
    }

    fn delete_rse_file(
        &self,
        rse: &str,
        scope: &str,
        name: &str,
    ) -> ControlFuture<'_, Result<(), String>> {
        let (rse, scope, name) = (rse.to_string(), scope.to_string(), name.to_string());
        Box::pin(async move {
            let (_, storage) = self.rucio()?;
            storage.delete(&rse, &scope, &name).await
        })
    }

    fn replicas_of(&self, path: &str) -> ControlFuture<'_, Option<usize>> {
        let count = store_key_of(path).map(|key| {
            (0..self.world.len())
                .filter(|i| {
                    Disk::lock(self.world.disk(*i))
                        .get(&key)
                        .is_some_and(|r| !r.removed)
                })
                .count()
        });
        Box::pin(async move { count })
    }
}

/// The reference node's store key for a path in the default domain.
pub fn store_key_of(path: &str) -> Option<String> {
    let trimmed = path.split('?').next()?.strip_prefix('/')?;
    if trimmed.len() == 32 && trimmed.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(format!("u/{}", trimmed.to_ascii_lowercase()));
    }
    trimmed.contains('/').then(|| format!("n//{trimmed}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_store_keys() {
        assert_eq!(store_key_of("/b/n"), Some("n//b/n".to_string()));
        assert_eq!(
            store_key_of("/41A140B5271DC8D22FF8D027176A0821?x"),
            Some("u/41a140b5271dc8d22ff8d027176a0821".to_string())
        );
        assert_eq!(store_key_of("/bucket"), None);
    }
}
