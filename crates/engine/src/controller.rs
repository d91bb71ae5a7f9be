//! The controller: starts the watches, the poller and the workers, and owns the shared state the
//! reconciles use. One reconcile per app at a time; apps never wait on each other's I/O beyond
//! the worker pool.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ferry_apply::executor::ExecutorConfig;
use ferry_apply::tracking::AppId;
use ferry_render::{RenderCache, RenderConfig};
use ferry_source::{Limits, RepoCache};
use futures::StreamExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Client, ResourceExt};
use prometheus_client::registry::Registry;
use tokio::task::JoinSet;

use crate::application::Application;
use crate::claims::Claims;
use crate::clusters::Clusters;
use crate::live::LiveEvent;
use crate::metrics::Metrics;
use crate::queue::WorkQueue;
use crate::reconcile::Recorder;
use crate::reconcile::{AppMemory, Reasons};
use crate::settings::Settings;
use crate::sources::Sources;

/// Where Ferry keeps its own configuration when nothing else is said.
pub const DEFAULT_HOME_NAMESPACE: &str = "ferry";

#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Where repositories are cached.
    pub data_dir: PathBuf,
    /// Watch Applications in this namespace only (`None`: all namespaces).
    pub namespace: Option<String>,
    /// Ferry's own namespace: repository, cluster and webhook Secrets and the SSH known hosts
    /// ConfigMap are read from here (Argo CD's `argocd` namespace).
    pub home_namespace: String,
    /// How often remote refs are checked (a cheap `ls-remote`; no objects move when nothing changed).
    pub poll_interval: Duration,
    /// Reconciles running at once.
    pub workers: usize,
    /// The safety-net resync of every app, whatever happened.
    pub resync: Duration,
    pub render: RenderConfig,
    pub executor: ExecutorConfig,
    /// Key for the hashes shown beside masked Secret values (so a change is visible, and a
    /// guessed value cannot be confirmed). Random per process unless set; empty shows no hash.
    pub mask_key: String,
    /// Install (server-side apply) the Application CRD at start.
    pub install_crd: bool,
    /// How long a first listing of a kind may take.
    pub watch_timeout: Duration,
    /// Where sync records go (the API records its actions in the same trail).
    pub audit: crate::audit::AuditTrail,
    /// The notifier's queue, workers, retries and rate limit.
    pub notify: ferry_notify::Options,
    /// Whether Argo CD's Applications (`argoproj.io`) are reconciled too (see [`crate::argo`]).
    pub argo_applications: crate::argo::ArgoApplications,
    /// Share the apps with other replicas through shard Leases (see [`crate::shard`]);
    /// `None`: this engine reconciles every app.
    pub sharding: Option<crate::shard::ShardConfig>,
}

/// `n` random bytes from the system, as hex (mask keys, generated secrets).
pub fn random_hex(n: usize) -> Result<String, getrandom::Error> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A key for masked-value hashes: 128 random bits as hex; empty (no hashes shown) if the system
/// has no randomness to give.
pub fn random_mask_key() -> String {
    match random_hex(16) {
        Ok(key) => key,
        Err(e) => {
            tracing::warn!(error = %e, "no randomness for the Secret mask key; masked values show no hash");
            String::new()
        }
    }
}

