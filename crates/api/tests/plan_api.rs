//! `POST /api/v1/plan` (issue 21): the engine plans a branch against the live cluster with its
//! own repository cache and connections; bad requests are refused with a hint.

mod support;

use axum::http::StatusCode;
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_engine_plans_a_branch_that_scales_the_guestbook() {
    let world = World::start(|repo| {
        repo.copy_in(&corpus("argocd-example-apps/guestbook"), "guestbook")
            .expect("copy the guestbook in")
    })
    .await;
    let first = world.repo.git(&["rev-parse", "HEAD"]).expect("the head commit");
    world.create_app("guestbook", guestbook_spec(&world.repo_url())).await;
    world.wait_synced_healthy("guestbook", &first).await;
    world.repo.git(&["checkout", "-q", "-b", "more"]).expect("the step works");
    world
        .repo
        .edit("guestbook/guestbook-ui-deployment.yaml", "replicas: 1", "replicas: 4")
        .expect("the step works");
    world.repo.commit("more replicas").expect("the step works");
    world.repo.git(&["checkout", "-q", "main"]).expect("the step works");

    let body = json!({"repoURL": world.repo_url(), "base": "main", "head": "more"});
    let (status, plan) = world.post("/api/v1/plan", body).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["exitCode"], 1, "{plan}");
    assert_eq!(plan["apps"][0]["app"], "ferry/guestbook");
    assert_eq!(plan["apps"][0]["update"][0]["object"], "Deployment guestbook/guestbook-ui");
    assert!(plan["markdown"].as_str().is_some_and(|m| m.contains("| update |")), "{plan}");

    let (status, refused) = world.post("/api/v1/plan", json!({"repoURL": world.repo_url()})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused["hint"].as_str().is_some_and(|h| h.contains("\"head\"")), "{refused}");

    let body = json!({"repoURL": world.repo_url(), "base": "main", "head": "gone"});
    let (status, missing) = world.post("/api/v1/plan", body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{missing}");
    assert!(missing["error"].as_str().is_some_and(|e| e.contains("\"gone\"")), "{missing}");
}
