//! The embedded cluster, a repository served by a real `git daemon`, and an engine running
//! against them in the test's process (test only).

use std::path::Path;
use std::time::{Duration, Instant};

use ferry_cluster::RunningCluster;
use ferry_engine::{Application, Engine, EngineConfig};
use kube::Client;
use kube::api::{Api, PostParams};
use prometheus_client::registry::Registry;
use serde_json::Value;
use tempfile::TempDir;

use crate::{GitDaemon, Repo};

/// Namespace of the Applications a [`World`] creates.
pub const APPS_NAMESPACE: &str = "ferry";

/// [`automated_spec`] for the guestbook example at `guestbook/`, into namespace `guestbook`.
pub fn guestbook_spec(url: &str) -> Value {
    automated_spec(url, "guestbook", "guestbook")
}

/// An Application spec following `main` of `url` at `path`, deployed into `namespace` (created),
/// with automated sync, prune and self-heal.
pub fn automated_spec(url: &str, path: &str, namespace: &str) -> Value {
    serde_json::json!({
        "source": {"repoURL": url, "targetRevision": "main", "path": path},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
        "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}
    })
}

/// How a [`World`] is set up.
#[derive(Clone, Debug)]
pub struct Options {
    pub poll_interval: Duration,
    /// The embedded cluster's configuration (e.g. without its load balancer).
    pub cluster: ferry_cluster::ClusterConfig,
    /// The engine's audit trail (default: in memory only).
    pub audit: Option<ferry_engine::audit::AuditTrail>,
    /// Whether the engine reconciles Argo CD's Applications (`Install`: installs their CRD).
    pub argo_applications: ferry_engine::argo::ArgoApplications,
    /// How many apps reconcile at once (default: the engine's).
    pub workers: Option<usize>,
    /// Sharding, e.g. one shard to get the reconcile journal (default: none).
    pub sharding: Option<ferry_engine::shard::ShardConfig>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(500),
            cluster: ferry_cluster::testing::fast_config(),
            audit: None,
            argo_applications: Default::default(),
            workers: None,
            sharding: None,
        }
    }
}

fn engine_config(tmp: &Path, options: &Options) -> EngineConfig {
    let mut config = EngineConfig::new(tmp.join("engine")).poll_interval(options.poll_interval);
    config.render = config.render.with_helm(crate::helm());
    config.executor =
        config.executor.wave_timeout(Duration::from_secs(60)).hook_timeout(Duration::from_secs(60));
    config.argo_applications = options.argo_applications;
    if let Some(audit) = &options.audit {
        config.audit = audit.clone();
    }
    if let Some(workers) = options.workers {
        config = config.workers(workers);
    }
    if let Some(sharding) = &options.sharding {
        config = config.sharding(sharding.clone());
    }
    config
}

/// The embedded cluster, a served repository (`config.git`, branch `main`) and an engine, torn
/// down on drop.
pub struct World {
    pub cluster: RunningCluster,
    pub client: Client,
    pub engine: Engine,
    pub repo: Repo,
    pub daemon: GitDaemon,
    pub tmp: TempDir,
    pub registry: Registry,
    options: Options,
}

impl World {
    /// `setup` fills the repository before the first commit.
    pub async fn start(setup: impl FnOnce(&Repo)) -> Self {
        Self::start_with(setup, Options::default()).await
    }

    /// A world whose repository holds Argo CD's guestbook example at `guestbook/`.
    pub async fn guestbook() -> Self {
        Self::start(|repo| {
            repo.copy_in(&crate::corpus("argocd-example-apps/guestbook"), "guestbook")
                .expect("copy the guestbook example")
        })
        .await
    }