impl EngineConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            namespace: None,
            home_namespace: DEFAULT_HOME_NAMESPACE.to_owned(),
            poll_interval: Duration::from_secs(10),
            workers: 8,
            resync: Duration::from_secs(600),
            render: RenderConfig::default(),
            executor: ExecutorConfig::default(),
            mask_key: random_mask_key(),
            install_crd: true,
            watch_timeout: Duration::from_secs(60),
            audit: crate::audit::AuditTrail::default(),
            notify: ferry_notify::Options::default(),
            argo_applications: Default::default(),
            sharding: None,
        }
    }

    pub fn sharding(mut self, sharding: crate::shard::ShardConfig) -> Self {
        self.sharding = Some(sharding);
        self
    }

    pub fn argo_applications(mut self, mode: crate::argo::ArgoApplications) -> Self {
        self.argo_applications = mode;
        self
    }

    pub fn namespace(mut self, ns: impl Into<String>) -> Self {
        self.namespace = Some(ns.into());
        self
    }

    pub fn home_namespace(mut self, ns: impl Into<String>) -> Self {
        self.home_namespace = ns.into();
        self
    }

    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.poll_interval = d;
        self
    }

    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.max(1);
        self
    }

    pub fn render(mut self, render: RenderConfig) -> Self {
        self.render = render;
        self
    }

    pub fn executor(mut self, executor: ExecutorConfig) -> Self {
        self.executor = executor;
        self
    }

    pub fn audit(mut self, audit: crate::audit::AuditTrail) -> Self {
        self.audit = audit;
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot create the repository cache in {path}: {source}")]
    Cache {
        path: PathBuf,
        #[source]
        source: ferry_source::CacheError,
    },
    #[error("cannot install the Application CRD: {0}")]
    InstallCrd(#[source] kube::Error),
    #[error("cannot look up or install Argo CD's Application CRD (applications.argoproj.io): {0}")]
    ArgoCrd(#[source] kube::Error),
}

/// What of an Application, when it changes, triggers a reconcile: generation and annotations.
type Fingerprint = (Option<i64>, Option<std::collections::BTreeMap<String, String>>);

pub(crate) struct Inner {
    pub client: Client,
    pub config: EngineConfig,
    pub apps: Store<Application>,
    pub queue: WorkQueue<AppId>,
    pub reasons: Mutex<HashMap<AppId, Reasons>>,
    /// The destination clusters: the one Ferry runs in and those of the cluster Secrets, each
    /// with its client, discovery, watch cache and executor. `client` stays the control
    /// cluster's (Applications, their status, Events, Secrets).
    pub clusters: Clusters,
    pub sources: Sources,
    pub renders: RenderCache,
    pub memory: Mutex<HashMap<AppId, AppMemory>>,
    pub metrics: Metrics,
    pub labels: RwLock<HashMap<String, AppId>>,
    pub recorder: Recorder,
    /// Repository credentials (from `settings`) for every fetch and ref check.
    pub repos: Arc<crate::repos::Repos>,
    pub claims: Claims,
    /// The Projects in Ferry's namespace.
    pub projects: Store<crate::project::Project>,
    pub schedule: crate::poll::Schedule,
    /// The syncs running now, each stopped early by a terminate request.
    pub running: Mutex<HashMap<AppId, Arc<tokio::sync::Notify>>>,
    /// The repository and cluster Secrets in Ferry's namespace.
    pub settings: Arc<Settings>,
    /// The webhook delivery that last moved each app's repository, until a sync names it as
    /// its trigger (audit trail).
    pub deliveries: Mutex<HashMap<AppId, crate::sync_audit::Delivery>>,
    /// The apps' SOPS key rings, reused while their key Secrets are watched and unchanged.
    pub keys: crate::decryption::KeyCache,
    /// Notifications and commit statuses (`ferry-notify`), fed by `notifications::emit`.
    pub notifier: ferry_notify::Notifier,
    /// Which apps name which in `spec.dependsOn`: a dependency's change reconciles its dependents.
    pub dependents: Mutex<crate::depends::index::Dependents>,
    /// The apps that are Argo CD's Applications (status and finalizers go to `argoproj.io`).
    pub argo: crate::argo::ArgoIds,
    /// The ApplicationSets and their work queue.
    pub appsets: crate::appset::controller::Sets,
    /// The shards this replica holds (every app, without sharding).
    pub shards: Arc<crate::shard::Shards>,
    /// The repository records: apps verified unchanged at a later commit (`records`).
    pub records: crate::records::Records,
}

impl Inner {
    /// Queues a reconcile of the app, if this replica owns it (another replica's apps are its
    /// business; see [`crate::shard`]).
    pub fn trigger(&self, app: &AppId, f: impl FnOnce(&mut Reasons)) {
        if !self.shards.owns(&self.apps, app) {
            return;
        }
        f(self.reasons.lock().unwrap_or_else(|p| p.into_inner()).entry(app.clone()).or_default());
        self.queue.push(app.clone());
    }

    fn take_reasons(&self, app: &AppId) -> Reasons {
        self.reasons.lock().unwrap_or_else(|p| p.into_inner()).remove(app).unwrap_or_default()
    }
}

/// A running engine. Dropping it does not stop it; call [`Engine::shutdown`].
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
    tasks: Arc<Mutex<Option<JoinSet<()>>>>,
}

impl Engine {
    /// Starts the controller against `client`, registering its metrics in `registry`.
    pub async fn start(
        client: Client,
        config: EngineConfig,
        registry: &mut Registry,
    ) -> Result<Self, EngineError> {
        if config.install_crd {
            install_crd(&client).await.map_err(EngineError::InstallCrd)?;
        }
        let argo = crate::argo::prepare(&client, config.argo_applications)
            .await
            .map_err(EngineError::ArgoCrd)?
            .then(|| match &config.namespace {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &crate::argo::api_resource()),
                None => Api::all_with(client.clone(), &crate::argo::api_resource()),
            });
        let repo_dir = config.data_dir.join("repos");
        let cache = RepoCache::new(&repo_dir, Limits::default())
            .map_err(|source| EngineError::Cache { path: repo_dir, source })?;
        let (events, live_events) = tokio::sync::mpsc::unbounded_channel();
        let apps_api: Api<Application> = match &config.namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        let (store, writer) = reflector::store();
        let (projects, projects_writer) = reflector::store();
        let (appsets, appsets_writer) = reflector::store();
        let mut tasks = JoinSet::new();
        let settings = Settings::start(&client, &config.home_namespace, &mut tasks);
        let clusters =
            Clusters::new(client.clone(), settings.clone(), config.executor.clone(), events);
        let keys = config.data_dir.join("repo-keys");
        let repos = crate::repos::Repos::start(&client, settings.clone(), keys, &mut tasks);
        let inner = Arc::new(Inner {
            clusters,
            recorder: Recorder::new(client.clone(), "ferry"),
            client,
            apps: store,
            queue: WorkQueue::default(),
            reasons: Mutex::default(),
            sources: Sources::new(cache),
            renders: RenderCache::new(),
            memory: Mutex::default(),
            metrics: Metrics::new(registry),
            labels: RwLock::default(),
            repos,
            claims: Claims::default(),
            projects,
            schedule: Default::default(),
            running: Mutex::default(),
            settings,
            deliveries: Mutex::default(),
            keys: Default::default(),
            notifier: ferry_notify::Notifier::start(
                config.notify.clone(),
                ferry_notify::metrics::NotifyMetrics::new(registry),
            ),
            dependents: Mutex::default(),
            argo: Default::default(),
            appsets: crate::appset::controller::Sets::new(appsets),
            shards: Arc::new(crate::shard::Shards::new(config.sharding.clone(), registry)),
            records: Default::default(),
            config,
        });
        inner.records.load(&inner.client, &inner.config.home_namespace).await;
        if !inner.settings.wait_ready(inner.config.watch_timeout.min(Duration::from_secs(10))).await
        {
            tracing::warn!(
                namespace = %inner.config.home_namespace,
                "the settings Secrets (repositories, clusters) were not listed in time; apps that need them will retry"
            );
        }
        tasks.spawn(crate::project::watch::projects(inner.clone(), projects_writer));
        let ready = inner.projects.wait_until_ready();
        if tokio::time::timeout(Duration::from_secs(10), ready).await.is_err() {
            tracing::warn!("the Projects were not listed in time; apps wait for their project");
        }
        tasks.spawn(watch_applications(inner.clone(), apps_api, argo, writer));
        tasks.spawn(watch_live(inner.clone(), live_events));
        tasks.spawn(crate::clusters::watch::settings(inner.clone()));
        tasks.spawn(poll(inner.clone()));
        tasks.spawn(crate::repos::follow(inner.clone()));
        tasks.spawn(crate::decryption::follow(inner.clone()));
        tasks.spawn(resync(inner.clone()));
        tasks.spawn(crate::notifications::watch(inner.clone()));
        tasks.spawn(crate::appset::controller::watch(inner.clone(), appsets_writer));
        tasks.spawn(crate::appset::controller::tick(inner.clone()));
        tasks.spawn(crate::appset::controller::work(inner.clone()));
        tasks.spawn(crate::shard::run::run(inner.clone()));
        tasks.spawn(crate::shard::relay::follow(inner.clone()));
        tasks.spawn(crate::records::store::flush(inner.clone()));
        for _ in 0..inner.config.workers {
            tasks.spawn(work(inner.clone()));
        }
        Ok(Self { inner, tasks: Arc::new(Mutex::new(Some(tasks))) })
    }

    /// A webhook or a user said `repo_url` moved: check it now instead of at the next poll.
    pub fn notify_push(&self, repo_url: &str) -> usize {
        self.notify_webhook_push(repo_url, None, &[], None)
    }

    /// [`Engine::notify_push`] for a webhook delivery that pushed `commits` (empty when the
    /// payload does not say) and changed `changed_paths` (`None` when it does not say: a force
    /// push, a new branch, a provider that lists no files). With a delivery id, the syncs it
    /// leads to name it as their trigger in the audit trail; with paths, the apps under them are
    /// looked at first. A sharded replica relays the push to the others (`shard::relay`).
    pub fn notify_webhook_push(
        &self,
        repo_url: &str,
        delivery: Option<&str>,
        commits: &[String],
        changed_paths: Option<&std::collections::BTreeSet<ferry_source::RepoPath>>,
    ) -> usize {
        if let Some(config) = self.inner.shards.config() {
            let relayed = crate::shard::relay::Relayed::new(
                repo_url,
                delivery,
                commits,
                changed_paths,
                &config.identity,
            );
            crate::shard::relay::announce(&self.inner, relayed);
        }
        let delivery = delivery.map(|id| crate::sync_audit::Delivery::new(id, commits));
        crate::poll::notify_push(&self.inner, repo_url, delivery, changed_paths)
    }

    /// Notifications: the delivery log, test sends, the config in force.
    pub fn notifier(&self) -> &ferry_notify::Notifier {
        &self.inner.notifier
    }

    /// The audit trail (syncs, and whatever the API records in it).
    pub fn audit(&self) -> &crate::audit::AuditTrail {
        &self.inner.config.audit
    }

    /// Keeps `record` in the audit trail and, when it is about an app, posts it as an Event on
    /// the Application (reason `Audit`; a Warning when the act was refused or failed).
    pub async fn record_audit(&self, record: crate::audit::AuditRecord) {
        use crate::audit::Outcome;
        let app = record.app.as_ref().and_then(|a| {
            let id = AppId::new(&a.namespace, &a.name);
            self.inner.apps.get(&reflector::ObjectRef::new(&id.name).within(&id.namespace))
        });
        if let Some(app) = app {
            let type_ = match record.outcome {
                Outcome::Denied | Outcome::Failed => kube::runtime::events::EventType::Warning,
                _ => kube::runtime::events::EventType::Normal,
            };
            crate::reconcile::publish(&self.inner, &app, type_, "Audit", record.summary()).await;
        }
        self.inner.config.audit.record(record);
    }

    /// Reconciles one app now (with a fresh look at its source).
    pub fn refresh(&self, namespace: &str, name: &str) {
        self.inner.trigger(&AppId::new(namespace, name), |r| {
            r.request = true;
            r.poll = true;
        });
    }

    /// The Applications as last seen.
    pub fn applications(&self) -> Vec<Arc<Application>> {
        self.inner.apps.state()
    }

    /// The latest field-level diffs of an app (Secret values masked).
    pub fn diffs(&self, namespace: &str, name: &str) -> Vec<ferry_diff::ObjectDiff> {
        let memory = self.inner.memory.lock().unwrap_or_else(|p| p.into_inner());
        memory.get(&AppId::new(namespace, name)).map(|m| m.diffs.clone()).unwrap_or_default()
    }

    /// What Git renders for one of the app's objects, as the engine prepared it last (the
    /// destination namespace filled in, Ferry's marks added), with Secret values masked, and
    /// the file it came from. `None`: the app declares no such object or has not rendered yet.
    pub fn desired(
        &self,
        namespace: &str,
        name: &str,
        object: &crate::application::SyncResourceRef,
    ) -> Option<(serde_json::Value, String)> {
        let key = ferry_apply::ObjKey {
            group: object.group.clone(),
            kind: object.kind.clone(),
            namespace: object.namespace.clone(),
            name: object.name.clone(),
        };
        let memory = self.inner.memory.lock().unwrap_or_else(|p| p.into_inner());
        let m = memory.get(&AppId::new(namespace, name))?;
        let (mut object, origin) = match &m.packed {
            Some(packed) => packed.resource(&key)?,
            None => {
                let r = m.prepared.resources.iter().find(|r| r.key == key)?;
                ((*r.object).clone(), r.origin.clone())
            }
        };
        drop(memory);
        // No key: a hash per value would let a reader confirm a guessed Secret value.
        ferry_diff::mask_secret(&mut object, "");
        Some((object, origin))
    }

    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// What merging `req` would do to the live clusters (`ferry plan` inside the engine): the
    /// engine's repository cache, credentials, render settings and cluster connections.
    pub async fn plan(
        &self,
        req: &crate::plan::PlanRequest,
    ) -> Result<crate::plan::Plan, crate::plan::PlanError> {
        let inner = &self.inner;
        let access = inner.repos.access(&req.repo_url).await.map_err(|e| {
            crate::plan::PlanError::Credentials {
                url: req.repo_url.clone(),
                message: e.to_string(),
            }
        })?;
        let env = crate::plan::PlanEnv {
            client: inner.client.clone(),
            home_namespace: inner.config.home_namespace.clone(),
            cache: inner.sources.cache(),
            access: access.access,
            render: inner.config.render.clone(),
            renders: &inner.renders,
            destinations: &inner.clusters,
        };
        crate::plan::plan(&env, req).await
    }

    /// Live objects in the watch caches of every cluster (for metrics and benchmarks).
    pub fn live_objects(&self) -> usize {
        self.inner.clusters.live_objects()
    }

    /// Remote clusters connected now (the cluster Ferry runs in is not counted).
    pub fn connected_clusters(&self) -> usize {
        self.inner.clusters.connected()
    }

    /// The ApplicationSets as last seen.
    pub fn application_sets(&self) -> Vec<Arc<crate::appset::ApplicationSet>> {
        self.inner.appsets.store.state()
    }

    /// Applications created, updated or deleted by ApplicationSets since the start.
    pub fn appset_writes(&self) -> u64 {
        self.inner.appsets.writes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The shards this engine holds now (empty without sharding).
    pub fn held_shards(&self) -> Vec<u32> {
        self.inner.shards.held()
    }

    /// The repository records as the engine holds them now (what [`crate::records::effective`]
    /// reads; the ConfigMaps follow within a fraction of a second).
    pub fn repo_records(
        &self,
    ) -> std::collections::HashMap<String, Arc<crate::records::RepoRecord>> {
        self.inner.records.snapshot()
    }

    /// Reconciles waiting to run.
    pub fn queued(&self) -> usize {
        self.inner.queue.len()
    }

    pub async fn shutdown(&self) {
        let tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut tasks) = tasks {
            tasks.shutdown().await;
        }
        self.inner.clusters.stop();
    }
}

