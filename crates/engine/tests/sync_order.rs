//! Sync waves and hooks run in order, checked from the change set's timestamps.

mod support;

use serde_json::{Value, json};
use support::*;

fn spec(url: &str, path: &str, ns: &str) -> Value {
    json!({
        "source": {"repoURL": url, "targetRevision": "main", "path": path},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": ns},
        "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}
    })
}

fn at(entry: &Value) -> jiff::Timestamp {
    entry["at"].as_str().and_then(|s| s.parse().ok()).expect("every change set entry has a time")
}

/// (phase, wave, finish time) of every applied or hook entry.
fn steps(app: &Value) -> Vec<(String, i64, jiff::Timestamp, String)> {
    app["status"]["operationState"]["changeSet"]
        .as_array()
        .expect("a change set")
        .iter()
        .filter(|e| e["action"] != "skipped")
        .map(|e| {
            (
                e["phase"].as_str().unwrap_or("").to_owned(),
                e["wave"].as_i64().unwrap_or(0),
                at(e),
                e["name"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn phase_rank(p: &str) -> u8 {
    match p {
        "PreSync" => 0,
        "Sync" => 1,
        "PostSync" => 2,
        _ => 3,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hooks_and_waves_of_the_sync_waves_example_run_in_order() {
    let world =
        World::start(|repo| repo.copy_in(&corpus("argocd-example-apps/sync-waves"), "sync-waves"))
            .await;
    let head = world.repo.git(&["rev-parse", "HEAD"]);
    world.create_app("sync-waves", spec(&world.repo_url(), "sync-waves", "waves")).await;
    let app = world.wait_synced_healthy("sync-waves", &head).await;
    let steps = steps(&app);
    assert!(steps.iter().any(|s| s.0 == "PreSync"), "the PreSync hook ran: {steps:?}");
    assert!(steps.iter().any(|s| s.0 == "PostSync"), "the PostSync hook ran: {steps:?}");
    for a in &steps {
        for b in &steps {
            let earlier = (phase_rank(&a.0), a.1) < (phase_rank(&b.0), b.1);
            if earlier {
                assert!(a.2 <= b.2, "{a:?} should have finished before {b:?}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pre_and_post_sync_hooks_of_a_kustomize_app_run_around_the_sync() {
    let world = World::start(|repo| {
        repo.copy_in(&corpus("argocd-example-apps/pre-post-sync"), "pre-post-sync")
    })
    .await;
    let head = world.repo.git(&["rev-parse", "HEAD"]);
    world.create_app("pre-post", spec(&world.repo_url(), "pre-post-sync", "prepost")).await;
    let app = world.wait_synced_healthy("pre-post", &head).await;
    let steps = steps(&app);
    let pre = steps.iter().find(|s| s.0 == "PreSync").expect("a PreSync hook ran");
    let post = steps.iter().find(|s| s.0 == "PostSync").expect("a PostSync hook ran");
    for s in steps.iter().filter(|s| s.0 == "Sync") {
        assert!(pre.2 <= s.2 && s.2 <= post.2, "{s:?} ran between {pre:?} and {post:?}");
    }
    // Hook Jobs are not part of the app's tracked objects.
    let inventory = app["status"]["inventory"].as_array().cloned().unwrap_or_default();
    assert!(
        inventory.iter().all(|e| e["kind"] != "Job"),
        "hooks stay out of the inventory: {inventory:?}"
    );
}
