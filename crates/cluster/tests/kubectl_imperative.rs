//! Imperative kubectl commands against the embedded cluster: typed `create` and `run` (which
//! send protobuf bodies), `label`, `annotate`, `scale`, `edit`, and `--dry-run=server`.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::Kubectl;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn typed_create_commands_send_protobuf_and_store_the_same_objects_as_json_would() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok(&["create", "namespace", "shop"]);
    assert_eq!(k.json(&["get", "namespace", "shop"])["status"]["phase"], "Active");

    k.ok(&[
        "create",
        "configmap",
        "settings",
        "-n",
        "shop",
        "--from-literal=a=1",
        "--from-literal=empty=",
    ]);
    assert_eq!(
        k.json(&["get", "configmap", "settings", "-n", "shop"])["data"],
        json!({"a": "1", "empty": ""})
    );

    k.ok(&[
        "create",
        "secret",
        "generic",
        "creds",
        "-n",
        "shop",
        "--from-literal=password=hunter2",
    ]);
    let secret = k.json(&["get", "secret", "creds", "-n", "shop"]);
    assert_eq!(secret["data"]["password"], "aHVudGVyMg==", "bytes arrive as base64 data");
    assert_eq!(secret["type"], "Opaque");

    k.ok(&[
        "create",
        "deployment",
        "web",
        "-n",
        "shop",
        "--image=nginx:1.27",
        "--replicas=0",
        "--port=80",
    ]);
    let d = k.json(&["get", "deployment", "web", "-n", "shop"]);
    assert_eq!(d["spec"]["replicas"], 0, "an explicit zero survives decoding");
    assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "web");
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        (c["image"].as_str(), c["ports"][0]["containerPort"].as_i64()),
        (Some("nginx:1.27"), Some(80))
    );
    assert_eq!(
        c["terminationMessagePath"], "/dev/termination-log",
        "then defaulted like any create"
    );
    assert!(
        d["spec"]["template"]["spec"].get("hostNetwork").is_none(),
        "unset booleans stay unset"
    );

    k.ok(&[
        "run",
        "shell",
        "-n",
        "shop",
        "--image=busybox:1.36",
        "--env=MODE=test",
        "--labels=app=shell",
        "--",
        "sleep",
        "60",
    ]);
    let pod = k.json(&["get", "pod", "shell", "-n", "shop"]);
    assert_eq!(pod["spec"]["containers"][0]["args"], json!(["sleep", "60"]));
    assert_eq!(pod["spec"]["containers"][0]["env"], json!([{"name": "MODE", "value": "test"}]));
    assert_eq!(pod["metadata"]["labels"]["app"], "shell");

    k.ok(&["create", "service", "clusterip", "web", "-n", "shop", "--tcp=80:8080"]);
    let svc = k.json(&["get", "service", "web", "-n", "shop"]);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080, "IntOrString decodes to its int");

    k.ok(&["create", "priorityclass", "background", "--value=0"]);
    assert_eq!(k.json(&["get", "priorityclass", "background"])["value"], 0);
    k.ok(&["create", "quota", "small", "-n", "shop", "--hard=cpu=1,pods=2"]);
    assert_eq!(
        k.json(&["get", "quota", "small", "-n", "shop"])["spec"]["hard"],
        json!({"cpu": "1", "pods": "2"})
    );
    k.ok(&["create", "cronjob", "tick", "-n", "shop", "--image=busybox", "--schedule=*/5 * * * *"]);
    k.ok(&["create", "ingress", "web", "-n", "shop", "--rule=shop.example/=web:80"]);
    let ing = k.json(&["get", "ingress", "web", "-n", "shop"]);
    assert_eq!(
        ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["number"],
        80
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn label_annotate_and_scale_patch_the_live_object() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok(&["create", "deployment", "web", "--image=nginx:1.27", "--replicas=1"]);
    k.ok(&["label", "deployment", "web", "tier=front"]);
    k.ok(&["annotate", "deployment", "web", "owner=team-a"]);
    k.ok(&["scale", "deployment", "web", "--replicas=3"]);
    let d = k.json(&["get", "deployment", "web"]);
    assert_eq!(d["metadata"]["labels"]["tier"], "front");
    assert_eq!(d["metadata"]["annotations"]["owner"], "team-a");
    assert_eq!(d["spec"]["replicas"], 3);
    k.ok(&["label", "deployment", "web", "tier-"]);
    assert!(k.json(&["get", "deployment", "web"])["metadata"]["labels"].get("tier").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kubectl_edit_saves_what_the_editor_wrote() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok(&["create", "configmap", "settings", "--from-literal=mode=slow"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let editor = dir.path().join("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\nsed -i 's/mode: slow/mode: fast/' \"$1\"\n")
        .expect("write the editor");
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = k
        .command(&["edit", "configmap", "settings"])
        .env("KUBE_EDITOR", &editor)
        .output()
        .expect("kubectl edit runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(k.json(&["get", "configmap", "settings"])["data"]["mode"], "fast");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_dry_runs_answer_like_a_write_and_store_nothing() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let rv = cluster.resource_version();
    let out = k.ok(&["create", "namespace", "ghost", "--dry-run=server", "-o", "json"]);
    let answered: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(answered["metadata"]["name"], "ghost");
    assert_eq!(answered["status"]["phase"], "Active", "the answer is admitted and defaulted");
    let applied = k.ok_stdin(
        &["apply", "--server-side", "--dry-run=server", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ghost, namespace: default}\ndata: {a: '1'}\n",
    );
    assert!(applied.contains("serverside-applied (server dry run)"), "{applied}");
    assert!(!k.run(&["get", "namespace", "ghost"]).status.success());
    assert!(!k.run(&["get", "configmap", "ghost"]).status.success());
    assert_eq!(cluster.resource_version(), rv, "a dry run takes no resourceVersion");
}

const TWO_CONTAINERS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: two, namespace: default}
spec:
  selector: {matchLabels: {app: two}}
  template:
    metadata: {labels: {app: two}}
    spec:
      containers:
      - {name: a, image: "nginx:1", env: [{name: X, value: "1"}, {name: Y, value: "2"}]}
      - {name: b, image: "nginx:2"}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn explain_reads_the_served_schemas_and_client_side_apply_drops_removed_list_items() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let explained = k.ok(&["explain", "deployment.spec.replicas"]);
    assert!(explained.contains("FIELD: replicas <integer>"), "{explained}");
    assert!(explained.contains("Number of desired pods"), "{explained}");
    // Client-side apply computes its strategic merge patch from the served schema's merge keys.
    k.ok_stdin(&["apply", "-f", "-"], TWO_CONTAINERS);
    let fewer = TWO_CONTAINERS
        .replace("      - {name: b, image: \"nginx:2\"}\n", "")
        .replace(", {name: Y, value: \"2\"}", "");
    k.ok_stdin(&["apply", "-f", "-"], &fewer);
    let containers =
        &k.json(&["get", "deployment", "two"])["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers.as_array().map(Vec::len), Some(1), "{containers}");
    assert_eq!(containers[0]["env"], json!([{"name": "X", "value": "1"}]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_v1_list_applies_after_kubectl_validates_it_against_the_openapi_v2_document() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one", "namespace": "default"}, "data": {"a": "1"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "two", "namespace": "default"}, "data": {"b": "2"}},
    ]});
    let out = k.ok_stdin(&["apply", "-f", "-"], &list.to_string());
    assert!(
        out.contains("configmap/one created") && out.contains("configmap/two created"),
        "{out}"
    );
    assert_eq!(k.json(&["get", "configmap", "two"])["data"]["b"], "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_misspelled_field_is_refused_naming_it_unless_validation_is_off() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let typo = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo, namespace: default}\ndatta: {a: '1'}\n";
    for args in [&["apply", "-f", "-"][..], &["apply", "--server-side", "-f", "-"][..]] {
        let out = k.run_with_stdin(args, Some(typo));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} is refused");
        assert!(err.contains("unknown field \"datta\""), "{args:?}: {err}");
    }
    assert!(!k.run(&["get", "configmap", "typo"]).status.success(), "nothing was written");
    k.ok_stdin(&["apply", "--validate=false", "-f", "-"], typo);
    assert!(
        k.json(&["get", "configmap", "typo"]).get("datta").is_none(),
        "unknown fields are dropped"
    );
}
