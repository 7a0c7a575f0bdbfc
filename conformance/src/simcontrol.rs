//! The simulated target's [`Control`]: the whole fault vocabulary, carried out by
//! `World::apply`, plus the operator switch and the look at the disks. Rule checks, scenario
//! steps and property-test runs all drive a simulated world through this one type.

use std::collections::BTreeSet;
use std::sync::Arc;

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
}

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
