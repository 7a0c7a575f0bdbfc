//! Failures never cascade: a [`Restoring`] control records what a rule's check disturbed
//! (nodes killed, paused or retiring, partitions, clocks moved, disks filled) and [`Restoring::restore`]
//! undoes whatever is still outstanding once the rule ends, whether it passed, failed
//! mid-way or ran out of time. The simulator needs none of this: each rule gets a fresh
//! world.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

use replisim_sim::faults::{Fault, FaultKind};

use crate::target::{Capabilities, Control, ControlFuture};

/// What is still disturbed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Disturbed {
    killed: BTreeSet<usize>,
    paused: BTreeSet<usize>,
    partitioned: bool,
    retiring: BTreeSet<usize>,
    skewed: BTreeSet<usize>,
    full: BTreeSet<usize>,
}

/// A control that remembers what it disturbed, so that the runner can put it back.
pub struct Restoring {
    inner: Arc<dyn Control>,
    state: Mutex<Disturbed>,
}

impl Restoring {
    /// Wraps a target's control for one rule.
    pub fn new(inner: Arc<dyn Control>) -> Self {
        Self {
            inner,
            state: Mutex::new(Disturbed::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Disturbed> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Undoes what is still disturbed: restarts killed nodes, resumes paused ones, heals
    /// partitions, un-retires nodes and resets clocks. Returns what it did and what failed
    /// (empty when the rule left nothing behind).
    pub async fn restore(&self) -> (Vec<String>, Vec<String>) {
        let left = std::mem::take(&mut *self.lock());
        let (mut done, mut failed) = (Vec::new(), Vec::new());
        let mut note = |what: String, r: Result<(), String>| match r {
            Ok(()) => done.push(what),
            Err(e) => failed.push(format!("{what}: {e}")),
        };
        for node in left.killed {
            note(
                format!("restarted node {node}"),
                self.inner.restart(node).await,
            );
        }
        for node in left.paused {
            note(
                format!("resumed node {node}"),
                self.inner.resume(node).await,
            );
        }
        if left.partitioned {
            note("healed partitions".to_string(), self.inner.heal().await);
        }
        for node in left.retiring {
            note(
                format!("un-retired node {node}"),
                self.inner.set_retiring(node, false).await,
            );
        }
        for node in left.skewed {
            note(
                format!("reset the clock of node {node}"),
                self.inner.set_clock_skew(node, 0).await,
            );
        }
        for node in left.full {
            note(
                format!("freed the disk of node {node}"),
                self.inner.apply(Fault::DiskFree { node }).await,
            );
        }
        (done, failed)
    }

    fn track<'a>(
        &'a self,
        call: ControlFuture<'a, Result<(), String>>,
        then: impl FnOnce(&mut Disturbed) + Send + 'a,
    ) -> ControlFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let r = call.await;
            if r.is_ok() {
                then(&mut self.lock());
            }
            r
        })
    }
}

/// How a successful fault changes what is still disturbed.
fn note_applied(d: &mut Disturbed, fault: &Fault) {
    match fault {
        Fault::Crash { node } => {
            d.killed.insert(*node);
        }
        Fault::Restart { node } => {
            d.killed.remove(node);
        }
        Fault::Pause { node } => {
            d.paused.insert(*node);
        }
        Fault::Resume { node } => {
            d.paused.remove(node);
        }
        Fault::Partition { .. }
        | Fault::PartitionOneWay { .. }
        | Fault::Isolate { .. }
        | Fault::PartitionWan { .. }
        | Fault::PartitionWanOneWay { .. }
        | Fault::PartitionLan { .. } => d.partitioned = true,
        Fault::Heal => d.partitioned = false,
        Fault::Skew { node, ms: 0 } => {
            d.skewed.remove(node);
        }
        Fault::Skew { node, .. } | Fault::Jump { node, .. } => {
            d.skewed.insert(*node);
        }
        Fault::DiskFull { node } => {
            d.full.insert(*node);
        }
        Fault::DiskFree { node } => {
            d.full.remove(node);
        }
        // Loss and latency end with the fault's own repair; rot and node loss are repaired
        // by the target.
        Fault::Lose { .. }
        | Fault::Loss { .. }
        | Fault::Latency { .. }
        | Fault::LinkLoss { .. }
        | Fault::LinkLatency { .. }
        | Fault::BitRot { .. } => {}
    }
}

impl Control for Restoring {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn fault_kinds(&self) -> BTreeSet<FaultKind> {
        self.inner.fault_kinds()
    }
    fn apply(&self, fault: Fault) -> ControlFuture<'_, Result<(), String>> {
        let call = self.inner.apply(fault.clone());
        self.track(call, move |d| note_applied(d, &fault))
    }
    fn set_retiring(&self, node: usize, on: bool) -> ControlFuture<'_, Result<(), String>> {
        self.track(self.inner.set_retiring(node, on), move |d| {
            if on {
                d.retiring.insert(node);
            } else {
                d.retiring.remove(&node);
            }
        })
    }
    fn replicas_of(&self, path: &str) -> ControlFuture<'_, Option<usize>> {
        self.inner.replicas_of(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A control that logs every call.
    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);

    impl Log {
        fn push(&self, s: String) -> ControlFuture<'_, Result<(), String>> {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).push(s);
            Box::pin(async { Ok(()) })
        }
    }

    impl Control for Log {
        fn capabilities(&self) -> Capabilities {
            Capabilities {
                faults: true,
                admin: true,
                introspection: false,
            }
        }
        fn fault_kinds(&self) -> BTreeSet<FaultKind> {
            FaultKind::ALL.into_iter().collect()
        }
        fn apply(&self, fault: Fault) -> ControlFuture<'_, Result<(), String>> {
            self.push(fault.to_string())
        }
        fn set_retiring(&self, n: usize, on: bool) -> ControlFuture<'_, Result<(), String>> {
            self.push(format!("retire {n} {on}"))
        }
    }

    #[test]
    fn restore_undoes_only_what_is_still_disturbed() {
        let log = Arc::new(Log::default());
        let r = Restoring::new(log.clone());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let (done, failed) = rt.block_on(async {
            r.kill(1).await.expect("kill");
            r.kill(2).await.expect("kill");
            r.restart(2).await.expect("restart");
            r.pause(3).await.expect("pause");
            r.partition(vec![0]).await.expect("partition");
            r.set_retiring(3, true).await.expect("retire");
            r.set_clock_skew(0, -500).await.expect("skew");
            r.set_clock_skew(1, 200).await.expect("skew");
            r.set_clock_skew(1, 0).await.expect("reset");
            r.apply(Fault::DiskFull { node: 2 }).await.expect("full");
            r.restore().await
        });
        assert!(failed.is_empty());
        assert_eq!(done.len(), 6, "{done:?}");
        let calls = log.0.lock().expect("log").clone();
        assert_eq!(
            calls[calls.len() - 6..],
            [
                "restart node2",
                "resume node4",
                "heal",
                "retire 3 false",
                "skew node1 +0 ms",
                "disk-free node3"
            ]
        );
        // Nothing left: a second restore does nothing.
        let (again, _) = rt.block_on(r.restore());
        assert!(again.is_empty());
    }
}
