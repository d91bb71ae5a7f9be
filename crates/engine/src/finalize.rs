//! Deleting an Application: with the cascade finalizer its objects are deleted first (only those
//! the inventory recorded, still owned, same UID), then the finalizer is removed; without it the
//! objects stay, as in Argo CD.

use std::collections::BTreeSet;
use std::time::Duration;

use ferry_apply::executor::SyncRequest as ExecRequest;
use ferry_apply::plan::{PlanOptions, plan};
use ferry_apply::prune::{Verdict, select};
use ferry_apply::step::SyncPhase;
use ferry_health::Rules;
use kube::ResourceExt;
use kube::api::Patch;
use kube::runtime::events::EventType;

use crate::application::*;
use crate::reconcile::{Cycle, Stage, Stop};
use crate::sync::LiveValues;

fn is_cascade(f: &str) -> bool {
    f == FINALIZER_CASCADE || f == FINALIZER_CASCADE_ARGO
}

/// Deletes the app's objects when a cascade finalizer asks for it, then removes the finalizer.
/// Returns when to try again; a [`Stop`] says why the objects could not be deleted yet.
pub(crate) async fn finalize(cy: &mut Cycle<'_>) -> Result<Option<Duration>, Stop> {
    let finalizers = cy.app.finalizers();
    if !finalizers.iter().any(|f| is_cascade(f)) {
        return Ok(None);
    }
    crate::reconcile::destination(cy).await?;
    delete_objects(cy).await?;
    let remaining: Vec<&String> = finalizers.iter().filter(|f| !is_cascade(f)).collect();
    let api = crate::argo::AppApi::new(&cy.inner.client, &cy.inner.argo, cy.id);
    let patch = serde_json::json!({"metadata": {"finalizers": remaining, "resourceVersion": cy.app.resource_version()}});
    match api.patch(&cy.id.name, &Patch::Merge(patch)).await {
        Ok(_) => Ok(None),
        Err(e) => {
            tracing::warn!(app = %cy.id, error = %e, "could not remove the finalizer; retrying");
            Ok(Some(Duration::from_secs(2)))
        }
    }
}

/// Deletes what the inventory recorded and the app still owns.
async fn delete_objects(cy: &mut Cycle<'_>) -> Result<(), Stop> {
    let inventory = cy.status.inventory.clone();
    let kinds = inventory.iter().map(|e| (e.api_version(), e.kind.clone())).collect();
    cy.cluster.live.ensure_watched(&kinds, cy.inner.config.watch_timeout).await.map_err(|e| {
        Stop::new(Stage::Delete, "WatchFailed", format!("cannot see the app's objects: {e}"))
            .backoff(Duration::from_secs(5))
    })?;
    let live: LiveValues = inventory
        .iter()
        .filter_map(|e| cy.cluster.live.get(&e.key()).map(|o| (e.key(), (*o).clone())))
        .collect();
    let prunes: Vec<_> = select(&inventory, &BTreeSet::new(), cy.id, |e| live.get(&e.key()))
        .into_iter()
        .filter_map(|v| if let Verdict::Prune(t) = v { Some(t) } else { None })
        // What another app declares stays: it is that app's now (it heals it back to its mark).
        .filter(|t| cy.inner.claims.others(&cy.cluster.id, &t.key, cy.id).is_empty())
        .collect();
    let count = prunes.len();
    if count == 0 {
        return Ok(());
    }
    let plan =
        plan(&[], prunes, &PlanOptions { prune: true, ..Default::default() }).map_err(|e| {
            Stop::new(Stage::Delete, "PlanFailed", e.to_string()).backoff(Duration::from_secs(30))
        })?;
    let rules = Rules::default();
    let in_sync = Default::default();
    let req = ExecRequest {
        plan: &plan,
        app: cy.id,
        dry_run: false,
        live: Some(&live),
        in_sync: &in_sync,
        health_rules: &rules,
        recreate_immutable: false,
    };
    if let SyncPhase::Failed(message) = cy.cluster.executor.execute(&req).await.phase {
        return Err(Stop::new(
            Stage::Delete,
            "DeleteFailed",
            format!("could not delete every object of the app: {message}"),
        )
        .hint(format!("Remove the finalizer {FINALIZER_CASCADE} to leave them instead"))
        .backoff(Duration::from_secs(5)));
    }
    cy.publish(EventType::Normal, "Deleted", format!("deleted {count} objects of the app")).await;
    Ok(())
}
