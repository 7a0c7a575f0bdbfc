//! The runtime shim: the only door from node code to time, tasks, randomness and sockets.
//!
//! The same node code runs inside a madsim simulation (simulated TCP, virtual time, seeded
//! randomness) and under real tokio (`replisim serve`). The workspace is always compiled with
//! `--cfg madsim`, so the choice cannot be made at compile time: each call asks at run time
//! whether the current thread is inside a simulation.
//!
//! Architecture invariant: nothing under `scsp/` calls `tokio::spawn`, `tokio::time`,
//! `std::thread` or an OS random source directly; it goes through this module.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub mod channel;
pub mod flush;
pub mod netem;
pub mod stats;
pub mod tls;

use crate::flush::FlushIfDirty;
use crate::tls::{TlsOrPlain, TlsServer};

thread_local! {
    /// Set while this thread runs a simulation entered through [`SimThread`].
    static SIM_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The running simulation's clock, taken at the first read under a [`SimThread`] and
    /// dropped with it. madsim's own clock reads (`Instant::now`, `SystemTime::now`, its
    /// `sleep`) clone the runtime's time handle on every call.
    static SIM_TIME: std::cell::RefCell<Option<madsim::time::TimeHandle>> =
        const { std::cell::RefCell::new(None) };
}

/// `f` of the simulation's time handle, on a thread declared with [`SimThread`] inside its
/// runtime; `None` anywhere else (the caller then asks the runtime as usual).
fn with_sim_time<R>(f: impl FnOnce(&madsim::time::TimeHandle) -> R) -> Option<R> {
    if !SIM_THREAD.with(std::cell::Cell::get) {
        return None;
    }
    SIM_TIME.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.is_none() {
            *slot = madsim::time::TimeHandle::try_current();
        }
        slot.as_ref().map(f)
    })
}

/// True when the calling thread runs inside a madsim simulation.
///
/// Asked on every spawn, sleep, timeout and connection. madsim's own answer clones the
/// runtime handle (several reference counts) each time, so a thread that declared itself
/// with [`SimThread`] answers from a flag; any other thread still asks madsim.
pub fn in_sim() -> bool {
    SIM_THREAD.with(std::cell::Cell::get) || madsim::runtime::Handle::try_current().is_ok()
}

/// Declares, until dropped, that the calling thread is inside a madsim runtime's
/// `block_on`: [`in_sim`] then answers without asking madsim.
///
/// Create it just before `block_on` and drop it right after, before the runtime itself
/// (task destructors run when the runtime drops, outside its context).
#[must_use = "the thread counts as simulated only while the guard lives"]
pub struct SimThread {
    was: bool,
}

impl SimThread {
    /// Marks the calling thread as simulated.
    pub fn enter() -> Self {
        SimThread {
            was: SIM_THREAD.with(|flag| flag.replace(true)),
        }
    }
}

impl Drop for SimThread {
    fn drop(&mut self) {
        let was = self.was;
        SIM_THREAD.with(|flag| flag.set(was));
        // The runtime ends with the guard: its clock must not outlive it here.
        SIM_TIME.with(|slot| slot.borrow_mut().take());
    }
}

/// Spawns a detached task on the current runtime, simulated or real.
pub fn spawn<F>(future: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    if in_sim() {
        madsim::task::spawn(future);
    } else {
        tokio::spawn(future);
    }
}

/// Sleeps on the current runtime's clock (virtual time inside a simulation).
pub async fn sleep(duration: Duration) {
    match sim_sleep(duration) {
        Some(sleep) => sleep.await,
        None => tokio::time::sleep(duration).await,
    }
}

/// A sleep on the simulation's clock, through the kept time handle when there is one;
/// `None` outside a simulation.
fn sim_sleep(duration: Duration) -> Option<madsim::time::Sleep> {
    with_sim_time(|time| time.sleep(duration))
        .or_else(|| in_sim().then(|| madsim::time::sleep(duration)))
}

/// The error of [`timeout`]: the deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

impl std::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline elapsed")
    }
}

impl std::error::Error for Elapsed {}

