//! One test per fault kind, each showing the fault's effect on the reference cluster and
//! that healing ends it. Faults are applied through `World::apply`, as the nemesis and
//! scenario files do.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use replisim_sim::faults::Fault;
use replisim_sim::http::client::{exchange, Answer};
use replisim_sim::rt;
use replisim_sim::scsp::object::{md5_hex, Kind, Record, Version};
use replisim_sim::scsp::records::Objects;
use replisim_sim::store::Disk;
use replisim_sim::world::{simulate, World, WorldConfig};

mod support;
use support::{request, TIMEOUT};

async fn ok(addr: SocketAddr, method: Method, target: &str, body: &[u8]) -> Answer {
    request(addr, method, target, body)
        .await
        .expect("an answer")
}

/// A 4-node world with a bucket `b`, ready for requests.
async fn world_with_bucket() -> (std::sync::Arc<World>, Vec<SocketAddr>) {
    let world = std::sync::Arc::new(World::start(WorldConfig::new(4)));
    let addrs = world.addrs();
    let a = addrs.clone();
    world
        .on_client(async move {
            rt::sleep(Duration::from_millis(10)).await;
            assert_eq!(ok(a[0], Method::POST, "/b", b"").await.status, 201);
        })
        .await;
    (world, addrs)
}

fn holders(world: &World, key: &str) -> Vec<usize> {
    (0..world.len())
        .filter(|i| {
            Disk::lock(world.disk(*i))
                .get(key)
                .is_some_and(|r| !r.removed)
        })
        .collect()
}

#[test]
fn crash_loses_exactly_the_unsynced_records() {
    simulate(31, || async {
        let (world, addrs) = world_with_bucket().await;
        let a = addrs.clone();
        world
            .on_client(async move {
                assert_eq!(
                    ok(a[0], Method::POST, "/b/kept", b"synced").await.status,
                    201
                )
            })
            .await;
        let holder = holders(&world, "n//b/kept")[0];
        // An in-flight write: on the disk but not yet synced.
        let pending = Record {
            key: "n//b/in-flight".into(),
            kind: Kind::Named,
            version: Version {
                stamp_ms: 1,
                node: holder as u32,
            },
            deleted: false,
            meta: Default::default(),
            md5_hex: md5_hex(b"x"),
            content: Bytes::from_static(b"x"),
        };
        Objects::lock(world.disk(holder))
            .write(&pending)
            .expect("room");
        let done = world
            .apply(&Fault::Crash { node: holder })
            .expect("applied");
        assert!(done.ends_with("1 unsynced records lost"), "{done}");
        assert!(Disk::lock(world.disk(holder))
            .get("n//b/in-flight")
            .is_none());
        assert!(Disk::lock(world.disk(holder)).get("n//b/kept").is_some());
        world
            .apply(&Fault::Restart { node: holder })
            .expect("applied");
        let a = addrs.clone();
        let read = world
            .on_client(async move {
                rt::sleep(Duration::from_millis(10)).await;
                ok(a[holder], Method::GET, "/b/kept", b"").await
            })
            .await;
        assert_eq!(read.status, 200);
        assert_eq!(&read.body[..], b"synced");
        assert!(
            world.trace().render().contains("crash node"),
            "the fault is in the trace"
        );
    });
}

#[test]
fn a_paused_node_stops_answering_and_the_rest_carry_on() {
    simulate(32, || async {
        let (world, addrs) = world_with_bucket().await;
        world.apply(&Fault::Pause { node: 3 }).expect("applied");
        let a = addrs.clone();
        let (to_paused, write) = world
            .on_client(async move {
                let to_paused = exchange(
                    a[3],
                    Method::GET,
                    "/",
                    &[],
                    Bytes::new(),
                    Duration::from_secs(1),
                    1 << 20,
                )
                .await;
                let write = ok(a[0], Method::POST, "/b/while-paused", b"v").await;
                (to_paused, write)
            })
            .await;
        assert!(
            to_paused.is_err(),
            "a paused node must not answer: {to_paused:?}"
        );
        assert_eq!(write.status, 201, "three live nodes still take writes");
        assert!(!holders(&world, "n//b/while-paused").contains(&3));
        world.apply(&Fault::Resume { node: 3 }).expect("applied");
        let a = addrs.clone();
        let status = world
            .on_client(async move { ok(a[3], Method::GET, "/", b"").await.status })
            .await;
        assert_eq!(status, 200);
    });
}

