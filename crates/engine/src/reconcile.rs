//! One reconcile of one app: source → render → compare → (sync) → health → status. Every stage
//! that fails stops the reconcile with a condition saying what, why and what to do, and nothing
//! is pruned; a cycle in which nothing changed reads only memory and the watch cache.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::metrics::{CacheLabel, CacheResult};
use ferry_apply::tracking::AppId;
use ferry_diff::{DiffOptions, ObjectDiff};
use ferry_health::{Health, HealthStatus, Rules, aggregate_named, assess};
use ferry_render::{Lookup, RenderContext, RepoPath};
use ferry_source::CommitId;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event as KubeEvent, EventType};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource as _, ResourceExt};
use serde_json::Value;

use crate::application::*;
use crate::compare::{Comparison, compare};
use crate::controller::Inner;
use crate::prepare::{Prepared, prepare};
use crate::sources::Sources;
use crate::status::*;

/// Why an app is being reconciled (several at once when triggers coalesce).
#[derive(Clone, Copy, Debug, Default)]
pub struct Reasons {
    pub spec: bool,
    pub poll: bool,
    pub drift: bool,
    pub request: bool,
    pub retry: bool,
    pub resync: bool,
}

/// What the engine remembers of an app between reconciles (never the source of truth: the
/// Application's status is; this only saves work).
#[derive(Clone, Default)]
pub struct AppMemory {
    /// What `targetRevision` resolved to last.
    pub head: Option<CommitId>,
    /// The commit rendered last, and for which spec generation.
    pub rendered_for: Option<(CommitId, Option<i64>, String)>,
    pub prepared: Prepared,
    pub diffs: Vec<ObjectDiff>,
    pub heal_attempts: u32,
    pub next_heal: Option<Instant>,
    pub degraded_since: Option<Instant>,
    pub last_written: Option<Value>,
    /// The Application as the server returned it after our last status write. The watch cache
    /// may not have it yet when the next reconcile starts; reading the older copy would act on
    /// a request (rollback, unpin, sync) a second time.
    pub written: Option<Arc<Application>>,
    /// The status on the server was changed outside `write_status` (a sync's Running state and
    /// planned inventory): the next status is written even if it equals the last one written.
    pub must_write: bool,
    /// What the last render produced: its content hash and the spec generation it was for.
    pub content: Option<(String, Option<i64>)>,
    /// `content` as of the last successful sync. A new commit that renders the same content is
    /// already applied: nothing is synced again (a monorepo commit to one app leaves the others be).
    pub synced_content: Option<(String, Option<i64>)>,
}

impl AppMemory {
    /// Whether the last operation applied what `revision` renders: it succeeded at `revision`
    /// itself, or at an earlier commit whose render was the same.
    pub(crate) fn applied(&self, status: &ApplicationStatus, revision: &CommitId) -> bool {
        status.operation_state.as_ref().is_some_and(|o| {
            o.phase == "Succeeded"
                && !o.dry_run
                && (o.revision == revision.as_str()
                    || (self.content.is_some() && self.synced_content == self.content))
        })
    }
}

/// Whichever of two copies of an Application the server wrote later, by resourceVersion (an
/// integer on every API server Ferry knows; when either is not, the watch cache's copy wins).
fn newer(stored: Arc<Application>, written: Option<&Arc<Application>>) -> Arc<Application> {
    let rv = |a: &Application| a.metadata.resource_version.as_deref()?.parse::<u64>().ok();
    match written {
        Some(w) if w.metadata.uid == stored.metadata.uid => match (rv(&stored), rv(w)) {
            (Some(s), Some(n)) if n > s => w.clone(),
            _ => stored,
        },
        _ => stored,
    }
}

/// The kind of sync decided on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SyncKind {
    /// A user asked (annotation / CLI / API).
    Manual { prune: bool, dry_run: bool },
    /// Automated: a new revision, or a retry of a failed one.
    Auto,
    /// Automated self-heal of drift.
    Heal,
}

pub(crate) fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| jiff::Timestamp::now().to_string())
}

