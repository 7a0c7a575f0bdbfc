//! A sweep's result as a file: what any number of seeds found, kept as aggregates plus a
//! bounded list of failing seeds, so it stays the same size however many seeds ran. Shards
//! write one each (`replisim sweep --shard K/N --out FILE`), a stopped sweep resumes from
//! one (`--resume FILE`), and `replisim merge` adds any number together.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};

use replisim_sim::seeded::fnv1a;

/// The file format's name and version; a file with another one is refused.
pub const FORMAT: &str = "replisim-sweep/1";

/// How many failing seeds a result describes in full (the lowest seeds win); every failing
/// seed is still counted. Bounds the memory and the file of a campaign that fails often.
pub const FAILURES_KEPT: usize = 100;

/// Violations described per failing seed; the rest are counted.
pub const DETAILS_KEPT: usize = 5;

/// Which part of a seed range one process runs: shard `index` of `count`, numbered from 0
/// so that a Kubernetes completion index or a CI matrix index can be used as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: u64,
    /// How many shards the range is cut into.
    pub count: u64,
}

impl Shard {
    /// The whole range as one shard.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parses `K/N` with `0 ≤ K < N`.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard takes K/N with 0 ≤ K < N (K counts from 0), not `{s}`");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u64 = k.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The seeds of `range` this shard runs: the range cut into `count` consecutive blocks
    /// whose lengths differ by at most one, block `index`. With `L` seeds from `A`, shard
    /// `K` runs `A + ⌊K·L/N⌋ .. A + ⌊(K+1)·L/N⌋`. Consecutive blocks keep a shard's
    /// finished seeds a few ranges, which is what makes the result file small.
    pub fn seeds(self, range: &Range<u64>) -> Range<u64> {
        let len = u128::from(range.end.saturating_sub(range.start));
        let at = |k: u64| range.start + ((u128::from(k) * len) / u128::from(self.count)) as u64;
        at(self.index)..at(self.index + 1)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A set of seeds as sorted, disjoint, non-adjacent half-open ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<(u64, u64)>", into = "Vec<(u64, u64)>")]
pub struct SeedSet {
    ranges: BTreeMap<u64, u64>,
}

impl TryFrom<Vec<(u64, u64)>> for SeedSet {
    type Error = String;

    fn try_from(pairs: Vec<(u64, u64)>) -> Result<Self, String> {
        let mut set = SeedSet::default();
        for (a, b) in pairs {
            if b <= a {
                return Err(format!("seed range [{a}, {b}] is empty"));
            }
            if set.overlap(&(a..b)).is_some() {
                return Err(format!("seed range [{a}, {b}] is listed twice"));
            }
            set.insert_range(a..b);
        }
        Ok(set)
    }
}

impl From<SeedSet> for Vec<(u64, u64)> {
    fn from(set: SeedSet) -> Self {
        set.ranges.into_iter().collect()
    }
}

impl SeedSet {
    /// The seeds of one range.
    pub fn from_range(range: Range<u64>) -> Self {
        let mut set = SeedSet::default();
        set.insert_range(range);
        set
    }

    /// Adds the seeds of `range`.
    pub fn insert_range(&mut self, range: Range<u64>) {
        if range.is_empty() {
            return;
        }
        let (mut start, mut end) = (range.start, range.end);
        // Absorb every range that overlaps or touches [start, end).
        let touching: Vec<(u64, u64)> = self
            .ranges
            .range(..=end)
            .rev()
            .take_while(|(_, &e)| e >= start)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in touching {
            self.ranges.remove(&s);
            start = start.min(s);
            end = end.max(e);
        }
        self.ranges.insert(start, end);
    }

    /// Adds one seed.
    pub fn insert(&mut self, seed: u64) {
        self.insert_range(seed..seed.saturating_add(1));
    }

    /// Adds every seed of `other`.
    pub fn extend(&mut self, other: &SeedSet) {
        for r in other.iter() {
            self.insert_range(r);
        }
    }

    /// Whether `seed` is in the set.
    pub fn contains(&self, seed: u64) -> bool {
        self.ranges
            .range(..=seed)
            .next_back()
            .is_some_and(|(_, &e)| seed < e)
    }

    /// The first part of `range` that is also in the set, if any.
    pub fn overlap(&self, range: &Range<u64>) -> Option<Range<u64>> {
        self.iter()
            .map(|r| r.start.max(range.start)..r.end.min(range.end))
            .find(|r| !r.is_empty())
    }

    /// The first seeds the two sets share, if any.
    pub fn intersection(&self, other: &SeedSet) -> Option<Range<u64>> {
        other.iter().find_map(|r| self.overlap(&r))
    }

    /// The ranges, in order.
    pub fn iter(&self) -> impl Iterator<Item = Range<u64>> + '_ {
        self.ranges.iter().map(|(&s, &e)| s..e)
    }

    /// The seeds of `self` that are not in `other`, as ranges in order.
    pub fn minus(&self, other: &SeedSet) -> Vec<Range<u64>> {
        let mut out = Vec::new();
        for r in self.iter() {
            let mut at = r.start;
            for o in other.iter() {
                if o.end <= at || o.start >= r.end {
                    continue;
                }
                if o.start > at {
                    out.push(at..o.start);
                }
                at = at.max(o.end);
            }
            if at < r.end {
                out.push(at..r.end);
            }
        }
        out
    }

    /// How many seeds.
    pub fn len(&self) -> u64 {
        self.iter().map(|r| r.end - r.start).sum()
    }

    /// Whether the set has no seed.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The ranges as `A..B, C..D` (`none` when empty).
    pub fn describe(&self) -> String {
        if self.is_empty() {
            return "none".into();
        }
        let parts: Vec<String> = self
            .iter()
            .map(|r| format!("{}..{}", r.start, r.end))
            .collect();
        parts.join(", ")
    }
}

/// One failing seed, described in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailingSeed {
    /// The seed.
    pub seed: u64,
    /// The simulation itself panicked (a bug in the simulator or the node): the message.
    pub crash: Option<String>,
    /// Broken invariants, by invariant.
    pub by_invariant: BTreeMap<String, u64>,
    /// The first violations, as text (at most [`DETAILS_KEPT`]).
    pub details: Vec<String>,
    /// The command that replays the seed.
    pub replay: String,
}

