//! One reconcile of one app, as its pipeline: target (destination, revision, pins) → render →
//! watch → compare → decide → sync → health → status. Each stage is a module; a stage that
//! fails returns a [`Stop`] that [`stop::record`] turns into a condition, a metric and a retry,
//! and nothing is applied or pruned after it. When Git cannot be reached or the new commit does
//! not render, drift is still healed from the last good render (never pruned from it). A cycle
//! in which nothing changed reads only memory and the watch cache.

pub(crate) mod admit;
mod approve;
pub(crate) mod approve_prunes;
mod cycle;
mod decide;
pub(crate) mod decryption;
mod depend;
mod events;
mod judge;
pub(crate) mod memory;
mod render;
mod report;
pub(crate) mod stop;
mod target;
pub(crate) mod verdicts;

use std::sync::Arc;
use std::time::Duration;

use ferry_apply::tracking::AppId;
use ferry_diff::DiffOptions;
use ferry_source::CommitId;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;

use crate::application::OperationPhase;
use crate::compare::{Comparison, compare_known};
use crate::controller::Inner;
use crate::sources::Sources;

pub use cycle::Reasons;
pub(crate) use cycle::{Cycle, stamp};
pub(crate) use decide::SyncKind;
use decide::{Decision, Facts, Gate, decide};
pub use events::Recorder;
pub(crate) use events::publish;
pub use memory::AppMemory;
pub use report::MAX_RESOURCES_IN_STATUS;
pub(crate) use report::write_status;
pub(crate) use stop::{Stage, Stop};
use target::Target;
pub(crate) use target::destination;

