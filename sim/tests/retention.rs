//! What a stored object costs in memory: about its own size, not a connection's buffer.
//!
//! A body that arrives in one read is a slice of hyper's read buffer (8 KiB or more); a node
//! that stored the slice kept the whole buffer alive for every small object
//! (`http::body::collect_owned`, BENCHMARKS.md Figure 22). This binary counts the bytes live
//! on its heap, so it holds exactly one test: another test running beside it would be
//! counted too.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use replisim_sim::scsp::config::NodeContext;
use replisim_sim::scsp::server;
use replisim_sim::trace::Trace;

/// The system allocator, counting the bytes it has handed out and not yet taken back.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed to `System` unchanged; only the counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Objects written in the measured stretch, and each one's body.
const OBJECTS: usize = 200;
const BODY_BYTES: usize = 300;

#[test]
fn a_small_stored_object_costs_about_its_size_not_a_read_buffer() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cluster = support::one_node_cluster("retention");
    let ctx = NodeContext::new(0, Arc::new(cluster), 64 << 20, Trace::disabled());
    let measured = async {
        // One keep-alive connection, as a client library keeps one.
        let (client_io, server_io) = tokio::io::duplex(1 << 16);
        let options = server::ConnectionOptions::default();
        let serving = tokio::spawn(server::serve_connection(ctx.clone(), server_io, options));
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(client_io))
                .await
                .expect("handshake");
        let client = tokio::spawn(connection);
        let mut post = |target: String, body: Bytes| {
            let request = Request::builder()
                .method(Method::POST)
                .uri(target.as_str())
                .header("host", "127.0.0.1")
                .header("content-length", body.len())
                .body(Full::new(body))
                .expect("a request");
            let answer = sender.send_request(request);
            async move {
                let answer = answer.await.expect("an answer");
                assert_eq!(answer.status(), StatusCode::CREATED, "POST {target}");
                let _ = answer.into_body().collect().await;
            }
        };
        post("/b".into(), Bytes::new()).await;
        // A first stretch warms every per-thread memory and map up to its working size.
        for i in 0..OBJECTS {
            post(format!("/b/warm{i}"), Bytes::from(vec![b'w'; BODY_BYTES])).await;
        }
        let before = LIVE.load(Ordering::Relaxed);
        for i in 0..OBJECTS {
            post(format!("/b/o{i}"), Bytes::from(vec![b'x'; BODY_BYTES])).await;
        }
        let after = LIVE.load(Ordering::Relaxed);
        drop(sender);
        let _ = client.await;
        let _ = serving.await;
        (after - before) / OBJECTS as isize
    };
    // A node that stopped answering fails the test instead of hanging it.
    let per_object = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(60), measured).await })
        .expect("the node answered 401 writes within 60 s");
    // A stored object is its body, its record head, the disk's and the caches' entries:
    // well under 4 KiB. Keeping the connection's read buffer made it 8 KiB more.
    assert!(
        per_object < 4096,
        "each stored {BODY_BYTES}-byte object kept {per_object} bytes on the heap"
    );
    assert!(
        per_object > 0,
        "the objects were stored ({per_object} bytes each)"
    );
}
