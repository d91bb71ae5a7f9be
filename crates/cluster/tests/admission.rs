//! Admission webhooks served by test servers on loopback, through the real `kubectl`: a
//! mutating webhook's label is stored, a validating webhook's denial is the answer, and a
//! webhook that times out, answers garbage or patches `metadata.uid` fails the request (or not,
//! under `failurePolicy: Ignore`) with nothing half-written.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use base64::Engine;
use common::Kubectl;
use ferry_cluster::testing::TestServer;
use serde_json::{Value, json};

type Seen = Arc<Mutex<Vec<Value>>>;

fn allow(review: &Value, patch: Option<Value>) -> Json<Value> {
    let uid = review["request"]["uid"].clone();
    let mut response = json!({"uid": uid, "allowed": true});
    if let Some(p) = patch {
        response["patchType"] = json!("JSONPatch");
        response["patch"] = json!(base64::engine::general_purpose::STANDARD.encode(p.to_string()));
    }
    Json(
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}),
    )
}

async fn label(State(seen): State<Seen>, Json(review): Json<Value>) -> Json<Value> {
    seen.lock().expect("not poisoned").push(review.clone());
    let has_labels =
        review.pointer("/request/object/metadata/labels").is_some_and(Value::is_object);
    let op = if has_labels {
        json!([{"op": "add", "path": "/metadata/labels/injected-by", "value": "webhook"}])
    } else {
        json!([{"op": "add", "path": "/metadata/labels", "value": {"injected-by": "webhook"}}])
    };
    allow(&review, Some(op))
}

async fn deny(Json(review): Json<Value>) -> Json<Value> {
    let uid = review["request"]["uid"].clone();
    Json(json!({"response": {"uid": uid, "allowed": false,
        "status": {"code": 403, "message": "objects labelled protected=true stay"}}}))
}

async fn slow(Json(review): Json<Value>) -> Json<Value> {
    tokio::time::sleep(Duration::from_secs(3)).await;
    allow(&review, None)
}

async fn garbage() -> &'static str {
    "this is not an AdmissionReview"
}

async fn uid(Json(review): Json<Value>) -> Json<Value> {
    allow(&review, Some(json!([{"op": "replace", "path": "/metadata/uid", "value": "stolen"}])))
}

async fn server(seen: Seen) -> TestServer {
    let app = axum::Router::new()
        .route("/label", post(label))
        .route("/deny", post(deny))
        .route("/slow", post(slow))
        .route("/garbage", post(garbage))
        .route("/uid", post(uid))
        .with_state(seen);
    TestServer::start(app).await.expect("the webhook server starts")
}

/// A webhook configuration for ConfigMaps, calling `path`.
fn config(kind: &str, name: &str, s: &TestServer, path: &str, extra: &str) -> String {
    format!(
        r#"
apiVersion: admissionregistration.k8s.io/v1
kind: {kind}
metadata: {{name: {name}}}
webhooks:
- name: {name}
  admissionReviewVersions: [v1]
  sideEffects: None
  timeoutSeconds: 1
  clientConfig: {{url: "{url}{path}", caBundle: "{ca}"}}
  rules:
  - {{operations: [CREATE, UPDATE, DELETE], apiGroups: [""], apiVersions: [v1], resources: [configmaps]}}
{extra}"#,
        url = s.url(),
        ca = s.ca_bundle()
    )
}

fn config_map(name: &str, labels: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: default, labels: {{{labels}}}}}\ndata: {{k: v}}\n"
    )
}

