//! The engine's Prometheus metrics, named the Prometheus way (`_total`, `_seconds`). The API
//! serves them at `/metrics` from the same registry.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum SyncResult {
    Succeeded,
    Failed,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: SyncResult,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppLabels {
    pub namespace: String,
    pub name: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum CacheResult {
    Hit,
    Miss,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabel {
    pub cache: CacheResult,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabel {
    pub stage: String,
}

#[derive(Clone)]
pub struct Metrics {
    pub reconcile_duration: Histogram,
    pub syncs: Family<ResultLabel, Counter>,
    pub app_sync: Family<AppLabels, Gauge>,
    pub app_health: Family<AppLabels, Gauge>,
    pub drift_detected: Counter,
    pub heals: Counter,
    pub git_fetch_duration: Histogram,
    pub git_errors: Counter,
    pub render_duration: Histogram,
    pub renders: Family<CacheLabel, Counter>,
    pub errors: Family<StageLabel, Counter>,
    pub managed_objects: Gauge,
    pub clusters_connected: Gauge,
    /// Repository record writes (`records`).
    pub record_writes: Counter,
    /// Statuses recorded in a repository record instead of written (same render and result at
    /// a new commit).
    pub statuses_folded: Counter,
}

impl Metrics {
    pub fn new(registry: &mut Registry) -> Self {
        let m = Self {
            reconcile_duration: Histogram::new(exponential_buckets(0.0005, 2.0, 18)),
            syncs: Family::default(),
            app_sync: Family::default(),
            app_health: Family::default(),
            drift_detected: Counter::default(),
            heals: Counter::default(),
            git_fetch_duration: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            git_errors: Counter::default(),
            render_duration: Histogram::new(exponential_buckets(0.0005, 2.0, 18)),
            renders: Family::default(),
            errors: Family::default(),
            managed_objects: Gauge::default(),
            clusters_connected: Gauge::default(),
            record_writes: Counter::default(),
            statuses_folded: Counter::default(),
        };
        let r = registry.sub_registry_with_prefix("ferry");
        r.register(
            "reconcile_duration_seconds",
            "Time one reconcile of one Application took",
            m.reconcile_duration.clone(),
        );
        r.register("syncs", "Syncs carried out, by result", m.syncs.clone());
        r.register(
            "app_sync_status",
            "1 for the sync status each Application is in",
            m.app_sync.clone(),
        );
        r.register(
            "app_health_status",
            "1 for the health status each Application is in",
            m.app_health.clone(),
        );
        r.register("drift_detected", "Live changes to fields Ferry owns", m.drift_detected.clone());
        r.register("heals", "Syncs started to undo drift (self-heal)", m.heals.clone());
        r.register(
            "git_fetch_duration_seconds",
            "Time to resolve and fetch a revision",
            m.git_fetch_duration.clone(),
        );
        r.register("git_errors", "Failed ref checks and fetches", m.git_errors.clone());
        r.register(
            "render_duration_seconds",
            "Time to render one Application",
            m.render_duration.clone(),
        );
        r.register(
            "renders",
            "Renders asked for, by whether the render cache had them (a miss ran the renderer)",
            m.renders.clone(),
        );
        r.register(
            "reconcile_errors",
            "Reconciles stopped by an error, by stage",
            m.errors.clone(),
        );
        r.register("managed_objects", "Live objects in the watch cache", m.managed_objects.clone());
        r.register(
            "clusters_connected",
            "Remote clusters Ferry holds a connection to",
            m.clusters_connected.clone(),
        );
        r.register(
            "repo_record_writes",
            "Writes of repository records (one per repository per burst of verified apps)",
            m.record_writes.clone(),
        );
        r.register(
            "statuses_folded",
            "App statuses not written because the repository record says the app is unchanged at the new commit",
            m.statuses_folded.clone(),
        );
        m
    }

    /// Sets the one-hot gauges of an app's status.
    pub fn set_app_state(&self, namespace: &str, name: &str, sync: &str, health: &str) {
        for (family, current, all) in [
            (&self.app_sync, sync, &["Synced", "OutOfSync", "Unknown"][..]),
            (
                &self.app_health,
                health,
                &["Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown"][..],
            ),
        ] {
            for s in all {
                let labels = AppLabels {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    status: (*s).to_owned(),
                };
                family.get_or_create(&labels).set(i64::from(*s == current));
            }
        }
    }

    pub fn remove_app(&self, namespace: &str, name: &str) {
        for s in [
            "Synced",
            "OutOfSync",
            "Unknown",
            "Healthy",
            "Suspended",
            "Progressing",
            "Missing",
            "Degraded",
        ] {
            let labels = AppLabels {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                status: s.to_owned(),
            };
            self.app_sync.remove(&labels);
            self.app_health.remove(&labels);
        }
    }
}