impl FailingSeed {
    /// Every violation of the seed.
    pub fn violations(&self) -> u64 {
        self.by_invariant.values().sum()
    }
}

/// Everything the seeds found, in a form where adding seeds in any order, in any number of
/// processes, gives the same value: counts, an order-free digest, and the lowest failing
/// seeds. Merged shards equal the unsharded run exactly in this part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Seeds run (crashed ones included).
    pub seeds: u64,
    /// Seeds that broke an invariant or crashed.
    pub failing: u64,
    /// Seeds whose simulation crashed.
    pub crashed: u64,
    /// Faults that took effect, by kind.
    pub faults: BTreeMap<String, u64>,
    /// Violations by invariant.
    pub violations: BTreeMap<String, u64>,
    /// Simulated time of every seed together, in nanoseconds.
    pub simulated_ns: u64,
    /// The wrapping sum of a hash of each seed with its trace digest, as 16 hex digits: the
    /// same seeds with the same traces give the same value in any order.
    pub digest: String,
    /// The lowest failing seeds, at most [`FAILURES_KEPT`], by seed.
    pub failures: Vec<FailingSeed>,
    /// Catch-up times against their bounds, for worlds that measure one (replication).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_up: Option<CatchUp>,
}

/// Catch-up after the heal, over the seeds that measured it: what `replisim merge` adds up
/// like the counts (every field is order-free).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatchUp {
    /// Seeds that caught up (a seed that did not is a violation of its own).
    pub seeds: u64,
    /// Sum of their catch-up times, in milliseconds (for the mean).
    pub total_ms: u64,
    /// The longest catch-up, in milliseconds, and its seed and bound (lowest seed on ties).
    pub max_ms: u64,
    /// The seed of the longest.
    pub max_seed: u64,
    /// The bound of that seed, in milliseconds.
    pub max_bound_ms: u64,
    /// The highest catch-up/bound ratio of any seed, in thousandths.
    pub worst_permille: u64,
}

