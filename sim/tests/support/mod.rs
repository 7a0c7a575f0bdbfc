//! Steps shared by the simulator's integration tests.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use replisim_sim::http::client::Answer;
use replisim_sim::http::pool::Pool;
use replisim_sim::workload::send_following;

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
