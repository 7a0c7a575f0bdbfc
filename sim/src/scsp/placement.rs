//! Placement: which node serves a request, decided from bids (SCSP-6).
//!
//! Swarm's bid formula is a trade secret; ours is documented and deterministic. A bid's cost
//! is the disk's used fraction in per-mille, plus 100 per request in flight, plus a seeded
//! tie-break below 100 derived from the cluster's placement seed, the key and the node. The
//! lowest cost wins. These functions are pure: the caller gathers the bids.

use crate::scsp::peer::{Bid, Held};
use crate::seeded::fnv1a;

/// The cost of one bid for one key (lower is better).
pub fn cost(bid: &Bid, key: &str, placement_seed: u64) -> u64 {
    let used = bid.capacity_bytes.saturating_sub(bid.free_bytes);
    let used_permille = used.saturating_mul(1000) / bid.capacity_bytes.max(1);
    let mut tie = placement_seed.to_be_bytes().to_vec();
    tie.extend_from_slice(key.as_bytes());
    tie.extend_from_slice(&(bid.node as u64).to_be_bytes());
    used_permille + 100 * u64::from(bid.load) + fnv1a(&tie) % 100
}

/// Nodes that can take `needed_bytes` of new content, best first. Retiring nodes never do.
pub fn rank_for_write(
    bids: &[Bid],
    key: &str,
    placement_seed: u64,
    needed_bytes: u64,
) -> Vec<usize> {
    let mut ranked: Vec<(u64, usize)> = bids
        .iter()
        .filter(|b| !b.retiring && b.free_bytes >= needed_bytes)
        .map(|b| (cost(b, key, placement_seed), b.node))
        .collect();
    ranked.sort();
    ranked.into_iter().map(|(_, node)| node).collect()
}

/// The newest version any bidder holds.
pub fn newest(bids: &[Bid]) -> Option<Held> {
    bids.iter()
        .filter_map(|b| b.held.clone())
        .max_by_key(|h| h.version)
}

/// Nodes holding exactly the newest version, best first.
pub fn rank_holders(bids: &[Bid], key: &str, placement_seed: u64) -> Vec<usize> {
    let Some(newest) = newest(bids) else {
        return Vec::new();
    };
    let mut ranked: Vec<(u64, usize)> = bids
        .iter()
        .filter(|b| b.held.as_ref().map(|h| h.version) == Some(newest.version))
        .map(|b| (cost(b, key, placement_seed), b.node))
        .collect();
    ranked.sort();
    ranked.into_iter().map(|(_, node)| node).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scsp::object::{Kind, Version};

    fn bid(node: usize, free: u64, load: u32) -> Bid {
        Bid {
            node,
            free_bytes: free,
            capacity_bytes: 1000,
            load,
            retiring: false,
            held: None,
        }
    }

    #[test]
    fn emptier_and_idler_nodes_win() {
        let bids = [bid(0, 100, 0), bid(1, 900, 0), bid(2, 900, 3)];
        assert_eq!(rank_for_write(&bids, "k", 7, 10), vec![1, 2, 0]);
    }

    #[test]
    fn retiring_and_full_nodes_take_no_writes() {
        let mut retiring = bid(0, 1000, 0);
        retiring.retiring = true;
        let bids = [retiring, bid(1, 5, 0), bid(2, 500, 0)];
        assert_eq!(rank_for_write(&bids, "k", 0, 10), vec![2]);
    }

    #[test]
    fn ranking_is_a_pure_function_of_seed_and_key() {
        let bids: Vec<Bid> = (0..4).map(|n| bid(n, 1000, 0)).collect();
        let a = rank_for_write(&bids, "k", 1, 0);
        assert_eq!(a, rank_for_write(&bids, "k", 1, 0));
        let spread: std::collections::BTreeSet<usize> = (0..50)
            .map(|i| rank_for_write(&bids, &format!("k{i}"), 1, 0)[0])
            .collect();
        assert!(spread.len() > 1, "tie-break must spread keys over nodes");
    }

    #[test]
    fn holders_of_the_newest_version_only() {
        let v = |ms| {
            Some(Held {
                kind: Kind::Named,
                version: Version {
                    stamp_ms: ms,
                    node: 0,
                },
                deleted: false,
                md5_hex: String::new(),
                modified_secs: 0,
            })
        };
        let mut bids: Vec<Bid> = (0..3).map(|n| bid(n, 1000, 0)).collect();
        bids[0].held = v(5);
        bids[1].held = v(9);
        bids[2].held = v(9);
        assert_eq!(newest(&bids).map(|h| h.version.stamp_ms), Some(9));
        let holders = rank_holders(&bids, "k", 0);
        assert_eq!(holders.len(), 2);
        assert!(!holders.contains(&0));
    }
}