impl CatchUp {
    /// One seed's catch-up and bound.
    pub fn of(seed: u64, took: std::time::Duration, bound: std::time::Duration) -> Self {
        let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let (took_ms, bound_ms) = (ms(took), ms(bound));
        Self {
            seeds: 1,
            total_ms: took_ms,
            max_ms: took_ms,
            max_seed: seed,
            max_bound_ms: bound_ms,
            worst_permille: took_ms.saturating_mul(1000) / bound_ms.max(1),
        }
    }

    /// Both together.
    pub fn combined(self, other: CatchUp) -> Self {
        let slower = (other.max_ms, std::cmp::Reverse(other.max_seed))
            > (self.max_ms, std::cmp::Reverse(self.max_seed));
        let max = if slower { other } else { self };
        Self {
            seeds: self.seeds + other.seeds,
            total_ms: self.total_ms.saturating_add(other.total_ms),
            max_ms: max.max_ms,
            max_seed: max.max_seed,
            max_bound_ms: max.max_bound_ms,
            worst_permille: self.worst_permille.max(other.worst_permille),
        }
    }

    /// The summary line.
    pub fn line(&self) -> String {
        format!(
            "catch-up after the heal: {} seeds, mean {:.1} s, max {:.1} s (seed {}, bound {:.1} s); at most {:.0}% of the bound",
            self.seeds,
            self.total_ms as f64 / self.seeds.max(1) as f64 / 1000.0,
            self.max_ms as f64 / 1000.0,
            self.max_seed,
            self.max_bound_ms as f64 / 1000.0,
            self.worst_permille as f64 / 10.0
        )
    }
}

impl Tally {
    fn digest_value(&self) -> u64 {
        u64::from_str_radix(&self.digest, 16).unwrap_or(0)
    }

    fn set_digest(&mut self, value: u64) {
        self.digest = format!("{value:016x}");
    }

    /// Counts one clean or failing seed in. `trace_digest` is the seed's own digest.
    pub fn add_seed(
        &mut self,
        seed: u64,
        trace_digest: &str,
        faults: &BTreeMap<String, u64>,
        failure: Option<FailingSeed>,
        simulated_ns: u64,
    ) {
        self.seeds += 1;
        for (k, n) in faults {
            *self.faults.entry(k.clone()).or_insert(0) += n;
        }
        self.simulated_ns = self.simulated_ns.saturating_add(simulated_ns);
        let one = fnv1a(format!("{seed}:{trace_digest}").as_bytes());
        self.set_digest(self.digest_value().wrapping_add(one));
        if let Some(f) = failure {
            self.failing += 1;
            if f.crash.is_some() {
                self.crashed += 1;
            }
            for (k, n) in &f.by_invariant {
                *self.violations.entry(k.clone()).or_insert(0) += n;
            }
            self.keep_failure(f);
        }
    }

    /// Counts one seed's catch-up in.
    pub fn add_catch_up(&mut self, one: CatchUp) {
        self.catch_up = Some(match self.catch_up {
            Some(c) => c.combined(one),
            None => one,
        });
    }

    fn keep_failure(&mut self, f: FailingSeed) {
        let at = self.failures.partition_point(|x| x.seed < f.seed);
        if at < FAILURES_KEPT {
            self.failures.insert(at, f);
            self.failures.truncate(FAILURES_KEPT);
        }
    }

    /// Adds another tally (of other seeds).
    pub fn absorb(&mut self, other: &Tally) {
        self.seeds += other.seeds;
        self.failing += other.failing;
        self.crashed += other.crashed;
        for (k, n) in &other.faults {
            *self.faults.entry(k.clone()).or_insert(0) += n;
        }
        for (k, n) in &other.violations {
            *self.violations.entry(k.clone()).or_insert(0) += n;
        }
        self.simulated_ns = self.simulated_ns.saturating_add(other.simulated_ns);
        self.set_digest(self.digest_value().wrapping_add(other.digest_value()));
        for f in &other.failures {
            self.keep_failure(f.clone());
        }
        if let Some(c) = other.catch_up {
            self.add_catch_up(c);
        }
    }
}

