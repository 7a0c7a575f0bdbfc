//! Shared by the stateful property tests: the proptest strategies that generate cases
//! (operations and faults in one list, so shrinking reduces both together) and the knobs
//! that size them.
//!
//! Knobs (environment variables):
//! - `PROPTEST_CASES`: cases per property test (proptest's own; our default keeps CI fast).
//! - `REPLISIM_PROP_OPS`: the longest generated step list (default [`OPS_DEFAULT`]).

#![allow(dead_code)]

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use replisim_conformance::model::{
    Case, ManifestKind, Meta, Obj, Op, RenameVia, Step, NAMES, NODES,
};
use replisim_sim::faults::Fault;

/// Longest step list by default.
pub const OPS_DEFAULT: usize = 24;

/// What a generated case may contain.
#[derive(Debug, Clone)]
pub struct Gen {
    /// Longest step list.
    pub ops_max: usize,
    /// Relative weight of client operations.
    pub ops: u32,
    /// Relative weight of `Wait` (1.1 s).
    pub waits: u32,
    /// Relative weight of faults.
    pub faults: u32,
    /// Relative weight of `Settle`.
    pub settles: u32,
    /// Fault families generated: any of "crash", "partition", "clock", "disk", "loss".
    pub kinds: Vec<&'static str>,
}

impl Gen {
    /// Every operation and every fault family, with `REPLISIM_PROP_OPS` steps at most.
    pub fn all() -> Self {
        Gen {
            ops_max: ops_max(),
            ops: 16,
            waits: 4,
            faults: 3,
            settles: 1,
            kinds: vec!["crash", "partition", "clock", "disk", "loss"],
        }
    }

    /// Only client operations and waits (protocol defects need no faults).
    pub fn calm(ops_max: usize) -> Self {
        Gen {
            ops_max,
            faults: 0,
            settles: 0,
            kinds: Vec::new(),
            ..Gen::all()
        }
    }
}

/// `REPLISIM_PROP_OPS`, or [`OPS_DEFAULT`].
pub fn ops_max() -> usize {
    std::env::var("REPLISIM_PROP_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(OPS_DEFAULT)
}

/// The generator seed of CI runs: every run tries the same cases (plus the regression
/// file's) unless `PROPTEST_RNG_SEED` picks others.
pub const RNG_SEED_DEFAULT: u64 = 0x5C5B;

/// proptest's configuration with `cases` unless `PROPTEST_CASES` says otherwise, and a
/// fixed generator seed unless `PROPTEST_RNG_SEED` says otherwise.
pub fn config(cases: u32) -> Config {
    let mut c = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        c.rng_seed = RngSeed::Fixed(RNG_SEED_DEFAULT);
    }
    c
}

fn meta() -> impl Strategy<Value = Meta> {
    (proptest::option::of(0u8..3), proptest::option::of(0u8..3))
        .prop_map(|(color, shape)| Meta { color, shape })
}

fn obj() -> impl Strategy<Value = Obj> {
    prop_oneof![
        4 => (0..NAMES).prop_map(Obj::Named),
        1 => (0u8..4).prop_map(Obj::Alias),
        1 => (0u8..4).prop_map(Obj::Immutable),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let body = 0u8..4;
    prop_oneof![
        4 => obj().prop_map(|obj| Op::Read { obj }),
        5 => (0..NAMES, body.clone(), meta()).prop_map(|(name, body, meta)| Op::Write { name, body, meta }),
        1 => body.clone().prop_map(|body| Op::WriteImmutable { body }),
        1 => (body.clone(), meta()).prop_map(|(body, meta)| Op::WriteAlias { body, meta }),
        2 => (obj(), body.clone(), meta(), any::<bool>())
            .prop_map(|(obj, body, meta, preserve)| Op::Put { obj, body, meta, preserve }),
        2 => (obj(), body.clone(), meta()).prop_map(|(obj, body, meta)| Op::Append { obj, body, meta }),
        2 => (obj(), meta(), any::<bool>()).prop_map(|(obj, meta, preserve)| Op::Copy { obj, meta, preserve }),
        1 => (0..NAMES, 0u8..2, prop_oneof![Just(RenameVia::Put), Just(RenameVia::Copy), Just(RenameVia::Append)], body)
            .prop_map(|(name, to, via, body)| Op::Rename { name, to, via, body }),
        1 => obj().prop_map(|obj| Op::Delete { obj }),
        1 => (proptest::option::of(0..NAMES), 1u8..=3,
              prop_oneof![4 => Just(ManifestKind::Good), 1 => Just(ManifestKind::Duplicate), 1 => Just(ManifestKind::MissingPart)])
            .prop_map(|(name, parts, manifest)| Op::Multipart { name, parts, manifest }),
    ]
}

fn node() -> impl Strategy<Value = usize> {
    0..NODES
}

fn fault(kinds: &[&'static str]) -> BoxedStrategy<Fault> {
    let mut options: Vec<BoxedStrategy<Fault>> = Vec::new();
    for kind in kinds {
        let s: BoxedStrategy<Fault> = match *kind {
            "crash" => prop_oneof![
                node().prop_map(|node| Fault::Crash { node }),
                node().prop_map(|node| Fault::Restart { node }),
            ]
            .boxed(),
            "partition" => prop_oneof![
                (1u8..15).prop_map(|mask| Fault::Partition {
                    groups: vec![(0..NODES).filter(|i| mask & (1 << i) != 0).collect()],
                }),
                Just(Fault::Heal),
            ]
            .boxed(),
            "clock" => (node(), -3i64..=3)
                .prop_map(|(node, s)| Fault::Skew { node, ms: s * 1000 })
                .boxed(),
            "disk" => prop_oneof![
                node().prop_map(|node| Fault::DiskFull { node }),
                node().prop_map(|node| Fault::DiskFree { node }),
            ]
            .boxed(),
            "loss" => prop_oneof![Just(100u32), Just(250u32), Just(0u32)]
                .prop_map(|permille| Fault::Loss { permille })
                .boxed(),
            other => panic!("unknown fault family {other}"),
        };
        options.push(s);
    }
    proptest::strategy::Union::new(options).boxed()
}

/// One step, weighted as `gen` says.
pub fn step(gen: &Gen) -> BoxedStrategy<Step> {
    let mut options: Vec<(u32, BoxedStrategy<Step>)> = vec![
        (
            gen.ops,
            (0u8..NODES as u8, op())
                .prop_map(|(node, op)| Step::Op { node, op })
                .boxed(),
        ),
        (gen.waits, Just(Step::Wait).boxed()),
    ];
    if gen.faults > 0 && !gen.kinds.is_empty() {
        options.push((gen.faults, fault(&gen.kinds).prop_map(Step::Fault).boxed()));
    }
    if gen.settles > 0 {
        options.push((gen.settles, Just(Step::Settle).boxed()));
    }
    proptest::strategy::Union::new_weighted(options).boxed()
}

/// A whole case: a seed that never shrinks (so shrinking keeps the simulation's randomness
/// and replay has it), and 1..=`ops_max` steps.
pub fn case(gen: &Gen) -> impl Strategy<Value = Case> {
    (
        (0u64..1_000_000).no_shrink(),
        proptest::collection::vec(step(gen), 1..=gen.ops_max),
    )
        .prop_map(|(seed, steps)| Case { seed, steps })
}
