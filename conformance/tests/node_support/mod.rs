//! What the reference-node tests share (tests/alternatives.rs, contexts.rs, defects.rs): a
//! fresh simulated cluster per seed with given choices or defects, and a strict client
//! bound to its nodes.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use replisim_conformance::client::{Client, Limits, Request, Response, Session};
use replisim_sim::rt;
use replisim_sim::scsp::alternatives::Alternatives;
use replisim_sim::scsp::defects::Defect;
use replisim_sim::world::{simulate, World, WorldConfig};

/// A running simulated cluster and a client that talks to it.
pub struct Probe {
    /// The world (disks, clocks, retire switches).
    pub world: Arc<World>,
    /// The strict client.
    pub client: Client,
    /// Node addresses.
    pub nodes: Vec<SocketAddr>,
}

/// A 4-node world with these choices and defects.
pub fn config(alternatives: &str, defects: &[Defect]) -> WorldConfig {
    WorldConfig {
        alternatives: alternatives
            .parse::<Alternatives>()
            .unwrap_or_else(|e| panic!("choices `{alternatives}`: {e}")),
        defects: defects.iter().copied().collect::<BTreeSet<_>>(),
        ..WorldConfig::new(4)
    }
}

/// Runs `scenario` on the client node of a fresh world on `seed` and returns its result.
pub fn on_world<F, Fut, T>(config: WorldConfig, seed: u64, scenario: F) -> T
where
    F: FnOnce(Probe) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    simulate(seed, move || async move {
        let world = Arc::new(World::start(config));
        let probe = Probe {
            world: world.clone(),
            client: Client::new(Limits::default()),
            nodes: world.addrs(),
        };
        world
            .on_client(async move {
                probe.wait_until_serving().await;
                scenario(probe).await
            })
            .await
    })
}

/// Status, headers and the start of the body, for assertion messages.
pub fn show(r: &Response) -> String {
    let body: String = String::from_utf8_lossy(&r.body).chars().take(300).collect();
    format!("{} {} {:?} body={body:?}", r.status, r.reason, r.headers)
}

/// The body as text.
pub fn text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

impl Probe {
    /// Polls `GET /` on every node (bounded) until each serves: nodes bind asynchronously.
    pub async fn wait_until_serving(&self) {
        for addr in &self.nodes {
            for attempt in 0.. {
                let r = self
                    .client
                    .send(*addr, &addr.to_string(), &Request::new("GET", "/"))
                    .await;
                if matches!(r, Ok(ref r) if r.status == 200) {
                    break;
                }
                assert!(attempt < 200, "{addr} never served GET /: {r:?}");
                rt::sleep(Duration::from_millis(5)).await;
            }
        }
    }

    /// One exchange with node `i`, no redirects followed.
    pub async fn send(&self, i: usize, req: &Request) -> Response {
        let addr = self.nodes[i];
        self.client
            .send(addr, &addr.to_string(), req)
            .await
            .unwrap_or_else(|e| panic!("{} {} to node{}: {e}", req.method, req.target, i + 1))
    }

    /// The final answer to `req` through a session at node `i`, redirects followed.
    pub async fn follow(&self, i: usize, req: &Request) -> Response {
        Session::new(self.client.clone(), self.nodes[i])
            .request(req)
            .await
            .unwrap_or_else(|e| panic!("{} {} via node{}: {e}", req.method, req.target, i + 1))
            .response
    }

    /// POSTs `body` at `path` through node 0 (redirects followed) and requires `status`.
    pub async fn post(&self, path: &str, body: &'static [u8], status: u16) -> Response {
        let r = self
            .follow(
                0,
                &Request::new("POST", path).body(Bytes::from_static(body)),
            )
            .await;
        assert_eq!(r.status, status, "POST {path}: {}", show(&r));
        r
    }

    /// Creates a bucket in the default domain.
    pub async fn bucket(&self, name: &str) {
        self.post(&format!("/{name}"), b"", 201).await;
    }

    /// Waits until the next update of the same object is ordered after the last (SCSP-19).
    pub async fn next_second(&self) {
        rt::sleep(Duration::from_millis(1100)).await;
    }
}