/// How long the runs that made a result took. Not part of what merged shards must equal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Wall seconds of every run together (shards and resumed parts add up).
    pub wall_secs: f64,
    /// The longest single run, in wall seconds.
    pub longest_run_secs: f64,
    /// Runs that made this result.
    pub runs: u64,
}

/// A sweep's result: which world and settings, which seeds it was asked for and finished,
/// what they found, and how long it took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepResult {
    /// [`FORMAT`].
    pub format: String,
    /// The world kind the seeds ran in (`scsp`, ...).
    pub world: String,
    /// The flags that, after `replisim sweep --seed N`, replay one seed: the settings every
    /// merged result must share.
    pub replay_args: String,
    /// Fault kinds in display order.
    pub fault_kinds: Vec<String>,
    /// Invariants in display order.
    pub invariants: Vec<String>,
    /// The `--seeds` range the command was given (the whole campaign).
    pub range: (u64, u64),
    /// The shard this file is, or none for a whole or merged run.
    pub shard: Option<Shard>,
    /// The seeds this result was asked to run.
    pub planned: SeedSet,
    /// The seeds finished so far (all of `planned` when complete).
    pub done: SeedSet,
    /// What the finished seeds found.
    pub tally: Tally,
    /// How long it took.
    pub timing: Timing,
}

impl SweepResult {
    /// An empty result for `planned` seeds.
    pub fn new(
        world: &str,
        replay_args: &str,
        fault_kinds: Vec<String>,
        invariants: Vec<String>,
        range: Range<u64>,
        shard: Option<Shard>,
    ) -> Self {
        let planned = SeedSet::from_range(shard.unwrap_or(Shard::WHOLE).seeds(&range));
        let mut tally = Tally::default();
        tally.set_digest(0);
        Self {
            format: FORMAT.into(),
            world: world.into(),
            replay_args: replay_args.into(),
            fault_kinds,
            invariants,
            range: (range.start, range.end),
            shard,
            planned,
            done: SeedSet::default(),
            tally,
            timing: Timing::default(),
        }
    }

    /// Seeds planned but not finished, in order.
    pub fn pending(&self) -> Vec<Range<u64>> {
        self.planned.minus(&self.done)
    }

    /// Whether every planned seed is finished.
    pub fn complete(&self) -> bool {
        self.pending().is_empty()
    }

    /// The JSON text of the file.
    pub fn to_json(&self) -> String {
        match serde_json::to_string_pretty(self) {
            Ok(s) => s + "\n",
            // Only maps with string keys and plain numbers: serialization cannot fail.
            Err(e) => format!("{{\"error\": \"{e}\"}}\n"),
        }
    }

