//! The delivery machine: app events in (never blocking the caller), a dispatcher that plans
//! deliveries ([`crate::plan`]), a bounded queue, workers that send with a per-sink rate limit
//! and retries ([`crate::retry`]), and the delivery log and metrics.
//!
//! # Guarantees
//! - [`Notifier::observe`] never waits: a full queue drops the event and says so in the log.
//! - A delivery is logged once, with its outcome; errors are masked with the config's secrets.
//!
//! # Caveats
//! - The dedup ledger is in memory: after a restart a condition that still holds may be sent
//!   once more.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::config::Config;
use crate::event::AppEvent;
use crate::ledger::Ledger;
use crate::limit::TokenBucket;
use crate::log::{DeliveryLog, LogEntry, Outcome};
use crate::metrics::NotifyMetrics;
use crate::plan::{self, Job, Meta, Outgoing, PlanError};
use crate::retry::{Next, RetryPolicy};
use crate::send::{self, SendError, Sent};

#[derive(Clone, Debug)]
pub struct Options {
    /// Deliveries waiting at most (and app events waiting to be planned).
    pub queue: usize,
    pub workers: usize,
    pub retry: RetryPolicy,
    /// Sends per second to one service on average, and at once.
    pub rate_per_sink: f64,
    pub burst: u32,
    /// One attempt's time limit.
    pub timeout: Duration,
    pub log_capacity: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            queue: 1000,
            workers: 4,
            retry: RetryPolicy::default(),
            rate_per_sink: 10.0,
            burst: 20,
            timeout: Duration::from_secs(10),
            log_capacity: crate::log::DEFAULT_CAPACITY,
        }
    }
}

struct Shared {
    options: Options,
    config: RwLock<Arc<Config>>,
    ledger: Mutex<Ledger>,
    events: mpsc::Sender<AppEvent>,
    jobs: mpsc::Sender<Job>,
    log: DeliveryLog,
    metrics: NotifyMetrics,
    http: reqwest::Client,
    buckets: Mutex<HashMap<String, TokenBucket>>,
}

/// A running notifier (cheap to clone). Must be started inside a tokio runtime.
#[derive(Clone)]
pub struct Notifier {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("options", &self.shared.options).finish()
    }
}

impl Notifier {
    /// Starts the dispatcher and the workers, with the built-in config until [`Self::set_config`].
    pub fn start(options: Options, metrics: NotifyMetrics) -> Self {
        let (events, events_rx) = mpsc::channel(options.queue.max(1));
        let (jobs, jobs_rx) = mpsc::channel(options.queue.max(1));
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let shared = Arc::new(Shared {
            log: DeliveryLog::new(options.log_capacity),
            options,
            config: RwLock::new(Arc::new(Config::builtin())),
            ledger: Mutex::default(),
            events,
            jobs,
            metrics,
            http,
            buckets: Mutex::default(),
        });
        tokio::spawn(dispatch(shared.clone(), events_rx));
        let jobs_rx = Arc::new(tokio::sync::Mutex::new(jobs_rx));
        for _ in 0..shared.options.workers.max(1) {
            tokio::spawn(work(shared.clone(), jobs_rx.clone()));
        }
        Self { shared }
    }

    /// Replaces the config (a ConfigMap or Secret changed); the ledger stays.
    pub fn set_config(&self, config: Config) {
        for error in &config.errors {
            tracing::warn!(error = %config.masker.mask(&error.to_string()), "notifications config");
        }
        *self.shared.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
    }