/// Bounds a future by a deadline on the current runtime's clock. Every network call in
/// replisim goes through this: simulated TCP stalls instead of resetting under partitions.
///
/// The future is polled first, then the deadline (as `select_biased!` would), and the
/// deadline starts at the first poll. A plain struct rather than an `async fn` around the
/// runtimes' own timeouts: those keep the future twice or more in their state, and a
/// node-to-node exchange's future is kilobytes, moved whole into join sets and boxes.
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        duration,
        deadline: Deadline::Unset,
    }
}

pin_project_lite::pin_project! {
    /// The future of [`timeout`].
    pub struct Timeout<F> {
        #[pin]
        future: F,
        duration: Duration,
        #[pin]
        deadline: Deadline,
    }
}

pin_project_lite::pin_project! {
    /// The deadline of a [`Timeout`], started at its first poll.
    #[project = DeadlineProj]
    enum Deadline {
        Unset,
        Sim { sleep: madsim::time::Sleep, armed: Option<Disarm> },
        Real { #[pin] sleep: tokio::time::Sleep },
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if matches!(this.deadline.as_mut().project(), DeadlineProj::Unset) {
            let duration = *this.duration;
            this.deadline.set(match sim_sleep(duration) {
                Some(sleep) => Deadline::Sim { sleep, armed: None },
                None => Deadline::Real {
                    sleep: tokio::time::sleep(duration),
                },
            });
        }
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        let elapsed = match this.deadline.project() {
            DeadlineProj::Sim { sleep, armed } => poll_sim_deadline(sleep, armed, cx),
            DeadlineProj::Real { sleep } => sleep.poll(cx),
            DeadlineProj::Unset => Poll::Pending,
        };
        elapsed.map(|()| Err(Elapsed))
    }
}

/// Polls a simulated deadline, arming its timer once.
///
/// madsim's `Sleep` adds a timer to the runtime's heap on every pending poll, and a timer
/// cannot be taken back. So the timer is armed once, with a waker of ours ([`Relay`]) that
/// passes the wake on to the task's latest waker, and that [`Disarm`] silences when the
/// deadline is dropped: an exchange that ended before its deadline no longer wakes its task
/// (a keep-alive connection, a node's serving loop) for nothing when the deadline passes.
fn poll_sim_deadline(
    sleep: &mut madsim::time::Sleep,
    armed: &mut Option<Disarm>,
    cx: &mut Context<'_>,
) -> Poll<()> {
    if sleep.is_elapsed() {
        return Poll::Ready(());
    }
    match armed {
        Some(Disarm(relay)) => {
            relay.follow(cx.waker());
            Poll::Pending
        }
        None => {
            let relay = Arc::new(Relay {
                task: std::sync::Mutex::new(Some(cx.waker().clone())),
            });
            let waker = std::task::Waker::from(relay.clone());
            *armed = Some(Disarm(relay));
            Pin::new(sleep).poll(&mut Context::from_waker(&waker))
        }
    }
}

/// The waker a simulated deadline's timer holds: wakes the task that last polled the
/// deadline, unless the deadline is gone.
struct Relay {
    task: std::sync::Mutex<Option<std::task::Waker>>,
}

impl Relay {
    /// Takes the waker to wake, leaving none.
    fn take_task(&self) -> Option<std::task::Waker> {
        self.task.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Makes `waker` the one to wake.
    fn follow(&self, waker: &std::task::Waker) {
        let mut task = self.task.lock().unwrap_or_else(|p| p.into_inner());
        if !task.as_ref().is_some_and(|t| t.will_wake(waker)) {
            *task = Some(waker.clone());
        }
    }
}

impl std::task::Wake for Relay {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(task) = self.take_task() {
            task.wake();
        }
    }
}

/// Owned by an armed simulated deadline: when the deadline is dropped (its exchange ended
/// either way), its timer's [`Relay`] wakes nobody.
struct Disarm(Arc<Relay>);

impl Drop for Disarm {
    fn drop(&mut self) {
        self.0.take_task();
    }
}

/// Monotonic now. Inside a simulation madsim intercepts the clock, so this is virtual time.
pub fn now() -> Instant {
    with_sim_time(madsim::time::TimeHandle::now_instant).unwrap_or_else(Instant::now)
}

/// Wall-clock now of the world (simulated 2022-era time inside a simulation). Node clocks add
/// their own skew on top (the reference node's `NodeClock`).
pub fn wall_now() -> SystemTime {
    with_sim_time(madsim::time::TimeHandle::now_time).unwrap_or_else(SystemTime::now)
}

static REAL_RNG_STATE: AtomicU64 = AtomicU64::new(0x005E_ED0F_2E91_1515);

/// Seeds the random source used outside a simulation (`replisim serve --seed`).
pub fn seed_real_rng(seed: u64) {
    REAL_RNG_STATE.store(seed ^ 0x9E37_79B9_7F4A_7C15, Ordering::SeqCst);
}

/// A random 64-bit value: from the simulation's seeded RNG inside madsim, otherwise from a
/// SplitMix64 stream seeded by [`seed_real_rng`]. Never from the operating system.
pub fn random_u64() -> u64 {
    if in_sim() {
        madsim::rand::random::<u64>()
    } else {
        let state = REAL_RNG_STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::SeqCst);
        splitmix64(state.wrapping_add(0x9E37_79B9_7F4A_7C15))
    }
}