    /// Parses a result file's text; `name` is used in errors.
    pub fn from_json(text: &str, name: &str) -> Result<Self, String> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("{name} is not a sweep result (not JSON: {e})"))?;
        match value.get("format").and_then(|f| f.as_str()) {
            Some(FORMAT) => {}
            Some(other) => {
                return Err(format!(
                    "{name} is a `{other}` file; this replisim reads `{FORMAT}`"
                ))
            }
            None => return Err(format!("{name} is not a sweep result (no `format`)")),
        }
        let result: SweepResult = serde_json::from_value(value)
            .map_err(|e| format!("{name} is not a valid sweep result: {e}"))?;
        if let Some(seed) = result.done.minus(&result.planned).first() {
            return Err(format!(
                "{name} lists seeds {}..{} as done but not planned",
                seed.start, seed.end
            ));
        }
        let digest = &result.tally.digest;
        if digest.len() != 16 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "{name} has a tally digest `{digest}`; it should be 16 hex digits"
            ));
        }
        if result.done.len() != result.tally.seeds {
            return Err(format!(
                "{name} counts {} seeds but lists {} as done",
                result.tally.seeds,
                result.done.len()
            ));
        }
        Ok(result)
    }

    /// Reads a result file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("could not read {}: {e}", path.display()))?;
        Self::from_json(&text, &path.display().to_string())
    }

    /// Writes the file whole or not at all (a temporary file renamed over it), so that a
    /// sweep killed while checkpointing leaves the previous checkpoint readable.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, self.to_json())
            .map_err(|e| format!("could not write {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("could not write {}: {e}", path.display()))
    }

    /// Whether `other` ran the same world with the same settings, so the two can be added;
    /// the error says what differs.
    pub fn same_settings(&self, other: &SweepResult) -> Result<(), String> {
        if self.world != other.world {
            return Err(format!("world `{}` against `{}`", self.world, other.world));
        }
        if self.replay_args != other.replay_args {
            return Err(format!(
                "settings `{}` against `{}`",
                self.replay_args.trim(),
                other.replay_args.trim()
            ));
        }
        if self.fault_kinds != other.fault_kinds || self.invariants != other.invariants {
            return Err("different fault kinds or invariants".into());
        }
        Ok(())
    }
}

/// Adds results of the same settings and disjoint seeds into one (`names` name them in
/// errors). Refuses mismatched settings and any seed planned twice.
pub fn merge(results: &[(String, SweepResult)]) -> Result<SweepResult, String> {
    let Some((first_name, first)) = results.first() else {
        return Err("give at least one result file to merge".into());
    };
    let mut merged = first.clone();
    merged.shard = if results.len() == 1 {
        first.shard
    } else {
        None
    };
    let mut owners: Vec<(&str, &SweepResult)> = vec![(first_name, first)];
    for (name, r) in &results[1..] {
        first.same_settings(r).map_err(|why| {
            format!("{name} does not match {first_name}: {why}; only runs of one campaign merge")
        })?;
        for (other_name, other) in &owners {
            if let Some(seeds) = other.planned.intersection(&r.planned) {
                return Err(format!(
                    "{other_name}{} and {name}{} both cover seeds {}..{}: give each shard once",
                    shard_note(other.shard),
                    shard_note(r.shard),
                    seeds.start,
                    seeds.end
                ));
            }
        }
        owners.push((name, r));
        merged.planned.extend(&r.planned);
        merged.done.extend(&r.done);
        merged.tally.absorb(&r.tally);
        merged.range = (merged.range.0.min(r.range.0), merged.range.1.max(r.range.1));
        merged.timing.wall_secs += r.timing.wall_secs;
        merged.timing.longest_run_secs = merged
            .timing
            .longest_run_secs
            .max(r.timing.longest_run_secs);
        merged.timing.runs += r.timing.runs;
    }
    Ok(merged)
}

fn shard_note(shard: Option<Shard>) -> String {
    shard.map(|s| format!(" (shard {s})")).unwrap_or_default()
}

