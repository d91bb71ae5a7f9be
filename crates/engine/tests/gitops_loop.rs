//! The GitOps loop end to end: a real git daemon, the embedded cluster over HTTPS, the engine.

mod support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_is_applied_drift_is_healed_and_a_removed_file_is_pruned() {
    let world = World::guestbook().await;
    let first = world.head();
    world
        .create_app("guestbook", automated_spec(&world.repo_url(), "guestbook", "guestbook"))
        .await;
    let app = world.wait_synced_healthy("guestbook", &first).await;
    assert_eq!(app["status"]["history"][0]["revision"], first.as_str());

    let deployments: Api<Deployment> = Api::namespaced(world.client.clone(), "guestbook");
    let live = deployments.get("guestbook-ui").await.expect("the Deployment was applied");
    let labels = live.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("ferry.dev/app").map(String::as_str), Some("ferry.guestbook"));

    // Nothing changed: a reconcile writes nothing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = world.cluster.stats();
    world.engine.refresh("ferry", "guestbook");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let writes = world.cluster.stats().since(&before).writes();
    assert_eq!(
        writes,
        0,
        "a reconcile with nothing changed wrote to the cluster: {:?}",
        world.cluster.stats().since(&before)
    );

    // A commit changing a field is applied.
    world
        .repo
        .edit("guestbook/guestbook-ui-deployment.yaml", "replicas: 1", "replicas: 2")
        .expect("edit");
    let second = world.repo.commit("two replicas").expect("commit");
    world.wait_synced_healthy("guestbook", &second).await;
    let live = deployments.get("guestbook-ui").await.expect("deployment");
    assert_eq!(live.spec.and_then(|s| s.replicas), Some(2));

    // `kubectl scale` of an owned field is reported and healed.
    let scale = json!({"spec": {"replicas": 5}});
    deployments
        .patch(
            "guestbook-ui",
            &PatchParams { field_manager: Some("kubectl".into()), ..Default::default() },
            &Patch::Merge(&scale),
        )
        .await
        .expect("scale");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let replicas = deployments
            .get("guestbook-ui")
            .await
            .expect("deployment")
            .spec
            .and_then(|s| s.replicas);
        if replicas == Some(2) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the scaled Deployment was not healed (replicas {replicas:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A file removed from Git is pruned.
    std::fs::remove_file(world.repo.dir.join("guestbook/guestbook-ui-svc.yaml")).expect("rm");
    let third = world.repo.commit("drop the service").expect("commit");
    world.wait_synced_healthy("guestbook", &third).await;
    let services: Api<Service> = Api::namespaced(world.client.clone(), "guestbook");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while services.get_opt("guestbook-ui").await.expect("get").is_some() {
        assert!(std::time::Instant::now() < deadline, "the removed Service was not pruned");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let app = world.wait_synced_healthy("guestbook", &third).await;
    let inventory = app["status"]["inventory"].as_array().cloned().unwrap_or_default();
    assert!(
        inventory.iter().all(|e| e["kind"] != "Service"),
        "the pruned Service left the inventory: {inventory:?}"
    );
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_to_one_app_of_a_monorepo_syncs_that_app_and_leaves_the_other_be() {
    let world = World::start(|repo| {
        repo.copy_in(&corpus("argocd-example-apps/guestbook"), "one").expect("copy_in");
        repo.copy_in(&corpus("argocd-example-apps/guestbook"), "two").expect("copy_in");
    })
    .await;
    let first = world.head();
    for (name, path) in [("one", "one"), ("two", "two")] {
        world.create_app(name, automated_spec(&world.repo_url(), path, name)).await;
    }
    world.wait_synced_healthy("one", &first).await;
    world.wait_synced_healthy("two", &first).await;

    world
        .repo
        .edit("two/guestbook-ui-deployment.yaml", "replicas: 1", "replicas: 2")
        .expect("edit");
    let second = world.repo.commit("two replicas in app two").expect("commit");
    world.engine.notify_push(&world.repo_url());

    let two = world.wait_synced_healthy("two", &second).await;
    assert_eq!(two["status"]["operationState"]["revision"], second.as_str());
    let one = world.wait_synced_healthy("one", &second).await;
    assert_eq!(
        one["status"]["operationState"]["revision"],
        first.as_str(),
        "app one renders the same at the new commit and was synced again anyway"
    );
    assert_eq!(one["status"]["history"].as_array().map(Vec::len), Some(1));
    world.engine.shutdown().await;
}