    pub async fn start_with(setup: impl FnOnce(&Repo), options: Options) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let repo = Repo::init(&tmp.path().join("git/config.git")).expect("git init");
        setup(&repo);
        repo.commit("initial").expect("the first commit");
        let daemon = GitDaemon::start(&tmp.path().join("git")).expect("git daemon starts");
        let cluster = ferry_cluster::testing::try_start(options.cluster.clone())
            .await
            .expect("the embedded cluster starts");
        let client = cluster.client().await.expect("client");
        let mut registry = Registry::default();
        let engine =
            Engine::start(client.clone(), engine_config(tmp.path(), &options), &mut registry)
                .await
                .expect("engine starts");
        Self { cluster, client, engine, repo, daemon, tmp, registry, options }
    }

    /// Stops the engine where it is (its tasks are aborted at their next await, as a killed
    /// process would stop) and starts a new one on the same data directory and cluster.
    pub async fn restart_engine(&mut self) {
        self.engine.shutdown().await;
        let mut registry = Registry::default();
        let config = engine_config(self.tmp.path(), &self.options);
        self.engine = Engine::start(self.client.clone(), config, &mut registry)
            .await
            .expect("engine restarts");
        self.registry = registry;
    }

    /// The commit at the tip of `main`.
    pub fn head(&self) -> String {
        self.repo.git(&["rev-parse", "HEAD"]).expect("rev-parse HEAD")
    }

    pub fn repo_url(&self) -> String {
        self.daemon.url("config.git")
    }

    pub async fn create_namespace(&self, name: &str) {
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        let ns = serde_json::from_value(
            serde_json::json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":name}}),
        )
        .expect("ns");
        let _ = api.create(&PostParams::default(), &ns).await;
    }

    /// Creates an Application in [`APPS_NAMESPACE`] from a JSON spec.
    pub async fn create_app(&self, name: &str, spec: Value) -> Api<Application> {
        self.create_namespace(APPS_NAMESPACE).await;
        let api: Api<Application> = Api::namespaced(self.client.clone(), APPS_NAMESPACE);
        let app: Application = serde_json::from_value(serde_json::json!({
            "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": APPS_NAMESPACE}, "spec": spec
        }))
        .expect("a valid Application");
        api.create(&PostParams::default(), &app).await.expect("Application created");
        api
    }

    /// Waits until `check` holds for the app, or fails with the last status seen. The app is
    /// as the API serves it: `status.sync.verifiedRevision`/`verifiedAt` when the engine's
    /// repository record verified it unchanged at a later commit than its status says.
    pub async fn wait_for(&self, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let api: Api<Application> = Api::namespaced(self.client.clone(), APPS_NAMESPACE);
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut last = Value::Null;
        while Instant::now() < deadline {
            if let Ok(app) = api.get(name).await {
                last = serde_json::to_value(&app).expect("json");
                let records = self.engine.repo_records();
                let at = ferry_engine::records::effective_in(&app, &records);
                if let (Some(when), Some(sync)) = (at.checked_at, last.pointer_mut("/status/sync"))
                {
                    sync["verifiedRevision"] = at.revision.into();
                    sync["verifiedAt"] = when.into();
                }
                if check(&last) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "timed out waiting for {name} to be {what}; last seen:\n{}",
            serde_json::to_string_pretty(&last["status"]).unwrap_or_default()
        );
    }

    pub async fn wait_synced_healthy(&self, name: &str, revision: &str) -> Value {
        let rev = revision.to_owned();
        self.wait_for(name, &format!("Synced+Healthy at {revision}"), move |a| {
            is_synced_healthy_at(a, &rev)
        })
        .await
    }

    /// Asks for a sync now, the way `ferry app sync` does (a fresh annotation value).
    pub async fn request_sync(&self, name: &str) {
        let api: Api<Application> = Api::namespaced(self.client.clone(), APPS_NAMESPACE);
        let at = jiff::Timestamp::now().to_string();
        let patch = serde_json::json!({"metadata": {"annotations": {
            ferry_engine::application::ANNOTATION_SYNC_REQUEST: at}}});
        api.patch(name, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch))
            .await
            .expect("sync requested");
    }

    /// Plays the part of a cloud load-balancer controller and an ingress controller, which the
    /// embedded cluster does not run: every LoadBalancer Service and Ingress in `namespace` gets
    /// an address in its status, as MetalLB or ingress-nginx would publish it.
    pub async fn publish_load_balancer_addresses(&self, namespace: &str) -> usize {
        use k8s_openapi::api::core::v1::Service;
        use k8s_openapi::api::networking::v1::Ingress;
        let address =
            serde_json::json!({"status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}});
        let pp = kube::api::PatchParams::default();
        let mut published = 0;
        let services: Api<Service> = Api::namespaced(self.client.clone(), namespace);
        for s in services.list(&Default::default()).await.expect("list services").items {
            if s.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer") {
                let name = s.metadata.name.clone().unwrap_or_default();
                services
                    .patch_status(&name, &pp, &kube::api::Patch::Merge(&address))
                    .await
                    .expect("the Service status takes an address");
                published += 1;
            }
        }
        let ingresses: Api<Ingress> = Api::namespaced(self.client.clone(), namespace);
        for i in ingresses.list(&Default::default()).await.expect("list ingresses").items {
            let name = i.metadata.name.clone().unwrap_or_default();
            ingresses
                .patch_status(&name, &pp, &kube::api::Patch::Merge(&address))
                .await
                .expect("the Ingress status takes an address");
            published += 1;
        }
        published
    }
}

/// Whether an Application (as JSON, from the cluster or the API) is Synced and Healthy at
/// `revision` (its own status's, or the one its repository record verified, as the API adds it).
pub fn is_synced_healthy_at(app: &Value, revision: &str) -> bool {
    let sync = &app["status"]["sync"];
    let at = sync.get("verifiedRevision").unwrap_or(&sync["revision"]);
    sync["status"] == "Synced" && app["status"]["health"]["status"] == "Healthy" && at == revision
}
