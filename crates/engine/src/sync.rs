//! Carrying out one sync decided by the reconcile: prune selection with its guards, the plan,
//! the executor, and what the result does to inventory, history, operation state and events.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use ferry_apply::ObjKey;
use ferry_apply::executor::SyncRequest as ExecRequest;
use ferry_apply::plan::{Desired, PlanOptions, plan};
use ferry_apply::prune::{InventoryEntry, Keep, Verdict, check_shrink, select};
use ferry_apply::step::SyncPhase;
use ferry_apply::tracking::AppId;
use ferry_health::Rules;
use ferry_source::CommitId;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::EventType;

use crate::application::*;
use crate::compare::{Comparison, Resource};
use crate::controller::Inner;
use crate::metrics::{ResultLabel, SyncResult};
use crate::reconcile::{LiveValues, SyncKind, inventory_map, now, publish, short};
use crate::status::*;

/// Runs the sync; returns a retry delay when it failed.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run(
    inner: &Arc<Inner>,
    app: &Application,
    id: &AppId,
    status: &mut ApplicationStatus,
    revision: &CommitId,
    kind: SyncKind,
    resources: &[Resource],
    desired: &[Desired],
    cmp: &Comparison,
    automated: Option<&Automated>,
) -> Option<Duration> {
    let started = now();
    let (mut prune, dry_run, explicit_prune) = match kind {
        SyncKind::Manual { prune, dry_run } => {
            (prune || automated.is_some_and(|a| a.prune), dry_run, prune)
        }
        SyncKind::Auto | SyncKind::Heal => (automated.is_some_and(|a| a.prune), false, false),
    };
    let allow_empty = automated.is_some_and(|a| a.allow_empty) || explicit_prune;
    if prune {
        if let Err(refused) = check_shrink(status.inventory.len(), resources.len(), allow_empty) {
            set_condition(
                &mut status.conditions,
                "PruneRefused",
                true,
                "SharpShrink",
                refused.to_string(),
                &started,
            );
            publish(inner, app, EventType::Warning, "PruneRefused", refused.to_string()).await;
            prune = false;
        } else {
            remove_condition(&mut status.conditions, "PruneRefused");
        }
    }

    // The live objects this sync may touch, from the watch cache.
    let mut live: LiveValues = LiveValues::new();
    for r in resources {
        if let Some(o) = inner.live.get(&r.key) {
            live.insert(r.key.clone(), (*o).clone());
        }
    }
    for e in &status.inventory {
        if let Some(o) = inner.live.get(&e.key()) {
            live.insert(e.key(), (*o).clone());
        }
    }
    let declared: BTreeSet<ObjKey> = resources.iter().map(|r| r.key.clone()).collect();
    let verdicts = select(&status.inventory, &declared, id, |e| live.get(&e.key()));
    let mut prunes = Vec::new();
    let mut gone = Vec::new();
    for v in verdicts {
        match v {
            Verdict::Prune(t) => prunes.push(t),
            Verdict::Keep(key, Keep::Gone) => gone.push(key),
            Verdict::Keep(key, reason) => {
                tracing::info!(app = %id, object = %key, %reason, "not pruned")
            }
        }
    }
    let options =
        PlanOptions { prune, prune_last: app.sync_option("PruneLast"), force: true, hooks: true };
    let plan = match plan(desired, prunes, &options) {
        Ok(mut p) => {
            if app.sync_option("Replace") {
                replace_instead_of_apply(&mut p);
            }
            p
        }
        Err(e) => {
            finish_failed(
                status,
                revision,
                &started,
                format!("{e}. Nothing was applied."),
                dry_run,
                Vec::new(),
            );
            publish(inner, app, EventType::Warning, "SyncFailed", format!("{e}")).await;
            return Some(Duration::from_secs(30));
        }
    };
    if !dry_run {
        let planned = planned_inventory(&status.inventory, resources, &live);
        mark_running(inner, id, status, revision, &started, planned).await;
        let what = match kind {
            SyncKind::Heal => "heal",
            SyncKind::Auto => "automated sync",
            SyncKind::Manual { .. } => "requested sync",
        };
        publish(
            inner,
            app,
            EventType::Normal,
            "SyncStarted",
            format!(
                "{what} of {} started: {} objects",
                short(revision.as_str()),
                plan.task_count()
            ),
        )
        .await;
    }
    let rules = Rules::new(app.spec.health_checks.clone());
    // Objects the diff found in sync are not sent again: no write, no resourceVersion bump.
    let in_sync = if dry_run { Default::default() } else { cmp.in_sync.clone() };
    let request = ExecRequest {
        plan: &plan,
        app: id,
        dry_run,
        live: Some(&live),
        in_sync: &in_sync,
        health_rules: &rules,
    };
    let outcome = inner.executor.execute(&request).await;

    if !dry_run {
        for a in &outcome.applied {
            if let Some(o) = &a.object {
                inner.live.observe(a.key.clone(), o.clone());
            }
        }
        let mut inv = inventory_map(&status.inventory);
        // The inventory shrinks only after a confirmed delete (or a confirmed absence).
        for k in outcome.pruned.iter().chain(gone.iter()) {
            inv.remove(k);
        }
        // Only tracked resources enter the inventory: a namespace made by CreateNamespace=true or
        // a hook must never become a prune candidate.
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
        status.inventory = inv.into_values().collect();
    }
    if !dry_run && !outcome.pruned.is_empty() {
        let names: Vec<String> = outcome.pruned.iter().take(10).map(|k| k.to_string()).collect();
        let more = outcome.pruned.len().saturating_sub(names.len());
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        publish(
            inner,
            app,
            EventType::Normal,
            "Pruned",
            format!("deleted what Git no longer declares: {}{more}", names.join(", ")),
        )
        .await;
    }
    let items = change_set_items(&outcome.change_set);
    let summary = outcome.change_set.summary();
    match outcome.phase {
        SyncPhase::Succeeded => {
            inner.metrics.syncs.get_or_create(&ResultLabel { result: SyncResult::Succeeded }).inc();
            status.operation_state = Some(OperationState {
                phase: "Succeeded".into(),
                message: format!(
                    "{}synced {}: {summary}",
                    if dry_run { "dry run: " } else { "" },
                    short(revision.as_str())
                ),
                revision: revision.as_str().to_owned(),
                started_at: started.clone(),
                finished_at: now(),
                dry_run,
                change_set: cap(items),
                attempts: 0,
            });
            remove_condition(&mut status.conditions, "SyncFailed");
            if !dry_run {
                let source = HistorySource {
                    repo_url: app.spec.source.repo_url.clone(),
                    path: app.spec.source.path.clone(),
                    target_revision: app.spec.source.target_revision.clone(),
                };
                let known = status.history.last().is_some_and(|h| h.revision == revision.as_str());
                if !known || kind != SyncKind::Heal {
                    append_history(&mut status.history, revision.as_str(), source, &now());
                }
                let reason = if kind == SyncKind::Heal { "Healed" } else { "Synced" };
                publish(
                    inner,
                    app,
                    EventType::Normal,
                    reason,
                    format!("revision {}: {summary}", short(revision.as_str())),
                )
                .await;
            }
            None
        }
        SyncPhase::Failed(message) => {
            inner.metrics.syncs.get_or_create(&ResultLabel { result: SyncResult::Failed }).inc();
            let attempts =
                finish_failed(status, revision, &started, message.clone(), dry_run, items);
            let retry = app.spec.sync_policy.as_ref().and_then(|p| p.retry.as_ref());
            let delay = retry_delay(retry, attempts);
            // Out of retries: say so now, not at some later reconcile.
            let (reason, next) = match (retry, delay) {
                (Some(_), None) => (
                    "RetryLimitReached",
                    format!(
                        " The retry limit is reached; fix the cause, then `ferry app sync {}`.",
                        app.name_any()
                    ),
                ),
                (_, Some(d)) => ("SyncFailed", format!(" Retrying in {d:?}.")),
                (None, None) => ("SyncFailed", String::new()),
            };
            set_condition(
                &mut status.conditions,
                "SyncFailed",
                true,
                reason,
                format!(
                    "sync of {} failed (attempt {attempts}): {message}.{next}",
                    short(revision.as_str())
                ),
                &now(),
            );
            publish(inner, app, EventType::Warning, "SyncFailed", message).await;
            delay
        }
    }
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
        .filter(|o| o.revision == revision.as_str() && o.phase != "Succeeded")
        .map(|o| o.attempts)
        .unwrap_or(0);
    let attempts = previous + 1;
    status.operation_state = Some(OperationState {
        phase: "Failed".into(),
        message,
        revision: revision.as_str().to_owned(),
        started_at: started.to_owned(),
        finished_at: now(),
        dry_run,
        change_set: cap(items),
        attempts,
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
/// planned inventory first (see [`planned_inventory`]).
async fn mark_running(
    inner: &Inner,
    id: &AppId,
    status: &mut ApplicationStatus,
    revision: &CommitId,
    started: &str,
    planned: Vec<InventoryEntry>,
) {
    let attempts = status
        .operation_state
        .as_ref()
        .filter(|o| o.revision == revision.as_str())
        .map(|o| o.attempts)
        .unwrap_or(0);
    let op = OperationState {
        phase: "Running".into(),
        message: format!("syncing {}", short(revision.as_str())),
        revision: revision.as_str().to_owned(),
        started_at: started.to_owned(),
        attempts,
        ..Default::default()
    };
    let api: Api<Application> = Api::namespaced(inner.client.clone(), &id.namespace);
    let patch = serde_json::json!({"status": {"operationState": op, "inventory": planned}});
    if let Err(e) = api.patch_status(&id.name, &PatchParams::default(), &Patch::Merge(patch)).await
    {
        tracing::debug!(app = %id, error = %e, "could not mark the sync as running");
    }
    status.operation_state = Some(op);
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
