//! The reference publisher over HTTP in the simulator: it watches a three-node SCSP cluster,
//! and a subscriber drives Start, Next and End with `syncToken`. A publisher crash loses no
//! event it registered.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use http::Method;
use replisim_sim::http::client::Answer;
use replisim_sim::publisher::host::{self, PublisherConfig};
use replisim_sim::rt;
use replisim_sim::store::Disk;
use replisim_sim::world::{simulate, World, WorldConfig};

mod publisher_support;
use publisher_support::{call, scsp_now, PUBLISHER};

fn text(a: &Answer) -> String {
    String::from_utf8_lossy(&a.body).into_owned()
}

/// Writes through the cluster, following redirects; returns the answer.
async fn scsp(addr: SocketAddr, method: Method, target: &str, body: &'static [u8]) -> Answer {
    let answer = scsp_now(addr, method, target, body).await;
    // Long enough for the publisher's next poll: every revision becomes an event.
    rt::sleep(Duration::from_secs(3)).await;
    answer
}

/// Starts an enumerator and reads it to the end, acknowledging every answer. Returns the
/// answers' bodies and object headers in order.
async fn read_all(query: &str) -> Vec<(String, String)> {
    let started = call(Method::POST, &format!("/PublishAll?{query}")).await;
    assert_eq!(started.status, 201, "{}", text(&started));
    let id = started
        .header("content-uuid")
        .expect("Content-UUID")
        .to_string();
    let mut token = started
        .header("content-sync-token")
        .expect("Content-Sync-Token")
        .to_string();
    let mut items = Vec::new();
    loop {
        let next = call(Method::GET, &format!("/{id}?syncToken={token}")).await;
        assert_eq!(next.status, 200, "{}", text(&next));
        token = next
            .header("content-sync-token")
            .expect("token")
            .to_string();
        let object = next
            .header("content-uuid")
            .or(next.header("content-name"))
            .unwrap_or("")
            .to_string();
        if next.body.is_empty() {
            break;
        }
        items.push((object, text(&next)));
    }
    let ended = call(Method::DELETE, &format!("/{id}")).await;
    assert_eq!(
        (ended.status.as_u16(), text(&ended).as_str()),
        (200, "Object Enumerator deleted")
    );
    let after = call(Method::GET, &format!("/{id}")).await;
    assert_eq!(after.status, 404, "an ended enumerator is gone");
    items
}

#[test]
fn start_next_end_over_http_and_a_publisher_crash_loses_nothing() {
    simulate(3, || async {
        let world = World::start(WorldConfig::new(3));
        let nodes = world.addrs();
        let disk = Disk::shared(1 << 26);
        let mut config = PublisherConfig::new(PUBLISHER, nodes.clone());
        config.cluster_key = Some(world.cluster().key.clone());
        let publisher_disk = disk.clone();
        let node = madsim::runtime::Handle::current()
            .create_node()
            .name("publisher")
            .ip(PUBLISHER.ip())
            .init(move || {
                let config = config.clone();
                let disk = publisher_disk.clone();
                async move {
                    let _ = host::run(config, disk).await;
                }
            })
            .build();
        let n0 = nodes[0];
        let (uuids, before) = world
            .on_client(async move {
                rt::sleep(Duration::from_millis(100)).await;
                let u1 = scsp(n0, Method::POST, "/", b"one").await;
                let u2 = scsp(n0, Method::POST, "/", b"two").await;
                let u3 = scsp(n0, Method::POST, "/?alias=yes", b"v1").await;
                let id = |a: &Answer| a.header("content-uuid").expect("uuid").to_string();
                let (u1, u2, u3) = (id(&u1), id(&u2), id(&u3));
                scsp(n0, Method::PUT, &format!("/{u3}"), b"v2").await;
                scsp(n0, Method::DELETE, &format!("/{u2}"), b"").await;
                scsp(n0, Method::POST, "/photos", b"").await;
                scsp(n0, Method::POST, "/photos/x.jpg", b"x").await;

                // Event: the last event per UUID with its code, named objects left out.
                let events: BTreeMap<String, String> = read_all("type=Event&maxItems=2")
                    .await
                    .into_iter()
                    .flat_map(|(_, body)| {
                        body.lines()
                            .map(|l| {
                                let (u, c) = l.split_once(',').expect("uuid,code");
                                (u.to_string(), c.to_string())
                            })
                            .collect::<Vec<_>>()
                    })
                    .collect();
                let expected: BTreeMap<String, String> = [
                    (u1.clone(), "2".to_string()),
                    (u2.clone(), "1".to_string()),
                    (u3.clone(), "4".to_string()),
                ]
                .into();
                assert_eq!(events, expected);

                // UUID: the deleted immutable is skipped, the alias repeats.
                let mut listed: Vec<String> = read_all("type=uuid")
                    .await
                    .iter()
                    .flat_map(|(_, b)| b.lines().map(str::to_string).collect::<Vec<_>>())
                    .collect();
                listed.sort();
                let mut want = vec![u1.clone(), u3.clone(), u3.clone()];
                want.sort();
                assert_eq!(listed, want);

                // Metadata: every event, one object per answer, with its headers.
                let metadata = read_all("").await;
                let objects: Vec<&str> = metadata.iter().map(|(o, _)| o.as_str()).collect();
                assert_eq!(objects, [&u1, &u2, &u3, &u3, &u2, "/photos/x.jpg"]);
                assert!(metadata
                    .iter()
                    .all(|(_, body)| body.starts_with("Castor-System-Version: ")));

                // Bad input is a clear 4xx.
                let (bad_type, no_channel, bad_method) = (
                    call(Method::POST, "/PublishAll?type=List").await,
                    call(Method::POST, "/Nope").await,
                    call(Method::PUT, "/PublishAll").await,
                );
                assert_eq!(bad_type.status, 400, "{}", text(&bad_type));
                assert!(text(&bad_type).contains("type 'List'"));
                assert_eq!(no_channel.status, 404);
                assert_eq!(bad_method.status, 405);
                ((u1, u2, u3), metadata)
            })
            .await;

        // A crash: the publisher comes back from its disk with every event.
        madsim::runtime::Handle::current().kill(node.id());
        madsim::runtime::Handle::current().restart(node.id());
        let after = world
            .on_client(async move {
                rt::sleep(Duration::from_secs(3)).await;
                read_all("").await
            })
            .await;
        assert_eq!(after, before, "{uuids:?}");
    });
}
