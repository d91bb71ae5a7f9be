//! Sharding: N controller replicas share the Applications through Leases, and no app is ever
//! reconciled by two replicas at once.
//!
//! The apps fall into a fixed number of shards S (the same on every replica): an app's shard is
//! its `ferry.dev/shard` label, or a stable hash of `namespace/name` ([`assign::place`]). Each
//! shard has a Lease (`ferry-controller-shard-<n>`); each replica heartbeats a membership Lease
//! and holds between ⌊S/m⌋ and ⌈S/m⌉ shards for m live members ([`assign::decide`]). A replica
//! reconciles only the apps of the shards it holds.
//!
//! # Guarantees
//! - A shard is given back only after it was drained: new reconciles of its apps stopped and
//!   the running ones finished ([`run`]).
//! - A replica that cannot renew a shard's Lease stops acting on it (a running reconcile is
//!   cancelled) at 3/4 of the Lease's duration after its last successful renewal started, before
//!   any other replica may take the Lease over (at its full duration).
//!
//! # Caveats
//! Changing an app's `ferry.dev/shard` label moves it at once: a reconcile already running on
//! the old shard's holder is not waited for. The 1/4 margin covers clock skew between replicas and the time a cancelled reconcile takes
//! to stop; clocks further apart than that break the guarantee, as they break Kubernetes' own
//! leader election.

pub mod assign;
pub mod journal;
pub mod lease;
pub mod relay;
pub(crate) mod run;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_apply::tracking::AppId;
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::application::Application;
pub use assign::SHARD_LABEL;
pub use journal::Journal;

/// How a replica takes part in sharding.
#[derive(Clone, Debug)]
pub struct ShardConfig {
    /// Shards S; the same on every replica.
    pub shards: u32,
    /// Where the Leases are (Ferry's namespace).
    pub namespace: String,
    /// This replica's name in the Leases (the pod name in a cluster).
    pub identity: String,
    /// How long a Lease lasts without renewal (whole seconds; a dead replica's shards are
    /// taken over after this).
    pub lease_duration: Duration,
    /// How often Leases are renewed and the shards rebalanced.
    pub renew_every: Duration,
    /// Where each reconcile is recorded (replica, app, start, end).
    pub journal: Option<Journal>,
}

impl ShardConfig {
    pub fn new(shards: u32, namespace: impl Into<String>, identity: impl Into<String>) -> Self {
        Self {
            shards: shards.max(1),
            namespace: namespace.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(10),
            renew_every: Duration::from_secs(2),
            journal: None,
        }
    }

    /// Lease duration (rounded up to whole seconds, as Leases count them) and renew period
    /// (at most a quarter of the duration, so a renewal can fail twice before the shard is
    /// given up).
    pub fn timing(mut self, lease_duration: Duration, renew_every: Duration) -> Self {
        self.lease_duration =
            Duration::from_secs(lease_duration.as_secs_f64().ceil().max(1.0) as u64);
        self.renew_every = renew_every.min(self.lease_duration / 4).max(Duration::from_millis(50));
        self
    }

    pub fn journal(mut self, journal: Journal) -> Self {
        self.journal = Some(journal);
        self
    }

