//! Carrying out one sync decided by the reconcile: prune selection with its guards, the plan,
//! the executor, and what the result does to inventory, history, operation state and events.

use ferry_apply::killpoint;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use ferry_apply::ObjKey;
use ferry_apply::executor::{Executor, SyncRequest as ExecRequest};
use ferry_apply::plan::{PlanOptions, plan};
use ferry_apply::prune::{InventoryEntry, Keep, Verdict, select};
use ferry_apply::step::SyncPhase;
use ferry_health::Rules;
use ferry_source::CommitId;
use kube::api::Patch;
use kube::runtime::events::EventType;
use serde_json::Value;

use crate::application::*;
use crate::compare::{Comparison, Resource};
use crate::metrics::{ResultLabel, SyncResult};
use crate::reconcile::{Cycle, Stage, Stop, SyncKind, stamp};
use crate::status::*;
use crate::sync_select;

/// Live objects by key, as the executor and prune selection read them.
pub(crate) type LiveValues = HashMap<ObjKey, Value>;

/// Inventory as a map keyed by object (for updates).
pub(crate) fn inventory_map(inv: &[InventoryEntry]) -> BTreeMap<ObjKey, InventoryEntry> {
    inv.iter().map(|e| (e.key(), e.clone())).collect()
}

/// What one sync works with, gathered from the cycle.
struct Job<'c> {
    kind: SyncKind,
    revision: &'c CommitId,
    prune: bool,
    dry_run: bool,
    started: String,
    /// A selective sync's objects (empty: the whole app).
    resources: Vec<SyncResourceRef>,
    /// Delete and create again what an immutable field keeps from being updated.
    force: bool,
}

/// Runs the sync; returns a retry delay when it failed. Stops before the first apply when the
/// planned inventory cannot be recorded (an object created then would be an orphan).
pub(crate) async fn run(
    cy: &mut Cycle<'_>,
    kind: SyncKind,
    revision: &CommitId,
    cmp: &Comparison,
) -> Result<Option<Duration>, Stop> {
    let automated = cy.app.automated().cloned();
    let (selection, force) = match (kind, cy.requests.sync.as_ref()) {
        (SyncKind::Manual { .. }, Some(r)) => (r.resources.clone(), r.force),
        _ => (Vec::new(), false),
    };
    let (prune, dry_run, explicit_prune) = match kind {
        SyncKind::Manual { prune, dry_run } => {
            (prune || automated.as_ref().is_some_and(|a| a.prune), dry_run, prune)
        }
        SyncKind::Auto | SyncKind::Heal => {
            (automated.as_ref().is_some_and(|a| a.prune), false, false)
        }
    };
    // Never prune from the last good render: the target could not be read.
    let prune = prune && cy.fallback.is_none();
    let allow_empty = automated.as_ref().is_some_and(|a| a.allow_empty) || explicit_prune;
    let live = live_values(cy);
    let resources = cy.mem.prepared.resources.clone();
    let declared: BTreeSet<ObjKey> = resources.iter().map(|r| r.key.clone()).collect();
    let (prunes, gone) = prune_targets(cy, &declared, &live);
    let prunes = sync_select::prunes(&selection, prunes);
    let started = cy.now.stamp();
    let job = Job { kind, revision, prune, dry_run, started, resources: selection, force };
    let recorded: Vec<ObjKey> = cy.status.inventory.iter().map(|e| e.key()).collect();
    let unknown = sync_select::unknown(&job.resources, declared.iter().chain(recorded.iter()));
    if !unknown.is_empty() {
        let message = sync_select::unknown_message(&unknown, &cy.name());
        return Ok(refuse(cy, &job, message).await);
    }
    // A dry run deletes nothing: it shows the whole prune set, guard or not.
    let prune = dry_run && prune
        || guard_prunes(cy, prune && !dry_run, allow_empty, revision, &prunes).await;
    let job = Job { prune, ..job };
    let plan = match make_plan(cy, &job, prunes) {
        Ok(plan) => plan,
        Err(message) => return Ok(refuse(cy, &job, message).await),
    };
    // A selective sync records (and may create) only its objects.
    let all = resources;
    let resources: std::borrow::Cow<[Resource]> = if job.resources.is_empty() {
        std::borrow::Cow::Borrowed(&all[..])
    } else {
        all.iter().filter(|r| sync_select::selected(&job.resources, &r.key)).cloned().collect()
    };
    if !dry_run {
        killpoint::pass(killpoint::AFTER_PLAN);
        let planned = planned_inventory(&cy.status.inventory, &resources, &live);
        mark_running(cy, &job, planned).await?;
        killpoint::pass(killpoint::AFTER_INVENTORY);
        let what = match kind {
            SyncKind::Heal => "heal",
            SyncKind::Auto => "automated sync",
            SyncKind::Manual { .. } => "requested sync",
        };
        let note = format!("{what} of {} started: {} objects", revision.short(), plan.task_count());
        cy.publish(EventType::Normal, "SyncStarted", note).await;
    }
    let rules = Rules::new(cy.app.spec.health_checks.clone());
    // Objects the diff found in sync are not sent again: no write, no resourceVersion bump.
    let in_sync = if dry_run { Default::default() } else { cmp.in_sync.clone() };
    let request = ExecRequest {
        plan: &plan,
        app: cy.id,
        dry_run,
        live: Some(&live),
        in_sync: &in_sync,
        health_rules: &rules,
        recreate_immutable: job.force,
    };
    let Some(outcome) = execute(cy, &request).await else {
        return Ok(terminated(cy, &job, planned_or_kept(cy, &resources, &live)).await);
    };
    if !dry_run {
        killpoint::pass(killpoint::AFTER_SYNC);
        record_inventory(cy, &outcome, &declared, &gone);
        announce_prunes(cy, &outcome.pruned).await;
    }
    Ok(conclude(cy, &job, outcome).await)
}

