//! Stateful property testing of a simulated cluster against a reference model of SCSP.
//!
//! A [`Case`] is a madsim seed and a list of [`Step`]s: client operations (every object kind,
//! updates spaced by a [`Step::Wait`] or not, COPY with and without `preserve`, APPEND,
//! rename, DELETE, multipart uploads, reads from any node) interleaved with faults from the
//! world's own [`Fault`] vocabulary and [`Step::Settle`] (heal everything, wait for the
//! cluster to converge). Because the seed and the faults are part of one generated value,
//! a shrinker reduces operations and fault schedule together, and the seed survives it.
//!
//! [`run_case`] runs a case in a fresh simulated world and judges every answer against the
//! [`reference`](mod@reference) model: an in-memory map from each object to the set of states the
//! documents (and docs/choices.md where they are silent) allow it to be in. After the last
//! step every fault is healed, the cluster gets a bounded time to converge, the disks are
//! checked (`invariants::check_disks`) and every object is read once more. The first
//! disagreement is reported with the case printed as a scenario file ([`print`](mod@print)) that
//! replays it (`replisim run`).
//!
//! The proptest strategies that generate cases live with the tests
//! (`tests/prop_support/`), so this library does not depend on proptest.

pub mod print;
pub mod reference;
pub mod run;

use std::fmt;

use replisim_sim::faults::Fault;

pub use run::{regression, run_case, CaseReport, RunConfig, Violation};

/// The bucket every case writes into.
pub const BUCKET: &str = "pb";

/// How many names the named operations pick from: few, so operations collide.
pub const NAMES: u8 = 3;

/// Nodes in every case's cluster.
pub const NODES: usize = 4;

/// A generated test case: the madsim seed and the steps, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The simulation seed: part of the input so shrinking and replay keep it.
    pub seed: u64,
    /// Operations and faults, in the order they run.
    pub steps: Vec<Step>,
}

/// One transition of a case.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A client operation sent to `node` (following redirects from there).
    Op {
        /// The node the request starts at (taken modulo the cluster size).
        node: u8,
        /// What is asked.
        op: Op,
    },
    /// 1.1 s of simulated time: the next update of any object is spaced (SCSP-19).
    Wait,
    /// A fault (or repair) applied through `World::apply`.
    Fault(Fault),
    /// `World::heal_all`, then a wait for in-flight requests and for convergence.
    Settle,
}

/// Which object an operation addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Obj {
    /// `/pb/n<i>` (i taken modulo [`NAMES`]).
    Named(u8),
    /// The i-th alias object created so far (modulo how many exist); skipped if none.
    Alias(u8),
    /// The i-th immutable object created so far (modulo how many exist); skipped if none.
    Immutable(u8),
}

/// Custom metadata sent with a write: `X-Color-Meta` and `X-Shape-Meta`, each optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meta {
    /// `X-Color-Meta: c<n>` when set.
    pub color: Option<u8>,
    /// `X-Shape-Meta: s<n>` when set.
    pub shape: Option<u8>,
}

impl Meta {
    /// The headers this metadata sends, lower-case names, in name order.
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(c) = self.color {
            out.push((COLOR.to_string(), format!("c{c}")));
        }
        if let Some(s) = self.shape {
            out.push((SHAPE.to_string(), format!("s{s}")));
        }
        out
    }
}

/// The custom header names the cases use (persisted, SCSP-22/23).
pub const COLOR: &str = "x-color-meta";
/// See [`COLOR`].
pub const SHAPE: &str = "x-shape-meta";

/// The method a rename (`newname`, SCSP-28) is sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenameVia {
    /// `PUT ?newname=`: new content under the new name.
    Put,
    /// `COPY ?newname=`: the same content, new metadata, new name.
    Copy,
    /// `APPEND ?newname=`: content plus the body, under the new name.
    Append,
}

/// How a multipart completion's manifest is made (SCSP-31).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    /// Every part once, listed in reverse order (assembly is by ascending part number).
    Good,
    /// The first part listed twice: the completion must end in failure after its 202.
    Duplicate,
    /// One more part whose UUID was never uploaded: the completion must fail.
    MissingPart,
}

