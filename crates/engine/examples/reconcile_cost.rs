//! Measures the engine against the embedded cluster and a real `git daemon`; not a test.
//!
//! `cargo run --release -p ferry-engine --example reconcile_cost -- 1000 10000`
//!
//! For each size N (ConfigMaps in one app) it prints:
//! - the first sync (wall time);
//! - a reconcile in which nothing changed (a manual refresh: a git ref check, render cache hit,
//!   diff from the watch cache): API requests to the cluster, CPU time and wall time per reconcile;
//! - drift → healed latency (a ConfigMap edited by another manager until Ferry restored it);
//! - commit → applied latency with a manual trigger (`Engine::notify_push`).
//!
//! CPU time and RSS are the whole process: the embedded API server runs in it too.

use std::path::Path;
use std::time::{Duration, Instant};

use ferry_engine::{Application, Engine, EngineConfig};
use ferry_testkit::{GitDaemon, Repo};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use prometheus_client::registry::Registry;
use serde_json::json;

/// N ConfigMaps, 100 per file; `value` of ConfigMap 0 is `first`.
fn write_app(dir: &Path, n: usize, first: &str) {
    std::fs::create_dir_all(dir).expect("mkdir");
    for file in 0..n.div_ceil(100) {
        let mut docs = Vec::new();
        for i in file * 100..((file + 1) * 100).min(n) {
            let value = if i == 0 { first.to_owned() } else { format!("v{i}") };
            docs.push(format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i:05}\ndata:\n  value: \"{value}\"\n"
            ));
        }
        std::fs::write(dir.join(format!("cm-{file:03}.yaml")), docs.join("---\n")).expect("write");
    }
}

fn cpu_time() -> Duration {
    // utime and stime of this process, in clock ticks (100 per second on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 =
        fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// Reconciles finished so far, from the engine's metrics.
fn reconciles(registry: &Registry) -> u64 {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).expect("metrics encode");
    text.lines()
        .find(|l| l.contains("reconcile_duration_seconds_count"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
        .unwrap_or(0)
}

async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    started.elapsed()
}

async fn measure(n: usize) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = Repo::init(&tmp.path().join("git/config.git")).expect("git init");
    write_app(&repo.dir.join("app"), n, "one");
    repo.commit("initial").expect("commit");
    let daemon = GitDaemon::start(&tmp.path().join("git")).expect("git daemon");
    let url = daemon.url("config.git");

    let cluster = ferry_cluster::testing::start().await;
    let client = cluster.client().await.expect("client");
    let mut registry = Registry::default();
    let config =
        EngineConfig::new(tmp.path().join("engine")).poll_interval(Duration::from_secs(3600));
    let engine = Engine::start(client.clone(), config, &mut registry).await.expect("engine");
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    for ns in ["ferry", "bench"] {
        let obj = serde_json::from_value(
            json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":ns}}),
        )
        .expect("ns");
        namespaces.create(&PostParams::default(), &obj).await.expect("namespace");
    }
    let apps: Api<Application> = Api::namespaced(client.clone(), "ferry");
    let app: Application = serde_json::from_value(json!({
        "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
        "metadata": {"name": "bench", "namespace": "ferry"},
        "spec": {
            "source": {"repoURL": url, "targetRevision": "main", "path": "app"},
            "destination": {"namespace": "bench"},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}}
        }
    }))
    .expect("app");
    let started = Instant::now();
    apps.create(&PostParams::default(), &app).await.expect("app created");
    let synced = || {
        let apps = apps.clone();
        async move {
            apps.get("bench").await.ok().and_then(|a| a.status).is_some_and(|s| {
                s.sync.status == ferry_engine::application::SyncStatusCode::Synced
                    && s.health.status == ferry_health::HealthStatus::Healthy
            })
        }
    };
    wait_until("the first sync", Duration::from_secs(1800), synced).await;
    println!("N={n}: first sync {:.2?}; RSS {:.0} MiB", started.elapsed(), rss_mib());

    // Nothing changed.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rounds = 20;
    let before = cluster.stats();
    let cpu = cpu_time();
    let done = reconciles(&registry);
    let wall = Instant::now();
    for i in 0..rounds {
        engine.refresh("ferry", "bench");
        let target = done + i + 1;
        wait_until("a reconcile", Duration::from_secs(60), || async {
            reconciles(&registry) >= target
        })
        .await;
    }
    let wall = wall.elapsed() / rounds as u32;
    let cpu = (cpu_time() - cpu) / rounds as u32;
    let since = cluster.stats().since(&before);
    println!(
        "N={n}: no-change reconcile: {:.1} API requests ({} writes) per reconcile, CPU {:.1?}, wall {:.1?}; RSS {:.0} MiB",
        since.total() as f64 / rounds as f64,
        since.writes(),
        cpu,
        wall,
        rss_mib()
    );

    // Drift → healed.
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "bench");
    let mut heals = Vec::new();
    for i in 0..5 {
        let name = format!("cm-{:05}", (i * 7) % n);
        let pp = PatchParams { field_manager: Some("bench".into()), ..Default::default() };
        maps.patch(&name, &pp, &Patch::Merge(&json!({"data": {"value": "drifted"}})))
            .await
            .expect("drift");
        let took = wait_until("the heal", Duration::from_secs(60), || async {
            maps.get(&name).await.ok().and_then(|c| c.data).and_then(|d| d.get("value").cloned())
                != Some("drifted".into())
        })
        .await;
        heals.push(took);
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    heals.sort();
    println!(
        "N={n}: drift → healed: median {} ms, max {} ms",
        heals[heals.len() / 2].as_millis(),
        heals[heals.len() - 1].as_millis()
    );

    // Commit → applied with a manual trigger.
    let mut applied = Vec::new();
    for round in 0..3 {
        let value = format!("commit-{round}");
        write_app(&repo.dir.join("app"), n, &value);
        repo.commit(&value).expect("commit");
        let t0 = Instant::now();
        engine.notify_push(&url);
        wait_until("the commit applied", Duration::from_secs(600), || async {
            maps.get("cm-00000")
                .await
                .ok()
                .and_then(|c| c.data)
                .and_then(|d| d.get("value").cloned())
                == Some(value.clone())
        })
        .await;
        applied.push(t0.elapsed());
        wait_until("synced", Duration::from_secs(600), synced).await;
    }
    applied.sort();
    println!(
        "N={n}: commit → applied (notify_push): median {} ms, max {} ms",
        applied[1].as_millis(),
        applied[2].as_millis()
    );
    engine.shutdown().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    for n in if sizes.is_empty() { vec![1000] } else { sizes } {
        measure(n).await;
    }
}
