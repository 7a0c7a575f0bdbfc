//! The trace: every notable event of a run, stamped with virtual time, and its digest.
//!
//! Two runs of one seed must produce byte-identical traces; the digest makes that a cheap
//! comparison (see the determinism test in sim/tests).

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

impl TraceEvent {
    /// Appends the event's line (without a newline) to `out`: the time in milliseconds with
    /// three decimals in ten columns, the actor in seven, then what happened; the text of
    /// `format!("{:>10.3}ms {:<7} {}", at.as_secs_f64() * 1000.0, actor, what)`, made
    /// without the float formatter (a sweep digests every line of every seed's trace).
    pub fn push_line(&self, out: &mut String) {
        push_fixed3(out, self.at.as_secs_f64() * 1000.0, 10);
        out.push_str("ms ");
        out.push_str(&self.actor);
        for _ in self.actor.chars().count()..7 {
            out.push(' ');
        }
        out.push(' ');
        out.push_str(&self.what);
    }
}

impl std::fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut line = String::new();
        self.push_line(&mut line);
        f.write_str(&line)
    }
}

/// Appends `value` (finite, not negative) with three decimals, right-aligned in `width`
/// columns: what `{:>width$.3}` shows. The value is `mantissa × 2^exponent` exactly, so its
/// thousandths are an integer shift of `mantissa × 1000`, rounded half to even as the
/// formatter rounds. Values too large for that fall back to the formatter.
fn push_fixed3(out: &mut String, value: f64, width: usize) {
    use std::fmt::Write as _;
    let bits = value.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    if value.is_sign_negative() || biased == 0x7ff || biased > 1075 + 60 {
        let _ = write!(out, "{value:>width$.3}");
        return;
    }
    let (mantissa, exponent) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), biased - 1075)
    };
    let scaled = u128::from(mantissa) * 1000;
    let thousandths = if exponent >= 0 {
        scaled << exponent
    } else if exponent < -120 {
        // Under 2^-68, far below half a thousandth: rounds to zero.
        0
    } else {
        let shift = (-exponent) as u32;
        let whole = scaled >> shift;
        let rest = scaled & ((1 << shift) - 1);
        let half = 1 << (shift - 1);
        if rest > half || (rest == half && whole & 1 == 1) {
            whole + 1
        } else {
            whole
        }
    };
    let mut int = itoa::Buffer::new();
    let int = int.format(thousandths / 1000);
    let millis = (thousandths % 1000) as u32;
    for _ in (int.len() + 4)..width {
        out.push(' ');
    }
    out.push_str(int);
    out.push('.');
    for digit in [millis / 100, millis / 10 % 10, millis % 10] {
        out.push(char::from(b'0' + digit as u8));
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
    log: Mutex<Log>,
}

/// What a trace holds: its events, or (digest only) just the digest of the lines so far.
#[derive(Debug)]
enum Log {
    Events(Vec<TraceEvent>),
    Digest {
        /// The FNV-1a of every line recorded so far.
        hash: u64,
        /// The buffer each line is written into before it is folded in.
        line: String,
    },
}

impl Trace {
    /// A trace whose time zero is now (on the runtime's clock).
    pub fn new() -> Self {
        Self::with_log(Log::Events(Vec::new()))
    }

    /// A trace that keeps only its digest: each line is folded in as it is recorded, and
    /// [`Trace::events`] and [`Trace::render`] have nothing to show. For runs that report
    /// only the digest (a sweep's seeds): a fault-heavy simulated hour records over 100,000
    /// events, which a full trace would hold in memory to the end.
    pub fn digest_only() -> Self {
        Self::with_log(Log::Digest {
            hash: FNV_OFFSET,
            line: String::new(),
        })
    }

