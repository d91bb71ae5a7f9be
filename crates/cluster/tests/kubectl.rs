//! The acceptance list of issue 2, driven through the real `kubectl` against an in-process cluster.

mod common;

use std::time::Duration;

use common::{Kubectl, NAMESPACE_ARGOCD, corpus, eventually, sock_shop_yaml};
use serde_json::Value;

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn api_resources_lists_builtin_kinds_and_their_groups() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let out = k.ok(&["api-resources"]);
    for line in [
        "deployments",
        "apps/v1",
        "customresourcedefinitions",
        "horizontalpodautoscalers",
        "networkpolicies",
        "leases",
    ] {
        assert!(out.contains(line), "api-resources lacks {line}:\n{out}");
    }
    let version = k.ok(&["version", "-o", "json"]);
    assert!(version.contains("serverVersion"), "{version}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sock_shop_applies_server_side_and_diff_exits_zero_then_one_after_a_change() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let yaml = sock_shop_yaml(&k);
    let out = k.ok_stdin(&["apply", "--server-side", "-f", "-"], &yaml);
    assert_eq!(out.lines().filter(|l| l.ends_with("serverside-applied")).count(), 29, "{out}");

    let clean = k.run_with_stdin(&["diff", "--server-side", "-f", "-"], Some(&yaml));
    assert_eq!(
        clean.status.code(),
        Some(0),
        "diff right after apply: {}",
        String::from_utf8_lossy(&clean.stdout)
    );

    let changed = yaml.replace("weaveworksdemos/carts:0.4.8", "weaveworksdemos/carts:0.4.9");
    assert_ne!(changed, yaml, "the corpus still has the carts image this test edits");
    let dirty = k.run_with_stdin(&["diff", "--server-side", "-f", "-"], Some(&changed));
    assert_eq!(
        dirty.status.code(),
        Some(1),
        "diff after a change: {}",
        String::from_utf8_lossy(&dirty.stderr)
    );
    assert!(String::from_utf8_lossy(&dirty.stdout).contains("carts:0.4.9"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn get_prints_the_columns_a_real_server_prints_for_services_config_maps_and_secrets() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok_stdin(
        &["apply", "--server-side", "-f", "-"],
        r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web, namespace: default}
data: {a: "1", b: "2"}
---
apiVersion: v1
kind: Secret
metadata: {name: web, namespace: default}
stringData: {token: hidden}
"#,
    );
    let services = k.ok(&["get", "svc", "web", "-n", "default"]);
    let header: Vec<&str> =
        services.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
        "{services}"
    );
    assert!(services.contains("ClusterIP") && services.contains("80/TCP"), "{services}");
    let config_maps = k.ok(&["get", "cm", "web", "-n", "default"]);
    assert!(config_maps.starts_with("NAME") && config_maps.contains("DATA"), "{config_maps}");
    assert!(
        config_maps.lines().nth(1).is_some_and(|row| row.split_whitespace().nth(1) == Some("2")),
        "{config_maps}"
    );
    let secrets = k.ok(&["get", "secret", "web", "-n", "default"]);
    assert!(secrets.contains("Opaque"), "{secrets}");
    assert!(!secrets.contains("hidden"), "a table never shows a Secret value: {secrets}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn argo_cd_install_applies_into_its_namespace_with_crds_and_an_application() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok_stdin(&["apply", "-f", "-"], NAMESPACE_ARGOCD);
    let install = corpus().join("argo-cd-install/install.yaml");
    let out = k.ok(&[
        "apply",
        "--server-side",
        "-n",
        "argocd",
        "-f",
        install.to_str().expect("UTF-8 path"),
    ]);
    assert!(out.contains("customresourcedefinition.apiextensions.k8s.io/applications.argoproj.io serverside-applied"), "{out}");
    assert!(
        out.contains("statefulset.apps/argocd-application-controller serverside-applied"),
        "{out}"
    );

    let crd = k.json(&["get", "crd", "applications.argoproj.io"]);
    let established = crd["status"]["conditions"]
        .as_array()
        .is_some_and(|c| c.iter().any(|x| x["type"] == "Established" && x["status"] == "True"));
    assert!(established, "{crd}");

    let app = r#"
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: argocd
spec:
  project: default
  source: {repoURL: "https://github.com/argoproj/argocd-example-apps.git", targetRevision: HEAD, path: guestbook}
  destination: {server: "https://kubernetes.default.svc", namespace: guestbook}
"#;
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], app);
    let got = k.json(&["get", "applications.argoproj.io", "guestbook", "-n", "argocd"]);
    assert_eq!(got["spec"]["source"]["path"], "guestbook");
    let table = k.ok(&["get", "applications", "-n", "argocd"]);
    assert!(
        table.contains("SYNC STATUS") && table.contains("guestbook"),
        "printer columns of the CRD are used:\n{table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn get_json_shows_server_defaults_and_managed_fields() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], DEPLOYMENT);
    let d = k.json(&["get", "deployment", "web", "--show-managed-fields"]);
    assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Always");
    assert_eq!(pod["dnsPolicy"], "ClusterFirst");
    assert_eq!(pod["containers"][0]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(pod["containers"][0]["ports"][0]["protocol"], "TCP");
    let managers: Vec<&str> = d["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields are set")
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(managers.contains(&"kubectl"), "{managers:?}");
    assert_eq!(d["metadata"]["generation"], 1);
    assert!(d["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));

    let svc = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n";
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], svc);
    let s = k.json(&["get", "service", "web"]);
    assert_eq!(s["spec"]["type"], "ClusterIP");
    assert_eq!(s["spec"]["sessionAffinity"], "None");
    assert!(s["spec"]["clusterIP"].as_str().is_some_and(|ip| ip.starts_with("10.")), "{s}");
    assert_eq!(s["spec"]["ports"][0]["protocol"], "TCP");
    assert_eq!(s["spec"]["ports"][0]["targetPort"], 80);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn generation_moves_on_spec_changes_only() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], DEPLOYMENT);
    k.ok(&["label", "deployment", "web", "team=shop"]);
    assert_eq!(k.json(&["get", "deployment", "web"])["metadata"]["generation"], 1);
    k.ok(&["scale", "deployment", "web", "--replicas=3"]);
    assert_eq!(k.json(&["get", "deployment", "web"])["metadata"]["generation"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn watch_streams_added_modified_and_deleted_events() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let mut child = k
        .command(&["get", "configmaps", "-w", "--output-watch-events", "--request-timeout=20s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl starts");
    std::thread::sleep(Duration::from_millis(700));
    k.ok_stdin(&["apply", "-f", "-"], "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: watched, namespace: default}\ndata: {a: '1'}\n");
    k.ok_stdin(&["apply", "-f", "-"], "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: watched, namespace: default}\ndata: {a: '2'}\n");
    k.ok(&["delete", "configmap", "watched"]);
    std::thread::sleep(Duration::from_millis(700));
    child.kill().expect("kubectl watch can be stopped");
    let out = child.wait_with_output().expect("kubectl watch output");
    let text = String::from_utf8_lossy(&out.stdout);
    let events: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" watched "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        events,
        vec!["ADDED", "MODIFIED", "DELETED"],
        "stdout: {text}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_field_manager_conflicts_and_force_conflicts_takes_over() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], DEPLOYMENT);
    let other = DEPLOYMENT.replace("replicas: 2", "replicas: 5");
    let out = k.run_with_stdin(
        &["apply", "--server-side", "--field-manager=other", "-f", "-"],
        Some(&other),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("conflict") && err.contains(".spec.replicas") && err.contains("kubectl"),
        "{err}"
    );
    assert_eq!(k.json(&["get", "deployment", "web"])["spec"]["replicas"], 2);

    k.ok_stdin(
        &["apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", "-"],
        &other,
    );
    let d = k.json(&["get", "deployment", "web", "--show-managed-fields"]);
    assert_eq!(d["spec"]["replicas"], 5);
    let owner_of_replicas: Vec<&str> = d["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .filter(|m| m["fieldsV1"]["f:spec"].get("f:replicas").is_some())
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert_eq!(owner_of_replicas, vec!["other"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_side_apply_twice_with_a_change_updates_the_object() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let out = k.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    assert!(out.contains("deployment.apps/web created"), "{out}");
    let changed = DEPLOYMENT.replace("nginx:1.27", "nginx:1.28").replace(
        "        - containerPort: 80\n",
        "        - containerPort: 80\n        env:\n        - {name: MODE, value: prod}\n",
    );
    let out = k.ok_stdin(&["apply", "-f", "-"], &changed);
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    let d = k.json(&["get", "deployment", "web"]);
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.28");
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"], "prod");
    let out = k.ok_stdin(&["apply", "-f", "-"], &changed);
    assert!(out.contains("deployment.apps/web unchanged"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn finalizers_hold_a_delete_until_they_are_removed() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok_stdin(&["apply", "-f", "-"], "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, namespace: default, finalizers: [example.com/hold]}\ndata: {a: '1'}\n");
    k.ok(&["delete", "configmap", "held", "--wait=false"]);
    let cm = k.json(&["get", "configmap", "held"]);
    assert!(cm["metadata"]["deletionTimestamp"].is_string(), "{cm}");
    k.ok(&[
        "patch",
        "configmap",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    let gone = k.run(&["get", "configmap", "held"]);
    assert!(!gone.status.success());
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("NotFound"),
        "{}",
        String::from_utf8_lossy(&gone.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rollout_status_completes_and_deleting_a_deployment_removes_its_replicasets_and_pods() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], DEPLOYMENT);
    let out = k.ok(&["rollout", "status", "deployment/web", "--timeout=30s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let pods = k.json(&["get", "pods", "-l", "app=web"]);
    assert_eq!(pods["items"].as_array().map(Vec::len), Some(2));
    assert!(
        pods["items"].as_array().expect("items").iter().all(|p| p["status"]["phase"] == "Running")
    );
    assert_eq!(
        k.json(&["get", "replicasets", "-l", "app=web"])["items"].as_array().map(Vec::len),
        Some(1)
    );

    k.ok(&["delete", "deployment", "web"]);
    let cleaned = eventually(Duration::from_secs(10), || {
        k.json(&["get", "replicasets,pods", "-l", "app=web"])["items"]
            .as_array()
            .is_some_and(Vec::is_empty)
    });
    assert!(cleaned, "ReplicaSets and Pods of a deleted Deployment are garbage collected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unpullable_image_keeps_pods_not_ready_and_the_deployment_exceeds_its_deadline() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let bad = DEPLOYMENT
        .replace("nginx:1.27", "nginx:unpullable")
        .replace("replicas: 2", "replicas: 1\n  progressDeadlineSeconds: 1");
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], &bad);
    let out = k.run(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("exceeded its progress deadline"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pods = k.json(&["get", "pods", "-l", "app=web"]);
    let waiting = &pods["items"][0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"];
    assert_eq!(waiting, "ImagePullBackOff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restart_keeps_objects_and_resource_versions_continue() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = ferry_cluster::testing::fast_config().data_dir(dir.path());
    let cluster = ferry_cluster::testing::try_start(config.clone()).await.expect("cluster starts");
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok_stdin(&["apply", "-f", "-"], "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept, namespace: default}\ndata: {a: '1'}\n");
    let rv: u64 = k.json(&["get", "configmap", "kept"])["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("numeric resourceVersion");
    cluster.shutdown().await.expect("clean shutdown");

    let cluster = ferry_cluster::testing::try_start(config)
        .await
        .expect("cluster restarts on the same data dir");
    let k = Kubectl::new(cluster.kubeconfig_path());
    let cm = k.json(&["get", "configmap", "kept"]);
    assert_eq!(cm["data"]["a"], "1");
    k.ok_stdin(&["apply", "-f", "-"], "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept, namespace: default}\ndata: {a: '2'}\n");
    let rv2: u64 = k.json(&["get", "configmap", "kept"])["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("numeric resourceVersion");
    assert!(rv2 > rv, "resourceVersions continue after a restart ({rv2} > {rv})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_a_namespace_deletes_its_contents() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok_stdin(&["apply", "-f", "-"], "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\n");
    k.ok(&["delete", "namespace", "shop", "--timeout=20s"]);
    let out = k.run(&["get", "namespace", "shop"]);
    assert!(!out.status.success(), "the namespace is gone once empty");
    let refused = k.run_with_stdin(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\n"),
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("namespaces \"shop\" not found"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_names_and_immutable_fields_are_refused_with_the_field_named() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let bad = k.run_with_stdin(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name, namespace: default}\n"),
    );
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("metadata.name") && err.contains("RFC 1123"), "{err}");
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], DEPLOYMENT);
    let moved =
        DEPLOYMENT.replace("matchLabels: {app: web}", "matchLabels: {app: web, v: '2'}").replace(
            "      labels: {app: web}\n    spec",
            "      labels: {app: web, v: '2'}\n    spec",
        );
    let out = k.run_with_stdin(&["apply", "--server-side", "-f", "-"], Some(&moved));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("spec.selector") && err.contains("field is immutable"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_a_crd_deletes_its_objects_and_stops_serving_the_kind() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let crd = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], crd);
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: default}\nspec: {size: 3}\n");
    assert_eq!(k.json(&["get", "widgets", "w"])["spec"]["size"], 3);
    k.ok(&["delete", "crd", "widgets.example.com"]);
    let gone = eventually(Duration::from_secs(10), || !k.run(&["get", "widgets"]).status.success());
    assert!(gone, "the Widget kind is no longer served");
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], crd);
    let empty = eventually(Duration::from_secs(10), || {
        let o = k.run(&["get", "widgets", "-o", "json"]);
        o.status.success()
            && serde_json::from_slice::<Value>(&o.stdout)
                .is_ok_and(|v| v["items"].as_array().is_some_and(Vec::is_empty))
    });
    assert!(empty, "objects of a deleted CRD do not come back with it");
}
