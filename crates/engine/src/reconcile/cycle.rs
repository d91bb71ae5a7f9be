//! The context of one reconcile of one app: what every stage reads (the engine, the app, the
//! time) and what they build up together (the status to write, the memory to keep, when to
//! come back). Stages take a `&mut Cycle` instead of long argument lists.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_apply::tracking::AppId;
use kube::ResourceExt;
use kube::runtime::events::EventType;

use crate::application::*;
use crate::clusters::Connection;
use crate::controller::Inner;
use crate::status::{remove_condition, set_condition};

use super::events::publish;
use super::memory::AppMemory;
use super::stop::Stop;

/// Why an app is being reconciled (several at once when triggers coalesce). A reconcile with
/// none set was triggered by a watch event on a managed object: it reads only the watch cache.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reasons {
    pub spec: bool,
    pub poll: bool,
    pub request: bool,
    pub retry: bool,
    pub resync: bool,
}

impl Reasons {
    /// Whether the source must be resolved again (not just read from memory).
    pub fn needs_source(&self) -> bool {
        self.spec || self.poll || self.request || self.resync || self.retry
    }

    /// Adds `other`'s reasons to these.
    pub fn merge(&mut self, other: Reasons) {
        self.spec |= other.spec;
        self.poll |= other.poll;
        self.request |= other.request;
        self.retry |= other.retry;
        self.resync |= other.resync;
    }
}

/// The time of one reconcile, read once: decisions take it as an argument, so they are pure.
#[derive(Clone, Copy, Debug)]
pub struct Now {
    pub instant: Instant,
    pub wall: jiff::Timestamp,
}

impl Now {
    pub fn current() -> Self {
        Self { instant: Instant::now(), wall: jiff::Timestamp::now() }
    }

    /// The wall time as status writes it (RFC 3339, whole seconds).
    pub fn stamp(&self) -> String {
        stamp(self.wall)
    }
}

/// `ts` as status writes it (RFC 3339, whole seconds).
pub fn stamp(ts: jiff::Timestamp) -> String {
    ts.round(jiff::Unit::Second).unwrap_or(ts).to_string()
}

/// The requests (annotations) this reconcile acts on: each distinct value once.
#[derive(Clone, Debug, Default)]
pub struct Requests {
    pub sync: Option<SyncRequest>,
    pub rollback: Option<RollbackRequest>,
    pub unpin: bool,
    pub refresh: Option<RefreshRequest>,
    /// A terminate request: the running operation (if any) stopped before this reconcile.
    pub terminate: bool,
    /// An approval request (the raw annotation value: the approval stage judges it).
    pub approve: Option<String>,
}

impl Requests {
    /// Reads the annotations not yet handled and records them as handled in `status`.
    pub fn take(app: &Application, status: &mut ApplicationStatus) -> Self {
        let annotations = app.annotations();
        let handled = status.handled_requests.get_or_insert_with(Default::default);
        let fresh = |key: &str, seen: &mut Option<String>| {
            let value = annotations.get(key).filter(|v| seen.as_ref() != Some(*v))?;
            *seen = Some(value.clone());
            Some(value.clone())
        };
        Self {
            sync: fresh(ANNOTATION_SYNC_REQUEST, &mut handled.sync).map(|v| SyncRequest::parse(&v)),
            rollback: fresh(ANNOTATION_ROLLBACK, &mut handled.rollback)
                .map(|v| RollbackRequest::parse(&v)),
            unpin: fresh(ANNOTATION_UNPIN, &mut handled.unpin).is_some(),
            refresh: fresh(ANNOTATION_REFRESH, &mut handled.refresh)
                .map(|v| RefreshRequest::parse(&v)),
            terminate: fresh(ANNOTATION_TERMINATE, &mut handled.terminate).is_some(),
            approve: fresh(crate::approval::ANNOTATION_APPROVE, &mut handled.approve),
        }
    }
}

pub(crate) struct Cycle<'a> {
    pub inner: &'a Arc<Inner>,
    pub app: &'a Application,
    pub id: &'a AppId,
    pub reasons: Reasons,
    pub now: Now,
    pub status: ApplicationStatus,
    pub mem: &'a mut AppMemory,
    pub requests: Requests,
    /// The stop of a source or render stage the reconcile went past by using the last good
    /// render: compare and self-heal run against it, nothing is synced anew or pruned.
    pub fallback: Option<Stop>,
    /// The destination cluster (the one Ferry runs in until the destination stage resolves it).
    pub cluster: Arc<Connection>,
    /// The app's project, once the project stage found it.
    pub project: Option<Arc<crate::project::Project>>,
    /// The user the app's objects are applied as (the project's destinationServiceAccounts);
    /// `None`: Ferry's own identity.
    pub apply_as: Option<String>,
    /// The sync this reconcile started (for notifications: `on-drift-healed` reads it).
    pub synced: Option<super::SyncKind>,
    requeue: Option<Duration>,
}

impl<'a> Cycle<'a> {
    pub fn new(
        inner: &'a Arc<Inner>,
        app: &'a Application,
        id: &'a AppId,
        reasons: Reasons,
        mem: &'a mut AppMemory,
    ) -> Self {
        let mut status = app.status.clone().unwrap_or_default();
        let requests = Requests::take(app, &mut status);
        Self {
            inner,
            app,
            id,
            reasons,
            now: Now::current(),
            status,
            mem,
            requests,
            fallback: None,
            cluster: inner.clusters.local().clone(),
            project: None,
            apply_as: None,
            synced: None,
            requeue: None,
        }
    }

    /// Come back after `delay` at the latest (the shortest of all asked for wins).
    pub fn requeue(&mut self, delay: Option<Duration>) {
        if let Some(d) = delay {
            self.requeue = Some(self.requeue.map_or(d, |r| r.min(d)));
        }
    }

    pub fn requeue_delay(&self) -> Option<Duration> {
        self.requeue
    }

    /// Sets a condition, stamped with this reconcile's time.
    pub fn set(&mut self, type_: &str, status: bool, reason: &str, message: impl Into<String>) {
        set_condition(
            &mut self.status.conditions,
            type_,
            status,
            reason,
            message,
            &self.now.stamp(),
        );
    }

    pub fn clear(&mut self, type_: &str) {
        remove_condition(&mut self.status.conditions, type_);
    }

    pub async fn publish(&self, type_: EventType, reason: &str, note: String) {
        publish(self.inner, self.app, type_, reason, note).await;
    }

    pub fn name(&self) -> String {
        self.app.name_any()
    }
}