/// One event of either Application watch.
enum Watched {
    Ferry(Box<Result<Event<Application>, watcher::Error>>),
    Argo(Box<Result<Event<kube::api::DynamicObject>, watcher::Error>>),
}

/// Applications (Ferry's, and Argo CD's when [`crate::argo::prepare`] said so): one store, and
/// a trigger when spec or annotations change (not status, which the engine writes itself).
async fn watch_applications(
    inner: Arc<Inner>,
    api: Api<Application>,
    argo: Option<Api<kube::api::DynamicObject>>,
    mut writer: reflector::store::Writer<Application>,
) {
    let ferry = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .map(|e| Watched::Ferry(Box::new(e)))
        .boxed();
    let argo = match argo {
        Some(api) => watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .map(|e| Watched::Argo(Box::new(e)))
            .boxed(),
        None => futures::stream::pending().boxed(),
    };
    let mut stream = futures::stream::select(ferry, argo);
    let mut mirror = crate::argo::Mirror::default();
    let mut seen: HashMap<AppId, Fingerprint> = HashMap::new();
    let mut ready: HashMap<AppId, bool> = HashMap::new();
    while let Some(watched) = stream.next().await {
        let events = match watched {
            Watched::Ferry(result) => match *result {
                Ok(event) => {
                    let relisted = matches!(event, Event::InitDone);
                    let mut events = vec![event];
                    if relisted {
                        events.extend(mirror.replay());
                    }
                    events
                }
                Err(e) => {
                    tracing::warn!(error = %e, "watch on Applications failed; retrying");
                    continue;
                }
            },
            Watched::Argo(result) => match *result {
                Ok(event) => mirror.convert(event, &inner.argo),
                Err(e) => {
                    tracing::warn!(error = %e, "watch on Argo CD's Applications failed; retrying");
                    continue;
                }
            },
        };
        for event in events {
            writer.apply_watcher_event(&event);
            match event {
                Event::Apply(app) | Event::InitApply(app) => {
                    crate::appset::controller::app_changed(&inner, &app);
                    applied(&inner, &mut seen, &app);
                    follow_dependencies(&inner, &mut ready, &app);
                }
                Event::Delete(app) => {
                    crate::appset::controller::app_changed(&inner, &app);
                    let id = AppId::new(app.namespace().unwrap_or_default(), app.name_any());
                    seen.remove(&id);
                    ready.remove(&id);
                    forget(&inner, &id);
                    trigger_dependents(&inner, &id);
                }
                _ => {}
            }
        }
    }
}

