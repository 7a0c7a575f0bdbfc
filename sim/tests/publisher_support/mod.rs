//! What the publisher's simulator tests share: where the publisher host is and how a test
//! talks to it and to the SCSP cluster it watches.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use replisim_sim::http::client::{exchange, Answer};
use replisim_sim::http::pool::Pool;
use replisim_sim::workload::send_following;

/// How long one test request may take in virtual time.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The publisher host of the tests' worlds (the first host of the second cluster).
pub const PUBLISHER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 2, 1)), 80);

/// One request to the publisher, which must answer.
pub async fn call(method: Method, target: &str) -> Answer {
    exchange(
        PUBLISHER,
        method,
        target,
        &[],
        Bytes::new(),
        TIMEOUT,
        1 << 20,
    )
    .await
    .expect("publisher answers")
}

/// One SCSP request through the cluster (redirects followed), which must succeed; no pause
/// after it.
pub async fn scsp_now(
    addr: SocketAddr,
    method: Method,
    target: &str,
    body: &'static [u8],
) -> Answer {
    let answer = send_following(
        &Pool::new(),
        addr,
        method,
        target,
        Bytes::from_static(body),
        TIMEOUT,
    )
    .await
    .expect("cluster answers");
    assert!(answer.status.is_success(), "{target}: {}", answer.status);
    answer
}
