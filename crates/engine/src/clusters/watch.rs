//! The engine's side of the cluster Secrets: when one changes, the apps on remote clusters are
//! reconciled (a fixed Secret, a new cluster or a removed one shows in their status at once),
//! and connections no app uses any more are dropped (also on a slow timer, for apps that moved).

use std::sync::Arc;
use std::time::Duration;

use ferry_apply::tracking::AppId;
use kube::ResourceExt;

use crate::application::Application;
use crate::controller::Inner;

/// How often unused connections are looked for besides Secret changes.
const SWEEP: Duration = Duration::from_secs(30);

/// Runs for the engine's life.
pub(crate) async fn settings(inner: Arc<Inner>) {
    let mut changes = inner.settings.changes();
    let mut tick = tokio::time::interval(SWEEP);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
                for app in inner.apps.state().iter().filter(|a| !a.spec.destination.is_in_cluster()) {
                    inner.trigger(&id_of(app), |_| {});
                }
                sweep(&inner);
            }
            _ = tick.tick() => sweep(&inner),
        }
    }
}

/// Drops the connections of clusters no app targets.
fn sweep(inner: &Inner) {
    let apps = inner.apps.state();
    let used: Vec<String> =
        apps.iter().filter_map(|a| inner.clusters.server_of(&a.spec.destination)).collect();
    let dropped = inner.clusters.retain(|server| used.iter().any(|u| u == server));
    if dropped > 0 {
        inner.metrics.clusters_connected.set(inner.clusters.connected() as i64);
    }
}

/// Reconciles every app whose destination is `cluster`.
pub(crate) fn trigger_apps_of(inner: &Inner, cluster: &str) {
    for app in inner.apps.state() {
        if inner.clusters.server_of(&app.spec.destination).as_deref() == Some(cluster) {
            inner.trigger(&id_of(&app), |_| {});
        }
    }
}

fn id_of(app: &Application) -> AppId {
    AppId::new(app.namespace().unwrap_or_default(), app.name_any())
}