/// One step of SplitMix64: a well-mixed 64-bit value from any 64-bit input.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A connected byte stream: simulated TCP (with the flush fix) or real TCP.
pub enum Stream {
    /// Simulated TCP inside madsim.
    Sim(FlushIfDirty<madsim::net::TcpStream>),
    /// Real TCP under tokio.
    Real(tokio::net::TcpStream),
    /// Real TCP accepted on a TLS port: TLS or plain, decided by its first byte.
    RealTls(Box<TlsOrPlain>),
}

/// Opens a TCP connection on the current runtime's network.
pub async fn connect(addr: SocketAddr) -> io::Result<Stream> {
    if in_sim() {
        let s = madsim::net::TcpStream::connect(addr).await?;
        Ok(Stream::Sim(FlushIfDirty::new(s, stats::Side::Client)))
    } else {
        let s = tokio::net::TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Stream::Real(s))
    }
}

/// Resolves a host name on the current runtime's network: the system resolver under tokio,
/// madsim's DNS table (`NetSim::add_dns_record`, `localhost` built in) inside a simulation.
/// IP literals resolve to themselves in both.
pub async fn lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    if in_sim() {
        Ok(madsim::net::lookup_host((host, port)).await?.collect())
    } else {
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}

/// A listening TCP socket on the current runtime's network.
pub enum Listener {
    /// Simulated listener inside madsim.
    Sim(madsim::net::TcpListener),
    /// Real listener under tokio.
    Real(tokio::net::TcpListener),
    /// Real listener whose connections may speak TLS (`replisim serve --tls-cert`).
    RealTls(tokio::net::TcpListener, TlsServer),
}

/// Binds a listener on the current runtime's network.
pub async fn listen(addr: SocketAddr) -> io::Result<Listener> {
    if in_sim() {
        Ok(Listener::Sim(madsim::net::TcpListener::bind(addr).await?))
    } else {
        Ok(Listener::Real(tokio::net::TcpListener::bind(addr).await?))
    }
}