/// A sync that stops before its first apply: failed, with `message`, retried in 30 s.
async fn refuse(cy: &mut Cycle<'_>, job: &Job<'_>, message: String) -> Option<Duration> {
    let finished = crate::sync_audit::Finished {
        kind: job.kind,
        revision: job.revision,
        dry_run: job.dry_run,
        succeeded: false,
        summary: String::from("nothing applied"),
        message: format!("{message}. Nothing was applied."),
        items: &[],
    };
    crate::sync_audit::record(cy, finished);
    finish_failed(
        &mut cy.status,
        job.revision,
        &job.started,
        format!("{message}. Nothing was applied."),
        job.dry_run,
        Vec::new(),
    );
    describe(cy, job);
    cy.set("SyncFailed", true, "SyncFailed", format!("{message}. Nothing was applied."));
    cy.publish(EventType::Warning, "SyncFailed", message).await;
    Some(Duration::from_secs(30))
}

/// ` (2 selected objects only, with force)`: how a sync was limited, for its messages.
fn scope(job: &Job<'_>) -> String {
    let mut parts = Vec::new();
    match job.resources.len() {
        0 => {}
        1 => parts.push("1 selected object only".to_owned()),
        n => parts.push(format!("{n} selected objects only")),
    }
    if job.force {
        parts.push("with force".to_owned());
    }
    if parts.is_empty() { String::new() } else { format!(" ({})", parts.join(", ")) }
}

/// Notes a selective or forced sync in the operation state just written.
fn describe(cy: &mut Cycle<'_>, job: &Job<'_>) {
    if let Some(op) = cy.status.operation_state.as_mut() {
        op.resources = job.resources.clone();
        op.force = job.force;
    }
}

/// Runs the executor until it finishes or a terminate request stops it (`None`). Stopping
/// between two requests is safe: apply is idempotent and the planned inventory is recorded.
async fn execute(
    cy: &Cycle<'_>,
    request: &ExecRequest<'_>,
) -> Option<ferry_apply::executor::SyncOutcome> {
    let stop = Arc::new(tokio::sync::Notify::new());
    cy.inner.running.lock().unwrap_or_else(|p| p.into_inner()).insert(cy.id.clone(), stop.clone());
    let tenant = cy.apply_as.as_deref().map(|user| {
        let client = crate::clusters::impersonate::as_user(&cy.cluster.client, user)
            .expect("project::service_account admits Kubernetes names only: valid header values");
        let config = cy.inner.config.executor.clone();
        Executor::new(client, cy.cluster.discovery.clone(), config)
    });
    let executor = tenant.as_ref().unwrap_or(&cy.cluster.executor);
    let outcome = tokio::select! {
        outcome = executor.execute(request) => Some(outcome),
        () = stop.notified() => None,
    };
    cy.inner.running.lock().unwrap_or_else(|p| p.into_inner()).remove(cy.id);
    outcome
}

