//! `replisim serve --replicator`: over real loopback TCP, a reference replicator reads a
//! publisher of cluster A and copies A into the nodes `serve` runs (cluster B). Bad
//! replicator arguments are usage errors.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use replisim_conformance::cli::{Cli, Command};
use replisim_conformance::replicator_serve::{config_from, socket_of};
use replisim_sim::publisher::host::{self as publisher, PublisherConfig};
use replisim_sim::replicator::scsp::{send, Method};
use replisim_sim::serve::{self, ServeConfig};
use replisim_sim::store::Disk;

fn serve_args(args: &[&str]) -> replisim_conformance::cli::ServeArgs {
    let mut all = vec!["replisim", "serve"];
    all.extend(args);
    match Cli::try_parse_from(all).expect("arguments parse").command {
        Command::Serve(args) => args,
        _ => panic!("not serve"),
    }
}

/// A loopback port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn a_served_cluster_receives_what_the_reference_replicator_copies() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let a = serve::start(ServeConfig::new(3, 0))
            .await
            .expect("cluster A");
        let b = serve::start(ServeConfig::new(3, 0))
            .await
            .expect("cluster B");
        let publisher_addr: SocketAddr =
            format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        // The publisher polls A's nodes on their signed peer API, with A's key.
        let mut watching_a = PublisherConfig::new(publisher_addr, a.addrs.clone());
        watching_a.cluster_key = Some(a.key.clone());
        publisher::start(watching_a, Disk::shared(1 << 24))
            .await
            .expect("publisher listens");
        let from: Vec<String> = a.addrs.iter().map(|x| format!("http://{x}")).collect();
        let args = serve_args(&[
            "--port",
            "0",
            "--replicator",
            &format!("http://{publisher_addr}"),
            "--replicate-from",
            &from.join(","),
        ]);
        let config = config_from(&args, &b.addrs)
            .expect("valid")
            .expect("a replicator");
        assert_eq!(config.channel, "PublishAll");
        serve::start_replicator(config);

        let t = Duration::from_secs(5);
        let made = send(a.addrs[0], Method::POST, "/rep", &[], Bytes::new(), t).await;
        assert_eq!(made.expect("bucket").status, 201);
        let headers = [("x-color-meta".to_string(), "blue".to_string())];
        let written = send(
            a.addrs[1],
            Method::POST,
            "/rep/x",
            &headers,
            Bytes::from_static(b"over the wan"),
            t,
        )
        .await;
        assert_eq!(written.expect("write").status, 201);

        let deadline = Instant::now() + Duration::from_secs(60);
        let copied = loop {
            let seen = send(b.addrs[2], Method::GET, "/rep/x", &[], Bytes::new(), t).await;
            if let Ok(answer) = seen {
                if answer.status == 200 {
                    break answer;
                }
            }
            assert!(Instant::now() < deadline, "B never received /rep/x");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(&copied.body[..], b"over the wan");
        assert_eq!(copied.header("x-color-meta"), Some("blue"));
    });
}

#[test]
fn replicator_arguments_are_checked() {
    let no_source = serve_args(&["--replicator", "http://127.0.0.1:9", "--replicate-from", ""]);
    let err = config_from(&no_source, &[]).unwrap_err();
    assert!(err.contains("--replicate-from"), "{err}");
    assert!(
        Cli::try_parse_from(["replisim", "serve", "--replicator", "http://127.0.0.1:9"]).is_err()
    );
    let err = socket_of("https://127.0.0.1:9").unwrap_err();
    assert!(err.contains("plain HTTP"), "{err}");
    assert_eq!(
        socket_of("http://127.0.0.1:8080/").expect("parses"),
        "127.0.0.1:8080".parse::<SocketAddr>().expect("addr")
    );
    assert!(config_from(&serve_args(&[]), &[]).expect("valid").is_none());
}