fn labels(k: &Kubectl, name: &str) -> Value {
    k.json(&["get", "configmap", name, "-n", "default"])["metadata"]["labels"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mutating_webhook_adds_a_label_on_create_apply_and_update_and_selectors_pick_the_objects()
{
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let seen: Seen = Arc::default();
    let s = server(seen.clone()).await;
    let selectors = "  objectSelector: {matchExpressions: [{key: skip, operator: DoesNotExist}]}\n  namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: default}}\n";
    k.ok_stdin(
        &["apply", "-f", "-"],
        &config("MutatingWebhookConfiguration", "label.example.com", &s, "/label", selectors),
    );

    k.ok_stdin(&["create", "-f", "-"], &config_map("created", "app: a"));
    assert_eq!(labels(&k, "created"), json!({"app": "a", "injected-by": "webhook"}));
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], &config_map("applied", ""));
    assert_eq!(labels(&k, "applied"), json!({"injected-by": "webhook"}));
    let managed =
        k.json(&["get", "configmap", "applied", "-n", "default", "--show-managed-fields"]);
    let owned = managed["metadata"]["managedFields"].to_string();
    assert!(!owned.contains("injected-by"), "the webhook's label is owned by no manager: {owned}");
    k.ok(&["label", "configmap", "created", "-n", "default", "injected-by-"]);
    assert_eq!(labels(&k, "created")["injected-by"], "webhook", "an update is mutated too");

    k.ok_stdin(&["create", "-f", "-"], &config_map("skipped", "skip: \"yes\""));
    assert_eq!(labels(&k, "skipped"), json!({"skip": "yes"}), "objectSelector excludes it");
    k.ok(&["create", "namespace", "other"]);
    k.ok(&["create", "configmap", "elsewhere", "-n", "other"]);
    let other = k.json(&["get", "configmap", "elsewhere", "-n", "other"]);
    assert!(other["metadata"]["labels"].is_null(), "namespaceSelector excludes it: {other}");

    let reviews = seen.lock().expect("not poisoned").clone();
    let first = &reviews[0]["request"];
    assert_eq!(first["operation"], "CREATE");
    assert_eq!(first["kind"], json!({"group": "", "version": "v1", "kind": "ConfigMap"}));
    assert_eq!(first["userInfo"]["username"], "kubernetes-admin");
    assert_eq!(first["namespace"], "default");

    k.ok_stdin(&["apply", "--server-side", "--dry-run=server", "-f", "-"], &config_map("dry", ""));
    let last = seen.lock().expect("not poisoned").last().cloned().expect("a review");
    assert_eq!(last["request"]["dryRun"], true, "dryRun is passed through");
    assert!(!k.run(&["get", "configmap", "dry", "-n", "default"]).status.success());

    // The review names the request's own user: here one the admin impersonates.
    k.ok_stdin(
        &["create", "--as=jane", "--as-group=system:masters", "-f", "-"],
        &config_map("janes", ""),
    );
    let last = seen.lock().expect("not poisoned").last().cloned().expect("a review");
    assert_eq!(last["request"]["userInfo"]["username"], "jane", "{last}");
    let groups = last["request"]["userInfo"]["groups"].to_string();
    assert!(
        groups.contains("system:masters") && groups.contains("system:authenticated"),
        "{groups}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_validating_webhook_denies_creates_and_deletes_with_its_message() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let s = server(Seen::default()).await;
    k.ok_stdin(&["create", "-f", "-"], &config_map("kept", "protected: \"true\""));
    let selector = "  objectSelector: {matchLabels: {protected: \"true\"}}\n";
    k.ok_stdin(
        &["apply", "-f", "-"],
        &config("ValidatingWebhookConfiguration", "deny.example.com", &s, "/deny", selector),
    );

    let out =
        k.run_with_stdin(&["create", "-f", "-"], Some(&config_map("new", "protected: \"true\"")));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"admission webhook "deny.example.com" denied the request: objects labelled protected=true stay"#),
        "{err}"
    );
    assert!(!k.run(&["get", "configmap", "new", "-n", "default"]).status.success());
    let out = k.run(&["delete", "configmap", "kept", "-n", "default"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("denied the request"),
        "a delete is denied too"
    );
    k.ok(&["get", "configmap", "kept", "-n", "default"]);
    k.ok_stdin(&["create", "-f", "-"], &config_map("free", ""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broken_webhooks_fail_the_request_naming_the_problem_unless_ignored() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let s = server(Seen::default()).await;
    let cases = [
        ("/slow", "context deadline exceeded"),
        ("/garbage", "received invalid webhook response"),
        ("/uid", "attempted to modify metadata.uid, which is not allowed"),
    ];
    for (path, words) in cases {
        let hook = config("MutatingWebhookConfiguration", "broken.example.com", &s, path, "");
        k.ok_stdin(&["apply", "-f", "-"], &hook);
        let out = k.run_with_stdin(&["create", "-f", "-"], Some(&config_map("victim", "")));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(r#"failed calling webhook "broken.example.com""#)
                || err.contains("broken.example.com"),
            "{path}: {err}"
        );
        assert!(err.contains(words), "{path}: {err}");
        assert!(
            !k.run(&["get", "configmap", "victim", "-n", "default"]).status.success(),
            "{path}: nothing stored"
        );
    }
    let ignored = config(
        "MutatingWebhookConfiguration",
        "broken.example.com",
        &s,
        "/slow",
        "  failurePolicy: Ignore\n",
    );
    k.ok_stdin(&["apply", "-f", "-"], &ignored);
    k.ok_stdin(&["create", "-f", "-"], &config_map("victim", ""));
    k.ok(&["delete", "mutatingwebhookconfiguration", "broken.example.com"]);
    k.ok(&["get", "ns", "default"]);
}
