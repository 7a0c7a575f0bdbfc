//! The trace: every notable event of a run, stamped with virtual time, and its digest.
//!
//! Two runs of one seed must produce byte-identical traces; the digest makes that a cheap
//! comparison (see the determinism test in sim/tests).

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::rt;
#[cfg(test)]
use crate::seeded::fnv1a;
use crate::seeded::{fnv1a_extend, FNV_OFFSET};

/// One traced event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEvent {
    /// Time since the run started (virtual time in a simulation).
    pub at: Duration,
    /// Who: `node1`, `client`, `world`.
    pub actor: String,
    /// What happened, in a stable textual form.
    pub what: String,
}

impl std::fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>10.3}ms {:<7} {}",
            self.at.as_secs_f64() * 1000.0,
            self.actor,
            self.what
        )
    }
}

/// A shared, append-only event log. Cloning shares it. A disabled trace records nothing
/// (the real-TCP server uses one).
#[derive(Debug, Clone)]
pub struct Trace {
    inner: Option<Arc<TraceInner>>,
    /// Put before every actor name (`east/` in a world of several clusters).
    scope: Option<Arc<str>>,
}

#[derive(Debug)]
struct TraceInner {
    start: Instant,
    events: Mutex<Vec<TraceEvent>>,
}

impl Trace {
    /// A trace whose time zero is now (on the runtime's clock).
    pub fn new() -> Self {
        Self {
            inner: Some(Arc::new(TraceInner {
                start: rt::now(),
                events: Mutex::new(Vec::new()),
            })),
            scope: None,
        }
    }

    /// The same log, with `prefix` put before every actor recorded through the copy: hosts
    /// of different clusters keep their own short names (`node1`) yet stay apart.
    pub fn scoped(&self, prefix: &str) -> Self {
        Self {
            inner: self.inner.clone(),
            scope: Some(Arc::from(prefix)),
        }
    }

    /// A trace that drops everything.
    pub fn disabled() -> Self {
        Self {
            inner: None,
            scope: None,
        }
    }

    /// Appends an event. The actor is taken by value so that a name built for the event
    /// (`node3`) is kept as it is rather than copied.
    pub fn record(&self, actor: impl Into<String>, what: impl Into<String>) {
        if let Some(inner) = &self.inner {
            let at = rt::now().saturating_duration_since(inner.start);
            let actor = actor.into();
            let event = TraceEvent {
                at,
                actor: match &self.scope {
                    Some(prefix) => {
                        let mut scoped = String::with_capacity(prefix.len() + actor.len());
                        scoped.push_str(prefix);
                        scoped.push_str(&actor);
                        scoped
                    }
                    None => actor,
                },
                what: what.into(),
            };
            inner
                .events
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(event);
        }
    }

    /// A copy of every event so far.
    pub fn events(&self) -> Vec<TraceEvent> {
        match &self.inner {
            Some(inner) => inner
                .events
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            None => Vec::new(),
        }
    }

    /// The trace as text, one event per line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.each_line(|line| out.push_str(line));
        out
    }

    /// A 64-bit digest of the rendered trace, as 16 hex digits.
    ///
    /// The FNV-1a of [`Trace::render`]'s text, folded one line at a time: a sweep digests
    /// every seed's trace, and building the whole text (after copying every event) was a
    /// visible share of a seed's work.
    pub fn digest(&self) -> String {
        let mut h = FNV_OFFSET;
        self.each_line(|line| h = fnv1a_extend(h, line.as_bytes()));
        format!("{h:016x}")
    }

    /// Calls `f` with each event's line (newline included), in order, formatted into one
    /// reused buffer while the log is locked.
    fn each_line(&self, mut f: impl FnMut(&str)) {
        let Some(inner) = &self.inner else { return };
        let events = inner.events.lock().unwrap_or_else(|p| p.into_inner());
        let mut line = String::new();
        for e in events.iter() {
            line.clear();
            let _ = writeln!(line, "{e}");
            f(&line);
        }
    }
}

impl Default for Trace {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_the_fnv_of_the_rendered_text() {
        let trace = Trace::new();
        trace.record("node1", "up");
        trace.scoped("east/").record("node2", format!("bid {}", 3));
        let rendered = trace.render();
        assert_eq!(rendered.lines().count(), 2);
        assert!(rendered.contains("east/node2 bid 3"), "{rendered}");
        assert_eq!(
            trace.digest(),
            format!("{:016x}", fnv1a(rendered.as_bytes()))
        );
        let before = trace.digest();
        trace.record("node1", "down");
        assert_ne!(trace.digest(), before);
    }

    #[test]
    fn a_disabled_trace_renders_nothing() {
        let trace = Trace::disabled();
        trace.record("node1", "up");
        assert_eq!(trace.render(), "");
        assert_eq!(trace.digest(), format!("{:016x}", fnv1a(b"")));
    }
}