    /// How long after a renewal started the shard may still be acted on.
    pub(crate) fn validity(&self) -> Duration {
        self.lease_duration * 3 / 4
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChangeLabel {
    /// `acquired`, `released` (drained and given back) or `lost` (renewal failed or taken over).
    pub change: String,
}

struct Held {
    /// `false` while draining: no new reconcile starts.
    active: bool,
    in_flight: usize,
    valid_until: watch::Sender<Instant>,
}

/// The shards this replica holds, shared by the shard manager and the workers.
pub struct Shards {
    config: Option<ShardConfig>,
    held: Mutex<HashMap<u32, Held>>,
    held_gauge: Gauge,
    changes: Family<ChangeLabel, Counter>,
}

impl Shards {
    /// `None`: no sharding; this replica owns every app.
    pub fn new(config: Option<ShardConfig>, registry: &mut Registry) -> Self {
        let shards = Self {
            config,
            held: Mutex::default(),
            held_gauge: Gauge::default(),
            changes: Family::default(),
        };
        let r = registry.sub_registry_with_prefix("ferry");
        r.register("shards_held", "Shards this replica holds now", shards.held_gauge.clone());
        r.register(
            "shard_changes",
            "Shards acquired, released (drained and given back) or lost by this replica",
            shards.changes.clone(),
        );
        shards
    }

    pub fn config(&self) -> Option<&ShardConfig> {
        self.config.as_ref()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Held>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The shard of an app as stored (an app no longer stored: by its name).
    pub fn shard_of(&self, apps: &Store<Application>, id: &AppId) -> u32 {
        let Some(config) = &self.config else { return 0 };
        let app = apps.get(&ObjectRef::new(&id.name).within(&id.namespace));
        let label = app.as_ref().and_then(|a| a.labels().get(SHARD_LABEL).cloned());
        assign::place(&id.namespace, &id.name, label.as_deref(), config.shards).shard
    }

    /// Whether this replica reconciles the app now (always, without sharding).
    pub fn owns(&self, apps: &Store<Application>, id: &AppId) -> bool {
        if self.config.is_none() {
            return true;
        }
        let shard = self.shard_of(apps, id);
        self.lock()
            .get(&shard)
            .is_some_and(|h| h.active && *h.valid_until.borrow() > Instant::now())
    }

    /// Starts a reconcile of an app of `shard`, if this replica may: the shard is held, not
    /// draining, and its Lease still valid. The [`Entry`] ends it when dropped.
    pub fn enter(self: &Arc<Self>, shard: u32) -> Option<Entry> {
        if self.config.is_none() {
            return Some(Entry { shards: self.clone(), shard, valid: None });
        }
        let mut held = self.lock();
        let h = held.get_mut(&shard)?;
        if !h.active || *h.valid_until.borrow() <= Instant::now() {
            return None;
        }
        h.in_flight += 1;
        Some(Entry { shards: self.clone(), shard, valid: Some(h.valid_until.subscribe()) })
    }

    /// The shards held now, draining ones included.
    pub fn held(&self) -> Vec<u32> {
        let mut held: Vec<u32> = self.lock().keys().copied().collect();
        held.sort_unstable();
        held
    }

    fn gained(&self, shard: u32, valid_until: Instant) {
        let (tx, _) = watch::channel(valid_until);
        self.lock().insert(shard, Held { active: true, in_flight: 0, valid_until: tx });
        self.count("acquired");
    }

    fn renewed(&self, shard: u32, valid_until: Instant) {
        if let Some(h) = self.lock().get(&shard) {
            h.valid_until.send_replace(valid_until);
        }
    }

    /// Stops starting reconciles of the shard; `true` once none runs.
    fn drain(&self, shard: u32) -> bool {
        let mut held = self.lock();
        let Some(h) = held.get_mut(&shard) else { return true };
        h.active = false;
        h.in_flight == 0
    }

    /// Forgets the shard; its running reconciles (none after a drain) are cancelled.
    fn dropped(&self, shard: u32, change: &str) {
        if self.lock().remove(&shard).is_some() {
            self.count(change);
        }
    }

    fn count(&self, change: &str) {
        self.changes.get_or_create(&ChangeLabel { change: change.into() }).inc();
        self.held_gauge.set(self.lock().len() as i64);
    }

    /// The shards whose validity ran out (renewals failing): to be dropped at once.
    fn expired(&self) -> Vec<u32> {
        let now = Instant::now();
        self.lock()
            .iter()
            .filter(|(_, h)| *h.valid_until.borrow() <= now)
            .map(|(s, _)| *s)
            .collect()
    }
}

/// One reconcile in a held shard.
pub struct Entry {
    shards: Arc<Shards>,
    shard: u32,
    valid: Option<watch::Receiver<Instant>>,
}

impl Entry {
    /// Resolves when this replica must stop acting on the shard: its Lease could not be renewed
    /// in time, or it was lost. Never resolves without sharding.
    pub async fn revoked(&mut self) {
        let Some(valid) = self.valid.as_mut() else { return std::future::pending().await };
        loop {
            let until = *valid.borrow_and_update();
            tokio::select! {
                _ = tokio::time::sleep_until(until) => {
                    if *valid.borrow() <= Instant::now() {
                        return;
                    }
                }
                changed = valid.changed() => if changed.is_err() { return },
            }
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some(h) = self.shards.lock().get_mut(&self.shard) {
            h.in_flight = h.in_flight.saturating_sub(1);
        }
    }
}

/// Reconciles `id` if this replica holds its shard, recording the reconcile in the journal;
/// a reconcile whose shard is revoked meanwhile is cancelled where it is.
pub(crate) async fn reconcile_owned(
    inner: &Arc<crate::controller::Inner>,
    id: &AppId,
    reasons: crate::reconcile::Reasons,
) {
    let shard = inner.shards.shard_of(&inner.apps, id);
    let Some(mut entry) = inner.shards.enter(shard) else { return };
    let start_us = now_us();
    tokio::select! {
        _ = crate::reconcile::reconcile(inner, id, reasons) => {}
        _ = entry.revoked() => {
            tracing::warn!(app = %id, shard, "shard lease not renewed in time; reconcile cancelled so that another replica can take the shard");
            again_after_renewal(inner, id, reasons);
        }
    }
    if let Some(journal) = inner.shards.config().and_then(|c| c.journal.as_ref()) {
        let replica = inner.shards.config().map(|c| c.identity.clone()).unwrap_or_default();
        journal.record(journal::Span { app: id.to_string(), replica, start_us, end_us: now_us() });
    }
    drop(entry);
}

/// A reconcile cancelled because the shard's validity ran out: a renewal that was only late
/// (a stalled process, a slow API server) keeps the shard, and then nothing else would bring the
/// app back — its trigger was spent on the cancelled run. So it is queued again, with its
/// reasons, after the next renewal round: the worker runs it if the shard is still held, and
/// drops it otherwise (the replica that takes the shard queues its apps).
fn again_after_renewal(
    inner: &crate::controller::Inner,
    id: &AppId,
    reasons: crate::reconcile::Reasons,
) {
    let Some(config) = inner.shards.config() else { return };
    let mut pending = inner.reasons.lock().unwrap_or_else(|p| p.into_inner());
    pending.entry(id.clone()).or_default().merge(reasons);
    drop(pending);
    inner.queue.push_after(id.clone(), config.renew_every * 2);
}

fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

/// The condition an app with an unusable `ferry.dev/shard` label carries (cleared otherwise).
pub(crate) fn label_condition(cy: &mut crate::reconcile::Cycle<'_>) {
    const CONDITION: &str = "InvalidShardLabel";
    let Some(config) = cy.inner.shards.config() else { return };
    let label = cy.app.labels().get(SHARD_LABEL).map(String::as_str);
    let placed = assign::place(&cy.id.namespace, &cy.id.name, label, config.shards);
    match placed.invalid_label {
        Some(value) => {
            let message = format!(
                "label {SHARD_LABEL}={value:?} is not a shard number from 0 to {}; the app is placed by its name in shard {} instead. Set the label to a number below {} or remove it",
                config.shards - 1,
                placed.shard,
                config.shards
            );
            cy.set(CONDITION, true, "ShardOutOfRange", message);
        }
        None => cy.clear(CONDITION),
    }
}
