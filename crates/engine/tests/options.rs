//! The Application's knobs through the public surface: the drift report, `ignoreDifferences`,
//! `spec.suspend`, dry-run syncs, retry with backoff and the `Replace=true` sync option.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use support::*;

fn guestbook(url: &str, policy: Value) -> Value {
    json!({
        "source": {"repoURL": url, "targetRevision": "main", "path": "guestbook"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "guestbook"},
        "syncPolicy": policy
    })
}

async fn guestbook_world() -> World {
    World::guestbook().await
}

async fn scale(world: &World, manager: &str, replicas: i32) {
    let deployments: Api<Deployment> = Api::namespaced(world.client.clone(), "guestbook");
    deployments
        .patch(
            "guestbook-ui",
            &PatchParams { field_manager: Some(manager.into()), ..Default::default() },
            &Patch::Merge(&json!({"spec": {"replicas": replicas}})),
        )
        .await
        .expect("scale");
}

async fn replicas(world: &World) -> Option<i32> {
    let deployments: Api<Deployment> = Api::namespaced(world.client.clone(), "guestbook");
    deployments.get("guestbook-ui").await.expect("deployment").spec.and_then(|s| s.replicas)
}

fn deployment_drift(app: &Value) -> Vec<String> {
    app["status"]["resources"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|r| r["kind"] == "Deployment")
        .flat_map(|r| r["drift"].as_array().cloned().unwrap_or_default())
        .filter_map(|d| d.as_str().map(str::to_owned))
        .collect()
}