/// Reconciles the app `id` once, then remembers what it learned and when to come back.
pub(crate) async fn reconcile(inner: &Arc<Inner>, id: &AppId, reasons: Reasons) {
    let Some(stored) = inner.apps.get(&ObjectRef::new(&id.name).within(&id.namespace)) else {
        return;
    };
    let mut mem =
        inner.memory.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned().unwrap_or_default();
    let app = memory::newer(stored, mem.written.as_ref());
    if mem.written.as_ref().is_some_and(|w| !Arc::ptr_eq(w, &app)) {
        // The watch caught up with our last write: its copy is as new, keep only that one.
        mem.written = None;
    }
    mem.unpack();
    let requeue = {
        let mut cy = Cycle::new(inner, &app, id, reasons, &mut mem);
        reconcile_app(&mut cy).await;
        cy.requeue_delay()
    };
    mem.pack();
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

async fn reconcile_app(cy: &mut Cycle<'_>) {
    if cy.app.metadata.deletion_timestamp.is_some() {
        match crate::finalize::finalize(cy).await {
            Ok(delay) => cy.requeue(delay),
            Err(stop) => {
                stop::record(cy, &stop);
                write_status(cy).await;
            }
        }
        return;
    }
    match pipeline(cy).await {
        Ok(()) if cy.fallback.is_none() => {
            cy.mem.failures = 0;
            cy.mem.last_error = None;
        }
        Ok(()) => {}
        Err(stop) => stop::record(cy, &stop),
    }
    write_status(cy).await;
}

async fn pipeline(cy: &mut Cycle<'_>) -> Result<(), Stop> {
    end_stale_operation(cy);
    crate::shard::label_condition(cy);
    target::destination(cy).await?;
    admit::project(cy)?;
    let target = match target_rendered(cy).await {
        Ok(target) => {
            report::restore_applied(cy);
            target
        }
        Err(stop) => last_good(cy, stop).await?,
    };
    target::permitted(cy)?;
    admit::objects(cy)?;
    watch(cy).await?;
    let mut cmp = comparison(cy);
    shared_condition(cy);
    notice_drift(cy, &cmp, &target.revision).await;
    let window = admit::windows(cy)?;
    let awaiting_approval = approve::review(cy, &target, &cmp).await?;
    let waiting = depend::review(cy);
    let gate = Gate { window: &window, awaiting_approval, dependency: waiting.as_deref() };
    let decision = decide(&facts(cy, &cmp, &target, gate), cy.now);
    tracing::debug!(app = %cy.id, revision = %target.revision.short(), ?decision, "decided");
    act(cy, decision, &target.revision, &mut cmp).await?;
    let health = judge::health(cy, &mut cmp);
    let delay = crate::rollback::automated(cy, &health, &target.revision, &target.head).await;
    cy.requeue(delay);
    report::finish(cy, &target.revision, &cmp, &health);
    Ok(())
}

async fn target_rendered(cy: &mut Cycle<'_>) -> Result<Target, Stop> {
    let target = target::resolve(cy).await?;
    if cy.requests.refresh.as_ref().is_some_and(|r| r.hard) {
        cy.mem.rendered_for = None;
    }
    render::render(cy, &target.url, &target.revision).await?;
    Ok(target)
}

/// A terminate request when no sync runs (a running one was stopped before this reconcile):
/// an operation still marked Running, left by an engine stopped mid-sync, ends here and is not
/// retried automatically.
fn end_stale_operation(cy: &mut Cycle<'_>) {
    if !cy.requests.terminate {
        return;
    }
    let stamp = cy.now.stamp();
    let running = cy.status.operation_state.as_mut().filter(|o| o.phase == OperationPhase::Running);
    if let Some(op) = running {
        op.phase = OperationPhase::Failed;
        op.terminated = true;
        op.message = "terminated on request".into();
        op.finished_at = stamp;
    }
}

/// After a source or render stop, goes on with the last revision that synced, rendered from
/// the local cache (no network): drift is healed from it while Git is unreachable or the new
/// commit is broken. Nothing new is synced and nothing is pruned (see [`decide`]).
async fn last_good(cy: &mut Cycle<'_>, stop: Stop) -> Result<Target, Stop> {
    if !matches!(stop.stage, Stage::Source | Stage::Render) {
        return Err(stop);
    }
    let synced = cy.status.operation_state.as_ref().filter(|o| o.succeeded()).map(|o| &o.revision);
    let Some(revision) = synced.and_then(|r| CommitId::parse(r).ok()) else { return Err(stop) };
    let Ok(url) = Sources::parse_url(&cy.app.spec.source.repo_url) else { return Err(stop) };
    if render::render(cy, &url, &revision).await.is_err() {
        return Err(stop);
    }
    stop::record(cy, &stop);
    cy.fallback = Some(stop);
    let head = cy.mem.head.clone().unwrap_or_else(|| revision.clone());
    Ok(Target { url, head, revision, forced: false })
}

/// Watches for every kind the app declares or recorded, so compare reads a complete cache.
async fn watch(cy: &mut Cycle<'_>) -> Result<(), Stop> {
    let mut kinds = cy.mem.prepared.kinds.clone();
    kinds.extend(cy.status.inventory.iter().map(|e| (e.api_version(), e.kind.clone())));
    cy.cluster.live.ensure_watched(&kinds, cy.inner.config.watch_timeout).await.map_err(|e| {
        Stop::new(Stage::Watch, "WatchFailed", e.to_string()).backoff(Duration::from_secs(5))
    })
}

fn comparison(cy: &mut Cycle<'_>) -> Comparison {
    let (epoch, generation) = (cy.mem.epoch, cy.app.metadata.generation);
    cy.mem.verdicts.keep_for(epoch, generation, cy.mem.prepared.resources.len());
    let mut cmp = compared(cy);
    cy.mem.verdicts.record_in_sync(&cmp.in_sync_versions);
    let claims = &cy.inner.claims;
    let cluster = &cy.cluster.id;
    let live = |k: &ferry_apply::ObjKey| cy.cluster.live.get(k);
    cmp.mark_shared(cy.id, live, |key, other| claims.claimants(cluster, key).contains(other));
    cmp
}

/// The comparison itself: objects whose live version was found in sync with this render
/// before are taken as in sync without being read again.
fn compared(cy: &Cycle<'_>) -> Comparison {
    let base = DiffOptions::default().mask_key(cy.inner.config.mask_key.clone());
    let live = |k: &ferry_apply::ObjKey| cy.cluster.live.get(k);
    let verdicts = &cy.mem.verdicts;
    let known = |index: usize, k: &ferry_apply::ObjKey| {
        let version = cy.cluster.live.version(k);
        verdicts.in_sync_at(index, version).then_some(version).flatten()
    };
    compare_known(
        cy.id,
        &cy.mem.prepared.resources,
        &cy.status.inventory,
        live,
        known,
        &base,
        &cy.app.spec.ignore_differences,
    )
}

/// Argo CD's SharedResourceWarning: objects this app declares that other apps declare too.
fn shared_condition(cy: &mut Cycle<'_>) {
    let claims = &cy.inner.claims;
    let shared: Vec<String> = cy
        .mem
        .prepared
        .resources
        .iter()
        .filter_map(|r| {
            let others = claims.others(&cy.cluster.id, &r.key, cy.id);
            let names: Vec<String> = others.iter().map(|a| a.to_string()).collect();
            (!others.is_empty()).then(|| format!("{} (also in {})", r.key, names.join(", ")))
        })
        .collect();
    if shared.is_empty() {
        cy.clear("SharedResource");
        return;
    }
    let more =
        if shared.len() > 3 { format!(" and {} more", shared.len() - 3) } else { String::new() };
    let message = format!(
        "{} declared by other apps too: {}{more}. The app holding an object keeps it; the others report it and never heal it back. Remove it from all but one app (sync option FailOnSharedResource=true makes such a sync fail)",
        render::objects(shared.len()),
        shared.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
    );
    cy.set("SharedResource", true, "SharedResource", message);
}

/// Drift that appeared since the last reconcile on an app whose revision is applied: a metric
/// and a Warning event naming what changed.
async fn notice_drift(cy: &mut Cycle<'_>, cmp: &Comparison, revision: &CommitId) {
    let appeared = !cmp.out_of_sync.is_empty()
        && cy.mem.diffs.iter().all(ferry_diff::ObjectDiff::in_sync)
        && cy.mem.applied(&cy.status, revision);
    if appeared {
        cy.inner.metrics.drift_detected.inc();
        let note = cmp.drift_summary(cy.mem.prepared.resources.len());
        cy.publish(EventType::Warning, "Drift", note).await;
    }
    cy.mem.diffs = cmp.diffs.iter().chain(&cmp.quiet).cloned().collect();
}

fn facts<'a>(cy: &'a Cycle<'_>, cmp: &Comparison, target: &'a Target, gate: Gate<'a>) -> Facts<'a> {
    let policy = cy.app.spec.sync_policy.as_ref();
    Facts {
        app_name: cy.id.name.as_str(),
        suspended: cy.app.spec.suspend,
        automated: cy.app.automated(),
        retry: policy.and_then(|p| p.retry.as_ref()),
        operation: cy.status.operation_state.as_ref().filter(|o| !o.dry_run),
        revision: target.revision.as_str(),
        applied: cy.mem.applied(&cy.status, &target.revision),
        request: cy.requests.sync.as_ref(),
        forced: target.forced,
        out_of_sync: !cmp.out_of_sync.is_empty(),
        // Deletions waiting for approval are not a reason to sync again: it would hold them again.
        extraneous: !cmp.extraneous.is_empty() && !approve_prunes::waiting(cy, &target.revision),
        next_heal: cy.mem.next_heal,
        fallback: cy.fallback.as_ref().map(|s| s.message.as_str()),
        fail_on_shared: cy.app.sync_option("FailOnSharedResource") && !cmp.shared.is_empty(),
        gate,
    }
}

/// Carries out the decision; a sync compares again afterwards, from the objects it applied.
async fn act(
    cy: &mut Cycle<'_>,
    decision: Decision,
    revision: &CommitId,
    cmp: &mut Comparison,
) -> Result<(), Stop> {
    if !matches!(decision, Decision::Held { reason: "SyncWindowClosed", .. }) {
        cy.clear("SyncWindowClosed");
    }
    match decision {
        Decision::Wait(d) => cy.requeue(Some(d)),
        Decision::Refused { reason, message } => cy.set("SyncFailed", true, reason, message),
        // Their stages set their own conditions.
        Decision::Held { reason: "AwaitingApproval" | depend::CONDITION, .. } => {}
        Decision::Held { reason, message, recheck } => {
            cy.set(reason, true, reason, message);
            cy.requeue(recheck);
        }
        Decision::None => {}
        Decision::Sync(kind) => {
            cy.synced = Some(kind);
            if kind == SyncKind::Heal {
                start_heal(cy, cmp).await;
            }
            let delay = crate::sync::run(cy, kind, revision, cmp).await?;
            cy.requeue(delay);
            // The sync wrote a Running state and a planned inventory of its own: the status
            // written at the end must replace them even if it equals the one written before.
            cy.mem.must_write = true;
            *cmp = comparison(cy);
        }
    }
    if cmp.out_of_sync.is_empty() {
        cy.mem.heal_attempts = 0;
        cy.mem.next_heal = None;
    }
    Ok(())
}

/// A heal is about to run: count it, and set when the next may run, fast at first, then capped
/// exponential backoff for a fight with another writer.
async fn start_heal(cy: &mut Cycle<'_>, cmp: &Comparison) {
    cy.inner.metrics.heals.inc();
    cy.mem.heal_attempts += 1;
    let delay = Duration::from_millis(500)
        .saturating_mul(2u32.saturating_pow(cy.mem.heal_attempts.min(10)))
        .min(Duration::from_secs(300));
    cy.mem.next_heal = Some(cy.now.instant + delay);
    let note = format!(
        "re-applying Git over drift: {}",
        cmp.drift_summary(cy.mem.prepared.resources.len())
    );
    cy.publish(EventType::Normal, "Healing", note).await;
}
