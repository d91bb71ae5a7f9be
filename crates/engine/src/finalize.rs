//! Deleting an Application: with the cascade finalizer its objects are deleted first (only those
//! the inventory recorded, still owned, same UID), then the finalizer is removed; without it the
//! objects stay, as in Argo CD.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use ferry_apply::executor::SyncRequest as ExecRequest;
use ferry_apply::plan::{PlanOptions, plan};
use ferry_apply::prune::{Verdict, select};
use ferry_apply::step::SyncPhase;
use ferry_apply::tracking::AppId;
use ferry_health::Rules;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::EventType;

use crate::application::*;
use crate::controller::Inner;
use crate::reconcile::{AppMemory, LiveValues, now, publish, write_status};
use crate::status::set_condition;

pub(crate) async fn finalize(
    inner: &Arc<Inner>,
    app: &Application,
    id: &AppId,
    status: &mut ApplicationStatus,
    mem: &mut AppMemory,
) -> Option<Duration> {
    let finalizers = app.finalizers();
    let ours: Vec<&String> = finalizers
        .iter()
        .filter(|f| *f == FINALIZER_CASCADE || *f == FINALIZER_CASCADE_ARGO)
        .collect();
    if ours.is_empty() {
        return None;
    }
    let kinds = status.inventory.iter().map(|e| (e.api_version(), e.kind.clone())).collect();
    if let Err(e) = inner.live.ensure_watched(&kinds, inner.config.watch_timeout).await {
        set_condition(
            &mut status.conditions,
            "DeletionBlocked",
            true,
            "WatchFailed",
            format!("cannot see the app's objects: {e}"),
            &now(),
        );
        write_status(inner, app, id, status.clone(), mem).await;
        return Some(Duration::from_secs(10));
    }
    let mut live = LiveValues::new();
    for e in &status.inventory {
        if let Some(o) = inner.live.get(&e.key()) {
            live.insert(e.key(), (*o).clone());
        }
    }
    let prunes: Vec<_> = select(&status.inventory, &BTreeSet::new(), id, |e| live.get(&e.key()))
        .into_iter()
        .filter_map(|v| if let Verdict::Prune(t) = v { Some(t) } else { None })
        .collect();
    let count = prunes.len();
    if count > 0 {
        let plan = match plan(&[], prunes, &PlanOptions { prune: true, ..Default::default() }) {
            Ok(p) => p,
            Err(e) => {
                set_condition(
                    &mut status.conditions,
                    "DeletionBlocked",
                    true,
                    "PlanFailed",
                    e.to_string(),
                    &now(),
                );
                write_status(inner, app, id, status.clone(), mem).await;
                return Some(Duration::from_secs(30));
            }
        };
        let rules = Rules::default();
        let in_sync = Default::default();
        let req = ExecRequest {
            plan: &plan,
            app: id,
            dry_run: false,
            live: Some(&live),
            in_sync: &in_sync,
            health_rules: &rules,
        };
        let outcome = inner.executor.execute(&req).await;
        if let SyncPhase::Failed(message) = outcome.phase {
            set_condition(
                &mut status.conditions,
                "DeletionBlocked",
                true,
                "DeleteFailed",
                format!(
                    "could not delete every object of the app: {message}; Ferry retries. Remove the finalizer {FINALIZER_CASCADE} to leave them instead."
                ),
                &now(),
            );
            write_status(inner, app, id, status.clone(), mem).await;
            return Some(Duration::from_secs(10));
        }
        publish(
            inner,
            app,
            EventType::Normal,
            "Deleted",
            format!("deleted {count} objects of the app"),
        )
        .await;
    }
    let remaining: Vec<String> = finalizers
        .iter()
        .filter(|f| *f != FINALIZER_CASCADE && *f != FINALIZER_CASCADE_ARGO)
        .cloned()
        .collect();
    let api: Api<Application> = Api::namespaced(inner.client.clone(), &id.namespace);
    let patch = serde_json::json!({"metadata": {"finalizers": remaining, "resourceVersion": app.resource_version()}});
    match api.patch(&id.name, &PatchParams::default(), &Patch::Merge(patch)).await {
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(app = %id, error = %e, "could not remove the finalizer; retrying");
            Some(Duration::from_secs(2))
        }
    }
}