pub(crate) async fn reconcile(inner: &Arc<Inner>, id: &AppId, reasons: Reasons) {
    let Some(stored) = inner.apps.get(&ObjectRef::new(&id.name).within(&id.namespace)) else {
        return;
    };
    let mut mem =
        inner.memory.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned().unwrap_or_default();
    let app = newer(stored, mem.written.as_ref());
    let requeue = reconcile_app(inner, &app, id, reasons, &mut mem).await;
    inner.memory.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), mem);
    if let Some(delay) = requeue {
        inner
            .reasons
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id.clone())
            .or_default()
            .retry = true;
        inner.queue.push_after(id.clone(), delay);
    }
}

async fn reconcile_app(
    inner: &Arc<Inner>,
    app: &Application,
    id: &AppId,
    reasons: Reasons,
    mem: &mut AppMemory,
) -> Option<Duration> {
    let now = now();
    let mut status = app.status.clone().unwrap_or_default();
    if app.metadata.deletion_timestamp.is_some() {
        return crate::finalize::finalize(inner, app, id, &mut status, mem).await;
    }
    let annotations = app.annotations();
    let handled = status.handled_requests.clone().unwrap_or_default();
    let fresh = |key: &str, seen: &Option<String>| {
        annotations.get(key).filter(|v| seen.as_ref() != Some(*v)).cloned()
    };
    let sync_request = fresh(ANNOTATION_SYNC_REQUEST, &handled.sync);
    let rollback_request = fresh(ANNOTATION_ROLLBACK, &handled.rollback);
    let unpin_request = fresh(ANNOTATION_UNPIN, &handled.unpin);
    {
        let h = status.handled_requests.get_or_insert_with(Default::default);
        if let Some(v) = &sync_request {
            h.sync = Some(v.clone());
        }
        if let Some(v) = &rollback_request {
            h.rollback = Some(v.clone());
        }
        if let Some(v) = &unpin_request {
            h.unpin = Some(v.clone());
        }
    }
    let mut requeue = None;

    // Destination.
    if !app.spec.destination.is_in_cluster() {
        let target = app
            .spec
            .destination
            .server
            .clone()
            .or(app.spec.destination.name.clone())
            .unwrap_or_default();
        set_condition(
            &mut status.conditions,
            "DestinationReady",
            false,
            "UnknownCluster",
            format!(
                "destination {target:?} is not a cluster Ferry knows; only the cluster Ferry runs in is supported so far \
             (server https://kubernetes.default.svc or name in-cluster). Nothing was applied."
            ),
            &now,
        );
        status.sync.status = SyncStatusCode::Unknown;
        write_status(inner, app, id, status, mem).await;
        return None;
    }
    remove_condition(&mut status.conditions, "DestinationReady");

    // Source.
    let url = match Sources::parse_url(&app.spec.source.repo_url) {
        Ok(u) => u,
        Err(e) => {
            set_condition(
                &mut status.conditions,
                "SourceReady",
                false,
                "InvalidRepoURL",
                format!("{e}. Fix spec.source.repoURL."),
                &now,
            );
            status.sync.status = SyncStatusCode::Unknown;
            write_status(inner, app, id, status, mem).await;
            return None;
        }
    };
    let need_resolve = mem.head.is_none()
        || reasons.poll
        || reasons.spec
        || reasons.request
        || reasons.resync
        || reasons.retry;
    if need_resolve {
        let max_age = if reasons.poll && !reasons.spec && !reasons.request {
            inner.config.poll_interval / 2
        } else {
            Duration::from_secs(1)
        };
        let started = Instant::now();
        let head = inner
            .sources
            .commit(&url, &inner.credentials, &app.spec.source.target_revision, max_age)
            .await;
        inner.metrics.git_fetch_duration.observe(started.elapsed().as_secs_f64());
        match head {
            Ok(c) => {
                tracing::debug!(app = %id, head = %c.short(), "source resolved");
                mem.head = Some(c)
            }
            Err(e) => {
                inner.metrics.git_errors.inc();
                inner
                    .metrics
                    .errors
                    .get_or_create(&crate::metrics::StageLabel { stage: "source".into() })
                    .inc();
                set_condition(
                    &mut status.conditions,
                    "SourceReady",
                    false,
                    "FetchFailed",
                    format!(
                        "cannot fetch {:?} from {url}: {e}. Nothing in the cluster was changed or pruned; Ferry retries with backoff.",
                        app.spec.source.target_revision
                    ),
                    &now,
                );
                write_status(inner, app, id, status, mem).await;
                return Some(if e.is_retryable() {
                    Duration::from_secs(10)
                } else {
                    inner.config.poll_interval.max(Duration::from_secs(30))
                });
            }
        }
    }
    let head = mem.head.clone()?;
    set_condition(
        &mut status.conditions,
        "SourceReady",
        true,
        "Fetched",
        format!(
            "{} resolves to {}",
            display_revision(&app.spec.source.target_revision),
            head.short()
        ),
        &now,
    );

    // Pins (rollback).
    let mut forced_sync = false;
    if unpin_request.is_some() && status.pinned.take().is_some() {
        publish(
            inner,
            app,
            EventType::Normal,
            "Unpinned",
            format!("following {} again", display_revision(&app.spec.source.target_revision)),
        )
        .await;
    }
    if let Some(raw) = &rollback_request {
        let wanted = &RollbackRequest::parse(raw).to;
        match find_history(&status.history, wanted) {
            Some(h) => {
                status.pinned = Some(Pin {
                    revision: h.revision.clone(),
                    reason: format!("rolled back to history entry {} on request", h.id),
                    head_at_pin: head.as_str().to_owned(),
                    at: now.clone(),
                });
                forced_sync = true;
                remove_condition(&mut status.conditions, "RollbackFailed");
                publish(
                    inner,
                    app,
                    EventType::Normal,
                    "RolledBack",
                    format!(
                        "rolling back to history entry {} ({}) on request; staying there until a new commit or an unpin",
                        h.id,
                        short(&h.revision)
                    ),
                )
                .await;
            }
            None => set_condition(
                &mut status.conditions,
                "RollbackFailed",
                true,
                "UnknownRevision",
                format!(
                    "no history entry or revision {wanted:?} to roll back to; `ferry app history {}` lists them",
                    id.name
                ),
                &now,
            ),
        }
    }
    if status.pinned.as_ref().is_some_and(|p| p.head_at_pin != head.as_str()) {
        status.pinned = None;
        publish(
            inner,
            app,
            EventType::Normal,
            "Unpinned",
            format!("a new commit {} arrived; following it again", head.short()),
        )
        .await;
    }
    let revision = match &status.pinned {
        Some(pin) => {
            set_condition(
                &mut status.conditions,
                "Pinned",
                true,
                "RolledBack",
                format!(
                    "staying on {} ({}); a new commit or `ferry app rollback {} --unpin` resumes auto-sync",
                    short(&pin.revision),
                    pin.reason,
                    id.name
                ),
                &now,
            );
            match inner
                .sources
                .commit(&url, &inner.credentials, &pin.revision, Duration::from_secs(1))
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    set_condition(
                        &mut status.conditions,
                        "SourceReady",
                        false,
                        "FetchFailed",
                        format!("cannot fetch pinned revision {}: {e}", pin.revision),
                        &now,
                    );
                    write_status(inner, app, id, status, mem).await;
                    return Some(Duration::from_secs(30));
                }
            }
        }
        None => {
            remove_condition(&mut status.conditions, "Pinned");
            head.clone()
        }
    };

    // Render.
    let render_key = (
        revision.clone(),
        app.metadata.generation,
        serde_json::to_string(&app.spec.source).unwrap_or_default(),
    );
    if mem.rendered_for.as_ref() != Some(&render_key) {
        let path = match RepoPath::new(&app.spec.source.path) {
            Ok(p) => p,
            Err(e) => {
                set_condition(
                    &mut status.conditions,
                    "RenderReady",
                    false,
                    "InvalidPath",
                    format!("spec.source.path: {e}"),
                    &now,
                );
                status.sync.status = SyncStatusCode::Unknown;
                write_status(inner, app, id, status, mem).await;
                return None;
            }
        };
        let tree = match inner.sources.tree(&url, &revision) {
            Ok(t) => t,
            Err(e) => {
                set_condition(
                    &mut status.conditions,
                    "SourceReady",
                    false,
                    "TreeUnreadable",
                    format!("{e}"),
                    &now,
                );
                write_status(inner, app, id, status, mem).await;
                return Some(Duration::from_secs(30));
            }
        };
        let mut ctx = RenderContext::new(&id.name).with_config(inner.config.render.clone());
        if !app.spec.destination.namespace.is_empty() {
            ctx = ctx.with_namespace(&app.spec.destination.namespace);
        }
        let opts = app.spec.source.render.clone();
        let worker = inner.clone();
        let started = Instant::now();
        let rendered = tokio::task::spawn_blocking(move || {
            worker.renders.render_traced(&tree, &path, &opts, &ctx)
        })
        .await;
        inner.metrics.render_duration.observe(started.elapsed().as_secs_f64());
        let rendered = match rendered {
            Ok(Ok((r, lookup))) => {
                let cache = match lookup {
                    Lookup::Hit => CacheResult::Hit,
                    Lookup::Miss => CacheResult::Miss,
                };
                inner.metrics.renders.get_or_create(&CacheLabel { cache }).inc();
                mem.content = Some((r.hash.clone(), app.metadata.generation));
                r
            }
            Ok(Err(e)) => {
                inner
                    .metrics
                    .errors
                    .get_or_create(&crate::metrics::StageLabel { stage: "render".into() })
                    .inc();
                set_condition(
                    &mut status.conditions,
                    "RenderReady",
                    false,
                    "RenderFailed",
                    format!(
                        "revision {}: {e}. Nothing was applied or pruned; fix it in Git and commit.",
                        revision.short()
                    ),
                    &now,
                );
                status.sync.status = SyncStatusCode::Unknown;
                status.sync.revision = revision.as_str().to_owned();
                write_status(inner, app, id, status, mem).await;
                return None;
            }
            Err(e) => {
                set_condition(
                    &mut status.conditions,
                    "RenderReady",
                    false,
                    "RenderCrashed",
                    format!("the renderer stopped: {e}"),
                    &now,
                );
                write_status(inner, app, id, status, mem).await;
                return Some(Duration::from_secs(30));
            }
        };
        match prepare(&inner.client, &inner.discovery, app, id, &rendered).await {
            Ok(p) => mem.prepared = p,
            Err(e) => {
                set_condition(
                    &mut status.conditions,
                    "RenderReady",
                    false,
                    "InvalidObject",
                    format!("{e}. Nothing was applied or pruned."),
                    &now,
                );
                status.sync.status = SyncStatusCode::Unknown;
                write_status(inner, app, id, status, mem).await;
                return Some(Duration::from_secs(30));
            }
        }
        mem.rendered_for = Some(render_key);
    }
    set_condition(
        &mut status.conditions,
        "RenderReady",
        true,
        "Rendered",
        format!("{} objects rendered from {}", mem.prepared.desired.len(), revision.short()),
        &now,
    );

    // Watches for every kind declared or recorded.
    let mut kinds = mem.prepared.kinds.clone();
    for e in &status.inventory {
        kinds.insert((e.api_version(), e.kind.clone()));
    }
    if let Err(e) = inner.live.ensure_watched(&kinds, inner.config.watch_timeout).await {
        set_condition(
            &mut status.conditions,
            "Synced",
            false,
            "WatchFailed",
            format!("{e}. Nothing was applied or pruned."),
            &now,
        );
        status.sync.status = SyncStatusCode::Unknown;
        write_status(inner, app, id, status, mem).await;
        return Some(Duration::from_secs(15));
    }

    // Compare.
    let base = DiffOptions::default().mask_key(inner.config.mask_key.clone());
    let resources = mem.prepared.resources.clone();
    let mut cmp = compare(
        id,
        &resources,
        &status.inventory,
        |k| inner.live.get(k),
        &base,
        &app.spec.ignore_differences,
    );
    let drift_appeared = !cmp.out_of_sync.is_empty()
        && mem.diffs.is_empty()
        && mem.rendered_for.is_some()
        && mem.applied(&status, &revision);
    if drift_appeared {
        inner.metrics.drift_detected.inc();
        publish(inner, app, EventType::Warning, "Drift", cmp.summary(mem.prepared.resources.len()))
            .await;
    }
    mem.diffs = cmp.diffs.clone();

    // Decide.
    let automated = app.automated().cloned();
    let decision = decide(app, &status, &revision, &cmp, sync_request.as_deref(), forced_sync, mem);
    tracing::debug!(app = %id, revision = %revision.short(), decision = ?decision, "decided");
    match decision {
        Decision::Wait(d) => requeue = Some(d),
        Decision::Refused(message) => {
            set_condition(
                &mut status.conditions,
                "SyncFailed",
                true,
                "RetryLimitReached",
                message,
                &now,
            );
        }
        Decision::None => {}
        Decision::Sync(kind) => {
            if kind == SyncKind::Heal {
                inner.metrics.heals.inc();
                mem.heal_attempts += 1;
                // Fast first retry, then capped exponential backoff for a fight with another writer.
                let delay = Duration::from_millis(500)
                    .saturating_mul(2u32.saturating_pow(mem.heal_attempts.min(10)))
                    .min(Duration::from_secs(300));
                mem.next_heal = Some(Instant::now() + delay);
                publish(
                    inner,
                    app,
                    EventType::Normal,
                    "Healing",
                    format!("re-applying Git over drift: {}", cmp.summary(resources.len())),
                )
                .await;
            }
            let result = crate::sync::run(
                inner,
                app,
                id,
                &mut status,
                &revision,
                kind,
                &resources,
                &mem.prepared.desired,
                &cmp,
                automated.as_ref(),
            )
            .await;
            if let Some(d) = result {
                requeue = Some(requeue.map_or(d, |r: Duration| r.min(d)));
            }
            // The sync wrote a Running state and a planned inventory of its own: the status
            // written at the end must replace them even if it equals the one written before.
            mem.must_write = true;
            cmp = compare(
                id,
                &resources,
                &status.inventory,
                |k| inner.live.get(k),
                &base,
                &app.spec.ignore_differences,
            );
            mem.diffs = cmp.diffs.clone();
        }
    }
    if cmp.out_of_sync.is_empty() {
        mem.heal_attempts = 0;
        mem.next_heal = None;
    }

    // Health.
    let rules = Rules::new(app.spec.health_checks.clone());
    let health = judge(inner, &mut cmp, &resources, &rules);
    if !rules.problems().is_empty() {
        let problems: Vec<String> = rules.problems().iter().map(|p| p.to_string()).collect();
        set_condition(
            &mut status.conditions,
            "HealthChecksValid",
            false,
            "InvalidExpression",
            problems.join("; "),
            &now,
        );
    } else {
        remove_condition(&mut status.conditions, "HealthChecksValid");
    }
    let op_ok = status
        .operation_state
        .as_ref()
        .is_some_and(|o| o.phase == "Succeeded" && o.revision == revision.as_str() && !o.dry_run);
    if op_ok {
        mem.synced_content = mem.content.clone();
    }
    if op_ok
        && let Some(last) = status.history.last_mut().filter(|h| h.revision == revision.as_str())
    {
        match health.status {
            HealthStatus::Healthy => last.healthy = Some(true),
            HealthStatus::Degraded => last.healthy = Some(false),
            _ => {}
        }
    }
    if let Some(d) =
        crate::rollback::automated(inner, app, &mut status, &health, &revision, &head, mem, &now)
            .await
    {
        requeue = Some(requeue.map_or(d, |r: Duration| r.min(d)));
    }

    // Status.
    status.sync = SyncStatus { status: cmp.status(), revision: revision.as_str().to_owned() };
    set_condition(
        &mut status.conditions,
        "Synced",
        cmp.status() == SyncStatusCode::Synced,
        if cmp.status() == SyncStatusCode::Synced { "Synced" } else { "OutOfSync" },
        cmp.summary(resources.len()),
        &now,
    );
    status.health = AppHealth { status: health.status, message: health.message.clone() };
    status.resources = cmp.resources.iter().take(MAX_RESOURCES_IN_STATUS).cloned().collect();
    if app.spec.suspend {
        set_condition(
            &mut status.conditions,
            "Suspended",
            true,
            "Suspended",
            "spec.suspend is set: Ferry reports status but neither syncs nor heals; set it to false to resume",
            &now,
        );
    } else {
        remove_condition(&mut status.conditions, "Suspended");
    }
    inner.metrics.set_app_state(
        &id.namespace,
        &id.name,
        &status.sync.status.to_string(),
        health.status.as_str(),
    );
    write_status(inner, app, id, status, mem).await;
    requeue
}

