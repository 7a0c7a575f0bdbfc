//! The replicator's loop over the Enumerator API (spec section 2.3): Start a Metadata
//! enumerator on the channel, then Next after Next, each carrying the `syncToken` of the
//! last answer whose item B holds. An item is acknowledged only once it is applied (or
//! parked durably, RP6); a lost answer is therefore delivered again, and a 404 (the
//! publisher restarted, the rules changed, the enumerator expired) starts a new session.

use std::time::Duration;

use bytes::Bytes;
use http::Method;

use crate::http::client::{exchange, Answer};
use crate::replicator::apply::{apply, Outcome};
use crate::replicator::config::{ReplicatorConfig, ReplicatorDefect};
use crate::replicator::item::{self, Answered, Item};
use crate::replicator::session::Session;
use crate::rt;
use crate::scsp::query::percent_encode;
use crate::store::SharedDisk;
use crate::trace::Trace;

/// Largest Next answer read (one object's headers).
const ANSWER_BYTES_MAX: usize = 1 << 20;

/// One replicator incarnation.
pub struct Replicator {
    config: ReplicatorConfig,
    disk: SharedDisk,
    trace: Trace,
    session: Session,
    /// Items reported to the publisher as `dropped` with the next Next.
    dropped: u64,
    /// Rotates the node each cluster is asked first.
    turn: usize,
    /// When parked items were last tried.
    parked_tried: Option<std::time::Instant>,
}

impl Replicator {
    /// An incarnation that continues the session on `disk`.
    pub fn new(config: ReplicatorConfig, disk: SharedDisk, trace: Trace) -> Self {
        let session = Session::load(&disk);
        Self {
            config,
            disk,
            trace,
            session,
            dropped: 0,
            turn: 0,
            parked_tried: None,
        }
    }

    fn note(&self, what: String) {
        self.trace.record("replicator", what);
    }

    /// Syncs the session; a full disk is retried until it takes the record (nothing is
    /// acknowledged before it does).
    async fn save(&self) {
        while let Err(e) = self.session.save(&self.disk) {
            self.note(format!("session not saved: {e:?}"));
            rt::sleep(self.config.retry_interval).await;
        }
    }

    async fn call(&self, method: Method, target: &str) -> Result<Answer, String> {
        exchange(
            self.config.publisher,
            method,
            target,
            &[],
            Bytes::new(),
            self.config.request_timeout,
            ANSWER_BYTES_MAX,
        )
        .await
        .map_err(|e| e.0)
    }

    /// Start: a new Metadata enumerator on the channel.
    async fn start(&mut self) -> Result<(), String> {
        let target = format!(
            "/{}?type=Metadata&timeout={}",
            percent_encode(&self.config.channel),
            self.config.enumerator_timeout_s
        );
        let a = self.call(Method::POST, &target).await?;
        if a.status != 201 {
            return Err(format!("Start answered {}", a.status));
        }
        let id = a
            .header("content-uuid")
            .ok_or("Start without Content-UUID")?;
        let token = a.header("content-sync-token").map(str::to_string);
        self.session.enumerator = Some(id.to_string());
        self.session.token = token;
        self.save().await;
        self.note(format!("session {id} started on {}", self.config.channel));
        Ok(())
    }

    fn next_target(&self, id: &str) -> String {
        let mut target = format!("/{}", percent_encode(id));
        let mut sep = '?';
        if let Some(token) = &self.session.token {
            target.push_str(&format!("?syncToken={}", percent_encode(token)));
            sep = '&';
        }
        if self.dropped > 0 {
            target.push_str(&format!("{sep}dropped={}", self.dropped));
        }
        target
    }