/// The text report: each described failing seed with its violations and replay command,
/// then totals, then what is missing.
pub fn summary(result: &SweepResult) -> String {
    let mut out = String::new();
    let t = &result.tally;
    for f in &t.failures {
        match &f.crash {
            Some(message) => {
                let _ = writeln!(
                    out,
                    "CRASH seed {}: {}",
                    f.seed,
                    message.lines().next().unwrap_or("")
                );
            }
            None => {
                let _ = writeln!(out, "FAIL seed {} ({} violations)", f.seed, f.violations());
                for d in &f.details {
                    let _ = writeln!(out, "  {d}");
                }
                let more = f.violations().saturating_sub(f.details.len() as u64);
                if more > 0 {
                    let _ = writeln!(out, "  … and {more} more");
                }
            }
        }
        let _ = writeln!(out, "  replay: {}", f.replay);
    }
    if t.failing > t.failures.len() as u64 {
        let _ = writeln!(
            out,
            "… and {} more failing seeds (the lowest {FAILURES_KEPT} are listed)",
            t.failing - t.failures.len() as u64
        );
    }
    let wall = result.timing.wall_secs.max(1e-9);
    let simulated = t.simulated_ns as f64 / 1e9;
    let runs = if result.timing.runs > 1 {
        format!(" over {} runs", result.timing.runs)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "{} seeds in {:.2} s{runs} ({:.1} seeds/s, {:.0}× simulated/wall), {} failing",
        t.seeds,
        result.timing.wall_secs,
        t.seeds as f64 / wall,
        simulated / wall,
        t.failing
    );
    let _ = writeln!(
        out,
        "faults injected: {}",
        in_order(&result.fault_kinds, &t.faults, "none")
    );
    let mut violations = t.violations.clone();
    for i in &result.invariants {
        violations.entry(i.clone()).or_insert(0);
    }
    let _ = writeln!(
        out,
        "violations: {}",
        in_order(&result.invariants, &violations, "none")
    );
    if let Some(c) = &t.catch_up {
        let _ = writeln!(out, "{}", c.line());
    }
    let missing = result.pending();
    if !missing.is_empty() {
        let set = missing.iter().fold(SeedSet::default(), |mut s, r| {
            s.insert_range(r.clone());
            s
        });
        let _ = writeln!(
            out,
            "incomplete: {} of {} planned seeds not run ({})",
            set.len(),
            result.planned.len(),
            set.describe()
        );
    }
    out
}