/// At most this many per-object entries go into `status.resources` (status stays small; the API
/// serves the full list).
pub const MAX_RESOURCES_IN_STATUS: usize = 500;

#[derive(Debug)]
pub(crate) enum Decision {
    None,
    Sync(SyncKind),
    /// Not yet: come back after this delay (backoff).
    Wait(Duration),
    Refused(String),
}

fn decide(
    app: &Application,
    status: &ApplicationStatus,
    revision: &CommitId,
    cmp: &Comparison,
    request: Option<&str>,
    forced: bool,
    mem: &AppMemory,
) -> Decision {
    if let Some(raw) = request {
        let req = SyncRequest::parse(raw);
        return Decision::Sync(SyncKind::Manual { prune: req.prune, dry_run: req.dry_run });
    }
    if app.spec.suspend {
        return Decision::None;
    }
    if forced {
        return Decision::Sync(SyncKind::Auto);
    }
    let Some(auto) = app.automated() else { return Decision::None };
    let op = status.operation_state.as_ref().filter(|o| !o.dry_run);
    let synced_this = mem.applied(status, revision);
    if !synced_this {
        if let Some(o) = op.filter(|o| o.revision == revision.as_str() && o.phase == "Failed") {
            let retry = app.spec.sync_policy.as_ref().and_then(|p| p.retry.as_ref());
            let Some(delay) = retry_delay(retry, o.attempts) else {
                return Decision::Refused(format!(
                    "sync of {} failed {} times and the retry limit is reached: {}. Fix the cause, then `ferry app sync {}`",
                    short(&o.revision),
                    o.attempts,
                    o.message,
                    app.name_any()
                ));
            };
            let finished = o.finished_at.parse::<jiff::Timestamp>().ok();
            let elapsed = finished
                .map(|f| jiff::Timestamp::now().duration_since(f).unsigned_abs())
                .unwrap_or(delay);
            if elapsed < delay {
                return Decision::Wait(delay - elapsed);
            }
        }
        // Running: an engine stopped mid-sync; start over (apply is idempotent).
        return Decision::Sync(SyncKind::Auto);
    }
    if !cmp.out_of_sync.is_empty() && auto.self_heal {
        if let Some(next) = mem.next_heal {
            let now = Instant::now();
            if next > now {
                return Decision::Wait(next - now);
            }
        }
        return Decision::Sync(SyncKind::Heal);
    }
    if !cmp.extraneous.is_empty() && auto.prune {
        return Decision::Sync(SyncKind::Auto);
    }
    Decision::None
}

