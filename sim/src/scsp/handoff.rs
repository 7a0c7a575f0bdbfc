//! The access node's bids, handed to the node it redirects a write to.
//!
//! A write that is redirected used to gather bids twice: once at the PAN to choose the
//! serving node, and again at the serving node to learn the current version and where to
//! replicate. The PAN now puts what it learned in the redirect's `Location` as a `handoff=`
//! argument, which the `auth=` token's MAC covers (so no client can forge one), and the
//! serving node uses it instead of asking every peer again, if it is fresh. Bids are two
//! thirds of all node-to-node traffic, so this is the largest saving in the simulator.
//!
//! Format (unreserved URL characters only):
//! `<issued_ms>_<candidate>.<candidate>…_<kind>.<stamp_ms>.<vnode>.<deleted>.<md5>.<modified>`
//! with `none` in place of the last part when no node holds the key.

use crate::scsp::peer::Held;
use crate::scsp::wire;

/// The query argument that carries a handoff.
pub const ARG: &str = "handoff";

/// How old a handoff may be, on the serving node's clock, before it is ignored and the
/// serving node gathers bids itself.
pub const FRESH_MS: u64 = 2_000;

/// What the PAN learned from its bids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handoff {
    /// When the PAN issued it (its clock, milliseconds).
    pub issued_ms: u64,
    /// Nodes that can take the write, best first (the serving node first).
    pub candidates: Vec<usize>,
    /// The newest version any node held.
    pub current: Option<Held>,
}

impl Handoff {
    /// The argument value.
    pub fn encode(&self) -> String {
        // `{issued_ms}_{candidates joined by .}_{current or none}`, written into one buffer.
        let mut out = String::with_capacity(24 + 4 * self.candidates.len() + 64);
        out.push_str(itoa::Buffer::new().format(self.issued_ms));
        out.push('_');
        for (i, candidate) in self.candidates.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            out.push_str(itoa::Buffer::new().format(*candidate));
        }
        out.push('_');
        match &self.current {
            None => out.push_str("none"),
            Some(h) => wire::push_held(&mut out, h, '.'),
        }
        out
    }

    /// Reads an argument value; `None` for anything malformed.
    pub fn decode(value: &str) -> Option<Handoff> {
        let mut parts = value.split('_');
        let issued_ms = parts.next()?.parse().ok()?;
        let candidates = parts
            .next()?
            .split('.')
            .map(|c| c.parse().ok())
            .collect::<Option<Vec<usize>>>()?;
        let current = match parts.next()? {
            "none" => None,
            held => {
                let mut f = held.split('.');
                let h = wire::decode_held(f.next()?, &mut f)?;
                if f.next().is_some() {
                    return None;
                }
                Some(h)
            }
        };
        if parts.next().is_some() || candidates.is_empty() {
            return None;
        }
        Some(Handoff {
            issued_ms,
            candidates,
            current,
        })
    }

    /// [`Handoff::decode`], then every index checked against a cluster of `nodes` nodes
    /// and the digest against its form; the error says what is wrong.
    pub fn decode_checked(value: &str, nodes: usize) -> Result<Handoff, String> {
        let h = Handoff::decode(value).ok_or_else(|| "not a handoff".to_string())?;
        if let Some(c) = h.candidates.iter().find(|&&c| c >= nodes) {
            return Err(format!("candidate node {c} of a {nodes}-node cluster"));
        }
        let mut seen = h.candidates.clone();
        seen.sort_unstable();
        seen.dedup();
        if seen.len() != h.candidates.len() {
            return Err("a candidate node appears twice".to_string());
        }
        if let Some(held) = &h.current {
            crate::scsp::peer::check_held(held, nodes)?;
        }
        Ok(h)
    }

    /// True when the handoff is recent enough to trust at `now_ms`.
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        now_ms.abs_diff(self.issued_ms) <= FRESH_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scsp::object::{Kind, Version};

    #[test]
    fn handoffs_round_trip_and_refuse_garbage() {
        let mut h = Handoff {
            issued_ms: 1_654_933_402_434,
            candidates: vec![2, 0, 3],
            current: None,
        };
        assert_eq!(h.encode(), "1654933402434_2.0.3_none");
        assert_eq!(Handoff::decode(&h.encode()), Some(h.clone()));
        h.current = Some(Held {
            kind: Kind::Named,
            version: Version {
                stamp_ms: 9,
                node: 1,
            },
            deleted: true,
            md5_hex: "d41d8cd98f00b204e9800998ecf8427e".into(),
            modified_secs: 0,
        });
        let encoded = h.encode();
        assert_eq!(
            encoded,
            format!(
                "1654933402434_2.0.3_{}",
                wire::encode_held(h.current.as_ref().expect("set above"), '.')
            )
        );
        assert!(encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._".contains(&b)));
        assert_eq!(Handoff::decode(&encoded), Some(h.clone()));
        for bad in [
            "",
            "x",
            "1__none",
            "1_a_none",
            "1_1_named.1",
            "1_1_none_extra",
            "1_1_odd.1.1.0.ab.0",
        ] {
            assert_eq!(Handoff::decode(bad), None, "{bad}");
        }
        assert_eq!(Handoff::decode_checked(&encoded, 4), Ok(h.clone()));
        let out_of_range = Handoff::decode_checked(&encoded, 3).unwrap_err();
        assert!(out_of_range.contains("candidate node 3"), "{out_of_range}");
        let twice = Handoff::decode_checked("1_2.2_none", 4).unwrap_err();
        assert!(twice.contains("twice"), "{twice}");
        let stamped =
            Handoff::decode_checked("1_0_named.9.7.0.d41d8cd98f00b204e9800998ecf8427e.0", 4)
                .unwrap_err();
        assert!(stamped.contains("node 7"), "{stamped}");
        let digest = Handoff::decode_checked("1_0_named.9.1.0.xyz.0", 4).unwrap_err();
        assert!(digest.contains("32 hex"), "{digest}");
        assert!(h.is_fresh(h.issued_ms + FRESH_MS));
        assert!(!h.is_fresh(h.issued_ms + FRESH_MS + 1));
    }
}
