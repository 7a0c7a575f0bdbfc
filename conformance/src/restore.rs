//! Failures never cascade: a [`Restoring`] control records what a rule's check disturbed
//! (nodes killed, paused or retiring, partitions, clocks moved) and [`Restoring::restore`]
//! undoes whatever is still outstanding once the rule ends, whether it passed, failed
//! mid-way or ran out of time. The simulator needs none of this: each rule gets a fresh
//! world.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::target::{Capabilities, Control, ControlFuture};

/// What is still disturbed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Disturbed {
    killed: BTreeSet<usize>,
    paused: BTreeSet<usize>,
    partitioned: bool,
    retiring: BTreeSet<usize>,
    skewed: BTreeSet<usize>,
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

impl Control for Restoring {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn kill(&self, node: usize) -> ControlFuture<'_, Result<(), String>> {
        self.track(self.inner.kill(node), move |d| {
            d.killed.insert(node);
        })
    }
    fn restart(&self, node: usize) -> ControlFuture<'_, Result<(), String>> {
        self.track(self.inner.restart(node), move |d| {
            d.killed.remove(&node);
        })
    }
    fn pause(&self, node: usize) -> ControlFuture<'_, Result<(), String>> {
        self.track(self.inner.pause(node), move |d| {
            d.paused.insert(node);
        })
    }
    fn resume(&self, node: usize) -> ControlFuture<'_, Result<(), String>> {
        self.track(self.inner.resume(node), move |d| {
            d.paused.remove(&node);
        })
    }
    fn partition(&self, nodes: Vec<usize>) -> ControlFuture<'_, Result<(), String>> {
        self.track(self.inner.partition(nodes), |d| d.partitioned = true)
    }
    fn heal(&self) -> ControlFuture<'_, Result<(), String>> {
        self.track(self.inner.heal(), |d| d.partitioned = false)
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
    fn set_clock_skew(&self, node: usize, ms: i64) -> ControlFuture<'_, Result<(), String>> {
        self.track(self.inner.set_clock_skew(node, ms), move |d| {
            if ms == 0 {
                d.skewed.remove(&node);
            } else {
                d.skewed.insert(node);
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
        fn kill(&self, n: usize) -> ControlFuture<'_, Result<(), String>> {
            self.push(format!("kill {n}"))
        }
        fn restart(&self, n: usize) -> ControlFuture<'_, Result<(), String>> {
            self.push(format!("restart {n}"))
        }
        fn pause(&self, n: usize) -> ControlFuture<'_, Result<(), String>> {
            self.push(format!("pause {n}"))
        }
        fn resume(&self, n: usize) -> ControlFuture<'_, Result<(), String>> {
            self.push(format!("resume {n}"))
        }
        fn partition(&self, n: Vec<usize>) -> ControlFuture<'_, Result<(), String>> {
            self.push(format!("partition {n:?}"))
        }
        fn heal(&self) -> ControlFuture<'_, Result<(), String>> {
            self.push("heal".into())
        }
        fn set_retiring(&self, n: usize, on: bool) -> ControlFuture<'_, Result<(), String>> {
            self.push(format!("retire {n} {on}"))
        }
        fn set_clock_skew(&self, n: usize, ms: i64) -> ControlFuture<'_, Result<(), String>> {
            self.push(format!("skew {n} {ms}"))
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
            r.restore().await
        });
        assert!(failed.is_empty());
        assert_eq!(done.len(), 5, "{done:?}");
        let calls = log.0.lock().expect("log").clone();
        assert_eq!(
            calls[calls.len() - 5..],
            [
                "restart 1",
                "resume 3",
                "heal",
                "retire 3 false",
                "skew 0 0"
            ]
        );
        // Nothing left: a second restore does nothing.
        let (again, _) = rt.block_on(r.restore());
        assert!(again.is_empty());
    }
}