    fn with_log(log: Log) -> Self {
        Self {
            inner: Some(Arc::new(TraceInner {
                start: rt::now(),
                log: Mutex::new(log),
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
            match &mut *inner.log.lock().unwrap_or_else(|p| p.into_inner()) {
                Log::Events(events) => events.push(event),
                Log::Digest { hash, line } => *hash = fold_line(*hash, line, &event),
            }
        }
    }

    /// A copy of every event so far (none for a disabled or digest-only trace).
    pub fn events(&self) -> Vec<TraceEvent> {
        let Some(inner) = &self.inner else {
            return Vec::new();
        };
        match &*inner.log.lock().unwrap_or_else(|p| p.into_inner()) {
            Log::Events(events) => events.clone(),
            Log::Digest { .. } => Vec::new(),
        }
    }

    /// The trace as text, one event per line (empty for a digest-only trace).
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some(inner) = &self.inner {
            if let Log::Events(events) = &*inner.log.lock().unwrap_or_else(|p| p.into_inner()) {
                for e in events {
                    e.push_line(&mut out);
                    out.push('\n');
                }
            }
        }
        out
    }

    /// A 64-bit digest of the rendered trace, as 16 hex digits.
    ///
    /// The FNV-1a of [`Trace::render`]'s text, folded one line at a time: a sweep digests
    /// every seed's trace, and building the whole text (after copying every event) was a
    /// visible share of a seed's work.
    pub fn digest(&self) -> String {
        let h = match &self.inner {
            None => FNV_OFFSET,
            Some(inner) => match &*inner.log.lock().unwrap_or_else(|p| p.into_inner()) {
                Log::Digest { hash, .. } => *hash,
                Log::Events(events) => {
                    let mut line = String::new();
                    events
                        .iter()
                        .fold(FNV_OFFSET, |h, e| fold_line(h, &mut line, e))
                }
            },
        };
        format!("{h:016x}")
    }
}

/// `hash` extended by `event`'s line and its newline, written into the reused `line`: one
/// step of the digest, whether folded as events are recorded or over the kept events.
fn fold_line(hash: u64, line: &mut String, event: &TraceEvent) -> u64 {
    line.clear();
    event.push_line(line);
    line.push('\n');
    fnv1a_extend(hash, line.as_bytes())
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
    fn a_digest_only_trace_has_the_digest_of_the_full_one() {
        // In a simulation, so that both traces stamp their events with the same times.
        let runtime = madsim::runtime::Runtime::with_seed_and_config(5, madsim::Config::default());
        runtime.block_on(async {
            let full = Trace::new();
            let folded = Trace::digest_only();
            assert_eq!(full.digest(), folded.digest(), "empty");
            for step in 0..3u64 {
                rt::sleep(Duration::from_millis(7 * step + 1)).await;
                for trace in [&full, &folded] {
                    trace.record("node1", format!("step {step}"));
                    trace.scoped("east/").record("node2", "bid 7");
                }
                assert_eq!(full.digest(), folded.digest(), "after step {step}");
            }
            assert_eq!(full.events().len(), 6);
            assert!(folded.events().is_empty());
            assert_eq!(folded.render(), "");
            folded.record("node1", "one more");
            assert_ne!(full.digest(), folded.digest());
        });
    }

    #[test]
    fn lines_are_what_the_formatter_makes_of_them() {
        let reference = |at: Duration, actor: &str, what: &str| {
            format!(
                "{:>10.3}ms {:<7} {}",
                at.as_secs_f64() * 1000.0,
                actor,
                what
            )
        };
        let mut rng = crate::seeded::SeededRng::new(7);
        let mut times: Vec<Duration> = [
            0,
            1,
            499,
            500,
            501,
            62_500,
            187_500,
            999_999,
            1_000_000,
            1_999_500,
            123_456_789,
            3_600_000_000_000,
            86_400_000_000_000 * 400,
        ]
        .into_iter()
        .map(Duration::from_nanos)
        .collect();
        for _ in 0..20_000 {
            let scale = rng.below(50);
            times.push(Duration::from_nanos(rng.below(1 << scale.max(1))));
        }
        times.push(Duration::from_secs(1 << 50));
        times.push(Duration::MAX);
        for (i, at) in times.into_iter().enumerate() {
            let actor = ["node1", "east/node12", "client", "w", "nodé"][i % 5];
            let event = TraceEvent {
                at,
                actor: actor.to_string(),
                what: "x y".to_string(),
            };
            assert_eq!(event.to_string(), reference(at, actor, "x y"), "{at:?}");
        }
        // Ties between two thousandths round to the even one, as the formatter does.
        for value in [0.0625, 0.1875, 2.5e-4, 1.0625, 1e15, 5e-324, 0.0] {
            let mut out = String::new();
            push_fixed3(&mut out, value, 10);
            assert_eq!(out, format!("{value:>10.3}"), "{value}");
        }
    }

    #[test]
    fn a_disabled_trace_renders_nothing() {
        let trace = Trace::disabled();
        trace.record("node1", "up");
        assert_eq!(trace.render(), "");
        assert_eq!(trace.digest(), format!("{:016x}", fnv1a(b"")));
    }
}
