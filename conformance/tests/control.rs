//! One control, one fault vocabulary: every fault kind applied through `Control::apply` to
//! the simulated target shows its effect on the nodes, and the fault hook of a real cluster
//! carries out the kinds it can and refuses the others with the reason.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use replisim_conformance::client::{Client, Endpoint, Limits, Request, Response, Session};
use replisim_conformance::hook::{HookControl, HookSpec};
use replisim_conformance::simcontrol::SimControl;
use replisim_conformance::target::Control;
use replisim_sim::faults::{Fault, FaultKind};
use replisim_sim::rt;
use replisim_sim::scsp;
use replisim_sim::store::Disk;
use replisim_sim::world::{simulate, Link, World};

/// Sends `req` to `addr` (following redirects) from the client (on east's LAN); the answer or why not, and how
/// long it took in virtual time. Anything slower than `wait` counts as no answer.
async fn ask(
    world: &World,
    addr: SocketAddr,
    req: Request,
    wait: Duration,
) -> (Result<Response, String>, Duration) {
    world
        .on_client(async move {
            let mut session = Session::new(Client::new(Limits::default()), Endpoint::http(addr));
            let start = rt::now();
            let answer = match rt::timeout(wait, session.request(&req)).await {
                Ok(Ok(r)) => Ok(r.response),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("no answer in time".to_string()),
            };
            (answer, rt::now() - start)
        })
        .await
}

async fn ping(world: &World, addr: SocketAddr) -> Result<Response, String> {
    ask(
        world,
        addr,
        Request::new("GET", "/"),
        Duration::from_secs(3),
    )
    .await
    .0
}

/// The status of a WRITE of `path` at `addr` (0 when there was no answer).
async fn write(world: &World, addr: SocketAddr, path: &str, body: &'static [u8]) -> u16 {
    let req = Request::new("POST", path).body(Bytes::from_static(body));
    match ask(world, addr, req, Duration::from_secs(60)).await.0 {
        Ok(r) => r.status,
        Err(_) => 0,
    }
}

/// Waits (virtual time) until `addr` answers again.
async fn until_serving(world: &World, addr: SocketAddr) {
    for _ in 0..60 {
        if ping(world, addr).await.is_ok() {
            return;
        }
        rt::sleep(Duration::from_millis(500)).await;
    }
    panic!("{addr} did not serve again within 30 s");
}

/// How far node 1's clock is ahead of node 0's, in milliseconds.
fn apart_ms(world: &World) -> i64 {
    world.clock(1).now_ms() as i64 - world.clock(0).now_ms() as i64
}

#[test]
fn every_fault_kind_goes_through_the_simulated_control_and_shows() {
    // Boxed: the whole run is one large future, too large for the simulation thread's stack
    // in a debug build.
    simulate(7, || Box::pin(every_fault_kind()));
}