#[test]
fn partitions_make_writes_fail_or_stay_on_their_side_until_healed() {
    simulate(33, || async {
        let (world, addrs) = world_with_bucket().await;
        // An isolated node cannot find a second node to write to: 412 (SCSP-7).
        world.apply(&Fault::Isolate { node: 0 }).expect("applied");
        let a = addrs.clone();
        let alone = world
            .on_client(async move { ok(a[0], Method::POST, "/b/alone", b"v").await })
            .await;
        assert_eq!(alone.status, 412);
        world.apply(&Fault::Heal).expect("applied");

        // Two halves: a write on one side lands there; the other side cannot see it.
        world
            .apply(&Fault::Partition {
                groups: vec![vec![0, 1]],
            })
            .expect("applied");
        let a = addrs.clone();
        let (write, far_read) = world
            .on_client(async move {
                let write = ok(a[0], Method::POST, "/b/split", b"left").await;
                let far_read = ok(a[2], Method::GET, "/b/split", b"").await;
                (write, far_read)
            })
            .await;
        assert_eq!(write.status, 201);
        assert_eq!(write.header("replica-count"), Some("2"));
        let mut sides = holders(&world, "n//b/split");
        sides.sort();
        assert_eq!(sides, vec![0, 1], "replicas stay on the writer's side");
        assert_eq!(
            far_read.status, 404,
            "SCSP-39: the other side legitimately says 404"
        );
        world.apply(&Fault::Heal).expect("applied");
        let a = addrs.clone();
        let healed = world
            .on_client(async move { ok(a[2], Method::GET, "/b/split", b"").await })
            .await;
        assert_eq!(healed.status, 200);
        assert_eq!(&healed.body[..], b"left");
    });
}

/// How many of `tries` status requests to `addr` get no answer.
async fn failed_connects(world: &World, addr: SocketAddr, tries: usize) -> usize {
    world
        .on_client(async move {
            let mut failed = 0;
            for _ in 0..tries {
                let answer =
                    exchange(addr, Method::GET, "/", &[], Bytes::new(), TIMEOUT, 1 << 20).await;
                failed += usize::from(answer.is_err());
            }
            failed
        })
        .await
}

#[test]
fn packet_loss_refuses_connections_until_it_ends() {
    simulate(34, || async {
        let (world, addrs) = world_with_bucket().await;
        world
            .apply(&Fault::Loss { permille: 500 })
            .expect("applied");
        let failed_lossy = failed_connects(&world, addrs[1], 40).await;
        assert!(
            failed_lossy > 5,
            "50% loss refused only {failed_lossy} of 40 connects"
        );
        world.apply(&Fault::Loss { permille: 0 }).expect("applied");
        let failed_clean = failed_connects(&world, addrs[1], 40).await;
        assert_eq!(failed_clean, 0);
    });
}

#[test]
fn latency_slows_every_exchange_in_simulated_time() {
    simulate(35, || async {
        let (world, addrs) = world_with_bucket().await;
        let a = addrs.clone();
        let fast = world
            .on_client(async move {
                let t = rt::now();
                ok(a[0], Method::POST, "/b/fast", b"v").await;
                t.elapsed()
            })
            .await;
        world
            .apply(&Fault::Latency {
                min_ms: 200,
                max_ms: 300,
            })
            .expect("applied");
        let a = addrs.clone();
        let slow = world
            .on_client(async move {
                let t = rt::now();
                ok(a[0], Method::POST, "/b/slow", b"v").await;
                t.elapsed()
            })
            .await;
        assert!(fast < Duration::from_millis(200), "{fast:?}");
        assert!(slow > Duration::from_millis(400), "{slow:?}");
    });
}