impl Listener {
    /// Accepts TLS on this listener from now on (plain HTTP still works, for peers). Real
    /// listeners only: the simulator has no TLS.
    pub fn with_tls(self, tls: TlsServer) -> io::Result<Listener> {
        match self {
            Listener::Real(l) | Listener::RealTls(l, _) => Ok(Listener::RealTls(l, tls)),
            Listener::Sim(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "TLS is served on real sockets only",
            )),
        }
    }

    /// Waits for the next connection.
    pub async fn accept(&self) -> io::Result<(Stream, SocketAddr)> {
        match self {
            Listener::Sim(l) => {
                let (s, a) = l.accept().await?;
                Ok((Stream::Sim(FlushIfDirty::new(s, stats::Side::Server)), a))
            }
            Listener::Real(l) => {
                let (s, a) = l.accept().await?;
                s.set_nodelay(true)?;
                Ok((Stream::Real(s), a))
            }
            Listener::RealTls(l, tls) => {
                let (s, a) = l.accept().await?;
                s.set_nodelay(true)?;
                Ok((Stream::RealTls(Box::new(tls.start(s))), a))
            }
        }
    }

    /// The bound address (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Listener::Sim(l) => l.local_addr(),
            Listener::Real(l) | Listener::RealTls(l, _) => l.local_addr(),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Sim(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Real(s) => Pin::new(s).poll_read(cx, buf),
            Stream::RealTls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Sim(s) => Pin::new(s).poll_write(cx, data),
            Stream::Real(s) => Pin::new(s).poll_write(cx, data),
            Stream::RealTls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Sim(s) => Pin::new(s).poll_flush(cx),
            Stream::Real(s) => Pin::new(s).poll_flush(cx),
            Stream::RealTls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Sim(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Real(s) => Pin::new(s).poll_shutdown(cx),
            Stream::RealTls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts how often the future it wraps is polled.
    struct CountPolls<F> {
        future: Pin<Box<F>>,
        polls: Arc<AtomicU64>,
    }

    impl<F: Future> Future for CountPolls<F> {
        type Output = F::Output;

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            self.future.as_mut().poll(cx)
        }
    }

    /// Polls of a task that runs a 10 ms exchange bounded by `bound`, then sleeps 10 s.
    fn polls_of_a_task_after_its_exchange(bound: Duration) -> u64 {
        let runtime = madsim::runtime::Runtime::with_seed_and_config(1, madsim::Config::default());
        runtime.block_on(async move {
            let polls = Arc::new(AtomicU64::new(0));
            let task = CountPolls {
                future: Box::pin(async move {
                    let exchange = sleep(Duration::from_millis(10));
                    assert_eq!(timeout(bound, exchange).await, Ok(()));
                    sleep(Duration::from_secs(10)).await;
                }),
                polls: polls.clone(),
            };
            madsim::task::spawn(task).await.expect("the task ends");
            polls.load(Ordering::SeqCst)
        })
    }

    #[test]
    fn a_deadline_outlived_by_its_task_does_not_wake_it() {
        // First poll, the exchange's end, the sleep's end: with the deadline (1 s) inside
        // the sleep or beyond it alike.
        assert_eq!(
            polls_of_a_task_after_its_exchange(Duration::from_secs(1)),
            3
        );
        assert_eq!(
            polls_of_a_task_after_its_exchange(Duration::from_secs(60)),
            3
        );
    }

    #[test]
    fn a_simulation_thread_reads_its_own_runtime_clock() {
        // Two runtimes one after the other on one thread, each under its own guard: every
        // read through the kept handle equals madsim's own clock, and the second runtime's
        // reads are not the first one's.
        let mut walls = Vec::new();
        for seed in [3, 4] {
            let runtime =
                madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
            let _guard = SimThread::enter();
            let wall = runtime.block_on(async {
                let start = now();
                for _ in 0..3 {
                    assert_eq!(now(), Instant::now());
                    assert_eq!(wall_now(), SystemTime::now());
                    sleep(Duration::from_millis(1500)).await;
                }
                let waited = now() - start;
                assert!(waited >= Duration::from_millis(4500), "{waited:?}");
                wall_now()
            });
            walls.push(wall);
        }
        assert_ne!(
            walls[0], walls[1],
            "each seed's world clock starts elsewhere"
        );
        // Outside a guard, the thread reads the real clock again.
        let real = SystemTime::now();
        assert!(wall_now() >= real);
    }

    #[test]
    fn a_deadline_that_passes_ends_the_wait() {
        let runtime = madsim::runtime::Runtime::with_seed_and_config(2, madsim::Config::default());
        runtime.block_on(async {
            let start = now();
            let never = std::future::pending::<()>();
            assert_eq!(timeout(Duration::from_secs(2), never).await, Err(Elapsed));
            let waited = now() - start;
            // madsim moves its clock a few nanoseconds per poll.
            assert!(
                (Duration::from_secs(2)..Duration::from_millis(2_001)).contains(&waited),
                "{waited:?}"
            );
        });
    }
}