/// The inventory after a sync stopped midway: everything it may have created (as planned).
fn planned_or_kept(
    cy: &Cycle<'_>,
    resources: &[Resource],
    live: &LiveValues,
) -> Vec<InventoryEntry> {
    planned_inventory(&cy.status.inventory, resources, live)
}

async fn terminated(
    cy: &mut Cycle<'_>,
    job: &Job<'_>,
    inventory: Vec<InventoryEntry>,
) -> Option<Duration> {
    cy.status.inventory = inventory;
    let message = format!(
        "terminated on request; objects applied so far stay. `ferry app sync {}` starts it again",
        cy.name()
    );
    cy.status.operation_state = Some(OperationState {
        phase: OperationPhase::Failed,
        message: message.clone(),
        revision: job.revision.as_str().to_owned(),
        started_at: job.started.clone(),
        finished_at: stamp(jiff::Timestamp::now()),
        dry_run: job.dry_run,
        terminated: true,
        resources: job.resources.clone(),
        force: job.force,
        ..Default::default()
    });
    cy.set(
        "SyncFailed",
        true,
        "Terminated",
        format!("the sync of {} was {message}", job.revision.short()),
    );
    cy.publish(EventType::Warning, "SyncTerminated", message).await;
    None
}

/// The prune guard (blast radius and sharp shrink): prune stays on only when the deletions
/// are within the app's thresholds or approved.
async fn guard_prunes(
    cy: &mut Cycle<'_>,
    prune: bool,
    allow_shrink: bool,
    revision: &CommitId,
    prunes: &[ferry_apply::plan::PruneTask],
) -> bool {
    let keys: Vec<ObjKey> = prunes.iter().map(|t| t.key.clone()).collect();
    crate::reconcile::approve_prunes::hold(cy, prune, allow_shrink, revision, &keys).await
}

/// The live objects this sync may touch, from the watch cache.
fn live_values(cy: &Cycle<'_>) -> LiveValues {
    let keys = cy.mem.prepared.resources.iter().map(|r| r.key.clone());
    let recorded = cy.status.inventory.iter().map(|e| e.key());
    keys.chain(recorded)
        .filter_map(|k| cy.cluster.live.get(&k).map(|o| (k, (*o).clone())))
        .collect()
}

/// What may be pruned (recorded, owned, same UID, no longer declared), and what is already gone.
fn prune_targets(
    cy: &Cycle<'_>,
    declared: &BTreeSet<ObjKey>,
    live: &LiveValues,
) -> (Vec<ferry_apply::plan::PruneTask>, Vec<ObjKey>) {
    let mut prunes = Vec::new();
    let mut gone = Vec::new();
    for v in select(&cy.status.inventory, declared, cy.id, |e| live.get(&e.key())) {
        match v {
            Verdict::Prune(t)
                if !cy.inner.claims.others(&cy.cluster.id, &t.key, cy.id).is_empty() =>
            {
                tracing::info!(app = %cy.id, object = %t.key, "not pruned: another app declares it")
            }
            Verdict::Prune(t) => prunes.push(t),
            Verdict::Keep(key, Keep::Gone) => gone.push(key),
            Verdict::Keep(key, reason) => {
                tracing::info!(app = %cy.id, object = %key, %reason, "not pruned")
            }
        }
    }
    (prunes, gone)
}