/// An Application was created or changed: reconcile it when its spec or annotations moved.
fn applied(inner: &Inner, seen: &mut HashMap<AppId, Fingerprint>, app: &Application) {
    let id = AppId::new(app.namespace().unwrap_or_default(), app.name_any());
    inner.labels.write().unwrap_or_else(|p| p.into_inner()).insert(id.label_value(), id.clone());
    crate::reconcile::memory::caught_up(&inner.memory, &id, app);
    let fingerprint = (app.metadata.generation, app.metadata.annotations.clone());
    let deleting = app.metadata.deletion_timestamp.is_some();
    if terminate_requested(app) {
        let running = inner.running.lock().unwrap_or_else(|p| p.into_inner()).get(&id).cloned();
        if let Some(sync) = running {
            sync.notify_waiters();
        }
    }
    if seen.get(&id) != Some(&fingerprint) || deleting {
        let spec_changed = seen.get(&id).map(|f| f.0) != Some(fingerprint.0);
        seen.insert(id.clone(), fingerprint);
        inner.trigger(&id, |r| {
            r.spec |= spec_changed;
            r.request = true;
        });
    }
}

/// Keeps the dependency index current and, when the app became ready as a dependency or
/// stopped being one (or appeared), reconciles the apps that depend on it at once.
fn follow_dependencies(inner: &Inner, ready: &mut HashMap<AppId, bool>, app: &Application) {
    let id = AppId::new(app.namespace().unwrap_or_default(), app.name_any());
    let deps = crate::depends::dependencies(app);
    inner.dependents.lock().unwrap_or_else(|p| p.into_inner()).set(&id, deps);
    let now = crate::depends::not_ready(app).is_none();
    if ready.insert(id.clone(), now) != Some(now) {
        trigger_dependents(inner, &id);
    }
}

