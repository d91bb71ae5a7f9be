//! The stage a scenario runs on: the embedded cluster and the engine, each on its own named
//! runtime (see [`crate::measure`]), a synthetic repository served by a real `git daemon`, and a
//! harness that watches progress through the engine's own Application cache, so that waiting
//! costs the cluster no requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ferry_cluster::{ClusterConfig, RequestStats, RunningCluster};
use ferry_engine::{Application, Engine, EngineConfig};
use futures::StreamExt;
use kube::api::{Api, PostParams};
use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::runtime::Runtime;

use crate::BenchError;
use crate::measure::{CLUSTER_THREADS, ENGINE_THREADS};
use ferry_testkit::{GitDaemon, Repo};

/// Namespace of the Applications the benchmarks create.
pub const APPS_NAMESPACE: &str = "ferry";
/// Directory name (and URL path) of the served repository.
pub const REPO_NAME: &str = "config.git";

/// The embedded cluster on its own runtime, and a harness runtime on the calling thread.
pub struct Stage {
    pub cluster: RunningCluster,
    /// The harness's client (its requests are counted, see [`Stage::harness_requests`]).
    pub client: kube::Client,
    harness_requests: AtomicU64,
    harness_writes: AtomicU64,
    harness: Runtime,
    cluster_rt: Option<Runtime>,
}

impl Stage {
    /// Starts the cluster with a 100 ms workload simulator (pods become ready after it).
    pub fn start() -> Result<Self, BenchError> {
        Self::start_with(|config| config)
    }

    /// [`Stage::start`], with the cluster's configuration changed by `tweak` first.
    pub fn start_with(
        tweak: impl FnOnce(ClusterConfig) -> ClusterConfig,
    ) -> Result<Self, BenchError> {
        let cluster_rt = named_runtime(CLUSTER_THREADS)?;
        let config = tweak(
            ClusterConfig::default()
                .simulator_delay(Duration::from_millis(100))
                .bookmark_interval(Duration::from_secs(5)),
        );
        let cluster = cluster_rt.block_on(ferry_cluster::Cluster::start(config))?;
        let harness = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| BenchError::Runtime { source })?;
        let client = harness.block_on(cluster.client())?;
        Ok(Self {
            cluster,
            client,
            harness_requests: AtomicU64::new(0),
            harness_writes: AtomicU64::new(0),
            harness,
            cluster_rt: Some(cluster_rt),
        })
    }

    /// Tasks alive on the cluster's runtime (its connections, watches, controllers).
    pub fn cluster_tasks(&self) -> usize {
        self.cluster_rt.as_ref().map_or(0, |rt| rt.metrics().num_alive_tasks())
    }

    /// Runs harness work on the calling thread.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.harness.block_on(future)
    }

    /// Records API requests the harness made itself (`writes` of them create, patch or delete),
    /// to keep them out of the engine's count.
    pub fn count_harness(&self, requests: u64, writes: u64) {
        self.harness_requests.fetch_add(requests, Ordering::Relaxed);
        self.harness_writes.fetch_add(writes, Ordering::Relaxed);
    }

    /// (requests, writes) the harness made so far.
    pub fn harness_counts(&self) -> (u64, u64) {
        (self.harness_requests.load(Ordering::Relaxed), self.harness_writes.load(Ordering::Relaxed))
    }

    /// Requests the cluster served so far.
    pub fn served(&self) -> RequestStats {
        self.cluster.stats()
    }

    pub fn create_namespace(&self, name: &str) -> Result<(), BenchError> {
        self.count_harness(1, 1);
        self.block_on(create_namespace(&self.client, name))
    }
}

impl Stage {
    /// Serves one more embedded cluster (state in `dir`, on `listen`) on the cluster runtime,
    /// as `ferry cluster serve` would: a destination for the multi-cluster scenario.
    pub fn serve_extra(
        &self,
        dir: &std::path::Path,
        listen: std::net::SocketAddr,
    ) -> Result<RunningCluster, BenchError> {
        let config = ClusterConfig::default()
            .simulator_delay(Duration::from_millis(100))
            .bookmark_interval(Duration::from_secs(5))
            .data_dir(dir)
            .listen(listen);
        let rt = self.cluster_rt.as_ref().expect("the cluster runtime lives as long as the stage");
        Ok(rt.block_on(ferry_cluster::Cluster::start(config))?)
    }