#[test]
fn clock_skew_decides_which_version_wins() {
    simulate(36, || async {
        let (world, addrs) = world_with_bucket().await;
        for i in 0..4 {
            world
                .apply(&Fault::Skew { node: i, ms: 5_000 })
                .expect("applied");
        }
        let a = addrs.clone();
        let first = world
            .on_client(async move { ok(a[0], Method::POST, "/b/clock", b"from the future").await })
            .await;
        assert_eq!(first.status, 201);
        for i in 0..4 {
            world
                .apply(&Fault::Skew { node: i, ms: 0 })
                .expect("applied");
        }
        let a = addrs.clone();
        let (second, read) = world
            .on_client(async move {
                rt::sleep(Duration::from_secs(2)).await;
                let second = ok(a[1], Method::POST, "/b/clock", b"later but older").await;
                (second, ok(a[2], Method::GET, "/b/clock", b"").await)
            })
            .await;
        assert_eq!(
            second.status, 409,
            "a write stamped before the stored version loses"
        );
        assert_eq!(&read.body[..], b"from the future");
    });
}

#[test]
fn full_disks_answer_507_until_freed() {
    simulate(37, || async {
        let (world, addrs) = world_with_bucket().await;
        for i in 0..4 {
            world.apply(&Fault::DiskFull { node: i }).expect("applied");
        }
        let a = addrs.clone();
        let full = world
            .on_client(async move { ok(a[0], Method::POST, "/b/big", b"no room").await })
            .await;
        assert_eq!(full.status, 507, "SCSP-15");
        for i in 0..4 {
            world.apply(&Fault::DiskFree { node: i }).expect("applied");
        }
        let a = addrs.clone();
        let freed = world
            .on_client(async move { ok(a[0], Method::POST, "/b/big", b"room").await })
            .await;
        assert_eq!(freed.status, 201);
    });
}

#[test]
fn bit_rot_is_caught_by_validate_and_repaired_by_the_health_processor() {
    simulate(38, || async {
        let (world, addrs) = world_with_bucket().await;
        let a = addrs.clone();
        world
            .on_client(async move {
                assert_eq!(
                    ok(a[0], Method::POST, "/b/rot", b"precious bytes")
                        .await
                        .status,
                    201
                )
            })
            .await;
        let key = "n//b/rot";
        let victim = holders(&world, key)[0];
        world
            .apply(&Fault::BitRot {
                node: victim,
                key: Some(key.into()),
            })
            .expect("applied");
        let a = addrs.clone();
        let (plain, validated) = world
            .on_client(async move {
                let plain = ok(a[victim], Method::GET, "/b/rot", b"").await;
                let validated = request(a[victim], Method::GET, "/b/rot?validate=yes", b"").await;
                (plain, validated)
            })
            .await;
        assert_eq!(plain.status, 200);
        assert_ne!(
            &plain.body[..],
            b"precious bytes",
            "without validate the rotten bytes are served"
        );
        assert!(
            validated.is_err(),
            "SCSP-38: validate=yes drops the connection: {validated:?}"
        );
        // The health processor scrubs, drops the rotten copy and re-replicates a good one.
        let good = |w: &World| {
            (0..w.len())
                .filter(|i| Disk::lock(w.disk(*i)).get(key).is_some_and(|r| r.intact()))
                .count()
        };
        let mut waited = Duration::ZERO;
        while good(&world) < 2 || holders(&world, key).len() != good(&world) {
            assert!(waited < Duration::from_secs(300), "no repair within 300 s");
            rt::sleep(Duration::from_secs(1)).await;
            waited += Duration::from_secs(1);
        }
        let a = addrs.clone();
        let repaired = world
            .on_client(async move { ok(a[victim], Method::GET, "/b/rot?validate=yes", b"").await })
            .await;
        assert_eq!(&repaired.body[..], b"precious bytes");
    });
}