fn trigger_dependents(inner: &Inner, id: &AppId) {
    let dependents = inner.dependents.lock().unwrap_or_else(|p| p.into_inner()).of(id);
    for dependent in dependents {
        inner.trigger(&dependent, |_| {});
    }
}

/// Whether the app carries a terminate request it has not acknowledged yet.
fn terminate_requested(app: &Application) -> bool {
    let Some(value) = app.annotations().get(crate::application::ANNOTATION_TERMINATE) else {
        return false;
    };
    let handled = app.status.as_ref().and_then(|s| s.handled_requests.as_ref());
    handled.and_then(|h| h.terminate.as_ref()) != Some(value)
}

/// An Application is gone: forget it, and tell the apps that shared its objects, which hold
/// them alone now.
fn forget(inner: &Inner, id: &AppId) {
    inner.queue.forget(id);
    inner.metrics.remove_app(&id.namespace, &id.name);
    inner.memory.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    inner.keys.forget(id);
    inner.renders.forget(&id.owner());
    inner.deliveries.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    inner.labels.write().unwrap_or_else(|p| p.into_inner()).remove(&id.label_value());
    inner.records.forget(&format!("{}/{}", id.namespace, id.name));
    inner.notifier.observe(ferry_notify::AppEvent {
        namespace: id.namespace.clone(),
        name: id.name.clone(),
        deleted: true,
        ..Default::default()
    });
    inner.dependents.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    let claimed = inner.claims.remove(id);
    let mut others: Vec<AppId> =
        claimed.iter().flat_map(|(cluster, key)| inner.claims.claimants(cluster, key)).collect();
    others.sort_by_key(|a| a.to_string());
    others.dedup();
    for other in others {
        inner.trigger(&other, |_| {});
    }
}

