//! Two `ferry controller` replicas, as `ferry install` runs them: both answer `/healthz` and
//! `/readyz` on their health port (the standby too, before it holds the Lease), exactly one
//! labels its pod `ferry.dev/role=leader` (what the Service selects) and holds the Lease, and
//! when it dies the standby takes over and labels itself leader.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use support::*;

struct Replica {
    pod: &'static str,
    health: u16,
    child: tokio::process::Child,
}

fn replica(kubeconfig: &str, tmp: &std::path::Path, pod: &'static str) -> Replica {
    let health = free_port().expect("a free port");
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["controller", "--kubeconfig", kubeconfig, "--listen", "127.0.0.1:0"])
        .arg(format!("--health-listen=127.0.0.1:{health}"))
        .arg("--data-dir")
        .arg(tmp.join(pod))
        .env_remove("KUBECONFIG")
        .env("HOME", tmp)
        .env("POD_NAME", pod)
        .env("POD_NAMESPACE", "ferry")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("ferry controller starts");
    Replica { pod, health, child }
}

async fn status(port: u16, path: &str) -> Option<u16> {
    let url = format!("http://127.0.0.1:{port}{path}");
    reqwest::get(url).await.ok().map(|r| r.status().as_u16())
}

async fn role(pods: &Api<Pod>, name: &str) -> Option<String> {
    let pod = pods.get(name).await.ok()?;
    pod.metadata.labels?.get("ferry.dev/role").cloned()
}

async fn eventually<T>(what: &str, secs: u64, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out after {secs}s waiting until {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_leads_the_other_stands_by_ready_and_takes_over_when_the_leader_dies() {
    let cluster = ferry_cluster::testing::start().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let kubeconfig = cluster.kubeconfig_path().display().to_string();
    let installed = ferry_with(tmp.path(), &[], &["install", "--kubeconfig", &kubeconfig]).await;
    assert_eq!(installed.code, 0, "{installed:?}");
    let client = cluster.client().await.expect("client");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "ferry");
    for name in ["ferry-a", "ferry-b"] {
        let pod = serde_json::from_value(serde_json::json!({"metadata": {"name": name},
            "spec": {"containers": [{"name": "controller", "image": "ferry:test"}]}}))
        .expect("a Pod");
        pods.create(&PostParams::default(), &pod).await.expect("the pod is created");
    }

    let mut replicas = vec![
        replica(&kubeconfig, tmp.path(), "ferry-a"),
        replica(&kubeconfig, tmp.path(), "ferry-b"),
    ];
    for r in &replicas {
        let port = r.health;
        eventually("both replicas answer their probes", 60, async || {
            let alive = status(port, "/healthz").await == Some(200);
            (alive && status(port, "/readyz").await == Some(200)).then_some(())
        })
        .await;
    }
    let leader = eventually("one pod is labelled leader and the other standby", 60, async || {
        let (a, b) = (role(&pods, "ferry-a").await, role(&pods, "ferry-b").await);
        match (a.as_deref(), b.as_deref()) {
            (Some("leader"), Some("standby")) => Some(0),
            (Some("standby"), Some("leader")) => Some(1),
            _ => None,
        }
    })
    .await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), "ferry");
    let lease = leases.get("ferry-controller").await.expect("the Lease");
    let holder = lease.spec.and_then(|s| s.holder_identity).unwrap_or_default();
    assert_eq!(holder, replicas[leader].pod, "the labelled leader holds the Lease");

    let mut dead = replicas.remove(leader);
    dead.child.kill().await.expect("the leader is killed");
    let survivor = replicas.remove(0);
    eventually("the standby takes the Lease over and labels itself leader", 60, async || {
        (role(&pods, survivor.pod).await.as_deref() == Some("leader")).then_some(())
    })
    .await;
    assert_eq!(status(survivor.health, "/readyz").await, Some(200));
}
