//! The node-to-node protocol: bids, replica pushes and inventories, as HTTP requests under
//! `/_replisim/` (HTTP/1.1 bytes over real TCP, whole messages in the simulator:
//! `http::message`). It crosses the same (simulated or real) network as client traffic, so
//! a partition or a dead node shows up here exactly as it would in a real cluster.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{Method, StatusCode};

use crate::http::client::{Answer, ExchangeError};
use crate::http::pool::Pool;
use crate::scsp::object::{Kind, Record, Version};
use crate::scsp::query::{percent_encode, percent_encode_into};
use crate::scsp::records::encode_head;
use crate::scsp::wire;

/// Internal paths start with this prefix; clients never see it.
pub const INTERNAL_PREFIX: &str = "/_replisim/";

/// Largest internal response accepted (inventories of big nodes included).
const PEER_RESPONSE_BYTES_MAX: usize = 256 << 20;

/// What a node says about itself and one key when asked for a bid (SCSP-6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bid {
    /// The bidder's id.
    pub node: usize,
    /// Free bytes on its disk.
    pub free_bytes: u64,
    /// Its disk size.
    pub capacity_bytes: u64,
    /// Requests it is serving now.
    pub load: u32,
    /// Retiring nodes take no new content.
    pub retiring: bool,
    /// The version it holds of the key, if any.
    pub held: Option<Held>,
}

/// A version a node holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// What kind of record it is.
    pub kind: Kind,
    /// The version.
    pub version: Version,
    /// Whether that version is a deletion marker.
    pub deleted: bool,
    /// Hex MD5 of that version's content (its entity tag).
    pub md5_hex: String,
    /// Seconds since the epoch of that version's `Last-Modified`.
    pub modified_secs: u64,
}

/// One line of a node's inventory, for the health processor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryItem {
    /// Store key.
    pub key: String,
    /// Kind of record.
    pub kind: Kind,
    /// Newest version held.
    pub version: Version,
    /// Deletion marker or not.
    pub deleted: bool,
}

/// A node's answer to an inventory request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// The answering node.
    pub node: usize,
    /// Its free bytes.
    pub free_bytes: u64,
    /// Its disk size.
    pub capacity_bytes: u64,
    /// Whether it is retiring.
    pub retiring: bool,
    /// The disk generation this inventory reflects.
    pub generation: u64,
    /// True when `items` is everything the node holds; false when it is only what changed
    /// since the generation the asker named (then `gone` lists keys no longer held).
    pub full: bool,
    /// Everything it holds, or what changed.
    pub items: Vec<InventoryItem>,
    /// Keys removed since the named generation (deltas only).
    pub gone: Vec<String>,
}

/// Why a peer request failed. The caller treats the peer as unavailable for this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerError {
    /// Connect refused, reset or timed out, or the peer answered garbage.
    Unreachable(String),
    /// The peer answered with this status.
    Refused(u16),
}

impl std::fmt::Display for PeerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerError::Unreachable(why) => write!(f, "unreachable: {why}"),
            PeerError::Refused(code) => write!(f, "refused with {code}"),
        }
    }
}

/// Encodes a record for a replica push: a 4-byte big-endian header length, the JSON header,
/// then the raw content. The header is the bytes `serde_json` makes of the record, written
/// by the disk's own encoder (`records::encode_head`, held to serde's bytes by a test).
pub fn encode_record(record: &Record) -> Bytes {
    let head = encode_head(record);
    let mut out = BytesMut::with_capacity(4 + head.len() + record.content.len());
    out.put_u32(head.len() as u32);
    out.put_slice(&head);
    out.put_slice(&record.content);
    out.freeze()
}

/// Decodes what [`encode_record`] produced; `None` when the bytes are not such a record.
pub fn decode_record(mut bytes: Bytes) -> Option<Record> {
    if bytes.len() < 4 {
        return None;
    }
    let head_len = bytes.get_u32() as usize;
    if bytes.len() < head_len {
        return None;
    }
    let head = bytes.split_to(head_len);
    let mut record: Record = serde_json::from_slice(&head).ok()?;
    record.content = bytes;
    Some(record)
}