/// Live objects: a change to an object reconciles (from cache) the app whose mark it carries
/// and every app that declares it in that cluster: a delete behind Ferry's back, or another
/// app's cascade delete of a shared object, is drift to each of them. A failed watch, or a
/// watch listing again after its cluster was found down, reconciles the cluster's apps.
async fn watch_live(
    inner: Arc<Inner>,
    mut events: tokio::sync::mpsc::UnboundedReceiver<LiveEvent>,
) {
    while let Some(ev) = events.recv().await {
        match ev {
            LiveEvent::Object { cluster, app_label, key } => {
                let labels = inner.labels.read().unwrap_or_else(|p| p.into_inner());
                let marked = labels.get(&app_label).cloned();
                drop(labels);
                let mut apps = inner.claims.claimants(&cluster, &key);
                apps.extend(marked.filter(|m| !apps.contains(m)));
                for app in apps {
                    inner.trigger(&app, |_| {});
                }
                inner.metrics.managed_objects.set(inner.clusters.live_objects() as i64);
            }
            LiveEvent::Trouble { cluster } => {
                if inner.clusters.get(&cluster).is_some_and(|c| !c.is_local() && c.suspect()) {
                    crate::clusters::watch::trigger_apps_of(&inner, &cluster);
                }
            }
            LiveEvent::Listed { cluster } => {
                if inner.clusters.get(&cluster).is_some_and(|c| c.listed()) {
                    tracing::info!(%cluster, "the cluster answers again");
                    crate::clusters::watch::trigger_apps_of(&inner, &cluster);
                }
            }
        }
    }
}

