//! The status stage: what the reconcile found, written once at its end (and only when it
//! changed), so a reader never sees a status that mixes two reconciles.

use std::sync::Arc;

use ferry_health::{Health, HealthStatus};
use ferry_source::CommitId;
use kube::api::Patch;
use serde_json::Value;

use crate::application::*;
use crate::compare::Comparison;
use crate::records;

use super::cycle::Cycle;
use super::memory::LastWritten;

/// At most this many per-object entries go into `status.resources` (status stays small; the API
/// serves the full list).
pub const MAX_RESOURCES_IN_STATUS: usize = 500;

/// Fills the status from the comparison and health of `revision`.
pub(crate) fn finish(cy: &mut Cycle<'_>, revision: &CommitId, cmp: &Comparison, health: &Health) {
    let synced_now =
        cy.status.operation_state.as_ref().is_some_and(|o| o.succeeded_at(revision.as_str()));
    if synced_now {
        cy.mem.synced_content = cy.mem.content.clone();
        if let Some(last) = cy.status.history.last_mut().filter(|h| h.revision == revision.as_str())
        {
            match health.status {
                HealthStatus::Healthy => last.healthy = Some(true),
                HealthStatus::Degraded => last.healthy = Some(false),
                _ => {}
            }
        }
    }
    let total = cy.mem.prepared.resources.len();
    let summary = cmp.summary(total);
    let in_sync = cmp.status() == SyncStatusCode::Synced;
    match &cy.fallback {
        // Compared, but with the last good render, not with what the target is now: the sync
        // status cannot be known; the condition says what the comparison found.
        Some(stop) => {
            cy.status.sync = SyncStatus {
                status: SyncStatusCode::Unknown,
                revision: revision.as_str().to_owned(),
                ..SyncStatus::default()
            };
            let message = format!(
                "compared with the last good render ({}), since {}: {summary}",
                revision.short(),
                first_sentence(&stop.message)
            );
            cy.set("Synced", in_sync, "LastGoodRender", message);
        }
        None => {
            cy.status.sync = SyncStatus {
                status: cmp.status(),
                revision: revision.as_str().to_owned(),
                ..SyncStatus::default()
            };
            cy.set("Synced", in_sync, if in_sync { "Synced" } else { "OutOfSync" }, summary);
        }
    }
    cy.status.health = AppHealth { status: health.status, message: health.message.clone() };
    cy.status.resources = cmp.resources.iter().take(MAX_RESOURCES_IN_STATUS).cloned().collect();
    if cy.app.spec.suspend {
        let message = "spec.suspend is set: Ferry reports status but neither syncs nor heals; set it to false to resume";
        cy.set("Suspended", true, "Suspended", message);
    } else {
        cy.clear("Suspended");
    }
    let sync = cy.status.sync.status.to_string();
    cy.inner.metrics.set_app_state(&cy.id.namespace, &cy.id.name, &sync, health.status.as_str());
}

fn first_sentence(s: &str) -> &str {
    s.split(". ").next().unwrap_or(s).trim_end_matches('.')
}