    /// Applies an item until it is done or parked.
    async fn settle(&mut self, item: &Item) {
        loop {
            self.turn = self.turn.wrapping_add(1);
            match apply(&self.config, item, self.turn).await {
                Outcome::Retry(why) => {
                    self.note(format!("retry {}: {why}", item.path));
                    rt::sleep(self.config.retry_interval).await;
                }
                Outcome::Park(why) => {
                    self.note(format!("parked {} @{}: {why}", item.path, item.version_ms));
                    self.session.parked.push(item.clone());
                    return;
                }
                done => {
                    self.note(format!(
                        "{} {} @{}",
                        if done == Outcome::Applied {
                            "applied"
                        } else {
                            "superseded"
                        },
                        item.path,
                        item.version_ms
                    ));
                    self.unpark_older(item);
                    return;
                }
            }
        }
    }

    /// Forgets parked items of the same object that a done item covers.
    fn unpark_older(&mut self, done: &Item) {
        self.session.parked.retain(|p| {
            !(p.path == done.path && p.domain == done.domain && p.version_ms < done.version_ms)
        });
    }

    /// Tries every parked item once, at most once per retry interval.
    async fn retry_parked(&mut self) {
        if self.session.parked.is_empty()
            || self.parked_tried.is_some_and(|t| {
                rt::now().saturating_duration_since(t) < self.config.retry_interval
            })
        {
            return;
        }
        self.parked_tried = Some(rt::now());
        let parked = self.session.parked.clone();
        let mut changed = false;
        for item in parked {
            self.turn = self.turn.wrapping_add(1);
            if apply(&self.config, &item, self.turn).await.is_done() {
                self.note(format!("unparked {} @{}", item.path, item.version_ms));
                self.session.parked.retain(|p| *p != item);
                self.unpark_older(&item);
                changed = true;
            }
        }
        if changed {
            self.save().await;
        }
    }

    /// One round: Start if needed, one Next, its item. Returns how long to wait before
    /// the next round.
    pub async fn round(&mut self) -> Duration {
        self.retry_parked().await;
        let Some(id) = self.session.enumerator.clone() else {
            return match self.start().await {
                Ok(()) => Duration::ZERO,
                Err(e) => {
                    self.note(format!("Start failed: {e}"));
                    self.config.retry_interval
                }
            };
        };
        let answer = match self.call(Method::GET, &self.next_target(&id)).await {
            Ok(a) => a,
            Err(e) => {
                self.note(format!("Next failed: {e}"));
                return self.config.retry_interval;
            }
        };
        if answer.status == 404 {
            if self.config.has(ReplicatorDefect::NoRestartOn404) {
                return self.config.retry_interval;
            }
            self.note(format!("session {id} gone (404): starting again"));
            self.session.enumerator = None;
            self.session.token = None;
            self.save().await;
            return self.config.restart_backoff;
        }
        if answer.status != 200 {
            self.note(format!("Next answered {}", answer.status));
            return self.config.retry_interval;
        }
        let Some(token) = answer.header("content-sync-token").map(str::to_string) else {
            self.note("Next without Content-Sync-Token".into());
            return self.config.retry_interval;
        };
        self.dropped = 0;
        let parsed = item::parse(&answer);
        let ack_first = self.config.has(ReplicatorDefect::AckBeforeApply);
        if ack_first {
            self.session.token = Some(token.clone());
            self.save().await;
        }
        let wait = match parsed {
            Ok(Answered::Nothing) => self.config.idle_interval,
            Ok(Answered::Unnamed) => {
                self.dropped += 1;
                Duration::ZERO
            }
            Err(e) => {
                self.note(format!("unreadable item dropped: {e}"));
                self.dropped += 1;
                Duration::ZERO
            }
            Ok(Answered::Named(item)) if ack_first => {
                self.turn = self.turn.wrapping_add(1);
                let outcome = apply(&self.config, &item, self.turn).await;
                self.note(format!(
                    "{} @{} once: {outcome:?}",
                    item.path, item.version_ms
                ));
                Duration::ZERO
            }
            Ok(Answered::Named(item)) => {
                self.settle(&item).await;
                Duration::ZERO
            }
        };
        self.session.token = Some(token);
        self.save().await;
        wait
    }

    /// Runs rounds until the host stops.
    pub async fn run(mut self) {
        loop {
            let wait = self.round().await;
            if !wait.is_zero() {
                rt::sleep(wait).await;
            }
        }
    }
}