    /// Stops an extra cluster (its connections drop, as when the process dies); the state stays.
    pub fn stop_extra(&self, cluster: RunningCluster) -> Result<(), BenchError> {
        let rt = self.cluster_rt.as_ref().expect("the cluster runtime lives as long as the stage");
        Ok(rt.block_on(cluster.shutdown())?)
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let Some(rt) = self.cluster_rt.take() {
            rt.shutdown_background();
        }
    }
}

/// A runtime whose threads (workers and blocking pool) carry `name`; idle blocking threads are
/// kept so that their CPU times stay readable until the scenario ends.
pub fn named_runtime(name: &str) -> Result<Runtime, BenchError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .thread_keep_alive(Duration::from_secs(24 * 3600))
        .enable_all()
        .build()
        .map_err(|source| BenchError::Runtime { source })
}

/// A [`Stage`] plus a served repository and a running engine.
pub struct World {
    pub repo: Repo,
    pub daemon: GitDaemon,
    pub engine: Engine,
    pub registry: Registry,
    pub tmp: TempDir,
    engine_rt: Option<Runtime>,
    // Declared last: dropped after the engine's runtime is gone.
    pub stage: Stage,
}

impl World {
    /// `setup` fills the repository before the first commit.
    pub fn start(setup: impl FnOnce(&Repo) -> Result<(), BenchError>) -> Result<Self, BenchError> {
        Self::start_with(|config| config, setup)
    }

    /// [`World::start`], with the cluster's configuration changed by `tweak`.
    pub fn start_with(
        tweak: impl FnOnce(ClusterConfig) -> ClusterConfig,
        setup: impl FnOnce(&Repo) -> Result<(), BenchError>,
    ) -> Result<Self, BenchError> {
        let tmp = tempfile::tempdir().map_err(|source| BenchError::Io {
            what: "create a temporary directory".into(),
            source,
        })?;
        let repo = Repo::init(&tmp.path().join("git").join(REPO_NAME))?;
        // The daemon serves this non-bare repository; pushes never happen, commits are local.
        repo.git(&["config", "gc.auto", "0"])?;
        setup(&repo)?;
        repo.commit("initial")?;
        let daemon = GitDaemon::start(&tmp.path().join("git"))?;
        let stage = Stage::start_with(tweak)?;
        let engine_rt = named_runtime(ENGINE_THREADS)?;
        let mut registry = Registry::default();
        let config = EngineConfig::new(tmp.path().join("engine"));
        let kubeconfig = stage.cluster.kubeconfig_path().to_owned();
        let engine = engine_rt.block_on(async {
            // The engine's client is built on the engine's runtime so its connections run there.
            let client = client_from(&kubeconfig).await?;
            Engine::start(client, config, &mut registry).await.map_err(BenchError::from)
        })?;
        Ok(Self { repo, daemon, engine, registry, tmp, engine_rt: Some(engine_rt), stage })
    }

    pub fn repo_url(&self) -> String {
        self.daemon.url(REPO_NAME)
    }

    /// Tasks alive on the engine's runtime (workers, watches, syncs in flight): Rust's
    /// goroutine count.
    pub fn engine_tasks(&self) -> usize {
        self.engine_rt.as_ref().map_or(0, |rt| rt.metrics().num_alive_tasks())
    }

    /// Runs `future` on the engine's runtime (where its client's connections live), as the
    /// engine's own API handlers would.
    pub fn on_engine<F: std::future::Future>(&self, future: F) -> F::Output {
        self.engine_rt
            .as_ref()
            .expect("the engine runtime lives as long as the world")
            .block_on(future)
    }