/// Writes the cycle's status when it changed (apart from the reconcile time), as a merge patch
/// that also clears fields that became empty.
pub(crate) async fn write_status(cy: &mut Cycle<'_>) {
    let mut status = cy.status.clone();
    status.observed_generation = cy.app.metadata.generation;
    mark_checkpoint(cy, &mut status);
    if fold(cy, &status) {
        return;
    }
    let mut compare_to = status.clone();
    compare_to.reconciled_at = None;
    let new_value = LastWritten::of(&serde_json::to_value(&compare_to).unwrap_or(Value::Null));
    let old_value = match &cy.mem.last_written {
        Some(v) => v.clone(),
        None => {
            let mut old = cy.app.status.clone().unwrap_or_default();
            old.reconciled_at = None;
            LastWritten::of(&serde_json::to_value(&old).unwrap_or(Value::Null))
        }
    };
    if new_value == old_value && !cy.mem.must_write {
        return;
    }
    status.reconciled_at = Some(cy.now.stamp());
    let mut patch = serde_json::to_value(&status).unwrap_or(Value::Null);
    // Clear what became empty: fields of the last status written and of the copy read.
    let read =
        cy.app.status.as_ref().and_then(|s| serde_json::to_value(s).ok()).unwrap_or(Value::Null);
    if let Some(p) = patch.as_object_mut() {
        let read_fields = read.as_object().into_iter().flat_map(|o| o.keys());
        for key in old_value.fields.iter().chain(read_fields) {
            if !p.contains_key(key) && key != "reconciledAt" {
                p.insert(key.clone(), Value::Null);
            }
        }
    }
    let api = crate::argo::AppApi::new(&cy.inner.client, &cy.inner.argo, cy.id);
    let patch = Patch::Merge(serde_json::json!({ "status": patch }));
    ferry_apply::killpoint::pass(ferry_apply::killpoint::BEFORE_STATUS);
    match api.patch_status(&cy.id.name, &patch).await {
        Ok(updated) => {
            ferry_apply::killpoint::pass(ferry_apply::killpoint::AFTER_STATUS);
            cy.mem.last_written = Some(new_value);
            cy.mem.must_write = false;
            cy.mem.written = Some(Arc::new(updated));
            cy.inner.records.forget(&app_key(cy));
            crate::notifications::emit(cy);
        }
        Err(e) => tracing::warn!(app = %cy.id, error = %e, "could not write status"),
    }
}

/// Names the app's repository record and the checkpoint of what this status found (only for a
/// status from a render of the target: no checkpoint after an error or with the last good render,
/// so such a status is always written).
fn mark_checkpoint(cy: &Cycle<'_>, status: &mut ApplicationStatus) {
    status.sync.record.clear();
    status.sync.checkpoint.clear();
    let content =
        cy.mem.content.as_ref().filter(|(_, generation)| *generation == cy.app.metadata.generation);
    let clean = cy.fallback.is_none() && cy.mem.failures == 0 && cy.mem.last_error.is_none();
    if let Some((content, _)) = content.filter(|_| clean && !cy.app.spec.source.repo_url.is_empty())
    {
        status.sync.record = records::record_name(&cy.app.spec.source.repo_url);
        status.sync.checkpoint = records::checkpoint(status, content);
    }
}

/// "Same render, same result, new revision": the app goes into its repository record instead of
/// getting a status write of its own. `true` when nothing is left to write.
fn fold(cy: &mut Cycle<'_>, status: &ApplicationStatus) -> bool {
    let Some(old) = cy.app.status.as_ref() else { return false };
    if cy.mem.must_write || !records::foldable(old, status) {
        return false;
    }
    let verified = records::Verified {
        revision: status.sync.revision.clone(),
        from: old.sync.revision.clone(),
        checkpoint: status.sync.checkpoint.clone(),
    };
    let url = &cy.app.spec.source.repo_url;
    match cy.inner.records.verify(&status.sync.record, url, &app_key(cy), verified) {
        None => false,
        Some(news) => {
            cy.inner.metrics.statuses_folded.inc();
            if news {
                // Notifications see the app at the new commit, as a status write would show it
                // (Argo CD announces a commit that changed no object too).
                crate::notifications::emit(cy);
            }
            true
        }
    }
}

fn app_key(cy: &Cycle<'_>) -> String {
    format!("{}/{}", cy.id.namespace, cy.id.name)
}

/// After a restart the engine has forgotten which content its last sync applied. When the
/// stored status is Synced after a successful sync and its checkpoint is that of what the target
/// renders now, that content is what is applied: no sync runs again for it (nor for a later
/// commit that renders the same).
pub(super) fn restore_applied(cy: &mut Cycle<'_>) {
    let Some(stored) = cy.app.status.as_ref() else { return };
    let Some((content, generation)) = cy.mem.content.clone() else { return };
    let succeeded = stored.operation_state.as_ref().is_some_and(|o| o.succeeded());
    if cy.mem.synced_content.is_none()
        && succeeded
        && stored.sync.status == SyncStatusCode::Synced
        && !stored.sync.checkpoint.is_empty()
        && records::checkpoint(stored, &content) == stored.sync.checkpoint
    {
        cy.mem.synced_content = Some((content, generation));
    }
}