/// The poller: a cheap ref check per repository when it is due.
async fn poll(inner: Arc<Inner>) {
    let mut tick = tokio::time::interval(crate::poll::tick(inner.config.poll_interval));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        crate::poll::poll_once(&inner).await;
    }
}

/// The safety-net resync of every app.
async fn resync(inner: Arc<Inner>) {
    let mut tick = tokio::time::interval(inner.config.resync);
    tick.tick().await;
    loop {
        tick.tick().await;
        for app in inner.apps.state() {
            let id = AppId::new(app.namespace().unwrap_or_default(), app.name_any());
            inner.trigger(&id, |r| r.resync = true);
        }
    }
}

/// A worker: one reconcile at a time, from the queue (one app is never reconciled twice at once).
async fn work(inner: Arc<Inner>) {
    loop {
        let id = inner.queue.next().await;
        let reasons = inner.take_reasons(&id);
        let started = std::time::Instant::now();
        tracing::debug!(app = %id, ?reasons, "reconcile started");
        crate::shard::reconcile_owned(&inner, &id, reasons).await;
        tracing::debug!(app = %id, took = ?started.elapsed(), "reconcile finished");
        inner.metrics.reconcile_duration.observe(started.elapsed().as_secs_f64());
        inner.queue.done(&id);
    }
}

/// Server-side applies the Application, Project and ApplicationSet CRDs and waits until they
/// are served.
pub async fn install_crd(client: &Client) -> Result<(), kube::Error> {
    for crd in [crate::application::crd(), crate::project::crd(), crate::appset::crd()] {
        install_one(client, crd).await?;
    }
    Ok(())
}

pub(crate) async fn install_one(
    client: &Client,
    crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
) -> Result<(), kube::Error> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let name = crd.name_any();
    crds.patch(&name, &PatchParams::apply(ferry_apply::FIELD_MANAGER).force(), &Patch::Apply(&crd))
        .await?;
    for _ in 0..100 {
        if let Some(c) = crds.get_opt(&name).await? {
            let established = c
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            if established {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_engine_hashes_masked_secret_values_with_its_own_random_key() {
        let (a, b) = (EngineConfig::new("/tmp/a"), EngineConfig::new("/tmp/b"));
        assert_eq!(a.mask_key.len(), 32, "128 random bits, never empty by default");
        assert_ne!(a.mask_key, b.mask_key);
    }
}