    /// Creates Applications (name, spec) in [`APPS_NAMESPACE`], 16 at a time.
    pub fn create_apps(&self, apps: Vec<(String, Value)>) -> Result<(), BenchError> {
        self.stage.create_namespace(APPS_NAMESPACE)?;
        self.stage.count_harness(apps.len() as u64, apps.len() as u64);
        self.stage.block_on(create_applications(&self.stage.client, apps))
    }

    /// Polls the engine's Application cache (no API requests) every 2 ms until `done` holds for
    /// the list of apps; returns the time it took.
    pub fn wait_apps(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[Arc<Application>]) -> bool,
    ) -> Result<Duration, BenchError> {
        let started = Instant::now();
        loop {
            let apps = effective_view(self.engine.applications(), &self.engine.repo_records());
            if done(&apps) {
                return Ok(started.elapsed());
            }
            if started.elapsed() > timeout {
                return Err(BenchError::Timeout {
                    what: what.to_owned(),
                    seconds: timeout.as_secs(),
                    last: summarize(&apps),
                });
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The engine's counters (reconciles, renders, syncs, heals, drift) from its registry.
    pub fn counters(&self) -> EngineCounters {
        let mut text = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        let value = |name: &str| -> f64 {
            text.lines()
                .filter(|l| l.starts_with(name) && !l.starts_with('#'))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum()
        };
        EngineCounters {
            reconciles: value("ferry_reconcile_duration_seconds_count") as u64,
            renders: value("ferry_render_duration_seconds_count") as u64,
            renders_run: value("ferry_renders_total{cache=\"Miss\"}") as u64,
            syncs: value("ferry_syncs_total") as u64,
            heals: value("ferry_heals_total") as u64,
            drift: value("ferry_drift_detected_total") as u64,
            statuses_folded: value("ferry_statuses_folded_total") as u64,
            record_writes: value("ferry_repo_record_writes_total") as u64,
        }
    }

    /// Bytes in the engine's repository cache.
    pub fn repo_cache_bytes(&self) -> u64 {
        crate::measure::dir_size(&self.tmp.path().join("engine").join("repos"))
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(rt) = self.engine_rt.take() {
            let engine = self.engine.clone();
            let _ = rt.block_on(async move {
                tokio::time::timeout(Duration::from_secs(5), engine.shutdown()).await
            });
            rt.shutdown_background();
        }
    }
}

/// The engine's counters at one moment; subtract two with [`EngineCounters::since`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineCounters {
    pub reconciles: u64,
    pub renders: u64,
    /// Renders the render cache did not have (the renderer ran).
    pub renders_run: u64,
    pub syncs: u64,
    pub heals: u64,
    pub drift: u64,
    /// App statuses the repository record took instead of a status write.
    pub statuses_folded: u64,
    /// Writes of repository records.
    pub record_writes: u64,
}

impl EngineCounters {
    pub fn since(&self, earlier: &EngineCounters) -> EngineCounters {
        EngineCounters {
            reconciles: self.reconciles.saturating_sub(earlier.reconciles),
            renders: self.renders.saturating_sub(earlier.renders),
            renders_run: self.renders_run.saturating_sub(earlier.renders_run),
            syncs: self.syncs.saturating_sub(earlier.syncs),
            heals: self.heals.saturating_sub(earlier.heals),
            drift: self.drift.saturating_sub(earlier.drift),
            statuses_folded: self.statuses_folded.saturating_sub(earlier.statuses_folded),
            record_writes: self.record_writes.saturating_sub(earlier.record_writes),
        }
    }
}

/// Whether the app is Synced and Healthy at `revision`.
pub fn synced_healthy_at(app: &Application, revision: &str) -> bool {
    app.status.as_ref().is_some_and(|s| {
        s.sync.status == ferry_engine::application::SyncStatusCode::Synced
            && s.sync.revision == revision
            && s.health.status == ferry_health::HealthStatus::Healthy
    })
}

/// The apps as readers see them (`ferry app get`, the API): an app the engine verified unchanged
/// at a later commit in its repository's record shows that commit as its revision (its own status
/// is not rewritten for it; see `ferry_engine::records::effective`).
fn effective_view(
    apps: Vec<Arc<Application>>,
    records: &std::collections::HashMap<String, Arc<ferry_engine::records::RepoRecord>>,
) -> Vec<Arc<Application>> {
    if records.is_empty() {
        return apps;
    }
    apps.into_iter()
        .map(|app| {
            let at = ferry_engine::records::effective_in(&app, records);
            let own = app.status.as_ref().map(|s| s.sync.revision.as_str()).unwrap_or("");
            if at.checked_at.is_none() || at.revision == own {
                return app;
            }
            let revision = at.revision.to_owned();
            let mut seen = (*app).clone();
            if let Some(status) = seen.status.as_mut() {
                status.sync.revision = revision;
            }
            Arc::new(seen)
        })
        .collect()
}

/// Whether the app's last sync of `revision` finished successfully (its objects are applied).
pub fn applied_at(app: &Application, revision: &str) -> bool {
    app.status.as_ref().is_some_and(|s| {
        s.operation_state.as_ref().is_some_and(|o| o.revision == revision && o.succeeded())
    })
}

/// Creates namespace `name` through `client` (one that exists already is fine).
pub async fn create_namespace(client: &kube::Client, name: &str) -> Result<(), BenchError> {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns = serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
    )
    .map_err(|source| BenchError::Json { what: "a Namespace".into(), source })?;
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(source) => Err(BenchError::Kube { what: format!("create namespace {name}"), source }),
    }
}

