//! The read endpoints and the actions, against a real engine, the embedded cluster and a git daemon.

mod support;

use axum::http::StatusCode;
use ferry_engine::Application;
use ferry_engine::application::{ANNOTATION_ROLLBACK, ANNOTATION_SYNC_REQUEST, RollbackRequest};
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use support::*;

async fn synced_guestbook() -> (World, String) {
    let world = World::guestbook(Options::default()).await;
    let first = world.head();
    world.create_app("guestbook", guestbook_spec(&world.repo_url())).await;
    world.wait_synced_healthy("guestbook", &first).await;
    (world, first)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_synced_app_is_listed_and_read_with_its_resources_history_and_events() {
    let (world, first) = synced_guestbook().await;

    let (status, list) = world.get("/api/v1/applications").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{list}");
    let app = &items[0];
    assert_eq!(app["name"], "guestbook");
    assert_eq!(app["namespace"], "ferry");
    assert_eq!(app["sync"]["status"], "Synced");
    assert_eq!(app["sync"]["revision"], first.as_str());
    assert_eq!(app["health"]["status"], "Healthy");
    assert_eq!(app["source"]["repoURL"], world.repo_url().as_str());
    assert_eq!(app["source"]["path"], "guestbook");
    assert_eq!(app["autoSync"], true);
    assert_eq!(app["lastOperation"]["phase"], "Succeeded");

    let (status, object) = world.get("/api/v1/applications/ferry/guestbook").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(object["kind"], "Application");
    assert_eq!(object["spec"]["source"]["targetRevision"], "main");
    assert_eq!(object["status"]["sync"]["revision"], first.as_str());
    assert!(object["metadata"].get("managedFields").is_none(), "managedFields are noise here");

    let (status, resources) = world.get("/api/v1/applications/ferry/guestbook/resources").await;
    assert_eq!(status, StatusCode::OK);
    let deployment = resources["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["kind"] == "Deployment")
        .unwrap_or_else(|| panic!("the Deployment is a resource: {resources}"));
    assert_eq!(deployment["name"], "guestbook-ui");
    assert_eq!(deployment["group"], "apps");
    assert_eq!(deployment["sync"], "Synced");
    assert_eq!(deployment["health"]["status"], "Healthy");
    assert_eq!(deployment["drift"], json!([]));

    let (status, diff) = world.get("/api/v1/applications/ferry/guestbook/diff").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(diff["items"], json!([]), "a synced app has no differences");

    let (status, history) = world.get("/api/v1/applications/ferry/guestbook/history").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(history["items"][0]["revision"], first.as_str());
    assert_eq!(history["items"][0]["current"], true);

    // An Event about the app, written the way kubectl and older controllers write them.
    let events: Api<Event> = Api::namespaced(world.client.clone(), "ferry");
    let event: Event = serde_json::from_value(json!({
        "metadata": {"name": "guestbook.test", "namespace": "ferry"},
        "involvedObject": {"apiVersion": "ferry.dev/v1alpha1", "kind": "Application", "name": "guestbook", "namespace": "ferry"},
        "reason": "Synced", "message": "synced to main", "type": "Normal", "count": 1,
        "lastTimestamp": "2026-01-01T00:00:00Z",
        "source": {"component": "test"}
    }))
    .expect("an Event");
    events.create(&PostParams::default(), &event).await.expect("event created");
    let other: Event = serde_json::from_value(json!({
        "metadata": {"name": "other.test", "namespace": "ferry"},
        "involvedObject": {"kind": "Application", "name": "other", "namespace": "ferry"},
        "reason": "Other", "message": "about another app", "type": "Warning"
    }))
    .expect("an Event");
    events.create(&PostParams::default(), &other).await.expect("event created");
    let (status, listed) = world.get("/api/v1/applications/ferry/guestbook/events").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let reasons: Vec<&str> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert!(reasons.contains(&"Synced"), "{listed}");
    assert!(!reasons.contains(&"Other"), "another app's event leaked: {listed}");

    // The engine's per-app metrics, with their labels, are served and well formed.
    let request =
        axum::http::Request::get("/metrics").body(axum::body::Body::empty()).expect("req");
    let (status, metrics) = send_text(world.router(), request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        metrics.contains(
            r#"ferry_app_health_status{namespace="ferry",name="guestbook",status="Healthy"} 1"#
        ),
        "{metrics}"
    );
    assert_promtool_accepts(&metrics);
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unknown_app_is_a_404_with_a_hint_on_every_endpoint() {
    let (world, _) = synced_guestbook().await;
    for suffix in ["", "/resources", "/diff", "/history", "/events"] {
        let (status, body) = world.get(&format!("/api/v1/applications/ferry/nope{suffix}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET {suffix}: {body}");
        assert_eq!(body["error"], "application ferry/nope not found");
        assert!(
            body["hint"].as_str().is_some_and(|h| h.contains("/api/v1/applications")),
            "{body}"
        );
    }
    for action in ["sync", "rollback", "suspend", "resume", "refresh", "unpin"] {
        let (status, body) =
            world.post(&format!("/api/v1/applications/ferry/nope/{action}"), json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "POST {action}: {body}");
    }
    let (status, body) = world.get("/api/v1/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().is_some_and(|e| e.contains("/api/v1/nothing-here")), "{body}");
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sync_request_sets_the_annotation_as_ferry_api_and_the_engine_handles_it() {
    let (world, _) = synced_guestbook().await;
    let apps: Api<Application> = Api::namespaced(world.client.clone(), "ferry");

    let (status, body) = world
        .post("/api/v1/applications/ferry/guestbook/sync", json!({"prune": true, "dryRun": false}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["action"], "sync");

    let app = apps.get("guestbook").await.expect("app");
    let annotations = app.metadata.annotations.clone().unwrap_or_default();
    let raw = annotations.get(ANNOTATION_SYNC_REQUEST).expect("the sync annotation is set");
    let request: Value = serde_json::from_str(raw).expect("the annotation is JSON");
    assert_eq!(request["prune"], true);
    assert_eq!(request["dryRun"], false);
    assert!(
        request["at"].as_str().is_some_and(|at| at.parse::<jiff::Timestamp>().is_ok()),
        "{raw}"
    );
    let managers: Vec<String> = app
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(managers.iter().any(|m| m == "ferry-api"), "managers: {managers:?}");

    // The engine acts on the request and records that it did.
    let wanted = raw.clone();
    world
        .wait_api("/api/v1/applications/ferry/guestbook", "the sync request handled", move |a| {
            a["status"]["handledRequests"]["sync"] == wanted.as_str()
        })
        .await;

    // A body that is not the documented JSON is refused, naming the problem.
    let (status, body) =
        world.post("/api/v1/applications/ferry/guestbook/sync", json!({"prnue": true})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("prnue")), "{body}");
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn suspend_resume_and_rollback_write_the_spec_and_annotation_the_engine_reads() {
    let (world, first) = synced_guestbook().await;
    let apps: Api<Application> = Api::namespaced(world.client.clone(), "ferry");

    let (status, body) =
        world.post("/api/v1/applications/ferry/guestbook/suspend", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(apps.get("guestbook").await.expect("app").spec.suspend);
    world
        .wait_api("/api/v1/applications", "the list to show the app suspended", |l| {
            l["items"][0]["suspended"] == true
        })
        .await;
    let (status, _) = world.post("/api/v1/applications/ferry/guestbook/resume", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(!apps.get("guestbook").await.expect("app").spec.suspend);

    // Rolling back to something the history does not hold is refused up front.
    let (status, body) =
        world.post("/api/v1/applications/ferry/guestbook/rollback", json!({"id": 99})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["hint"].as_str().is_some_and(|h| h.contains("/history")), "{body}");
    let (status, _) = world.post("/api/v1/applications/ferry/guestbook/rollback", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, history) = world.get("/api/v1/applications/ferry/guestbook/history").await;
    let id = history["items"][0]["id"].as_i64().expect("an id");
    let (status, body) =
        world.post("/api/v1/applications/ferry/guestbook/rollback", json!({"id": id})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let app = apps.get("guestbook").await.expect("app");
    let request = app.metadata.annotations.unwrap_or_default().get(ANNOTATION_ROLLBACK).cloned();
    assert_eq!(
        request.as_deref().map(|r| RollbackRequest::parse(r).to),
        Some(id.to_string()),
        "the annotation names the history entry: {request:?}"
    );
    world
        .wait_api("/api/v1/applications", "the app pinned by the rollback", |l| {
            l["items"][0]["pinned"] == first.as_str()
        })
        .await;

    let (status, body) =
        world.post("/api/v1/applications/ferry/guestbook/refresh", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_drift_shows_in_the_diff_and_resources_with_who_changed_it_and_secrets_masked() {
    let world = World::start(|repo| {
        repo.copy_in(&corpus("argocd-example-apps/guestbook"), "guestbook").expect("copy_in");
        std::fs::write(
            repo.dir.join("guestbook/secret.yaml"),
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: from-git\n",
        )
        .expect("write the Secret");
    })
    .await;
    let first = world.head();
    // Automated sync without self-heal: drift is reported, not undone.
    let mut spec = guestbook_spec(&world.repo_url());
    spec["syncPolicy"]["automated"]["selfHeal"] = json!(false);
    world.create_app("guestbook", spec).await;
    world.wait_synced_healthy("guestbook", &first).await;

    let manager =
        kube::api::PatchParams { field_manager: Some("kubectl".into()), ..Default::default() };
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(world.client.clone(), "guestbook");
    deployments
        .patch("guestbook-ui", &manager, &kube::api::Patch::Merge(json!({"spec": {"replicas": 5}})))
        .await
        .expect("scale");
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(world.client.clone(), "guestbook");
    secrets
        .patch(
            "db",
            &manager,
            &kube::api::Patch::Merge(json!({"stringData": {"password": "typed-by-hand"}})),
        )
        .await
        .expect("edit the Secret");

    let diff = world
        .wait_api("/api/v1/applications/ferry/guestbook/diff", "both drifts in the diff", |d| {
            let kinds: Vec<&str> = d["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|o| o["kind"].as_str())
                .collect();
            kinds.contains(&"Deployment") && kinds.contains(&"Secret")
        })
        .await;
    let items = diff["items"].as_array().expect("items");
    let deployment = items.iter().find(|o| o["kind"] == "Deployment").expect("the Deployment");
    let replicas = deployment["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["path"].as_str().is_some_and(|p| p.contains("replicas")))
        .unwrap_or_else(|| panic!("a replicas change: {deployment}"));
    assert_eq!(replicas["live"], 5);
    assert_eq!(replicas["desired"], 1);
    assert_eq!(replicas["changedBy"]["manager"], "kubectl", "{replicas}");
    let text = diff.to_string();
    for plain in ["typed-by-hand", "from-git", "dHlwZWQtYnktaGFuZA", "ZnJvbS1naXQ"] {
        assert!(!text.contains(plain), "a Secret value leaked into the diff ({plain}): {text}");
    }

    let resources = world
        .wait_api(
            "/api/v1/applications/ferry/guestbook/resources",
            "the Deployment OutOfSync",
            |r| {
                r["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|o| o["kind"] == "Deployment" && o["sync"] == "OutOfSync")
            },
        )
        .await;
    let deployment = resources["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .expect("the Deployment");
    assert!(
        deployment["drift"]
            .as_array()
            .is_some_and(|d| d.iter().any(|l| l.as_str().is_some_and(|l| l.contains("replicas")))),
        "{deployment}"
    );
    assert!(!resources.to_string().contains("typed-by-hand"), "{resources}");
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_application_set_is_listed_and_read_with_its_generated_apps() {
    let world = World::guestbook(Options::default()).await;
    world.create_namespace("ferry").await;
    let set: ferry_engine::appset::ApplicationSet = serde_json::from_value(json!({
        "apiVersion": "ferry.dev/v1alpha1", "kind": "ApplicationSet",
        "metadata": {"name": "books", "namespace": "ferry"},
        "spec": {"generators": [{"list": {"elements": [{"env": "dev"}]}}],
                 "template": {"metadata": {"name": "book-{{env}}"},
                              "spec": guestbook_spec(&world.repo_url())}}
    }))
    .expect("a set");
    let api: Api<ferry_engine::appset::ApplicationSet> =
        Api::namespaced(world.client.clone(), "ferry");
    api.create(&PostParams::default(), &set).await.expect("set created");
    let listed = world
        .wait_api("/api/v1/applicationsets", "the set with its app", |l| {
            l["items"][0]["status"]["resources"][0]["name"] == "book-dev"
        })
        .await;
    assert_eq!(listed["items"][0]["kind"], "ApplicationSet");
    let (status, one) = world.get("/api/v1/applicationsets/ferry/books").await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["spec"]["generators"][0]["list"]["elements"][0]["env"], "dev");
    let (status, missing) = world.get("/api/v1/applicationsets/ferry/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    assert!(
        missing["hint"].as_str().unwrap_or_default().contains("/api/v1/applicationsets"),
        "{missing}"
    );
}
