//! Sharded replicas: several engines, each with its own identity, share the apps of one
//! embedded cluster through shard Leases. Every app is reconciled, a dead replica's shards are
//! taken over within seconds, a joining replica gets its share, and the reconcile journal shows
//! no app reconciled by two replicas at once.

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

const SHARDS: u32 = 8;
const APPS: usize = 16;
const NS: &str = "ferry";

/// A cluster, a repository of `APPS` one-ConfigMap apps, and the replicas started so far.
struct Fleet {
    _cluster: RunningCluster,
    client: Client,
    repo: Repo,
    daemon: GitDaemon,
    tmp: TempDir,
    journal: Journal,
    replicas: Vec<(String, Engine)>,
}

fn app_file(i: usize, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{i}\ndata:\n  value: \"{value}\"\n"
    )
}

impl Fleet {
    async fn start() -> Self {
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
        }
    }

    async fn add_replica(&mut self, identity: &str) {
        let sharding = ShardConfig::new(SHARDS, NS, identity)
            .timing(Duration::from_secs(2), Duration::from_millis(250))
            .journal(self.journal.clone());
        let config = engine_config(&self.tmp.path().join(identity)).sharding(sharding);
        let engine = Engine::start(self.client.clone(), config, &mut Registry::default())
            .await
            .expect("engine starts");
        self.replicas.push((identity.to_owned(), engine));
    }

    /// Stops a replica as a killed process would: its Leases are left to expire.
    async fn kill(&mut self, identity: &str) {
        let at = self.replicas.iter().position(|(id, _)| id == identity).expect("a replica");
        let (_, engine) = self.replicas.remove(at);
        engine.shutdown().await;
    }

    async fn create_apps(&self, labels: &[(usize, &str)]) {
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

    fn head(&self) -> String {
        self.repo.git(&["rev-parse", "HEAD"]).expect("rev-parse")
    }

    /// Waits until every app is Synced and Healthy at `revision`; returns the apps as JSON.
    async fn wait_all_synced(&self, revision: &str) -> Vec<Value> {
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

    /// Waits until the replicas hold every shard once, each between ⌊S/n⌋ and ⌈S/n⌉.
    async fn wait_balanced(&self, within: Duration) -> Duration {
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

    fn assert_no_overlap(&self) {
        let spans = self.journal.spans();
        let found = overlaps(&spans);
        assert!(found.is_empty(), "apps reconciled by two replicas at once: {found:?}");
    }

    /// The replicas that reconciled each app since `since_us`.
    fn reconcilers(&self, since_us: i64) -> std::collections::BTreeMap<String, BTreeSet<String>> {
        let mut out = std::collections::BTreeMap::<String, BTreeSet<String>>::new();
        for span in self.journal.spans().into_iter().filter(|s| s.start_us >= since_us) {
            out.entry(span.app).or_default().insert(span.replica);
        }
        out
    }

    /// Commits a new value into every app and returns the commit.
    fn change_every_app(&self, value: &str) -> String {
        for i in 0..APPS {
            self.repo
                .write(&format!("apps/app-{i}/config.yaml"), &app_file(i, value))
                .expect("write");
        }
        self.repo.commit(value).expect("commit");
        self.head()
    }
}

fn engine_config(dir: &Path) -> EngineConfig {
    let mut config = EngineConfig::new(dir).poll_interval(Duration::from_millis(300));
    config.executor = config.executor.wave_timeout(Duration::from_secs(30));
    config
}

async fn create_namespace(client: &Client, name: &str) {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns = serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace");
    let _ = api.create(&PostParams::default(), &ns).await;
}

fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_share_the_apps_and_each_app_is_reconciled_by_one_of_them() {
    let mut fleet = Fleet::start().await;
    for replica in ["replica-a", "replica-b", "replica-c"] {
        fleet.add_replica(replica).await;
    }
    fleet.wait_balanced(Duration::from_secs(15)).await;
    fleet.create_apps(&[(0, "5"), (1, "99")]).await;
    let apps = fleet.wait_all_synced(&fleet.head()).await;

    let by_app = fleet.reconcilers(0);
    assert_eq!(by_app.len(), APPS, "every app was reconciled: {by_app:?}");
    assert!(by_app.values().all(|r| r.len() == 1), "each by one replica: {by_app:?}");
    let used: BTreeSet<&String> = by_app.values().flatten().collect();
    assert_eq!(used.len(), 3, "the apps are spread over the three replicas: {by_app:?}");
    let pinned = &by_app["ferry/app-0"];
    let holder = fleet.replicas.iter().find(|(_, e)| e.held_shards().contains(&5)).expect("held");
    assert!(pinned.contains(&holder.0), "app-0 is labelled into shard 5, held by {}", holder.0);
    let bad = apps.iter().find(|a| a["metadata"]["name"] == "app-1").expect("app-1");
    let condition = bad["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "InvalidShardLabel"))
        .unwrap_or_else(|| panic!("app-1's label 99 is reported: {}", bad["status"]));
    assert!(
        condition["message"].as_str().is_some_and(|m| m.contains("from 0 to 7")),
        "{condition}"
    );
    fleet.assert_no_overlap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_replicas_shards_are_taken_over_within_seconds_and_its_apps_still_sync() {
    let mut fleet = Fleet::start().await;
    fleet.add_replica("replica-a").await;
    fleet.add_replica("replica-b").await;
    fleet.wait_balanced(Duration::from_secs(15)).await;
    fleet.create_apps(&[]).await;
    fleet.wait_all_synced(&fleet.head()).await;

    fleet.kill("replica-b").await;
    let took = fleet.wait_balanced(Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(6), "taken over in {took:?}");
    let since = now_us();
    let revision = fleet.change_every_app("two");
    fleet.wait_all_synced(&revision).await;
    let by_app = fleet.reconcilers(since);
    assert!(
        by_app.values().all(|r| r.iter().all(|id| id == "replica-a")),
        "the survivor reconciles every app: {by_app:?}"
    );
    fleet.assert_no_overlap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_joining_replica_gets_its_share_and_no_app_is_reconciled_twice_at_once() {
    let mut fleet = Fleet::start().await;
    fleet.add_replica("replica-a").await;
    fleet.wait_balanced(Duration::from_secs(10)).await;
    fleet.create_apps(&[]).await;
    fleet.wait_all_synced(&fleet.head()).await;

    // A change is rolling out while the second replica joins: shards move mid-work.
    let revision = fleet.change_every_app("two");
    fleet.add_replica("replica-b").await;
    let took = fleet.wait_balanced(Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(5), "rebalanced in {took:?}");
    fleet.wait_all_synced(&revision).await;

    let since = now_us();
    let revision = fleet.change_every_app("three");
    fleet.wait_all_synced(&revision).await;
    let by_app = fleet.reconcilers(since);
    let used: BTreeSet<&String> = by_app.values().flatten().collect();
    assert_eq!(used.len(), 2, "both replicas reconcile after the rebalance: {by_app:?}");
    fleet.assert_no_overlap();
}
