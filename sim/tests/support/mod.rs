//! Steps shared by the simulator's integration tests.

// Each test binary compiles this module and uses a part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use replisim_sim::http::client::Answer;
use replisim_sim::http::pool::Pool;
use replisim_sim::scsp::cluster_key::ClusterKey;
use replisim_sim::scsp::config::ClusterConfig;
use replisim_sim::workload::send_following;

/// A cluster of one node keeping one replica, keyed from `label`: a node that a test runs on
/// a runtime of its own, outside any world, and feeds connections directly.
pub fn one_node_cluster(label: &str) -> ClusterConfig {
    let addr = SocketAddr::from(([127, 0, 0, 1], 1));
    let mut cluster = ClusterConfig::new(vec![addr]);
    cluster.key = ClusterKey::from_seed(1, label);
    cluster.policy_replicas = 1;
    cluster.default_sync_replicas = 1;
    cluster
}

/// How long one test request may take in virtual time before it counts as unanswered.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// Sends one request on a fresh pool, following a redirect as a client would.
pub async fn request(
    addr: SocketAddr,
    method: Method,
    target: &str,
    body: &[u8],
) -> Result<Answer, String> {
    send_following(
        &Pool::new(),
        addr,
        method,
        target,
        Bytes::copy_from_slice(body),
        TIMEOUT,
    )
    .await
}