/// Creates Applications (name, spec) in [`APPS_NAMESPACE`] through `client`, 16 at a time.
pub async fn create_applications(
    client: &kube::Client,
    apps: Vec<(String, Value)>,
) -> Result<(), BenchError> {
    let api: Api<Application> = Api::namespaced(client.clone(), APPS_NAMESPACE);
    let results: Vec<Result<(), BenchError>> =
        futures::stream::iter(apps.into_iter().map(|(name, spec)| {
            let api = api.clone();
            async move {
                let app: Application = serde_json::from_value(json!({
                    "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
                    "metadata": {"name": name, "namespace": APPS_NAMESPACE}, "spec": spec
                }))
                .map_err(|source| BenchError::Json {
                    what: format!("Application {name}"),
                    source,
                })?;
                api.create(&PostParams::default(), &app).await.map(|_| ()).map_err(|source| {
                    BenchError::Kube { what: format!("create Application {name}"), source }
                })
            }
        }))
        .buffer_unordered(16)
        .collect()
        .await;
    results.into_iter().collect()
}

/// A kube client from a kubeconfig file, built on the current runtime.
pub async fn client_from(path: &std::path::Path) -> Result<kube::Client, BenchError> {
    let err = |e: String| BenchError::Client { path: path.to_owned(), message: e };
    let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| err(e.to_string()))?;
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|e| err(e.to_string()))?;
    kube::Client::try_from(config).map_err(|e| err(e.to_string()))
}

/// A few apps' states, for a timeout message.
fn summarize(apps: &[Arc<Application>]) -> String {
    let mut out: Vec<String> = apps
        .iter()
        .filter(|a| {
            a.status.as_ref().is_none_or(|s| {
                s.health.status != ferry_health::HealthStatus::Healthy
                    || s.conditions.iter().any(|c| c.status == "False")
            })
        })
        .take(5)
        .map(|a| {
            let s = a.status.clone().unwrap_or_default();
            let op =
                s.operation_state.map(|o| format!("{} {}", o.phase, o.message)).unwrap_or_default();
            let cond: Vec<String> = s
                .conditions
                .iter()
                .filter(|c| c.status == "False")
                .map(|c| format!("{}: {}", c.type_, c.message))
                .collect();
            format!(
                "{}: {} {} at {:.8} ({op}) {}",
                a.metadata.name.clone().unwrap_or_default(),
                s.sync.status,
                s.health.status,
                s.sync.revision,
                cond.join("; ")
            )
        })
        .collect();
    if out.is_empty() {
        out.push(format!("{} apps, all Healthy with no failing condition", apps.len()));
    }
    out.join("\n")
}