/// A client operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `POST /pb/n<name>`: create or overwrite a named object.
    Write {
        /// Name index.
        name: u8,
        /// Body variant (its length).
        body: u8,
        /// Custom metadata.
        meta: Meta,
    },
    /// `POST /`: an immutable unnamed object.
    WriteImmutable {
        /// Body variant.
        body: u8,
    },
    /// `POST /?alias`: an alias (mutable unnamed) object.
    WriteAlias {
        /// Body variant.
        body: u8,
        /// Custom metadata.
        meta: Meta,
    },
    /// `PUT`: new content (and metadata, merged with `preserve`).
    Put {
        /// Target.
        obj: Obj,
        /// Body variant.
        body: u8,
        /// Custom metadata.
        meta: Meta,
        /// Send `?preserve=yes`.
        preserve: bool,
    },
    /// `APPEND`: the body added to the end; metadata merged.
    Append {
        /// Target.
        obj: Obj,
        /// Body variant.
        body: u8,
        /// Custom metadata.
        meta: Meta,
    },
    /// `COPY`: new metadata, same content (all unlisted headers dropped unless `preserve`).
    Copy {
        /// Target.
        obj: Obj,
        /// Custom metadata.
        meta: Meta,
        /// Send `?preserve=yes`.
        preserve: bool,
    },
    /// `PUT|COPY|APPEND /pb/n<name>?newname=n<to>`.
    Rename {
        /// Source name index.
        name: u8,
        /// Added to the source index (plus one) to give a different destination.
        to: u8,
        /// The method.
        via: RenameVia,
        /// Body variant (PUT and APPEND).
        body: u8,
    },
    /// `DELETE`.
    Delete {
        /// Target.
        obj: Obj,
    },
    /// Initiate (`POST ?uploads`), upload `parts` parts, complete with `TE: trailers`.
    Multipart {
        /// `Some(name)` for `/pb/n<name>`, `None` for a new immutable object (`POST /?uploads`).
        name: Option<u8>,
        /// Number of parts (1..=3).
        parts: u8,
        /// How the manifest is made.
        manifest: ManifestKind,
    },
    /// `GET`, following redirects.
    Read {
        /// Target.
        obj: Obj,
    },
}

impl fmt::Display for Obj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Obj::Named(i) => write!(f, "/{BUCKET}/n{}", i % NAMES),
            Obj::Alias(i) => write!(f, "alias#{i}"),
            Obj::Immutable(i) => write!(f, "immutable#{i}"),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Wait => write!(f, "wait 1.1s"),
            Step::Settle => write!(f, "settle (heal all, converge)"),
            Step::Fault(fault) => write!(f, "fault {fault}"),
            Step::Op { node, op } => {
                let n = *node as usize % NODES;
                match op {
                    Op::Write { name, .. } => {
                        write!(f, "node{n}: POST /{BUCKET}/n{}", name % NAMES)
                    }
                    Op::WriteImmutable { .. } => write!(f, "node{n}: POST /"),
                    Op::WriteAlias { .. } => write!(f, "node{n}: POST /?alias"),
                    Op::Put { obj, preserve, .. } => {
                        write!(
                            f,
                            "node{n}: PUT {obj}{}",
                            if *preserve { "?preserve" } else { "" }
                        )
                    }
                    Op::Append { obj, .. } => write!(f, "node{n}: APPEND {obj}"),
                    Op::Copy { obj, preserve, .. } => {
                        write!(
                            f,
                            "node{n}: COPY {obj}{}",
                            if *preserve { "?preserve" } else { "" }
                        )
                    }
                    Op::Rename { name, to, via, .. } => write!(
                        f,
                        "node{n}: {via:?} /{BUCKET}/n{}?newname=n{}",
                        name % NAMES,
                        rename_target(*name, *to)
                    ),
                    Op::Delete { obj } => write!(f, "node{n}: DELETE {obj}"),
                    Op::Multipart {
                        name,
                        parts,
                        manifest,
                    } => match name {
                        Some(i) => write!(
                            f,
                            "node{n}: multipart /{BUCKET}/n{} ({parts} parts, {manifest:?})",
                            i % NAMES
                        ),
                        None => write!(f, "node{n}: multipart / ({parts} parts, {manifest:?})"),
                    },
                    Op::Read { obj } => write!(f, "node{n}: GET {obj}"),
                }
            }
        }
    }
}

/// The destination name index of a rename: always different from the source.
pub fn rename_target(name: u8, to: u8) -> u8 {
    let from = name % NAMES;
    (from + 1 + to % (NAMES - 1)) % NAMES
}