fn out_of_sync(a: &Value) -> bool {
    a["status"]["sync"]["status"] == "OutOfSync"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scaled_deployment_is_reported_with_the_field_both_values_and_who_changed_it_when() {
    let world = guestbook_world().await;
    let head = world.head();
    world
        .create_app(
            "guestbook",
            guestbook(&world.repo_url(), json!({"syncOptions": ["CreateNamespace=true"]})),
        )
        .await;
    world.request_sync("guestbook").await;
    world.wait_synced_healthy("guestbook", &head).await;
    scale(&world, "kubectl-scale", 3).await;
    let app = world.wait_for("guestbook", "OutOfSync", out_of_sync).await;
    let drift = deployment_drift(&app);
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert!(
        drift[0].starts_with(".spec.replicas: 1 in Git, 3 live; changed by kubectl-scale at 20"),
        "{drift:?}"
    );
    // Without selfHeal the drift stays.
    assert_eq!(replicas(&world).await, Some(3));
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ignored_differences_are_neither_drift_nor_applied() {
    let world = guestbook_world().await;
    let head = world.head();
    let mut spec = guestbook(
        &world.repo_url(),
        json!({"automated": {"selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}),
    );
    spec["ignoreDifferences"] = json!([
        {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]},
        {"kind": "Service", "managedFieldsManagers": ["mesh-injector"]}
    ]);
    world.create_app("guestbook", spec).await;
    world.wait_synced_healthy("guestbook", &head).await;

    // A JSON pointer: Ferry neither claims nor compares replicas, so a scale is not drift.
    scale(&world, "hpa", 4).await;
    let services: Api<k8s_openapi::api::core::v1::Service> =
        Api::namespaced(world.client.clone(), "guestbook");
    // A managed-fields manager: its change of a field Ferry declares is not drift either.
    services
        .patch(
            "guestbook-ui",
            &PatchParams { field_manager: Some("mesh-injector".into()), ..Default::default() },
            &Patch::Merge(&json!({"spec": {"selector": {"app": "guestbook-ui", "mesh": "on"}}})),
        )
        .await
        .expect("mesh patch");
    world.engine.refresh("ferry", "guestbook");
    let app = world.wait_synced_healthy("guestbook", &head).await;
    assert!(deployment_drift(&app).is_empty());
    assert_eq!(replicas(&world).await, Some(4), "the ignored field was not re-applied");
    let ferry_owns_replicas = {
        let deployments: Api<Deployment> = Api::namespaced(world.client.clone(), "guestbook");
        let live = deployments.get("guestbook-ui").await.expect("deployment");
        live.metadata.managed_fields.unwrap_or_default().iter().any(|m| {
            m.manager.as_deref() == Some("ferry")
                && m.fields_v1.as_ref().is_some_and(|f| f.0.pointer("/f:spec/f:replicas").is_some())
        })
    };
    assert!(!ferry_owns_replicas, "apply left the ignored field out");
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_suspended_app_neither_syncs_nor_heals_but_keeps_its_status_fresh() {
    let world = guestbook_world().await;
    let first = world.head();
    let apps = world
        .create_app(
            "guestbook",
            guestbook(
                &world.repo_url(),
                json!({"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}),
            ),
        )
        .await;
    world.wait_synced_healthy("guestbook", &first).await;
    let suspend = |on: bool| json!({"spec": {"suspend": on}});
    apps.patch("guestbook", &PatchParams::default(), &Patch::Merge(&suspend(true)))
        .await
        .expect("suspend");
    world
        .wait_for("guestbook", "reporting the suspension", |a| {
            a["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter().any(|c| c["type"] == "Suspended" && c["status"] == "True")
            })
        })
        .await;

    // Drift is reported, not healed; a new commit is seen, not applied.
    scale(&world, "kubectl-scale", 3).await;
    world.wait_for("guestbook", "OutOfSync", out_of_sync).await;
    world
        .repo
        .edit("guestbook/guestbook-ui-deployment.yaml", "gb-frontend:v5", "gb-frontend:v6")
        .expect("edit");
    let second = world.repo.commit("new image").expect("commit");
    let s = second.clone();
    world
        .wait_for("guestbook", "comparing with the new commit", move |a| {
            a["status"]["sync"]["revision"] == s.as_str() && out_of_sync(a)
        })
        .await;
    assert_eq!(replicas(&world).await, Some(3), "a suspended app is not healed");
    let app = world.wait_for("guestbook", "still on the first sync", |a| a.is_object()).await;
    assert_eq!(app["status"]["operationState"]["revision"], first.as_str(), "nothing was synced");

    apps.patch("guestbook", &PatchParams::default(), &Patch::Merge(&suspend(false)))
        .await
        .expect("resume");
    world.wait_synced_healthy("guestbook", &second).await;
    assert_eq!(replicas(&world).await, Some(1), "resuming heals");
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dry_run_sync_reports_its_change_set_and_changes_nothing() {
    let world = guestbook_world().await;
    let head = world.head();
    world.create_namespace("guestbook").await;
    let apps = world.create_app("guestbook", guestbook(&world.repo_url(), json!({}))).await;
    let request = json!({"metadata": {"annotations": {
        ferry_engine::application::ANNOTATION_SYNC_REQUEST: json!({"at": "1", "dryRun": true}).to_string()}}});
    apps.patch("guestbook", &PatchParams::default(), &Patch::Merge(&request))
        .await
        .expect("dry run requested");
    let app = world
        .wait_for("guestbook", "dry-run synced", |a| {
            a["status"]["operationState"]["dryRun"] == true
                && a["status"]["operationState"]["phase"] == "Succeeded"
        })
        .await;
    let actions: Vec<&str> = app["status"]["operationState"]["changeSet"]
        .as_array()
        .expect("a change set")
        .iter()
        .map(|i| i["action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(actions, ["created", "created"], "{app:#}");
    assert_eq!(app["status"]["sync"]["status"], "OutOfSync");
    assert!(app["status"]["history"].as_array().is_none_or(|h| h.is_empty()), "no history entry");
    let deployments: Api<Deployment> = Api::namespaced(world.client.clone(), "guestbook");
    assert!(deployments.get_opt("guestbook-ui").await.expect("get").is_none(), "nothing created");
    assert_eq!(app["status"]["sync"]["revision"], head.as_str());
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_sync_is_retried_with_backoff_until_the_limit() {
    let world = World::start(|repo| {
        repo.copy_in(&corpus("argocd-example-apps/guestbook"), "guestbook").expect("copy_in");
        repo.write(
            "guestbook/migrate.yaml",
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    argocd.argoproj.io/hook: PreSync\n\
             spec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: migrate\n          image: registry.example/unpullable:1\n",
        ).expect("write");
    })
    .await;
    let started = Instant::now();
    world
        .create_app(
            "guestbook",
            guestbook(
                &world.repo_url(),
                json!({"automated": {}, "syncOptions": ["CreateNamespace=true"],
                       "retry": {"limit": 2, "backoff": {"duration": "1s", "factor": 2, "maxDuration": "10s"}}}),
            ),
        )
        .await;
    let app = world
        .wait_for("guestbook", "out of retries", |a| {
            a["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter().any(|c| c["reason"] == "RetryLimitReached" && c["status"] == "True")
            })
        })
        .await;
    assert_eq!(app["status"]["operationState"]["attempts"], 3, "the first try and two retries");
    // Retries waited 1s, then 2s.
    assert!(started.elapsed() >= Duration::from_secs(3), "{:?}", started.elapsed());
    let message = app["status"]["operationState"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("migrate"), "the failure names the hook: {message}");
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_replace_sync_option_replaces_objects_instead_of_applying_them() {
    let world = guestbook_world().await;
    let first = world.head();
    world
        .create_app(
            "guestbook",
            guestbook(
                &world.repo_url(),
                json!({"automated": {}, "syncOptions": ["CreateNamespace=true", "Replace=true"]}),
            ),
        )
        .await;
    world.wait_synced_healthy("guestbook", &first).await;
    world
        .repo
        .edit("guestbook/guestbook-ui-deployment.yaml", "replicas: 1", "replicas: 2")
        .expect("edit");
    let second = world.repo.commit("two replicas").expect("commit");
    world.wait_synced_healthy("guestbook", &second).await;
    let deployments: Api<Deployment> = Api::namespaced(world.client.clone(), "guestbook");
    let live = deployments.get("guestbook-ui").await.expect("deployment");
    assert_eq!(live.spec.as_ref().and_then(|s| s.replicas), Some(2));
    let operations: Vec<String> = live
        .metadata
        .managed_fields
        .unwrap_or_default()
        .iter()
        .filter(|m| m.manager.as_deref() == Some("ferry"))
        .filter_map(|m| m.operation.clone())
        .collect();
    assert!(operations.contains(&"Update".to_owned()), "a PUT, not an apply: {operations:?}");
    world.engine.shutdown().await;
}