fn make_plan(
    cy: &Cycle<'_>,
    job: &Job<'_>,
    prunes: Vec<ferry_apply::plan::PruneTask>,
) -> Result<ferry_apply::plan::Plan, String> {
    let options = PlanOptions {
        prune: job.prune,
        prune_last: cy.app.sync_option("PruneLast"),
        force: true,
        // A selective sync runs no hooks (as Argo CD's): they belong to the whole app's sync.
        hooks: job.resources.is_empty(),
    };
    let mut plan = plan(&cy.mem.prepared.desired, prunes, &options).map_err(|e| e.to_string())?;
    sync_select::limit(&mut plan, &job.resources);
    if cy.app.sync_option("Replace") {
        replace_instead_of_apply(&mut plan);
    }
    Ok(plan)
}

/// The inventory after the sync: confirmed deletes and absences leave it, applied tracked
/// resources enter it (a namespace made by CreateNamespace=true or a hook never does).
fn record_inventory(
    cy: &mut Cycle<'_>,
    outcome: &ferry_apply::executor::SyncOutcome,
    declared: &BTreeSet<ObjKey>,
    gone: &[ObjKey],
) {
    for a in &outcome.applied {
        if let Some(o) = &a.object {
            cy.cluster.live.observe(a.key.clone(), o.clone());
        }
    }
    let mut inv = inventory_map(&cy.status.inventory);
    for k in outcome.pruned.iter().chain(gone.iter()) {
        inv.remove(k);
    }
    for a in outcome.applied.iter().filter(|a| declared.contains(&a.key)) {
        let version = a.api_version.rsplit('/').next().unwrap_or_default().to_owned();
        inv.insert(
            a.key.clone(),
            InventoryEntry {
                group: a.key.group.clone(),
                version,
                kind: a.key.kind.clone(),
                namespace: a.key.namespace.clone(),
                name: a.key.name.clone(),
                uid: a.uid.clone(),
            },
        );
    }
    cy.status.inventory = inv.into_values().collect();
}

async fn announce_prunes(cy: &Cycle<'_>, pruned: &[ObjKey]) {
    if pruned.is_empty() {
        return;
    }
    let names: Vec<String> = pruned.iter().take(10).map(|k| k.to_string()).collect();
    let more = pruned.len().saturating_sub(names.len());
    let more = if more > 0 { format!(" and {more} more") } else { String::new() };
    let note = format!("deleted what Git no longer declares: {}{more}", names.join(", "));
    cy.publish(EventType::Normal, "Pruned", note).await;
}

/// Operation state, history, conditions, metrics and events from the executor's outcome.
async fn conclude(
    cy: &mut Cycle<'_>,
    job: &Job<'_>,
    outcome: ferry_apply::executor::SyncOutcome,
) -> Option<Duration> {
    let items = change_set_items(&outcome.change_set);
    let changes = history_changes(&items);
    let summary = outcome.change_set.summary();
    let revision = job.revision;
    crate::sync_audit::record(
        cy,
        crate::sync_audit::Finished {
            kind: job.kind,
            revision,
            dry_run: job.dry_run,
            succeeded: outcome.phase == SyncPhase::Succeeded,
            summary: summary.to_string(),
            message: match &outcome.phase {
                SyncPhase::Succeeded => format!("synced {}: {summary}", revision.short()),
                SyncPhase::Failed(m) => m.clone(),
            },
            items: &items,
        },
    );
    match outcome.phase {
        SyncPhase::Succeeded => {
            let result = ResultLabel { result: SyncResult::Succeeded };
            cy.inner.metrics.syncs.get_or_create(&result).inc();
            let dry = if job.dry_run { "dry run: " } else { "" };
            cy.status.operation_state = Some(OperationState {
                phase: OperationPhase::Succeeded,
                message: format!("{dry}synced {}{}: {summary}", revision.short(), scope(job)),
                revision: revision.as_str().to_owned(),
                started_at: job.started.clone(),
                finished_at: stamp(jiff::Timestamp::now()),
                dry_run: job.dry_run,
                change_set: cap(items),
                resources: job.resources.clone(),
                force: job.force,
                ..Default::default()
            });
            cy.clear("SyncFailed");
            if !job.dry_run {
                // A selective sync did not apply the revision as a whole: no history entry
                // (Argo CD's rule), so a rollback never returns to a partly applied revision.
                if job.resources.is_empty() {
                    record_history(cy, job, changes);
                }
                let reason = if job.kind == SyncKind::Heal { "Healed" } else { "Synced" };
                let by = match cy.requests.sync.as_ref().and_then(|r| r.by.as_deref()) {
                    Some(user) if matches!(job.kind, SyncKind::Manual { .. }) => {
                        format!(" (requested by {user})")
                    }
                    _ => String::new(),
                };
                let note = format!("revision {}: {summary}{by}", revision.short());
                cy.publish(EventType::Normal, reason, note).await;
            }
            None
        }
        SyncPhase::Failed(message) => failed(cy, job, message, items).await,
    }
}

