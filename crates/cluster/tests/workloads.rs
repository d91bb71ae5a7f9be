//! The workload simulator and garbage collection, observed through kubectl and kube-rs.

mod common;

use std::time::Duration;

use common::{Kubectl, eventually};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::Discovery;

const REPLICA_SET: &str = r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs, namespace: default, labels: {app: rs}}
spec:
  replicas: 2
  selector: {matchLabels: {app: rs}}
  template:
    metadata: {labels: {app: rs}}
    spec:
      containers: [{name: c, image: busybox:1.36}]
"#;

fn pod_count(k: &Kubectl, selector: &str) -> usize {
    k.json(&["get", "pods", "-l", selector])["items"].as_array().map(Vec::len).unwrap_or(0)
}

async fn replica_sets(cluster: &ferry_cluster::RunningCluster) -> Api<DynamicObject> {
    let client = cluster.client().await.expect("client");
    let d = Discovery::new(client.clone()).run().await.expect("discovery");
    let (ar, _) = d
        .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "ReplicaSet"))
        .expect("ReplicaSets are served");
    Api::namespaced_with(client, "default", &ar)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orphan_deletion_keeps_dependents_without_their_owner_reference() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], REPLICA_SET);
    assert!(eventually(Duration::from_secs(10), || pod_count(&k, "app=rs") == 2));
    let api = replica_sets(&cluster).await;
    api.delete("rs", &DeleteParams::orphan()).await.expect("orphan delete");
    assert!(
        eventually(Duration::from_secs(10), || {
            let pods = k.json(&["get", "pods", "-l", "app=rs"]);
            pods["items"].as_array().is_some_and(|p| {
                p.len() == 2 && p.iter().all(|x| x["metadata"]["ownerReferences"].is_null())
            })
        }),
        "orphaned pods stay and lose their owner reference"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreground_deletion_removes_dependents_before_the_owner() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], REPLICA_SET);
    assert!(eventually(Duration::from_secs(10), || pod_count(&k, "app=rs") == 2));
    let api = replica_sets(&cluster).await;
    // The simulator would recreate pods of a live ReplicaSet; it leaves a deleting one alone.
    api.delete("rs", &DeleteParams::foreground()).await.expect("foreground delete");
    assert!(
        eventually(Duration::from_secs(10), || {
            api_gone(&k, "replicaset", "rs") && pod_count(&k, "app=rs") == 0
        }),
        "owner and dependents are gone"
    );
}

fn api_gone(k: &Kubectl, kind: &str, name: &str) -> bool {
    !k.run(&["get", kind, name]).status.success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_completes_and_an_unpullable_job_fails() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let job = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: once, namespace: default}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: busybox:1.36}]\n";
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], job);
    k.ok(&["wait", "--for=condition=complete", "job/once", "--timeout=20s"]);
    assert_eq!(k.json(&["get", "job", "once"])["status"]["succeeded"], 1);

    let bad = job
        .replace("name: once", "name: broken")
        .replace("busybox:1.36", "busybox:unpullable")
        .replace("spec:\n  template", "spec:\n  backoffLimit: 1\n  template");
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], &bad);
    k.ok(&["wait", "--for=condition=failed", "job/broken", "--timeout=20s"]);
    let j = k.json(&["get", "job", "broken"]);
    assert_eq!(j["status"]["failed"], 2, "{j}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn statefulsets_and_daemonsets_roll_out() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let sts = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: default}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: c, image: postgres:16}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: default}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: c, image: busybox:1.36}]
"#;
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], sts);
    let out = k.ok(&["rollout", "status", "statefulset/db", "--timeout=20s"]);
    assert!(out.contains("roll out complete") || out.contains("rolling update complete"), "{out}");
    k.ok(&["rollout", "status", "daemonset/agent", "--timeout=20s"]);
    let names: Vec<String> = k.json(&["get", "pods", "-l", "app=db"])["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(names, vec!["db-0", "db-1"]);
    assert!(eventually(Duration::from_secs(10), || {
        k.json(&["get", "pvc", "data-db-0"])["status"]["phase"] == "Bound"
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_template_rolls_out_a_new_replicaset_and_scales_the_old_one_down() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let client = cluster.client().await.expect("client");
    let d = Discovery::new(client.clone()).run().await.expect("discovery");
    let (ar, _) = d
        .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment"))
        .expect("Deployments are served");
    let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &ar);
    let deploy = |image: &str| -> DynamicObject {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "app"}},
                "template": {"metadata": {"labels": {"app": "app"}}, "spec": {"containers": [{"name": "c", "image": image}]}}}
        })).expect("valid Deployment")
    };
    api.patch("app", &PatchParams::apply("ferry"), &Patch::Apply(deploy("nginx:1")))
        .await
        .expect("apply v1");
    k.ok(&["rollout", "status", "deployment/app", "--timeout=20s"]);
    api.patch("app", &PatchParams::apply("ferry"), &Patch::Apply(deploy("nginx:2")))
        .await
        .expect("apply v2");
    k.ok(&["rollout", "status", "deployment/app", "--timeout=20s"]);
    let rs = k.json(&["get", "replicasets", "-l", "app=app"]);
    let mut replicas: Vec<(String, i64)> = rs["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| {
            (
                r["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                r["spec"]["replicas"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    replicas.sort();
    assert_eq!(replicas, vec![("nginx:1".to_string(), 0), ("nginx:2".to_string(), 1)]);
    let d = k.json(&["get", "deployment", "app"]);
    assert_eq!(d["status"]["observedGeneration"], 2);
    assert_eq!(d["status"]["updatedReplicas"], 1);
}