/// `name count` pairs, the known names first in their order, then any others.
fn in_order(order: &[String], counts: &BTreeMap<String, u64>, empty: &str) -> String {
    let mut parts: Vec<String> = order
        .iter()
        .filter_map(|k| counts.get(k).map(|n| format!("{k} {n}")))
        .collect();
    parts.extend(
        counts
            .iter()
            .filter(|(k, _)| !order.contains(k))
            .map(|(k, n)| format!("{k} {n}")),
    );
    if parts.is_empty() {
        empty.to_string()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cut_a_range_into_consecutive_blocks_that_cover_it_once() {
        let range = 10..27;
        let mut all = SeedSet::default();
        let mut total = 0;
        for k in 0..5 {
            let s = Shard { index: k, count: 5 }.seeds(&range);
            assert!(all.overlap(&s).is_none(), "shard {k} overlaps: {s:?}");
            total += s.end - s.start;
            assert!((3..=4).contains(&(s.end - s.start)), "{s:?}");
            all.insert_range(s);
        }
        assert_eq!(total, 17);
        assert_eq!(all, SeedSet::from_range(10..27));
        assert_eq!(Shard::WHOLE.seeds(&range), range);
        // More shards than seeds: some are empty, none overlap.
        let tiny: u64 = (0..4)
            .map(|k| Shard { index: k, count: 4 }.seeds(&(0..2)))
            .map(|r| r.end - r.start)
            .sum();
        assert_eq!(tiny, 2);
    }

    #[test]
    fn shard_flags_parse_and_refuse_nonsense() {
        assert_eq!(Shard::parse("2/8"), Ok(Shard { index: 2, count: 8 }));
        for bad in ["8/8", "1/0", "x/2", "3", "-1/4"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seed_sets_join_touching_ranges_and_subtract() {
        let mut s = SeedSet::default();
        s.insert(5);
        s.insert(7);
        s.insert(6);
        s.insert_range(0..2);
        assert_eq!(s.describe(), "0..2, 5..8");
        assert!(s.contains(6) && !s.contains(2) && !s.contains(8));
        assert_eq!(s.len(), 5);
        assert_eq!(SeedSet::from_range(0..10).minus(&s), vec![2..5, 8..10]);
        let json = serde_json::to_string(&s).expect("serializes");
        assert_eq!(json, "[[0,2],[5,8]]");
        let back: SeedSet = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, s);
        assert!(serde_json::from_str::<SeedSet>("[[3,3]]").is_err());
        assert!(serde_json::from_str::<SeedSet>("[[0,4],[2,6]]").is_err());
    }

    fn failing(seed: u64) -> FailingSeed {
        FailingSeed {
            seed,
            crash: None,
            by_invariant: [("durability".to_string(), 2)].into_iter().collect(),
            details: vec!["lost".into()],
            replay: format!("replisim sweep --seed {seed}"),
        }
    }

    #[test]
    fn tallies_add_up_the_same_in_any_order_and_keep_the_lowest_failures() {
        let faults: BTreeMap<String, u64> = [("crash".to_string(), 1)].into_iter().collect();
        let mut whole = Tally::default();
        let (mut a, mut b) = (Tally::default(), Tally::default());
        for seed in 0..(FAILURES_KEPT as u64 * 3) {
            let f = (seed % 2 == 0).then(|| failing(seed));
            whole.add_seed(seed, "abc", &faults, f.clone(), 10);
            let part = if seed % 3 == 0 { &mut a } else { &mut b };
            part.add_seed(seed, "abc", &faults, f, 10);
        }
        b.absorb(&a);
        assert_eq!(b, whole);
        assert_eq!(whole.failures.len(), FAILURES_KEPT);
        assert_eq!(whole.failing, FAILURES_KEPT as u64 * 3 / 2);
        assert_eq!(whole.failures.last().map(|f| f.seed), Some(198));
        let mut other = Tally::default();
        other.add_seed(0, "abd", &faults, None, 10);
        let mut same = Tally::default();
        same.add_seed(0, "abc", &faults, None, 10);
        assert_ne!(other.digest, same.digest, "the digest sees the traces");
    }

    fn result(shard: Option<Shard>, args: &str) -> SweepResult {
        SweepResult::new(
            "scsp",
            args,
            vec!["crash".into()],
            vec!["durability".into()],
            0..10,
            shard,
        )
    }

    #[test]
    fn merge_refuses_overlaps_and_other_settings() {
        let a = result(Some(Shard { index: 0, count: 2 }), " --ops 200");
        let b = result(Some(Shard { index: 1, count: 2 }), " --ops 200");
        let merged = merge(&[("a".into(), a.clone()), ("b".into(), b.clone())]).expect("merges");
        assert_eq!(merged.planned, SeedSet::from_range(0..10));
        let twice = merge(&[("a".into(), a.clone()), ("a2".into(), a.clone())]).unwrap_err();
        assert!(twice.contains("both cover seeds 0..5"), "{twice}");
        let other = result(Some(Shard { index: 1, count: 2 }), " --ops 300");
        let err = merge(&[("a".into(), a), ("c".into(), other)]).unwrap_err();
        assert!(
            err.contains("c does not match a") && err.contains("--ops 300"),
            "{err}"
        );
        assert!(merge(&[]).is_err());
    }

    #[test]
    fn result_files_round_trip_and_bad_ones_are_refused() {
        let mut r = result(None, " --ops 200");
        r.done.insert(3);
        r.tally
            .add_seed(3, "abc", &BTreeMap::new(), Some(failing(3)), 5);
        let back = SweepResult::from_json(&r.to_json(), "r.json").expect("parses");
        assert_eq!(back, r);
        assert_eq!(back.pending(), vec![0..3, 4..10]);
        let err = SweepResult::from_json("{}", "x.json").unwrap_err();
        assert!(err.contains("no `format`"), "{err}");
        let err = SweepResult::from_json("nope", "x.json").unwrap_err();
        assert!(err.contains("not JSON"), "{err}");
        let wrong = r.to_json().replace("replisim-sweep/1", "replisim-sweep/9");
        assert!(SweepResult::from_json(&wrong, "x")
            .unwrap_err()
            .contains("sweep/9"));
        let bad_digest = r.to_json().replace(&r.tally.digest, "xyz");
        assert!(SweepResult::from_json(&bad_digest, "x")
            .unwrap_err()
            .contains("16 hex digits"));
        let mut lying = r.clone();
        lying.tally.seeds = 7;
        assert!(SweepResult::from_json(&lying.to_json(), "x")
            .unwrap_err()
            .contains("counts 7 seeds"));
    }
}
