//! The scenario file as TOML shapes it, read through serde with `deny_unknown_fields`
//! everywhere so a misspelt key is an error with its location, never silently ignored.
//! Spans are kept on every value a later check may need to point at; `validate` turns these
//! raw shapes into a checked [`super::Scenario`].

use std::collections::BTreeMap;
use std::fmt;

use replisim_sim::faults::Fault;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

/// A whole scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub name: Spanned<String>,
    #[serde(default)]
    pub rules: Vec<Spanned<String>>,
    pub seeds: Option<Spanned<RawSeeds>>,
    #[serde(default)]
    pub cluster: RawClusterSection,
    #[serde(default)]
    pub wan: Vec<Spanned<RawWan>>,
    #[serde(default, rename = "step")]
    pub steps: Vec<Spanned<RawStep>>,
}

/// A whole number (node indices, counts, statuses); range checks happen in `validate`, so a
/// negative or huge value gets a message with its meaning instead of a bare type error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Int(pub i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a whole number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int, E> {
                Ok(Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
                Ok(Int(i64::try_from(v).unwrap_or(i64::MAX)))
            }
        }
        d.deserialize_i64(V)
    }
}

/// `seeds = "0..5"` or `seeds = 3`.
#[derive(Debug)]
pub(crate) enum RawSeeds {
    Range(String),
    One(u64),
}

impl<'de> Deserialize<'de> for RawSeeds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawSeeds;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a seed range such as \"0..5\" or a single seed such as 3")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawSeeds, E> {
                Ok(RawSeeds::One(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawSeeds, E> {
                u64::try_from(v)
                    .map(RawSeeds::One)
                    .map_err(|_| E::custom("a seed is a number ≥ 0"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSeeds, E> {
                Ok(RawSeeds::Range(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `[cluster]`: the topology of the simulated cluster.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCluster {
    pub nodes: Option<Spanned<Int>>,
    pub replicas: Option<Spanned<Int>>,
    pub disk: Option<Spanned<String>>,
    pub disks: Option<Vec<Spanned<String>>>,
    pub skew_ms: Option<Vec<Spanned<Int>>>,
    pub health_interval: Option<Spanned<String>>,
    #[serde(default)]
    pub defects: Vec<Spanned<String>>,
    /// What the hosts run: `scsp` (default) or `rucio` (scenario/rucio.rs).
    pub service: Option<Spanned<String>>,
}

/// `[cluster]` (one SCSP cluster, the usual case) or `[[cluster]]` tables (a world of named
/// clusters joined by `[[wan]]` links).
#[derive(Debug)]
pub(crate) enum RawClusterSection {
    One(Box<RawCluster>),
    Many(Vec<Spanned<RawNamedCluster>>),
}

impl Default for RawClusterSection {
    fn default() -> Self {
        RawClusterSection::One(Box::default())
    }
}

impl<'de> Deserialize<'de> for RawClusterSection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawClusterSection;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a [cluster] table or [[cluster]] tables")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawClusterSection, A::Error> {
                RawCluster::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|one| RawClusterSection::One(Box::new(one)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawClusterSection, A::Error> {
                Vec::<Spanned<RawNamedCluster>>::deserialize(de::value::SeqAccessDeserializer::new(
                    seq,
                ))
                .map(RawClusterSection::Many)
            }
        }
        d.deserialize_any(V)
    }
}

/// One `[[cluster]]` of a world of several: SCSP nodes (or one publisher or replicator
/// host) on their own LAN, with clients.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNamedCluster {
    pub name: Spanned<String>,
    pub nodes: Option<Spanned<Int>>,
    pub replicas: Option<Spanned<Int>>,
    pub clients: Option<Spanned<Int>>,
    pub publisher: Option<Spanned<RawPublisher>>,
    pub replicator: Option<Spanned<RawReplicator>>,
    /// A BlackPearl DS3 system (scenario/ds3.rs).
    pub ds3: Option<Spanned<RawDs3>>,
}

/// `ds3 = { defects = ["ds3-no-retry-after"] }`: the cluster's one host is a reference DS3
/// gateway.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDs3 {
    #[serde(default)]
    pub defects: Vec<Spanned<String>>,
}

/// `publisher = { watches = "a", rules = "channel Rep bucket=rep" }`: the cluster's one
/// host runs a DX Content Router publisher of another cluster.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPublisher {
    pub watches: Spanned<String>,
    pub rules: Option<Spanned<String>>,
}

/// `replicator = { publisher = "a-pub", from = "a", to = "b", channel = "Rep" }`: the
/// cluster's one host runs a replicator.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReplicator {
    pub publisher: Spanned<String>,
    pub from: Spanned<String>,
    pub to: Spanned<String>,
    pub channel: Option<Spanned<String>>,
    #[serde(default)]
    pub defects: Vec<Spanned<String>>,
}

/// One `[[wan]]` link: `between = ["east", "west"]`, optional extra latency and loss.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWan {
    pub between: Spanned<Vec<Spanned<String>>>,
    pub latency_ms: Option<Spanned<Vec<Spanned<Int>>>>,
    pub loss_permille: Option<Spanned<Int>>,
}

/// One `[[step]]`: exactly one action, plus what to expect and capture.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    pub note: Option<String>,
    pub send: Option<Spanned<RawSend>>,
    pub raw: Option<Spanned<RawRaw>>,
    pub sleep: Option<Spanned<String>>,
    pub wait_for: Option<Spanned<RawWaitFor>>,
    pub fault: Option<Spanned<Fault>>,
    pub retire: Option<Spanned<Int>>,
    pub unretire: Option<Spanned<Int>>,
    pub check: Option<Spanned<RawCondition>>,
    pub rucio_daemons: Option<Spanned<bool>>,
    pub expect: Option<Spanned<RawExpect>>,
    pub capture: Option<BTreeMap<Spanned<String>, Spanned<RawCapture>>>,
}

/// `send = { ... }`: an HTTP request through the strict client.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSend {
    pub node: Option<Spanned<Int>>,
    pub client: Option<Spanned<Int>>,
    pub url: Option<Spanned<String>>,
    pub method: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<Spanned<String>, Spanned<String>>,
    pub body: Option<Spanned<String>>,
    pub body_repeat: Option<Spanned<RawRepeat>>,
    #[serde(default)]
    pub expect_continue: bool,
    #[serde(default)]
    pub follow: bool,
    #[serde(default)]
    pub omit_host: bool,
    #[serde(default)]
    pub omit_content_length: bool,
    pub timeout: Option<Spanned<String>>,
    /// Sign the request DS3-style as this fixture user.
    pub sign: Option<Spanned<String>>,
}

