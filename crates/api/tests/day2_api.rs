//! Issue 14 item 7 on the REST side: actions answer with a request id to poll, unknown list
//! filters and non-object bodies (`[1]`) are refused, a wrong method gets a JSON body, and
//! terminate-op refuses when nothing runs.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use support::*;

async fn synced_guestbook() -> World {
    let world = World::start(|repo| {
        repo.copy_in(&corpus("argocd-example-apps/guestbook"), "guestbook")
            .expect("copy the guestbook in")
    })
    .await;
    let first = world.repo.git(&["rev-parse", "HEAD"]).expect("the head commit");
    world.create_app("guestbook", guestbook_spec(&world.repo_url())).await;
    world.wait_synced_healthy("guestbook", &first).await;
    world
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn actions_return_the_request_id_and_the_status_field_to_poll() {
    let world = synced_guestbook().await;
    let app = "/api/v1/applications/ferry/guestbook";
    let (status, sync) = world.post(&format!("{app}/sync"), json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sync}");
    let id = sync["requestId"].as_str().expect("a request id").to_owned();
    assert_eq!(sync["poll"], "status.handledRequests.sync");
    let handled = world
        .wait_api(app, "the sync request handled", |a| {
            a["status"]["handledRequests"]["sync"] == id.as_str()
        })
        .await;
    assert_eq!(handled["status"]["handledRequests"]["sync"], id.as_str());

    let (_, refresh) = world.post(&format!("{app}/refresh"), json!({})).await;
    assert_eq!(refresh["poll"], "status.handledRequests.refresh");
    assert!(refresh["requestId"].as_str().is_some_and(|v| v.contains("\"at\"")), "{refresh}");

    let (status, idle) = world.post(&format!("{app}/terminate-op"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{idle}");
    assert!(idle["error"].as_str().is_some_and(|e| e.contains("no operation in progress")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_filters_array_bodies_and_wrong_methods_are_refused_with_a_json_error() {
    let world = synced_guestbook().await;
    let (status, body) = world.get("/api/v1/applications?helth=Degraded").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("\"helth\"")), "{body}");
    assert!(body["hint"].as_str().is_some_and(|h| h.contains("health")), "{body}");
    let (status, body) = world.get("/api/v1/applications?health=Degraded").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"], json!([]), "a filter filters");
    let (_, body) = world.get("/api/v1/applications?health=healthy&namespace=ferry").await;
    assert_eq!(body["items"][0]["name"], "guestbook");

    let (status, body) =
        world.post("/api/v1/applications/ferry/guestbook/rollback", json!([1])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "[1] is not a rollback id: {body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("expected a JSON object")));

    let request = Request::delete("/api/v1/applications/ferry/guestbook/sync")
        .body(Body::empty())
        .expect("request");
    let (status, body) = send(world.router(), request).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(body["error"].as_str().is_some_and(|e| e.contains("method DELETE is not allowed")));
    assert!(body["hint"].as_str().is_some_and(|h| h.contains("openapi")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn approve_takes_the_revision_awaiting_approval_and_refuses_when_none_awaits() {
    let world = World::start(|repo| {
        repo.copy_in(&corpus("argocd-example-apps/guestbook"), "guestbook")
            .expect("copy the guestbook in")
    })
    .await;
    let head = world.repo.git(&["rev-parse", "HEAD"]).expect("the head commit");
    let mut spec = guestbook_spec(&world.repo_url());
    spec["syncPolicy"]["approval"] = json!({"required": true});
    world.create_app("guestbook", spec).await;
    let app = "/api/v1/applications/ferry/guestbook";
    world
        .wait_api(app, "awaiting approval", |a| {
            a["status"]["approval"]["phase"] == "AwaitingApproval"
        })
        .await;
    let (status, body) =
        world.post(&format!("{app}/approve"), json!({"revision": "0000000"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    world
        .wait_api(app, "refusing the wrong revision", |a| {
            a["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter().any(|c| c["type"] == "ApprovalRefused" && c["reason"] == "WrongRevision")
            })
        })
        .await;
    let (status, body) = world.post(&format!("{app}/approve"), json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["poll"], "status.handledRequests.approve");
    let synced = world.wait_synced_healthy("guestbook", &head).await;
    let last = synced["status"]["history"].as_array().and_then(|h| h.last()).cloned();
    assert_eq!(
        last.unwrap_or_default()["approvedBy"],
        "anonymous",
        "the caller of an open loopback API approved, as the access guard names it"
    );
    let (status, body) = world.post(&format!("{app}/approve"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("awaits approval")), "{body}");
}