#[test]
fn a_lost_node_is_replaced_empty_and_replicas_are_rebuilt() {
    simulate(39, || async {
        let (world, addrs) = world_with_bucket().await;
        let a = addrs.clone();
        world
            .on_client(async move {
                assert_eq!(
                    ok(a[0], Method::POST, "/b/survivor", b"v").await.status,
                    201
                )
            })
            .await;
        let key = "n//b/survivor";
        let lost = holders(&world, key)[0];
        let done = world
            .apply(&Fault::Lose { node: lost })
            .expect("another copy exists");
        assert!(done.contains("replaced by an empty node"), "{done}");
        assert!(Disk::lock(world.disk(lost)).get(key).is_none());
        let mut waited = Duration::ZERO;
        while holders(&world, key).len() < 2 {
            assert!(
                waited < Duration::from_secs(120),
                "not rebuilt within 120 s"
            );
            rt::sleep(Duration::from_secs(1)).await;
            waited += Duration::from_secs(1);
        }
        // Losing a node that holds the only copy is refused: the nemesis never destroys data.
        let only = holders(&world, key);
        world
            .apply(&Fault::Lose { node: only[0] })
            .expect("a second copy still exists");
        let last = holders(&world, key);
        assert_eq!(last.len(), 1);
        let refused = world.apply(&Fault::Lose { node: last[0] });
        assert!(refused.unwrap_err().contains("only good copy"));
    });
}

#[test]
fn scripted_faults_fire_at_their_absolute_and_relative_times() {
    use replisim_sim::nemesis::{run, run_absolute, Scheduled};
    simulate(40, || async {
        let world = World::start(WorldConfig::new(3));
        rt::sleep(Duration::from_secs(2)).await;
        let absolute = [Scheduled {
            at: Duration::from_secs(5),
            fault: Fault::Pause { node: 1 },
        }];
        run_absolute(&world, &absolute).await;
        let since_start = rt::now().saturating_duration_since(world.started());
        assert!(
            since_start >= Duration::from_secs(5) && since_start < Duration::from_secs(6),
            "{since_start:?}"
        );
        let before = rt::now();
        let relative = [Scheduled {
            at: Duration::from_secs(5),
            fault: Fault::Resume { node: 1 },
        }];
        let applied = run(&world, &relative).await;
        assert_eq!(applied, vec![Fault::Resume { node: 1 }]);
        let waited = rt::now().saturating_duration_since(before);
        assert!(
            waited >= Duration::from_secs(5) && waited < Duration::from_secs(6),
            "{waited:?}"
        );
        let trace = world.trace().render();
        assert!(
            trace.contains("pause node2") && trace.contains("resume node2"),
            "{trace}"
        );
    });
}

#[test]
fn restarting_a_running_node_reboots_it() {
    simulate(41, || async {
        let (world, addrs) = world_with_bucket().await;
        world.apply(&Fault::Restart { node: 0 }).expect("applied");
        let a = addrs.clone();
        let status = world
            .on_client(async move {
                rt::sleep(Duration::from_millis(10)).await;
                ok(a[0], Method::GET, "/", b"").await.status
            })
            .await;
        assert_eq!(status, 200, "a rebooted node answers again");
    });
}

#[test]
fn a_freed_disk_receives_the_replicas_it_missed() {
    simulate(42, || async {
        let (world, addrs) = world_with_bucket().await;
        world.apply(&Fault::DiskFull { node: 1 }).expect("applied");
        let a = addrs.clone();
        world
            .on_client(async move {
                assert_eq!(
                    ok(a[0], Method::POST, "/b2", b"").await.status,
                    201,
                    "bucket create"
                );
            })
            .await;
        assert!(
            Disk::lock(world.disk(1)).get("b//b2").is_none(),
            "a full disk took no copy"
        );
        world.apply(&Fault::DiskFree { node: 1 }).expect("applied");
        let mut waited = Duration::ZERO;
        while Disk::lock(world.disk(1)).get("b//b2").is_none() {
            assert!(
                waited < Duration::from_secs(60),
                "the freed disk never got the context"
            );
            rt::sleep(Duration::from_secs(1)).await;
            waited += Duration::from_secs(1);
        }
    });
}