/// A history entry for a sync that applied a revision: the commit's author and first line
/// (read from the local cache: no fetch) and what the sync changed. A heal of the revision
/// last recorded adds none.
fn record_history(cy: &mut Cycle<'_>, job: &Job<'_>, changes: HistoryChanges) {
    let source = HistorySource {
        repo_url: cy.app.spec.source.repo_url.clone(),
        path: cy.app.spec.source.path.clone(),
        target_revision: cy.app.spec.source.target_revision.clone(),
    };
    let revision = job.revision.as_str();
    let known = cy.status.history.last().is_some_and(|h| h.revision == revision);
    if !known || job.kind != SyncKind::Heal {
        append_history(&mut cy.status.history, revision, source, &cy.now.stamp());
        let commit = crate::sources::Sources::parse_url(&cy.app.spec.source.repo_url)
            .ok()
            .and_then(|url| cy.inner.sources.commit_info(&url, job.revision).ok());
        if let Some(entry) = cy.status.history.last_mut() {
            entry.changes = Some(changes);
            if let Some(c) = commit {
                entry.author = c.author;
                entry.message = history_message(&c.message);
            }
        }
        let approval = cy.status.approval.as_ref().filter(|a| {
            a.revision == revision && a.phase == crate::approval::ApprovalPhase::Approved
        });
        if let (Some(a), Some(entry)) = (approval, cy.status.history.last_mut()) {
            entry.author = a.author.clone();
            entry.approved_by = a.approved_by.clone();
        }
    }
}

async fn failed(
    cy: &mut Cycle<'_>,
    job: &Job<'_>,
    message: String,
    items: Vec<ChangeSetItem>,
) -> Option<Duration> {
    cy.inner.metrics.syncs.get_or_create(&ResultLabel { result: SyncResult::Failed }).inc();
    let attempts = finish_failed(
        &mut cy.status,
        job.revision,
        &job.started,
        message.clone(),
        job.dry_run,
        items,
    );
    describe(cy, job);
    let retry = cy.app.spec.sync_policy.as_ref().and_then(|p| p.retry.as_ref());
    let delay = retry_delay(retry, attempts);
    // Out of retries: say so now, not at some later reconcile.
    let (reason, next) = match (retry, delay) {
        (Some(_), None) => (
            "RetryLimitReached",
            format!(
                " The retry limit is reached; fix the cause, then `ferry app sync {}`.",
                cy.name()
            ),
        ),
        (_, Some(d)) => ("SyncFailed", format!(" Retrying in {}s.", d.as_secs().max(1))),
        (None, None) => ("SyncFailed", String::new()),
    };
    let text =
        format!("sync of {} failed (attempt {attempts}): {message}.{next}", job.revision.short());
    cy.set("SyncFailed", true, reason, text);
    cy.publish(EventType::Warning, "SyncFailed", message).await;
    delay
}

/// Records a failed sync; returns the attempt count for this revision.
fn finish_failed(
    status: &mut ApplicationStatus,
    revision: &CommitId,
    started: &str,
    message: String,
    dry_run: bool,
    items: Vec<ChangeSetItem>,
) -> u32 {
    let previous = status
        .operation_state
        .as_ref()
        .filter(|o| o.revision == revision.as_str() && o.phase != OperationPhase::Succeeded)
        .map(|o| o.attempts)
        .unwrap_or(0);
    let attempts = previous + 1;
    status.operation_state = Some(OperationState {
        phase: OperationPhase::Failed,
        message,
        revision: revision.as_str().to_owned(),
        started_at: started.to_owned(),
        finished_at: stamp(jiff::Timestamp::now()),
        dry_run,
        change_set: cap(items),
        attempts,
        ..Default::default()
    });
    attempts
}

