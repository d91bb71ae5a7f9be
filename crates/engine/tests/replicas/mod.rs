//! A fleet of sharded replicas on one embedded cluster and one repository: the fixture of the
//! sharding tests (`shards.rs`, `shard_relay.rs`).

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use ferry_cluster::RunningCluster;
use ferry_engine::shard::journal::{Journal, overlaps};
use ferry_engine::shard::{SHARD_LABEL, ShardConfig};
use ferry_engine::{Application, Engine, EngineConfig};
use ferry_testkit::world::is_synced_healthy_at;
use ferry_testkit::{GitDaemon, Repo};
use kube::Client;
use kube::api::{Api, PostParams};
use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use tempfile::TempDir;

pub const SHARDS: u32 = 8;
pub const APPS: usize = 16;
pub const NS: &str = "ferry";

/// A cluster, a repository of `APPS` one-ConfigMap apps, and the replicas started so far.
pub struct Fleet {
    pub _cluster: RunningCluster,
    pub client: Client,
    pub repo: Repo,
    pub daemon: GitDaemon,
    pub tmp: TempDir,
    pub journal: Journal,
    pub replicas: Vec<(String, Engine)>,
    /// How often replicas started from now on poll the repository.
    pub poll_interval: Duration,
}

pub fn app_file(i: usize, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{i}\ndata:\n  value: \"{value}\"\n"
    )
}