async fn every_fault_kind() {
    {
        let world = Arc::new(
            World::builder()
                .cluster("east", 3, scsp::node())
                .cluster("west", 2, scsp::node())
                .wan("east", "west", Link::new())
                .build()
                .expect("a valid topology"),
        );
        let control = SimControl::new(world.clone());
        assert_eq!(
            control.fault_kinds(),
            FaultKind::ALL.into_iter().collect::<BTreeSet<_>>()
        );
        let a = world.addrs();
        rt::sleep(Duration::from_millis(10)).await;
        let kinds = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
        let apply = |f: Fault| {
            kinds.lock().expect("kinds").insert(f.kind());
            let c = control.clone();
            async move {
                c.apply(f.clone())
                    .await
                    .unwrap_or_else(|e| panic!("{f}: {e}"))
            }
        };
        assert_eq!(write(&world, a[0], "/bkt", b"").await, 201);

        // Crash and restart.
        Box::pin(async {
            apply(Fault::Crash { node: 1 }).await;
            assert!(world.is_down(1));
            assert!(ping(&world, a[1]).await.is_err(), "a crashed node answers");
            apply(Fault::Restart { node: 1 }).await;
            until_serving(&world, a[1]).await;
        })
        .await;

        // Pause and resume.
        Box::pin(async {
            apply(Fault::Pause { node: 1 }).await;
            assert!(ping(&world, a[1]).await.is_err(), "a paused node answers");
            apply(Fault::Resume { node: 1 }).await;
            until_serving(&world, a[1]).await;
        })
        .await;

        // Node partitions: node 0 cannot make the second replica an immutable WRITE needs.
        Box::pin(async {
            assert_eq!(write(&world, a[0], "/", b"healthy").await, 201);
            for cut in [
                vec![Fault::Partition {
                    groups: vec![vec![0]],
                }],
                vec![Fault::Isolate { node: 0 }],
                vec![
                    Fault::PartitionOneWay { from: 0, to: 1 },
                    Fault::PartitionOneWay { from: 0, to: 2 },
                ],
                vec![Fault::PartitionLan {
                    cluster: "east".into(),
                    groups: vec![vec![0]],
                }],
            ] {
                let shown: Vec<String> = cut.iter().map(|f| f.to_string()).collect();
                for f in cut {
                    apply(f).await;
                }
                let status = write(&world, a[0], "/", b"cut off").await;
                assert_ne!(
                    status, 201,
                    "{shown:?}: an immutable WRITE at node 0 got 201"
                );
                // The LAN cut leaves the WAN alone: west still answers.
                assert!(ping(&world, a[3]).await.is_ok(), "{shown:?} cut the WAN");
                apply(Fault::Heal).await;
                assert_eq!(write(&world, a[0], "/", b"healed").await, 201, "{shown:?}");
            }
        })
        .await;

        // WAN partitions, both ways and one way: the client on east's LAN loses west.
        Box::pin(async {
            for cut in [
                Fault::PartitionWan {
                    a: "east".into(),
                    b: "west".into(),
                },
                Fault::PartitionWanOneWay {
                    from: "west".into(),
                    to: "east".into(),
                },
            ] {
                apply(cut.clone()).await;
                assert!(ping(&world, a[3]).await.is_err(), "{cut}: west answers");
                assert!(ping(&world, a[0]).await.is_ok(), "{cut}: east's LAN broke");
                apply(Fault::Heal).await;
                until_serving(&world, a[3]).await;
            }
        })
        .await;

        // Link latency and loss on the WAN link, then on every link.
        Box::pin(async {
            let (_, quick) = ask(
                &world,
                a[3],
                Request::new("GET", "/"),
                Duration::from_secs(3),
            )
            .await;
            apply(Fault::LinkLatency {
                cluster: "east".into(),
                peer: Some("west".into()),
                min_ms: 400,
                max_ms: 400,
            })
            .await;
            let (r, slow) = ask(
                &world,
                a[3],
                Request::new("GET", "/"),
                Duration::from_secs(10),
            )
            .await;
            assert!(
                r.is_ok() && slow >= Duration::from_millis(800),
                "{slow:?} vs {quick:?}"
            );
            apply(Fault::LinkLatency {
                cluster: "east".into(),
                peer: Some("west".into()),
                min_ms: 0,
                max_ms: 0,
            })
            .await;
            apply(Fault::LinkLoss {
                cluster: "east".into(),
                peer: Some("west".into()),
                permille: 1000,
            })
            .await;
            assert!(ping(&world, a[3]).await.is_err(), "every send is lost");
            apply(Fault::LinkLoss {
                cluster: "east".into(),
                peer: Some("west".into()),
                permille: 0,
            })
            .await;
            until_serving(&world, a[3]).await;
            apply(Fault::Latency {
                min_ms: 300,
                max_ms: 300,
            })
            .await;
            let (r, slow) = ask(
                &world,
                a[0],
                Request::new("GET", "/"),
                Duration::from_secs(10),
            )
            .await;
            assert!(
                r.is_ok() && slow >= Duration::from_millis(600),
                "{r:?} after {slow:?}"
            );
            apply(Fault::Latency {
                min_ms: 1,
                max_ms: 10,
            })
            .await;
            apply(Fault::Loss { permille: 1000 }).await;
            assert!(ping(&world, a[0]).await.is_err(), "every packet is lost");
            apply(Fault::Loss { permille: 0 }).await;
            until_serving(&world, a[0]).await;
        })
        .await;

        // Clocks: a skew moves the host clock the node reads, a jump back undoes it.
        Box::pin(async {
            apply(Fault::Skew {
                node: 1,
                ms: 600_000,
            })
            .await;
            let apart = apart_ms(&world);
            assert!(apart >= 599_000, "{apart} ms");
            apply(Fault::Jump {
                node: 1,
                ms: -600_000,
            })
            .await;
            let apart = apart_ms(&world);
            assert!(apart.abs() <= 1_000, "{apart} ms");
        })
        .await;

        // Full disks: no east node has space, so a WRITE is 507 until they are freed.
        Box::pin(async {
            for node in 0..3 {
                apply(Fault::DiskFull { node }).await;
            }
            assert_eq!(write(&world, a[0], "/bkt/full", b"no room").await, 507);
            for node in 0..3 {
                apply(Fault::DiskFree { node }).await;
            }
            assert_eq!(write(&world, a[0], "/bkt/full", b"room again").await, 201);
        })
        .await;

        // Bit rot: validate=yes at the rotten replica's node no longer reads it whole.
        Box::pin(async {
            assert_eq!(
                write(
                    &world,
                    a[0],
                    "/bkt/rot?replicate=immediate",
                    b"precious bytes"
                )
                .await,
                201
            );
            let key = "n//bkt/rot";
            let holder = (0..3)
                .find(|i| Disk::lock(world.disk(*i)).get(key).is_some())
                .expect("an east node holds the object");
            apply(Fault::BitRot {
                node: holder,
                key: Some(key.into()),
            })
            .await;
            let validated = ask(
                &world,
                a[holder],
                Request::new("GET", "/bkt/rot?validate=yes"),
                Duration::from_secs(10),
            )
            .await
            .0;
            assert!(
                validated.is_err(),
                "a rotten replica read whole: {validated:?}"
            );

            // Node loss: the node comes back with an empty disk.
            apply(Fault::Lose { node: holder }).await;
            assert!(Disk::lock(world.disk(holder)).get(key).is_none());
            until_serving(&world, a[holder]).await;
        })
        .await;

        let kinds = kinds.lock().expect("kinds").clone();
        assert_eq!(kinds, FaultKind::ALL.into_iter().collect::<BTreeSet<_>>());
    }
}