/// `body_repeat = { pattern = "abc", bytes = 70000 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRepeat {
    pub pattern: Spanned<String>,
    pub bytes: Spanned<RawSize>,
}

/// A size as a plain number of bytes or a string with a unit.
#[derive(Debug)]
pub(crate) enum RawSize {
    Bytes(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for RawSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size in bytes such as 4096 or a string such as \"64KiB\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawSize, E> {
                Ok(RawSize::Bytes(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawSize, E> {
                Ok(RawSize::Bytes(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSize, E> {
                Ok(RawSize::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `raw = { node = 0, bytes = "GET / HTTP/1.0\r\n\r\n" }`: exact bytes on a fresh connection.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRaw {
    pub node: Option<Spanned<Int>>,
    pub bytes: Spanned<String>,
    #[serde(default)]
    pub head_only: bool,
    pub timeout: Option<Spanned<String>>,
}

/// `wait_for = { ..., timeout = "60s" }`: poll a condition or a request until it holds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWaitFor {
    pub replicas: Option<Spanned<RawReplicas>>,
    pub identical: Option<Spanned<String>>,
    pub converged: Option<Spanned<bool>>,
    pub send: Option<Spanned<RawSend>>,
    pub expect: Option<Spanned<RawExpect>>,
    pub timeout: Option<Spanned<String>>,
    pub every: Option<Spanned<String>>,
}

/// `check = { ... }`: a condition on the cluster's disks, judged now.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCondition {
    pub replicas: Option<Spanned<RawReplicas>>,
    pub identical: Option<Spanned<String>>,
    pub converged: Option<Spanned<bool>>,
}

/// `replicas = { path = "/b/x", at_least = 2 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReplicas {
    pub path: Spanned<String>,
    pub exactly: Option<Spanned<Int>>,
    pub at_least: Option<Spanned<Int>>,
    pub at_most: Option<Spanned<Int>>,
}

/// `expect = { status = 201, headers = { ... }, body = "..." }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpect {
    pub status: Option<Spanned<RawStatus>>,
    #[serde(default)]
    pub headers: BTreeMap<Spanned<String>, Spanned<RawMatch>>,
    #[serde(default)]
    pub trailers: BTreeMap<Spanned<String>, Spanned<RawMatch>>,
    pub body: Option<Spanned<String>>,
    pub body_contains: Option<Spanned<String>>,
    pub body_bytes: Option<Spanned<Int>>,
    pub error: Option<Spanned<RawMatch>>,
    pub informational: Option<Vec<Spanned<Int>>>,
    pub body_sent: Option<bool>,
    pub redirects: Option<Vec<Spanned<Int>>>,
    /// Values in an XML body, by path (scenario/ds3.rs).
    #[serde(default)]
    pub xml: BTreeMap<Spanned<String>, Spanned<RawMatch>>,
}

/// `status = 201` or `status = [201, 409]` (any of).
#[derive(Debug)]
pub(crate) enum RawStatus {
    One(i64),
    Any(Vec<i64>),
}

impl<'de> Deserialize<'de> for RawStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawStatus;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a status code such as 201 or a list of codes such as [201, 409]")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawStatus, E> {
                Ok(RawStatus::One(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawStatus, E> {
                Ok(RawStatus::One(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawStatus, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<i64>()? {
                    out.push(v);
                }
                Ok(RawStatus::Any(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A header, trailer or error expectation: `"exact"`, `"~regex"`, `true` (present) or
/// `false` (absent).
#[derive(Debug)]
pub(crate) enum RawMatch {
    Text(String),
    Present(bool),
}

impl<'de> Deserialize<'de> for RawMatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawMatch;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a string (exact value, or ~regex) or a boolean (true: present, false: absent)",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawMatch, E> {
                Ok(RawMatch::Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawMatch, E> {
                Ok(RawMatch::Present(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// What to save into a variable: a header name (`"Content-UUID"`) or a table naming the
/// source and an optional regex (`{ header = "Location", regex = "auth=(.*)" }`).
#[derive(Debug)]
pub(crate) enum RawCapture {
    Header(String),
    From(RawCaptureFrom),
}

/// The table form of a capture.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCaptureFrom {
    pub header: Option<String>,
    pub trailer: Option<String>,
    #[serde(default)]
    pub body: bool,
    /// A value in an XML body, by path.
    pub xml: Option<String>,
    pub regex: Option<String>,
}

impl<'de> Deserialize<'de> for RawCapture {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawCapture;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a header name such as \"Content-UUID\" or a table such as \
                     { header = \"Location\", regex = \"...\" }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawCapture, E> {
                Ok(RawCapture::Header(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawCapture, A::Error> {
                RawCaptureFrom::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawCapture::From)
            }
        }
        d.deserialize_any(V)
    }
}