impl Fleet {
    pub async fn start() -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let tmp = tempfile::tempdir().expect("tempdir");
        let repo = Repo::init(&tmp.path().join("git/config.git")).expect("git init");
        for i in 0..APPS {
            repo.write(&format!("apps/app-{i}/config.yaml"), &app_file(i, "one")).expect("write");
        }
        repo.commit("initial").expect("commit");
        let daemon = GitDaemon::start(&tmp.path().join("git")).expect("git daemon starts");
        let cluster = ferry_cluster::testing::try_start(ferry_cluster::testing::fast_config())
            .await
            .expect("the embedded cluster starts");
        let client = cluster.client().await.expect("client");
        create_namespace(&client, NS).await;
        Self {
            _cluster: cluster,
            client,
            repo,
            daemon,
            tmp,
            journal: Journal::default(),
            replicas: Vec::new(),
            poll_interval: Duration::from_millis(300),
        }
    }

    pub async fn add_replica(&mut self, identity: &str) {
        let sharding = ShardConfig::new(SHARDS, NS, identity)
            .timing(Duration::from_secs(2), Duration::from_millis(250))
            .journal(self.journal.clone());
        let config =
            engine_config(&self.tmp.path().join(identity), self.poll_interval).sharding(sharding);
        let engine = Engine::start(self.client.clone(), config, &mut Registry::default())
            .await
            .expect("engine starts");
        self.replicas.push((identity.to_owned(), engine));
    }

    /// Stops a replica as a killed process would: its Leases are left to expire.
    pub async fn kill(&mut self, identity: &str) {
        let at = self.replicas.iter().position(|(id, _)| id == identity).expect("a replica");
        let (_, engine) = self.replicas.remove(at);
        engine.shutdown().await;
    }

    pub async fn create_apps(&self, labels: &[(usize, &str)]) {
        let api: Api<Application> = Api::namespaced(self.client.clone(), NS);
        let url = self.daemon.url("config.git");
        for i in 0..APPS {
            let label = labels.iter().find(|(n, _)| *n == i).map(|(_, l)| *l);
            let mut metadata = json!({"name": format!("app-{i}"), "namespace": NS});
            if let Some(value) = label {
                metadata["labels"] = json!({SHARD_LABEL: value});
            }
            let app: Application = serde_json::from_value(json!({
                "apiVersion": "ferry.dev/v1alpha1", "kind": "Application", "metadata": metadata,
                "spec": {
                    "source": {"repoURL": url, "targetRevision": "main", "path": format!("apps/app-{i}")},
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": "shards"},
                    "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}
                }
            }))
            .expect("a valid Application");
            api.create(&PostParams::default(), &app).await.expect("Application created");
        }
    }

    pub fn head(&self) -> String {
        self.repo.git(&["rev-parse", "HEAD"]).expect("rev-parse")
    }

    /// Three replicas that never poll within a test (only pushes move them), sharing the apps,
    /// every app Synced and Healthy at the first commit.
    pub async fn three_replicas_without_polls() -> Self {
        let mut fleet = Fleet::start().await;
        fleet.poll_interval = Duration::from_secs(3600);
        for identity in ["replica-a", "replica-b", "replica-c"] {
            fleet.add_replica(identity).await;
        }
        fleet.wait_balanced(Duration::from_secs(20)).await;
        fleet.create_apps(&[]).await;
        fleet.wait_all_synced(&fleet.head()).await;
        fleet
    }

    /// Waits until every app is Synced and Healthy at `revision`; returns the apps as JSON.
    pub async fn wait_all_synced(&self, revision: &str) -> Vec<Value> {
        let api: Api<Application> = Api::namespaced(self.client.clone(), NS);
        let deadline = Instant::now() + Duration::from_secs(45);
        loop {
            let apps = api.list(&Default::default()).await.expect("list apps").items;
            let apps: Vec<Value> =
                apps.iter().map(|a| serde_json::to_value(a).expect("json")).collect();
            let behind: Vec<&Value> =
                apps.iter().filter(|a| !is_synced_healthy_at(a, revision)).collect();
            if behind.is_empty() && apps.len() == APPS {
                return apps;
            }
            assert!(
                Instant::now() < deadline,
                "{} apps not Synced+Healthy at {revision}; first: {}",
                behind.len(),
                behind.first().map(|a| a["status"].to_string()).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until every app is Synced and Healthy at `revision` as readers see it: its own
    /// status, or the repository record verifying it unchanged there (each replica writes the
    /// entries of the shards it holds). Returns how many apps the record verified.
    pub async fn wait_all_effective(&self, revision: &str) -> usize {
        use ferry_engine::records::{RepoRecord, effective, record_name};
        let apps: Api<Application> = Api::namespaced(self.client.clone(), NS);
        let maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
            Api::namespaced(self.client.clone(), NS);
        let name = record_name(&self.daemon.url("config.git"));
        let deadline = Instant::now() + Duration::from_secs(45);
        loop {
            let record = maps.get_opt(&name).await.expect("get the record");
            let record = record.map(|cm| RepoRecord::from_config_map(&cm).expect("it parses"));
            let listed = apps.list(&Default::default()).await.expect("list apps").items;
            let behind: Vec<&Application> = listed
                .iter()
                .filter(|a| {
                    let json = serde_json::to_value(a).expect("json");
                    let healthy = json["status"]["sync"]["status"] == "Synced"
                        && json["status"]["health"]["status"] == "Healthy";
                    !healthy || effective(a, record.as_ref()).revision != revision
                })
                .collect();
            if behind.is_empty() && listed.len() == APPS {
                let by_record =
                    |a: &&Application| effective(a, record.as_ref()).checked_at.is_some();
                return listed.iter().filter(by_record).count();
            }
            assert!(
                Instant::now() < deadline,
                "{} apps not at {revision} for readers; record {record:?}; first: {:?}",
                behind.len(),
                behind.first().map(|a| &a.status)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the replicas hold every shard once, each between ⌊S/n⌋ and ⌈S/n⌉.
    pub async fn wait_balanced(&self, within: Duration) -> Duration {
        let started = Instant::now();
        let n = self.replicas.len() as u32;
        loop {
            let held: Vec<Vec<u32>> = self.replicas.iter().map(|(_, e)| e.held_shards()).collect();
            let all: Vec<u32> = held.iter().flatten().copied().collect();
            let distinct: BTreeSet<u32> = all.iter().copied().collect();
            let fair =
                held.iter().all(|h| (SHARDS / n..=SHARDS.div_ceil(n)).contains(&(h.len() as u32)));
            if all.len() == SHARDS as usize && distinct.len() == SHARDS as usize && fair {
                return started.elapsed();
            }
            assert!(started.elapsed() < within, "shards not balanced in {within:?}: {held:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn assert_no_overlap(&self) {
        let spans = self.journal.spans();
        let found = overlaps(&spans);
        assert!(found.is_empty(), "apps reconciled by two replicas at once: {found:?}");
    }

    /// The replicas that reconciled each app since `since_us`.
    pub fn reconcilers(
        &self,
        since_us: i64,
    ) -> std::collections::BTreeMap<String, BTreeSet<String>> {
        let mut out = std::collections::BTreeMap::<String, BTreeSet<String>>::new();
        for span in self.journal.spans().into_iter().filter(|s| s.start_us >= since_us) {
            out.entry(span.app).or_default().insert(span.replica);
        }
        out
    }

    /// Commits a new value into every app and returns the commit.
    pub fn change_every_app(&self, value: &str) -> String {
        for i in 0..APPS {
            self.repo
                .write(&format!("apps/app-{i}/config.yaml"), &app_file(i, value))
                .expect("write");
        }
        self.repo.commit(value).expect("commit");
        self.head()
    }
}

pub fn engine_config(dir: &Path, poll_interval: Duration) -> EngineConfig {
    let mut config = EngineConfig::new(dir).poll_interval(poll_interval);
    config.executor = config.executor.wave_timeout(Duration::from_secs(30));
    config
}

pub async fn create_namespace(client: &Client, name: &str) {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns = serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace");
    let _ = api.create(&PostParams::default(), &ns).await;
}

pub fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}
