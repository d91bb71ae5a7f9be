//! Rollback and unpin requests are annotations acted on once per distinct value: repeating a
//! value does nothing, a fresh one (a new `at`) works again, even for the same entry.

mod support;

use ferry_engine::application::{ANNOTATION_ROLLBACK, ANNOTATION_UNPIN, RollbackRequest};
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use support::*;

async fn annotate(world: &World, key: &str, value: &str) {
    let apps: Api<ferry_engine::Application> = Api::namespaced(world.client.clone(), "ferry");
    let patch = json!({"metadata": {"annotations": {key: value}}});
    apps.patch("guestbook", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("annotation written");
}

fn pinned_to(app: &Value) -> &str {
    app["status"]["pinned"]["revision"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rollback_to_the_same_entry_works_again_with_a_fresh_request_but_not_with_a_repeated_one()
{
    let world = World::guestbook().await;
    let first = world.head();
    world
        .create_app("guestbook", automated_spec(&world.repo_url(), "guestbook", "guestbook"))
        .await;
    world.wait_synced_healthy("guestbook", &first).await;
    world
        .repo
        .edit("guestbook/guestbook-ui-deployment.yaml", "replicas: 1", "replicas: 2")
        .expect("edit");
    let second = world.repo.commit("two replicas").expect("commit");
    world.wait_synced_healthy("guestbook", &second).await;

    // Roll back, unpin, then ask for the same rollback again with a fresh stamp.
    let request = RollbackRequest::new(first.clone()).annotation_value();
    annotate(&world, ANNOTATION_ROLLBACK, &request).await;
    let f = first.clone();
    world.wait_for("guestbook", "pinned to the first revision", move |a| pinned_to(a) == f).await;
    world.wait_synced_healthy("guestbook", &first).await;
    annotate(&world, ANNOTATION_UNPIN, &jiff::Timestamp::now().to_string()).await;
    world.wait_for("guestbook", "unpinned", |a| a["status"]["pinned"].is_null()).await;
    world.wait_synced_healthy("guestbook", &second).await;

    // The same value again is the same request, already handled: nothing happens.
    annotate(&world, ANNOTATION_ROLLBACK, &format!("{request} ")).await;
    annotate(&world, ANNOTATION_ROLLBACK, &request).await;
    world.engine.refresh("ferry", "guestbook");
    let app = world.wait_synced_healthy("guestbook", &second).await;
    assert!(app["status"]["pinned"].is_null(), "a repeated request does not roll back again");

    let again = RollbackRequest::new(first.clone()).annotation_value();
    assert_ne!(again, request);
    annotate(&world, ANNOTATION_ROLLBACK, &again).await;
    let f = first.clone();
    world.wait_for("guestbook", "pinned again", move |a| pinned_to(a) == f).await;
    world.wait_synced_healthy("guestbook", &first).await;
    world.engine.shutdown().await;
}
