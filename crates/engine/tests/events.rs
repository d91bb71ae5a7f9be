//! Kubernetes Events on the Application tell people what the engine did: sync start, success and
//! failure, drift, heal, prune and rollback.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::*;

/// The reasons of the Events regarding Application `ferry/name`, oldest first.
async fn reasons(world: &World, name: &str) -> Vec<String> {
    let events: Api<Event> = Api::namespaced(world.client.clone(), "ferry");
    let mut list: Vec<Event> = events
        .list(&Default::default())
        .await
        .expect("events.k8s.io/v1 Events can be listed")
        .items
        .into_iter()
        .filter(|e| {
            e.regarding.as_ref().is_some_and(|r| {
                r.kind.as_deref() == Some("Application") && r.name.as_deref() == Some(name)
            })
        })
        .collect();
    list.sort_by_key(|e| e.event_time.as_ref().map(|t| t.0));
    list.into_iter().filter_map(|e| e.reason).collect()
}

/// Waits until the app has an Event with `reason`.
async fn wait_event(world: &World, name: &str, reason: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = reasons(world, name).await;
        if seen.iter().any(|r| r == reason) {
            return;
        }
        assert!(Instant::now() < deadline, "no {reason} Event on {name}; saw {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_application_gets_events_for_sync_drift_heal_prune_rollback_and_failure() {
    let world = World::guestbook().await;
    let first = world.head();
    world
        .create_app("guestbook", automated_spec(&world.repo_url(), "guestbook", "guestbook"))
        .await;
    world.wait_synced_healthy("guestbook", &first).await;
    wait_event(&world, "guestbook", "SyncStarted").await;
    wait_event(&world, "guestbook", "Synced").await;

    // Drift, then its heal.
    let deployments: Api<Deployment> = Api::namespaced(world.client.clone(), "guestbook");
    deployments
        .patch(
            "guestbook-ui",
            &PatchParams { field_manager: Some("kubectl-scale".into()), ..Default::default() },
            &Patch::Merge(&json!({"spec": {"replicas": 4}})),
        )
        .await
        .expect("scale");
    wait_event(&world, "guestbook", "Drift").await;
    wait_event(&world, "guestbook", "Healed").await;

    // A removed file is pruned.
    std::fs::remove_file(world.repo.dir.join("guestbook/guestbook-ui-svc.yaml")).expect("rm");
    let second = world.repo.commit("drop the service").expect("commit");
    world.wait_synced_healthy("guestbook", &second).await;
    wait_event(&world, "guestbook", "Pruned").await;

    // A rollback to the first revision.
    let apps: Api<ferry_engine::Application> = Api::namespaced(world.client.clone(), "ferry");
    let rollback = json!({"metadata": {"annotations": {
        ferry_engine::application::ANNOTATION_ROLLBACK: first.clone()}}});
    apps.patch("guestbook", &PatchParams::default(), &Patch::Merge(&rollback))
        .await
        .expect("rollback requested");
    wait_event(&world, "guestbook", "RolledBack").await;
    world.wait_synced_healthy("guestbook", &first).await;

    // A commit whose PreSync hook fails: the sync fails.
    world.repo.write(
        "guestbook/migrate.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    argocd.argoproj.io/hook: PreSync\n\
         spec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: migrate\n          image: registry.example/unpullable:1\n",
    ).expect("write");
    world.repo.commit("a migration that cannot start").expect("commit");
    wait_event(&world, "guestbook", "SyncFailed").await;
    world.engine.shutdown().await;
}