/// True for an MD5 digest as nodes write it: 32 hex digits.
pub fn is_md5_hex(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Checks a held version a peer or a handoff described: the stamping node is one of the
/// cluster's `nodes`, the digest is well formed.
pub fn check_held(held: &Held, nodes: usize) -> Result<(), String> {
    check_stamp(held.version, &held.md5_hex, nodes)
}

/// The checks every decoded version shares: stamped by one of the cluster's `nodes`, with a
/// well-formed digest.
fn check_stamp(version: Version, md5_hex: &str, nodes: usize) -> Result<(), String> {
    if version.node as usize >= nodes {
        return Err(format!(
            "version stamped by node {} of a {nodes}-node cluster",
            version.node
        ));
    }
    if !is_md5_hex(md5_hex) {
        return Err(format!("digest {md5_hex:?} is not 32 hex digits"));
    }
    Ok(())
}

/// Checks a bid that came from peer `from`: it names its sender, and what it holds is
/// well formed.
pub fn check_bid(bid: &Bid, from: usize, nodes: usize) -> Result<(), String> {
    if bid.node != from {
        return Err(format!(
            "node {from} sent a bid signed as node {}",
            bid.node
        ));
    }
    bid.held.as_ref().map_or(Ok(()), |h| check_held(h, nodes))
}

/// Checks an inventory that came from peer `from`: it names its sender, and every version in
/// it was stamped by a node of the cluster.
pub fn check_inventory(inventory: &Inventory, from: usize, nodes: usize) -> Result<(), String> {
    if inventory.node != from {
        return Err(format!(
            "node {from} sent an inventory of node {}",
            inventory.node
        ));
    }
    match inventory
        .items
        .iter()
        .find(|i| i.version.node as usize >= nodes)
    {
        Some(item) => Err(format!(
            "{} stamped by node {} of a {nodes}-node cluster",
            item.key, item.version.node
        )),
        None => Ok(()),
    }
}

/// Checks a pushed or fetched record: stamped by a node of the cluster, its digest well
/// formed, a key present. (Content is not compared with the digest here: a rotted copy is
/// the scrub's to find, SCSP-38.)
pub fn check_record(record: &Record, nodes: usize) -> Result<(), String> {
    if record.key.is_empty() || record.key.bytes().any(|b| b.is_ascii_control()) {
        return Err(format!(
            "key {:?} is empty or has control characters",
            record.key
        ));
    }
    check_stamp(record.version, &record.md5_hex, nodes)
}

/// `INTERNAL_PREFIX`, then `what`, then `key` percent-encoded: the target of a bid or a
/// fetch, written into one buffer (a `format!` of the encoded key cost two allocations
/// and the formatting machinery on every bid).
fn internal_target(what: &str, key: &str) -> String {
    let mut path =
        String::with_capacity(INTERNAL_PREFIX.len() + what.len() + key.len() + key.len() / 2);
    path.push_str(INTERNAL_PREFIX);
    path.push_str(what);
    percent_encode_into(&mut path, key);
    path
}

async fn exchange(
    pool: &Pool,
    addr: SocketAddr,
    method: Method,
    path_and_query: &str,
    body: Bytes,
    timeout: Duration,
) -> Result<(StatusCode, Bytes), PeerError> {
    let answer = pool
        .exchange(
            addr,
            method,
            path_and_query,
            body,
            timeout,
            PEER_RESPONSE_BYTES_MAX,
        )
        .await;
    status_and_body(answer)
}

/// A peer's answer as the node-to-node requests read it; any failure to get one makes the
/// peer unreachable.
fn status_and_body(
    answer: Result<Answer, ExchangeError>,
) -> Result<(StatusCode, Bytes), PeerError> {
    answer
        .map(|a| (a.status, a.body))
        .map_err(|e| PeerError::Unreachable(e.0))
}

/// Asks a peer for its bid on a key. Not bounded in time: the caller bounds a round of
/// bids, all asked at once, by one deadline (`cluster_view::gather_bids`).
pub async fn bid(pool: &Pool, addr: SocketAddr, key: &str) -> Result<Bid, PeerError> {
    let path = internal_target("bid?key=", key);
    let answer = pool
        .exchange_unbounded(
            addr,
            Method::GET,
            &path,
            Bytes::new(),
            PEER_RESPONSE_BYTES_MAX,
        )
        .await;
    let (status, body) = status_and_body(answer)?;
    if status != StatusCode::OK {
        return Err(PeerError::Refused(status.as_u16()));
    }
    std::str::from_utf8(&body)
        .ok()
        .and_then(wire::decode_bid)
        .ok_or_else(|| PeerError::Unreachable("bad bid".to_string()))
}

/// Pushes a replica to a peer; `Ok` once the peer has it synced (or holds something newer).
pub async fn push(
    pool: &Pool,
    addr: SocketAddr,
    record: &Record,
    timeout: Duration,
) -> Result<(), PeerError> {
    let path = format!("{INTERNAL_PREFIX}replica");
    let (status, _) = exchange(
        pool,
        addr,
        Method::PUT,
        &path,
        encode_record(record),
        timeout,
    )
    .await?;
    if status == StatusCode::OK {
        Ok(())
    } else {
        Err(PeerError::Refused(status.as_u16()))
    }
}

/// Asks a peer to drop exactly this version of a key (rollback of a failed write).
pub async fn discard(
    pool: &Pool,
    addr: SocketAddr,
    key: &str,
    version: Version,
    timeout: Duration,
) -> Result<(), PeerError> {
    let path = format!(
        "{INTERNAL_PREFIX}replica?key={}&stamp={}&node={}",
        percent_encode(key),
        version.stamp_ms,
        version.node
    );
    let (status, _) = exchange(pool, addr, Method::DELETE, &path, Bytes::new(), timeout).await?;
    if status == StatusCode::OK {
        Ok(())
    } else {
        Err(PeerError::Refused(status.as_u16()))
    }
}

/// Fetches a peer's copy of a record (`None` when it holds none).
pub async fn fetch(
    pool: &Pool,
    addr: SocketAddr,
    key: &str,
    timeout: Duration,
) -> Result<Option<Record>, PeerError> {
    let path = internal_target("replica?key=", key);
    let (status, body) = exchange(pool, addr, Method::GET, &path, Bytes::new(), timeout).await?;
    match status {
        StatusCode::OK => decode_record(body)
            .map(Some)
            .ok_or_else(|| PeerError::Unreachable("bad replica record".to_string())),
        StatusCode::NOT_FOUND => Ok(None),
        other => Err(PeerError::Refused(other.as_u16())),
    }
}

/// Fetches a peer's inventory: `None` when its disk generation is still `since`, what
/// changed after `since` when the peer can tell, everything otherwise.
pub async fn inventory(
    pool: &Pool,
    addr: SocketAddr,
    since: Option<u64>,
    timeout: Duration,
) -> Result<Option<Inventory>, PeerError> {
    let path = match since {
        Some(g) => format!("{INTERNAL_PREFIX}inventory?since={g}"),
        None => format!("{INTERNAL_PREFIX}inventory"),
    };
    let (status, body) = exchange(pool, addr, Method::GET, &path, Bytes::new(), timeout).await?;
    if status == StatusCode::NO_CONTENT {
        return Ok(None);
    }
    if status != StatusCode::OK {
        return Err(PeerError::Refused(status.as_u16()));
    }
    std::str::from_utf8(&body)
        .ok()
        .and_then(wire::decode_inventory)
        .map(Some)
        .ok_or_else(|| PeerError::Unreachable("bad inventory".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn internal_targets_are_the_prefix_then_the_encoded_key() {
        for key in ["", "n//b/x", "n/t/b/a name+%é"] {
            assert_eq!(
                internal_target("bid?key=", key),
                format!("{INTERNAL_PREFIX}bid?key={}", percent_encode(key))
            );
        }
    }

    #[test]
    fn records_round_trip_through_the_push_encoding() {
        let record = Record {
            key: "n//b/x".into(),
            kind: Kind::Named,
            version: Version {
                stamp_ms: 1_600_000_000_123,
                node: 2,
            },
            deleted: false,
            meta: BTreeMap::from([("x-color-meta".to_string(), "blue".to_string())]),
            md5_hex: "00".repeat(16),
            content: Bytes::from_static(b"\x00\x01binary\xff"),
        };
        assert_eq!(decode_record(encode_record(&record)), Some(record));
        assert_eq!(
            decode_record(Bytes::from_static(b"\x00\x00\x00\x09{}")),
            None
        );
        assert_eq!(decode_record(Bytes::from_static(b"ab")), None);
    }
}