/// Status keeps at most this many change-set entries (the rest are summarized in the message).
const MAX_CHANGES_IN_STATUS: usize = 200;

fn cap(mut items: Vec<ChangeSetItem>) -> Vec<ChangeSetItem> {
    // Keep what needs attention first.
    items.sort_by_key(|i| match i.action.as_str() {
        "failed" | "hook failed" => 0,
        "unchanged" => 2,
        _ => 1,
    });
    items.truncate(MAX_CHANGES_IN_STATUS);
    items
}

/// The inventory as it must stand while a sync runs: what it held, plus every resource the sync
/// may create. Written before the first apply, so an engine killed mid-sync leaves no object it
/// created outside the inventory (an orphan no later prune would see); entries for objects never
/// created leave it at the next sync as already gone.
fn planned_inventory(
    inventory: &[InventoryEntry],
    resources: &[Resource],
    live: &LiveValues,
) -> Vec<InventoryEntry> {
    let mut inv = inventory_map(inventory);
    for r in resources {
        if inv.contains_key(&r.key) {
            continue;
        }
        let api_version = r.object.get("apiVersion").and_then(|v| v.as_str()).unwrap_or_default();
        let uid = live
            .get(&r.key)
            .and_then(|o| o.pointer("/metadata/uid"))
            .and_then(|u| u.as_str())
            .unwrap_or_default();
        inv.insert(
            r.key.clone(),
            InventoryEntry {
                group: r.key.group.clone(),
                version: api_version.rsplit('/').next().unwrap_or_default().to_owned(),
                kind: r.key.kind.clone(),
                namespace: r.key.namespace.clone(),
                name: r.key.name.clone(),
                uid: uid.to_owned(),
            },
        );
    }
    inv.into_values().collect()
}

/// Tells users (and an engine restarted mid-sync) that a sync is under way, and records the
/// planned inventory first (see [`planned_inventory`]). When that write fails the sync stops
/// before its first apply: an object created now could become an orphan no prune would see.
async fn mark_running(
    cy: &mut Cycle<'_>,
    job: &Job<'_>,
    planned: Vec<InventoryEntry>,
) -> Result<(), Stop> {
    let revision = job.revision.as_str();
    let attempts = cy
        .status
        .operation_state
        .as_ref()
        .filter(|o| o.revision == revision)
        .map(|o| o.attempts)
        .unwrap_or(0);
    let op = OperationState {
        phase: OperationPhase::Running,
        message: format!("syncing {}", job.revision.short()),
        revision: revision.to_owned(),
        started_at: job.started.clone(),
        attempts,
        resources: job.resources.clone(),
        force: job.force,
        ..Default::default()
    };
    let api = crate::argo::AppApi::new(&cy.inner.client, &cy.inner.argo, cy.id);
    let patch = serde_json::json!({"status": {"operationState": op, "inventory": planned}});
    api.patch_status(&cy.id.name, &Patch::Merge(patch)).await.map_err(
        |e| {
            Stop::new(
                Stage::Sync,
                "InventoryWriteFailed",
                format!(
                    "the sync of {} did not start: the planned inventory could not be written to the Application's status ({e})",
                    job.revision.short()
                ),
            )
            .backoff(Duration::from_secs(5))
        },
    )?;
    cy.status.operation_state = Some(op);
    crate::notifications::emit(cy);
    Ok(())
}

/// `syncOptions: [Replace=true]`: every object that would be server-side applied is replaced
/// (PUT) instead, as Argo CD does; objects with a mode of their own (IfNotPresent, Ignore) keep it.
fn replace_instead_of_apply(plan: &mut ferry_apply::plan::Plan) {
    use ferry_apply::annotations::ApplyMode;
    use ferry_apply::plan::TaskKind;
    for task in plan.waves.iter_mut().flat_map(|w| w.tasks.iter_mut()) {
        if let TaskKind::Apply { mode, .. } = &mut task.kind
            && *mode == ApplyMode::Apply
        {
            *mode = ApplyMode::Replace;
        }
    }
}
