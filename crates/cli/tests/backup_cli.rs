//! `ferry export` and `ferry import` at their edges, against the embedded cluster with Ferry's
//! CRDs: Secrets are left out unless sealed (and named), `--secrets encrypt` needs a recipient,
//! and an object the cluster refuses is named while the others are restored (exit 1).

mod support;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use serde_json::json;
use support::*;

async fn cluster_with_ferry(home: &std::path::Path) -> (ferry_cluster::RunningCluster, String) {
    let cluster = ferry_cluster::testing::start().await;
    let kubeconfig = cluster.kubeconfig_path().display().to_string();
    let run = ferry_with(home, &[], &["install", "--kubeconfig", &kubeconfig]).await;
    assert_eq!(run.code, 0, "{run:?}");
    (cluster, kubeconfig)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_recipient_secrets_are_left_out_and_named_and_encrypt_asks_for_one() {
    let home = tempfile::tempdir().expect("tempdir");
    let (cluster, kubeconfig) = cluster_with_ferry(home.path()).await;
    let secrets: Api<Secret> = Api::namespaced(cluster.client().await.expect("client"), "ferry");
    let secret = serde_json::from_value(json!({"metadata": {"name": "repo-private",
        "labels": {"argocd.argoproj.io/secret-type": "repository"}},
        "stringData": {"url": "https://git.example/private.git", "password": "hunter2-canary"}}))
    .expect("a Secret");
    secrets.create(&PostParams::default(), &secret).await.expect("created");

    let run = ferry_with(home.path(), &[], &["export", "--kubeconfig", &kubeconfig]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("1 Secrets left out: Secret ferry/repo-private"), "{run:?}");
    assert!(run.stderr.contains("hint: ferry export --age-recipient"), "{run:?}");
    assert!(!run.stdout.contains("kind: Secret") && !run.stdout.contains("hunter2"), "{run:?}");
    assert!(run.stdout.contains("omittedSecrets"), "the file names what it left out");

    let plain = ["export", "--secrets", "plain", "--kubeconfig", &kubeconfig];
    let plain = ferry_with(home.path(), &[], &plain).await;
    assert_eq!(plain.code, 0, "{plain:?}");
    assert!(plain.stderr.contains("IN CLEAR"), "{plain:?}");
    assert!(plain.stdout.contains("kind: Secret"), "asked for by name, the Secret is there");

    let sealed = ["export", "--secrets", "encrypt", "--kubeconfig", &kubeconfig];
    let sealed = ferry_with(home.path(), &[], &sealed).await;
    assert_eq!(sealed.code, 2, "{sealed:?}");
    assert!(sealed.stderr.contains("needs at least one --age-recipient"), "{sealed:?}");
    assert!(sealed.stderr.contains("ferry secret keygen"), "{sealed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_the_cluster_refuses_is_named_and_the_others_are_still_restored() {
    let home = tempfile::tempdir().expect("tempdir");
    let (cluster, kubeconfig) = cluster_with_ferry(home.path()).await;
    let app = |name: &str, history: serde_json::Value| {
        json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": "ferry"},
            "spec": {"source": {"repoURL": "https://git.example/a.git", "path": "a", "targetRevision": "main"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "a"}},
            "status": {"history": history}})
    };
    let good =
        app("good", json!([{"id": 0, "revision": "abc123", "deployedAt": "2026-12-06T10:00:00Z"}]));
    let bad = app("bad", json!([{"id": 0, "revision": 42, "deployedAt": "2026-12-06T10:00:00Z"}]));
    let export = json!({"apiVersion": "ferry.dev/export", "kind": "FerryExport", "formatVersion": 1,
        "ferryVersion": "0.1.0", "exportedAt": "2026-12-06T10:00:00Z", "secrets": "omit",
        "objects": [bad, good]});
    let file = home.path().join("export.yaml");
    std::fs::write(&file, serde_saphyr::to_string(&export).expect("yaml")).expect("write");

    let file_arg = file.display().to_string();
    let run =
        ferry_with(home.path(), &[], &["import", &file_arg, "--kubeconfig", &kubeconfig]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("restoring the status (history) of Application ferry/bad"),
        "{run:?}"
    );
    assert!(run.stderr.contains("status.history[0].revision"), "the field is named: {run:?}");
    assert!(
        run.stderr.contains("1 of 3 objects were not restored: Application ferry/bad"),
        "{run:?}"
    );
    let history = ferry_with(
        home.path(),
        &[],
        &["app", "history", "good", "-o", "json", "--kubeconfig", &kubeconfig],
    )
    .await;
    assert_eq!(history.json()[0]["revision"], "abc123", "{history:?}");
    drop(cluster);
}