/// Health of each declared resource from the watch cache; the app's is the worst.
fn judge(
    inner: &Inner,
    cmp: &mut Comparison,
    resources: &[crate::compare::Resource],
    rules: &Rules,
) -> Health {
    let mut items = Vec::with_capacity(resources.len());
    for (i, r) in resources.iter().enumerate() {
        let h = match inner.live.get(&r.key) {
            Some(obj) => assess(&obj, rules),
            None => Health::missing("not in the cluster yet"),
        };
        if let Some(s) = cmp.resources.get_mut(i) {
            s.health = Some(AppHealth { status: h.status, message: h.message.clone() });
        }
        items.push((r.key.to_string(), h));
    }
    if items.is_empty() {
        return Health::healthy("the app declares no objects");
    }
    aggregate_named(items)
}

/// Writes status when it changed (apart from the reconcile time), as a merge patch that also
/// clears fields that became empty.
pub(crate) async fn write_status(
    inner: &Inner,
    app: &Application,
    id: &AppId,
    mut status: ApplicationStatus,
    mem: &mut AppMemory,
) {
    status.observed_generation = app.metadata.generation;
    let mut compare_to = status.clone();
    compare_to.reconciled_at = None;
    let new_value = serde_json::to_value(&compare_to).unwrap_or(Value::Null);
    let old_value = match &mem.last_written {
        Some(v) => v.clone(),
        None => {
            let mut old = app.status.clone().unwrap_or_default();
            old.reconciled_at = None;
            serde_json::to_value(&old).unwrap_or(Value::Null)
        }
    };
    if new_value == old_value && !mem.must_write {
        return;
    }
    status.reconciled_at = Some(now());
    let mut patch = serde_json::to_value(&status).unwrap_or(Value::Null);
    // Clear what became empty: fields of the last status written and of the copy read.
    let read =
        app.status.as_ref().and_then(|s| serde_json::to_value(s).ok()).unwrap_or(Value::Null);
    if let Some(p) = patch.as_object_mut() {
        for old in [old_value.as_object(), read.as_object()].into_iter().flatten() {
            for key in old.keys() {
                if !p.contains_key(key) && key != "reconciledAt" {
                    p.insert(key.clone(), Value::Null);
                }
            }
        }
    }
    let api: Api<Application> = Api::namespaced(inner.client.clone(), &id.namespace);
    match api
        .patch_status(
            &id.name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "status": patch })),
        )
        .await
    {
        Ok(updated) => {
            mem.last_written = Some(new_value);
            mem.must_write = false;
            mem.written = Some(Arc::new(updated));
        }
        Err(e) => tracing::warn!(app = %id, error = %e, "could not write status"),
    }
}

