//! The world of several clusters: a topology built with the builder, the link faults of the
//! fault vocabulary (WAN and LAN partitions, one-way partitions, per-link latency and loss),
//! per-host clocks, host factories re-run on restart with the same disk, determinism.
//!
//! Link effects are observed with a small probe service plugged in through the factory seam
//! (`Probe`): a host answers `ping`, reports whether it can reach another host (`probe`),
//! and tells its name, incarnation and clock (`info`).

use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use replisim_sim::faults::Fault;
use replisim_sim::rt;
use replisim_sim::scsp;
use replisim_sim::store::{md5_hex, Disk, Entry};
use replisim_sim::world::host::{HostEnv, HostFactory, ServiceFuture};
use replisim_sim::world::{simulate, Link, World};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

mod support;
use support::request as send;

/// A service that answers one line with one line; see the module comment.
struct Probe;

fn entry(key: &str) -> Entry {
    Entry {
        key: key.to_string(),
        head: Bytes::new(),
        body: Bytes::from_static(b"boot"),
        digest: md5_hex(b"boot"),
        version: 1,
        removed: false,
    }
}

impl HostFactory for Probe {
    fn kind(&self) -> &'static str {
        "probe"
    }

    fn start(&self, env: HostEnv) -> ServiceFuture {
        Box::pin(async move {
            {
                // One durable record per start, one that never reaches the platter.
                let mut disk = Disk::lock(&env.disk);
                let _ = disk.write_synced(entry(&format!("boot-{}", env.incarnation)));
                let _ = disk.write(entry(&format!("scratch-{}", env.incarnation)));
            }
            let Ok(listener) = rt::listen(env.addr).await else {
                return;
            };
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let env = env.clone();
                rt::spawn(async move {
                    let (read, mut write) = tokio::io::split(stream);
                    let mut lines = BufReader::new(read).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let reply = match line.split_once(' ') {
                            Some(("probe", addr)) => match addr.parse() {
                                Ok(addr) => ask(addr, "ping").await,
                                Err(_) => "bad address".to_string(),
                            },
                            _ if line == "ping" => "pong".to_string(),
                            _ if line == "info" => {
                                format!("{} {} {}", env.name, env.incarnation, env.clock.now_ms())
                            }
                            _ => "unknown".to_string(),
                        };
                        if write
                            .write_all(format!("{reply}\n").as_bytes())
                            .await
                            .is_err()
                            || write.flush().await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Sends one line to a probe host and returns its answer, `refused` when the connection
/// could not be opened, or `timeout` when no answer came within a second. A `ping`
/// answered `pong` becomes `ok`.
async fn ask(addr: SocketAddr, line: &str) -> String {
    let stream = match rt::timeout(Duration::from_secs(1), rt::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(_)) => return "refused".to_string(),
        Err(_) => return "timeout".to_string(),
    };
    let (read, mut write) = tokio::io::split(stream);
    if write
        .write_all(format!("{line}\n").as_bytes())
        .await
        .and(write.flush().await)
        .is_err()
    {
        return "refused".to_string();
    }
    let mut lines = BufReader::new(read).lines();
    match rt::timeout(Duration::from_secs(1), lines.next_line()).await {
        Ok(Ok(Some(reply))) if reply == "pong" => "ok".to_string(),
        Ok(Ok(Some(reply))) => reply,
        Ok(_) => "closed".to_string(),
        Err(_) => "timeout".to_string(),
    }
}

/// `east` (3 probe hosts) and `west` (2 probe hosts) joined by a WAN link with 20..40 ms of
/// extra latency; client 0 on east's LAN, client 1 on west's.
fn probes() -> Arc<World> {
    Arc::new(
        World::builder()
            .cluster("east", 3, Probe)
            .cluster("west", 2, Probe)
            .wan("east", "west", Link::new().latency_ms(20, 40))
            .clients(2)
            .build()
            .expect("a valid topology"),
    )
}

/// Asks from client `k` and measures the virtual time it took.
async fn timed(
    world: &World,
    k: usize,
    addr: SocketAddr,
    line: &'static str,
) -> (String, Duration) {
    world
        .on_client_at(k, async move {
            let start = rt::now();
            let reply = ask(addr, line).await;
            (reply, rt::now() - start)
        })
        .await
}

/// Asks host `from` whether it reaches `to` both ways.
async fn probe(world: &World, from: SocketAddr, to: SocketAddr) -> String {
    let line = format!("probe {to}");
    world
        .on_client_at(0, async move { ask(from, &line).await })
        .await
}

#[test]
fn the_builder_lays_out_clusters_links_and_clients() {
    simulate(1, || async {
        let world = probes();
        assert_eq!(world.len(), 5);
        assert_eq!(world.client_count(), 2);
        assert_eq!(world.client_cluster(0), Some("east"));
        assert_eq!(world.client_cluster(1), Some("west"));
        assert_eq!(world.cluster_hosts("west"), Some(3..5));
        assert_eq!(
            world
                .cluster_addrs("west")
                .expect("west")
                .first()
                .map(|a| a.to_string()),
            Some("10.1.0.1:80".to_string())
        );
        assert_eq!(
            world.host(3).map(|(_, name)| name.to_string()),
            Some("west/node1".into())
        );
        let refused = World::builder()
            .cluster("east", 1, Probe)
            .wan("east", "nowhere", Link::new())
            .build();
        assert!(matches!(refused, Err(e) if e.contains("nowhere")));
        let twice = World::builder()
            .cluster("east", 1, Probe)
            .cluster("east", 1, Probe)
            .build();
        assert!(matches!(twice, Err(e) if e.contains("two clusters")));
        let unknown = world.apply(&Fault::PartitionWan {
            a: "east".into(),
            b: "mars".into(),
        });
        assert!(matches!(unknown, Err(e) if e.contains("mars") && e.contains("west")));
    });
}

#[test]
fn clusters_without_a_wan_link_cannot_reach_each_other() {
    simulate(2, || async {
        let world = World::builder()
            .cluster("east", 1, Probe)
            .cluster("west", 1, Probe)
            .client_in("east")
            .build()
            .expect("valid");
        rt::sleep(Duration::from_millis(10)).await;
        let addrs = world.addrs();
        assert_eq!(timed(&world, 0, addrs[0], "ping").await.0, "ok");
        assert_eq!(timed(&world, 0, addrs[1], "ping").await.0, "refused");
        world.apply(&Fault::Heal).expect("heal");
        assert_eq!(
            timed(&world, 0, addrs[1], "ping").await.0,
            "refused",
            "heal ends faults, not the topology"
        );
    });
}

#[test]
fn lan_and_wan_partitions_cut_different_links() {
    simulate(3, || async {
        let world = probes();
        rt::sleep(Duration::from_millis(10)).await;
        let a = world.addrs();
        let (east0, east1, west0) = (a[0], a[1], a[3]);
        assert_eq!(probe(&world, east0, east1).await, "ok");
        assert_eq!(probe(&world, east0, west0).await, "ok");

        world
            .apply(&Fault::PartitionLan {
                cluster: "east".into(),
                groups: vec![vec![0]],
            })
            .expect("lan partition");
        assert_eq!(
            probe(&world, east0, east1).await,
            "refused",
            "the LAN is cut"
        );
        assert_eq!(probe(&world, east0, west0).await, "ok", "the WAN is not");
        assert_eq!(
            timed(&world, 0, east0, "ping").await.0,
            "ok",
            "clients still reach it"
        );

        world.apply(&Fault::Heal).expect("heal");
        world
            .apply(&Fault::PartitionWan {
                a: "west".into(),
                b: "east".into(),
            })
            .expect("wan partition");
        assert_eq!(probe(&world, east0, east1).await, "ok", "the LAN works");
        assert_eq!(
            probe(&world, east0, west0).await,
            "refused",
            "the WAN is cut"
        );
        assert_eq!(
            timed(&world, 0, west0, "ping").await.0,
            "refused",
            "for clients too"
        );
        world.apply(&Fault::Heal).expect("heal");
        assert_eq!(probe(&world, east0, west0).await, "ok");
    });
}

#[test]
fn a_one_way_wan_partition_cuts_one_direction() {
    simulate(4, || async {
        let world = probes();
        rt::sleep(Duration::from_millis(10)).await;
        let a = world.addrs();
        world
            .apply(&Fault::PartitionWanOneWay {
                from: "east".into(),
                to: "west".into(),
            })
            .expect("one-way partition");
        // East cannot even open a connection westward ...
        assert_eq!(timed(&world, 0, a[3], "ping").await.0, "refused");
        // ... while west connects eastward, and the answer is what cannot come back.
        assert_eq!(timed(&world, 1, a[0], "ping").await.0, "timeout");
        assert_eq!(
            timed(&world, 1, a[4], "ping").await.0,
            "ok",
            "west's own LAN works"
        );
        world.apply(&Fault::Heal).expect("heal");
        assert_eq!(timed(&world, 1, a[0], "ping").await.0, "ok");
    });
}

#[test]
fn link_latency_slows_only_its_link() {
    simulate(5, || async {
        let world = probes();
        rt::sleep(Duration::from_millis(10)).await;
        let a = world.addrs();
        let (reply, lan) = timed(&world, 0, a[1], "ping").await;
        assert_eq!(reply, "ok");
        let (reply, wan) = timed(&world, 0, a[3], "ping").await;
        assert_eq!(reply, "ok");
        assert!(
            wan >= Duration::from_millis(40),
            "the built WAN latency: {wan:?}"
        );
        assert!(lan < Duration::from_millis(40), "the LAN has none: {lan:?}");

        world
            .apply(&Fault::LinkLatency {
                cluster: "east".into(),
                peer: Some("west".into()),
                min_ms: 300,
                max_ms: 300,
            })
            .expect("latency");
        let (reply, slow) = timed(&world, 0, a[3], "ping").await;
        assert_eq!(reply, "ok");
        assert!(
            slow >= Duration::from_millis(600),
            "300 ms each way: {slow:?}"
        );
        let (_, lan_after) = timed(&world, 0, a[1], "ping").await;
        assert!(
            lan_after < Duration::from_millis(40),
            "the LAN is untouched: {lan_after:?}"
        );

        world.heal_all();
        let (_, healed) = timed(&world, 0, a[3], "ping").await;
        assert!(
            healed < Duration::from_millis(300),
            "healing gives the link its built shape back: {healed:?}"
        );
        assert!(healed >= Duration::from_millis(40), "{healed:?}");
    });
}

#[test]
fn link_loss_delays_sends_on_its_link_only() {
    simulate(6, || async {
        let world = probes();
        rt::sleep(Duration::from_millis(10)).await;
        let a = world.addrs();
        world
            .apply(&Fault::LinkLoss {
                cluster: "east".into(),
                peer: None,
                permille: 500,
            })
            .expect("loss");
        let mut east_total = Duration::ZERO;
        let mut west_total = Duration::ZERO;
        for _ in 0..10 {
            let (reply, took) = timed(&world, 0, a[1], "ping").await;
            assert!(reply == "ok" || reply == "timeout", "{reply}");
            east_total += took;
            let (reply, took) = timed(&world, 1, a[4], "ping").await;
            assert_eq!(reply, "ok", "west's LAN loses nothing");
            west_total += took;
        }
        assert!(
            east_total >= Duration::from_millis(1000),
            "lost sends wait for their resend: {east_total:?}"
        );
        assert!(west_total < Duration::from_millis(400), "{west_total:?}");
        world
            .apply(&Fault::LinkLoss {
                cluster: "east".into(),
                peer: None,
                permille: 0,
            })
            .expect("repair");
        let (reply, took) = timed(&world, 0, a[1], "ping").await;
        assert_eq!(reply, "ok");
        assert!(took < Duration::from_millis(40), "{took:?}");
    });
}

#[test]
fn a_clock_jump_moves_one_host_clock() {
    simulate(7, || async {
        let world = probes();
        rt::sleep(Duration::from_millis(10)).await;
        let a = world.addrs();
        let clock_of = |reply: String| -> i64 {
            reply
                .rsplit(' ')
                .next()
                .and_then(|t| t.parse().ok())
                .expect("info ends with the clock")
        };
        world
            .apply(&Fault::Jump {
                node: 3,
                ms: 3_600_000,
            })
            .expect("jump");
        let west = clock_of(timed(&world, 1, a[3], "info").await.0);
        let west_other = clock_of(timed(&world, 1, a[4], "info").await.0);
        let ahead = west - west_other;
        assert!(
            (3_599_000..=3_601_000).contains(&ahead),
            "the service sees its own host's jump, its neighbour does not: {ahead}"
        );
        world
            .apply(&Fault::Jump {
                node: 3,
                ms: -3_600_000,
            })
            .expect("jump back");
        let back = clock_of(timed(&world, 1, a[3], "info").await.0)
            - clock_of(timed(&world, 1, a[4], "info").await.0);
        assert!(back.abs() < 1_000, "{back}");
    });
}

#[test]
fn restart_reruns_the_factory_with_the_same_disk() {
    simulate(8, || async {
        let world = probes();
        rt::sleep(Duration::from_millis(10)).await;
        let a = world.addrs();
        let keys = |w: &World| -> Vec<String> {
            Disk::lock(w.disk(4))
                .records()
                .map(|(k, _)| k.clone())
                .collect()
        };
        assert!(timed(&world, 1, a[4], "info")
            .await
            .0
            .starts_with("west/node2 0 "));
        world.apply(&Fault::Restart { node: 4 }).expect("reboot");
        rt::sleep(Duration::from_millis(10)).await;
        assert!(timed(&world, 1, a[4], "info")
            .await
            .0
            .starts_with("west/node2 1 "));
        assert_eq!(keys(&world), ["boot-0", "boot-1", "scratch-0", "scratch-1"]);

        world.apply(&Fault::Crash { node: 4 }).expect("crash");
        // boot-1's sync made scratch-0 durable too; scratch-1 was still pending.
        assert_eq!(
            keys(&world),
            ["boot-0", "boot-1", "scratch-0"],
            "the unsynced record is gone"
        );
        assert_eq!(timed(&world, 1, a[4], "ping").await.0, "refused");
        world.apply(&Fault::Restart { node: 4 }).expect("restart");
        rt::sleep(Duration::from_millis(10)).await;
        assert!(timed(&world, 1, a[4], "info")
            .await
            .0
            .starts_with("west/node2 2 "));
        assert_eq!(
            keys(&world),
            ["boot-0", "boot-1", "boot-2", "scratch-0", "scratch-2"]
        );
    });
}

/// Two SCSP clusters, `east` (4 nodes) and `west` (3), joined by a WAN link; one client on
/// each LAN.
fn two_scsp_clusters() -> Arc<World> {
    Arc::new(
        World::builder()
            .cluster("east", 4, scsp::node())
            .cluster("west", 3, scsp::node())
            .wan("east", "west", Link::new().latency_ms(20, 40))
            .clients(2)
            .build()
            .expect("a valid topology"),
    )
}

/// On client `k`: writes `/b/<name>` through the cluster's first node and reads it back
/// through its last; returns the two statuses.
async fn write_and_read(world: &World, k: usize, nodes: Vec<SocketAddr>, name: &str) -> (u16, u16) {
    let target = format!("/b/{name}");
    world
        .on_client_at(k, async move {
            let body = target.as_bytes().to_vec();
            let wrote = match send(nodes[0], Method::POST, &target, &body).await {
                Ok(a) => a.status.as_u16(),
                Err(_) => 0,
            };
            let read = match send(nodes[nodes.len() - 1], Method::GET, &target, b"").await {
                Ok(a) if a.body[..] == body[..] => a.status.as_u16(),
                Ok(a) => a.status.as_u16() + 1000,
                Err(_) => 0,
            };
            (wrote, read)
        })
        .await
}

async fn make_buckets(world: &World) -> (Vec<SocketAddr>, Vec<SocketAddr>) {
    let east = world.cluster_addrs("east").expect("east");
    let west = world.cluster_addrs("west").expect("west");
    rt::sleep(Duration::from_millis(10)).await;
    for (k, nodes) in [(0, east.clone()), (1, west.clone())] {
        let status = world
            .on_client_at(k, async move {
                send(nodes[0], Method::POST, "/b", b"")
                    .await
                    .map(|a| a.status.as_u16())
            })
            .await;
        assert_eq!(status, Ok(201), "bucket in cluster {k}");
    }
    (east, west)
}

#[test]
fn both_clusters_keep_serving_their_own_clients_through_a_wan_partition() {
    simulate(9, || async {
        let world = two_scsp_clusters();
        let (east, west) = make_buckets(&world).await;
        assert_eq!(
            write_and_read(&world, 0, east.clone(), "before").await,
            (201, 200)
        );
        assert_eq!(
            write_and_read(&world, 1, west.clone(), "before").await,
            (201, 200)
        );

        world
            .apply(&Fault::PartitionWan {
                a: "east".into(),
                b: "west".into(),
            })
            .expect("partition");
        assert_eq!(
            write_and_read(&world, 0, east.clone(), "during").await,
            (201, 200)
        );
        assert_eq!(
            write_and_read(&world, 1, west.clone(), "during").await,
            (201, 200)
        );
        let across = {
            let w = west.clone();
            world
                .on_client_at(
                    0,
                    async move { send(w[0], Method::GET, "/b/before", b"").await },
                )
                .await
        };
        assert!(
            across.is_err(),
            "east's client cannot reach west: {across:?}"
        );

        world.apply(&Fault::Heal).expect("heal");
        let across = {
            let w = west.clone();
            world
                .on_client_at(
                    0,
                    async move { send(w[0], Method::GET, "/b/during", b"").await },
                )
                .await
        };
        assert_eq!(across.map(|a| a.status.as_u16()), Ok(200), "healed");
        assert_eq!(
            world.replica_count("n//b/during"),
            4,
            "2 copies in each cluster"
        );
        let disks = world.cluster_disks("west");
        assert_eq!(scsp::records::replica_count(&disks, "n//b/during"), 2);
    });
}

/// A two-cluster run with writes on both sides and a WAN partition; returns its digest.
fn two_cluster_digest(seed: u64) -> String {
    simulate(seed, || async {
        let world = two_scsp_clusters();
        let (east, west) = make_buckets(&world).await;
        world
            .apply(&Fault::PartitionWan {
                a: "east".into(),
                b: "west".into(),
            })
            .expect("partition");
        for i in 0..3 {
            write_and_read(&world, 0, east.clone(), &format!("e{i}")).await;
            write_and_read(&world, 1, west.clone(), &format!("w{i}")).await;
        }
        world.heal_all();
        rt::sleep(Duration::from_secs(11)).await;
        let trace = world.trace();
        assert!(
            trace.render().contains("west/node1"),
            "hosts are named by cluster"
        );
        trace.digest()
    })
}

#[test]
fn a_two_cluster_world_replays_to_the_same_digest() {
    let a = two_cluster_digest(21);
    assert_eq!(a, two_cluster_digest(21));
    assert_ne!(a, two_cluster_digest(22));
}