#[test]
fn the_hook_control_does_what_a_real_cluster_can_and_refuses_the_rest() {
    let log = std::env::temp_dir().join(format!("replisim-hook-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    // The hook runs without a shell: a script that logs its arguments.
    let script = std::env::temp_dir().join(format!("replisim-hook-{}.sh", std::process::id()));
    std::fs::write(&script, format!("echo \"$@\" >> '{}'\n", log.display())).expect("script");
    let hook = HookControl::new(
        HookSpec::new(format!("sh {}", script.display())),
        vec![
            "127.0.0.1:1".parse().expect("addr"),
            "127.0.0.1:2".parse().expect("addr"),
        ],
    );
    assert_eq!(
        hook.fault_kinds(),
        BTreeSet::from([FaultKind::Crash, FaultKind::Pause, FaultKind::Partition])
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let done = [
        Fault::Crash { node: 1 },
        Fault::Restart { node: 1 },
        Fault::Pause { node: 0 },
        Fault::Resume { node: 0 },
        Fault::Partition {
            groups: vec![vec![0], vec![1]],
        },
        Fault::Isolate { node: 1 },
        Fault::Heal,
    ];
    let refused = [
        Fault::DiskFull { node: 0 },
        Fault::DiskFree { node: 0 },
        Fault::BitRot { node: 0, key: None },
        Fault::Lose { node: 0 },
        Fault::Skew { node: 0, ms: 5 },
        Fault::Jump { node: 0, ms: 5 },
        Fault::Loss { permille: 10 },
        Fault::Latency {
            min_ms: 1,
            max_ms: 2,
        },
        Fault::LinkLoss {
            cluster: "east".into(),
            peer: None,
            permille: 10,
        },
        Fault::LinkLatency {
            cluster: "east".into(),
            peer: None,
            min_ms: 1,
            max_ms: 2,
        },
        Fault::PartitionOneWay { from: 0, to: 1 },
        Fault::PartitionWan {
            a: "east".into(),
            b: "west".into(),
        },
        Fault::PartitionWanOneWay {
            from: "east".into(),
            to: "west".into(),
        },
        Fault::PartitionLan {
            cluster: "east".into(),
            groups: vec![vec![0]],
        },
    ];
    runtime.block_on(async {
        for f in done {
            assert_eq!(hook.apply(f.clone()).await, Ok(()), "{f}");
        }
        for f in refused {
            let why = hook.apply(f.clone()).await.expect_err("refused");
            assert!(
                why.contains("fault hook") && why.contains(f.kind().name()),
                "{f}: {why}"
            );
        }
    });
    let calls = std::fs::read_to_string(&log).expect("the hook ran");
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::remove_file(&script);
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        [
            "kill 1",
            "restart 1",
            "pause 0",
            "resume 0",
            "partition 0",
            "partition 1",
            "heal"
        ]
    );
}