    pub fn config(&self) -> Arc<Config> {
        self.shared.config.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Hands an app event over without waiting; dropped (and logged) when the queue is full.
    pub fn observe(&self, event: AppEvent) {
        if let Err(mpsc::error::TrySendError::Full(event)) = self.shared.events.try_send(event) {
            if event.deleted {
                // Only the dedup state of a deleted app is lost; it is kept until restart.
                return;
            }
            let meta = Meta { app: event.key(), revision: event.revision(), ..Default::default() };
            record(
                &self.shared,
                &meta,
                Outcome::Dropped,
                0,
                None,
                "the notification queue is full",
                None,
            );
        }
    }

    pub fn log(&self) -> &DeliveryLog {
        &self.shared.log
    }

    /// Sends `trigger`'s first template for `event` to `service` now (no dedup, no queue) and
    /// returns the log entry (`ferry notify test`).
    pub async fn test(&self, service: &str, trigger: &str, event: AppEvent) -> LogEntry {
        let config = self.config();
        let meta = plan::meta(&event, trigger, service, &config, "");
        let template = config
            .triggers
            .get(trigger)
            .and_then(|t| t.conditions.first())
            .and_then(|c| c.spec.send.first().cloned())
            .unwrap_or_else(|| trigger.to_owned());
        let recipient = service_recipient(&config, service);
        match plan::build(&config, &event, service, &recipient, trigger, &template) {
            Ok(outgoing) => {
                deliver(&self.shared, Job { meta, outgoing, queued: Instant::now() }).await
            }
            Err(e) => record(&self.shared, &meta, Outcome::Error, 0, None, &e.to_string(), None),
        }
    }
}

/// A test send's recipient: a Teams service's first recipient key, else none.
fn service_recipient(config: &Config, service: &str) -> String {
    match config.services.get(service).map(|s| &s.kind) {
        Some(crate::service::ServiceKind::Teams(t)) => {
            t.recipient_urls.keys().next().cloned().unwrap_or_default()
        }
        _ => String::new(),
    }
}

async fn dispatch(shared: Arc<Shared>, mut events: mpsc::Receiver<AppEvent>) {
    while let Some(event) = events.recv().await {
        let config = shared.config.read().unwrap_or_else(|p| p.into_inner()).clone();
        let planned = {
            let mut ledger = shared.ledger.lock().unwrap_or_else(|p| p.into_inner());
            plan::plan(&config, &mut ledger, &event)
        };
        for p in planned {
            match p.result {
                Ok(outgoing) => {
                    enqueue(&shared, Job { meta: p.meta, outgoing, queued: Instant::now() })
                }
                Err(e) => error(&shared, &p.meta, &e),
            }
        }
    }
}

fn enqueue(shared: &Shared, job: Job) {
    if let Err(mpsc::error::TrySendError::Full(job)) = shared.jobs.try_send(job) {
        record(shared, &job.meta, Outcome::Dropped, 0, None, "the delivery queue is full", None);
    }
}

fn error(shared: &Shared, meta: &Meta, e: &PlanError) {
    record(shared, meta, Outcome::Error, 0, None, &e.to_string(), None);
}

async fn work(shared: Arc<Shared>, jobs: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let job = jobs.lock().await.recv().await;
        let Some(job) = job else { return };
        deliver(&shared, job).await;
    }
}

/// Sends one job with the sink's rate limit and retries; logs and counts the outcome.
async fn deliver(shared: &Shared, job: Job) -> LogEntry {
    let wait = {
        let mut buckets = shared.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        buckets
            .entry(job.meta.service.clone())
            .or_insert_with(|| {
                TokenBucket::new(shared.options.rate_per_sink, shared.options.burst, now)
            })
            .take(now)
    };
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result =
            match tokio::time::timeout(shared.options.timeout, send_once(shared, &job.outgoing))
                .await
            {
                Ok(result) => result,
                Err(_) => Err(SendError::Transport(format!(
                    "timed out after {:?}",
                    shared.options.timeout
                ))),
            };
        let e = match result {
            Ok(sent) => {
                return record(
                    shared,
                    &job.meta,
                    Outcome::Delivered,
                    attempt,
                    Some(sent.code),
                    "",
                    Some(job.queued),
                );
            }
            Err(e) => e,
        };
        match shared.options.retry.next(attempt, &e.answer(), fastrand::f64()) {
            Next::RetryAfter(delay) => tokio::time::sleep(delay).await,
            Next::Done | Next::GiveUp => {
                let code = e.status_code();
                return record(
                    shared,
                    &job.meta,
                    Outcome::Failed,
                    attempt,
                    code,
                    &e.to_string(),
                    Some(job.queued),
                );
            }
        }
    }
}

async fn send_once(shared: &Shared, outgoing: &Outgoing) -> Result<Sent, SendError> {
    match outgoing {
        Outgoing::Http(request) => send::http(&shared.http, request).await,
        Outgoing::Email { service, to, subject, body } => {
            send::email(service, to, subject, body, shared.options.timeout).await
        }
    }
}

fn record(
    shared: &Shared,
    meta: &Meta,
    outcome: Outcome,
    attempts: u32,
    status_code: Option<u16>,
    error: &str,
    queued: Option<Instant>,
) -> LogEntry {
    let masker = shared.config.read().unwrap_or_else(|p| p.into_inner()).masker.clone();
    let latency = queued.map(|q| q.elapsed()).unwrap_or_default();
    let entry = LogEntry {
        at: jiff::Timestamp::now()
            .round(jiff::Unit::Millisecond)
            .unwrap_or_else(|_| jiff::Timestamp::now())
            .to_string(),
        app: meta.app.clone(),
        trigger: meta.trigger.clone(),
        service: meta.service.clone(),
        service_type: meta.service_type.clone(),
        recipient: meta.recipient.clone(),
        revision: meta.revision.clone(),
        outcome: Some(outcome),
        attempts,
        status_code,
        error: masker.mask(error),
        latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
    };
    if outcome != Outcome::Delivered {
        tracing::warn!(app = %entry.app, trigger = %entry.trigger, service = %entry.service, outcome = outcome.as_str(), error = %entry.error, "notification not delivered");
    }
    shared.metrics.count(&meta.service, &meta.trigger, outcome.as_str());
    if queued.is_some() {
        shared.metrics.observe(&meta.service, latency.as_secs_f64());
    }
    shared.log.push(entry.clone());
    entry
}