/// How long posting one Event may take before it is given up.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Posts a Kubernetes Event on the Application. An event is a courtesy to people: it is posted
/// from a task of its own, so a slow, failing or missing events API never delays or fails a
/// reconcile.
pub(crate) async fn publish(
    inner: &Inner,
    app: &Application,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let ev = KubeEvent {
        type_,
        reason: reason.into(),
        note: Some(truncate(&note, 1000)),
        action: reason.into(),
        secondary: None,
    };
    let recorder = inner.recorder.clone();
    let reference = app.object_ref(&());
    let app_name = app.name_any();
    tokio::spawn(async move {
        match tokio::time::timeout(EVENT_TIMEOUT, recorder.publish(&ev, &reference)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::debug!(app = %app_name, reason = %ev.reason, error = %e, "could not post event")
            }
            Err(_) => {
                tracing::debug!(app = %app_name, reason = %ev.reason, "posting an event timed out")
            }
        }
    });
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

pub(crate) fn short(rev: &str) -> &str {
    if rev.len() > 7 && rev.bytes().all(|b| b.is_ascii_hexdigit()) { &rev[..7] } else { rev }
}

fn display_revision(r: &str) -> &str {
    if r.is_empty() { "HEAD" } else { r }
}

/// Inventory as a map keyed by object (for updates).
pub(crate) fn inventory_map(
    inv: &[ferry_apply::prune::InventoryEntry],
) -> BTreeMap<ferry_apply::ObjKey, ferry_apply::prune::InventoryEntry> {
    inv.iter().map(|e| (e.key(), e.clone())).collect()
}

pub(crate) type LiveValues = HashMap<ferry_apply::ObjKey, Value>;
