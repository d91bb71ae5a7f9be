//! Issue 22: what the web UI asks of the API, against a real engine, the embedded cluster and a
//! git daemon — the list filtered, sorted and paged on the server with counts by state; the
//! resource tree by owner references; the live event stream; delete.

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use support::*;

/// The guestbook twice: `guestbook` (automated) and `manual` (never synced: OutOfSync).
async fn two_guestbooks() -> World {
    let world = World::guestbook(Options::default()).await;
    world.create_app("guestbook", guestbook_spec(&world.repo_url())).await;
    let mut manual = guestbook_spec(&world.repo_url());
    manual["destination"]["namespace"] = json!("manual");
    manual["syncPolicy"] = json!({"syncOptions": ["CreateNamespace=true"]});
    world.create_app("manual", manual).await;
    world.wait_synced_healthy("guestbook", &world.head()).await;
    world
        .wait_api("/api/v1/applications/ferry/manual", "manual compared", |a| {
            a["status"]["sync"]["status"] == "OutOfSync"
        })
        .await;
    world
}

fn names(list: &Value) -> Vec<&str> {
    list["items"].as_array().expect("items").iter().filter_map(|a| a["name"].as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_list_is_filtered_sorted_and_paged_on_the_server_with_counts_by_state() {
    let world = two_guestbooks().await;

    let (status, page) = world.get("/api/v1/applications?sort=-name&limit=1").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(names(&page), ["manual"]);
    assert_eq!(page["total"], 2);
    assert_eq!(page["counts"]["sync"], json!({"OutOfSync": 1, "Synced": 1}));
    assert_eq!(page["facets"]["destNamespace"], json!(["guestbook", "manual"]));
    assert_eq!(page["items"][0]["project"], "default");
    assert_eq!(page["items"][0]["cluster"], "in-cluster");

    let (_, second) = world.get("/api/v1/applications?sort=-name&limit=1&offset=1").await;
    assert_eq!(names(&second), ["guestbook"]);

    let (_, out_of_sync) = world.get("/api/v1/applications?sync=OutOfSync").await;
    assert_eq!(names(&out_of_sync), ["manual"]);
    assert_eq!(out_of_sync["counts"]["sync"]["Synced"], 1, "counts ignore the state filter");

    let (_, searched) = world.get("/api/v1/applications?q=GUEST&destNamespace=guestbook").await;
    assert_eq!(names(&searched), ["guestbook"]);

    let (status, refused) = world.get("/api/v1/applications?sort=colour").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refused["hint"].as_str().is_some_and(|h| h.contains("health")), "{refused}");
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_tree_shows_the_deployment_owning_its_replicaset_owning_its_pods() {
    let world = two_guestbooks().await;
    let tree = world
        .wait_api("/api/v1/applications/ferry/guestbook/tree", "a pod in the tree", |t| {
            t["nodes"].as_array().is_some_and(|n| n.iter().any(|n| n["kind"] == "Pod"))
        })
        .await;
    let nodes = tree["nodes"].as_array().expect("nodes");
    let find = |kind: &str| {
        nodes
            .iter()
            .find(|n| n["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in the tree: {tree}"))
    };
    let (deployment, replicaset, pod) = (find("Deployment"), find("ReplicaSet"), find("Pod"));
    assert_eq!(deployment["managed"], true);
    assert_eq!(deployment["sync"], "Synced");
    assert_eq!(replicaset["managed"], false);
    assert_eq!(replicaset["parents"], json!([deployment["id"]]));
    assert_eq!(pod["parents"], json!([replicaset["id"]]));
    assert!(pod["health"].is_string(), "{pod}");
    assert_eq!(find("Service")["managed"], true);

    let object = |kind: &str, name: &str| {
        format!(
            "/api/v1/applications/ferry/guestbook/object?group=&version=v1&kind={kind}&namespace=guestbook&name={name}"
        )
    };
    let pod_name = pod["name"].as_str().expect("a pod name");
    let (status, live) = world.get(&object("Pod", pod_name)).await;
    assert_eq!(status, StatusCode::OK, "{live}");
    assert_eq!(live["metadata"]["name"], pod_name);
    assert!(live["metadata"].get("managedFields").is_none(), "managedFields are noise here");
    let (status, refused) = world.get(&object("Secret", "anything")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an object outside the tree: {refused}");
    assert!(refused["error"].as_str().is_some_and(|e| e.contains("not an object of")), "{refused}");
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_stream_sends_an_app_that_changed_and_delete_removes_an_app() {
    let world = two_guestbooks().await;
    let response = tower::ServiceExt::oneshot(
        world.router(),
        Request::get("/api/v1/stream/applications").body(Body::empty()).expect("request"),
    )
    .await
    .expect("an answer");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();

    let (status, _) = world.post("/api/v1/applications/ferry/manual/suspend", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let mut seen = String::new();
    let changed = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(frame) = body.frame().await {
            if let Some(data) = frame.expect("a frame").data_ref() {
                seen.push_str(&String::from_utf8_lossy(data));
            }
            if seen.contains("event: apps") && seen.contains("\"suspended\":true") {
                return;
            }
        }
    })
    .await;
    assert!(changed.is_ok(), "no event for the suspended app; the stream sent:\n{seen}");
    let data = seen
        .lines()
        .find(|l| l.starts_with("data:") && l.contains("\"suspended\":true"))
        .expect("a data line");
    let changes: Value = serde_json::from_str(data.trim_start_matches("data:")).expect("JSON");
    assert_eq!(changes["upserts"][0]["name"], "manual", "{changes}");

    // Like every write without a token, a delete must be JSON (CSRF).
    let request = Request::delete("/api/v1/applications/ferry/manual?cascade=false")
        .header("content-type", "application/json")
        .body(Body::empty())
        .expect("request");
    let (status, answer) = send(world.router(), request).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert!(answer["message"].as_str().is_some_and(|m| m.contains("objects stay")), "{answer}");
    world.wait_api("/api/v1/applications", "manual gone", |l| names(l) == ["guestbook"]).await;
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_app_page_reads_desired_manifests_greyed_ignored_fields_and_history_with_changes() {
    let world = World::guestbook(Options::default()).await;
    let mut spec = guestbook_spec(&world.repo_url());
    spec["ignoreDifferences"] = json!([
        {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/revisionHistoryLimit"]}
    ]);
    world.create_app("guestbook", spec).await;
    world.wait_synced_healthy("guestbook", &world.head()).await;
    let app = "/api/v1/applications/ferry/guestbook";

    // The ignored field: not a difference (the app is Synced), yet listed with its rule.
    let diff = world
        .wait_api(&format!("{app}/diff"), "the ignored field listed", |d| {
            d["items"].as_array().is_some_and(|i| !i.is_empty())
        })
        .await;
    let deployment = &diff["items"][0];
    assert_eq!(deployment["changes"], json!([]), "{diff}");
    assert_eq!(deployment["ignored"][0]["path"], ".spec.revisionHistoryLimit", "{diff}");
    assert_eq!(deployment["ignored"][0]["rule"], "jsonPointers /spec/revisionHistoryLimit");
    assert_eq!(deployment["ignored"][0]["desired"], 3, "Git's value, though it is not applied");

    let desired = |kind: &str, name: &str| {
        let group = if kind == "Deployment" { "apps" } else { "" };
        format!("{app}/desired?group={group}&kind={kind}&namespace=guestbook&name={name}")
    };
    let (status, found) = world.get(&desired("Deployment", "guestbook-ui")).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let origin = found["origin"].as_str().unwrap_or_default();
    assert!(origin.starts_with("guestbook/guestbook-ui-deployment.yaml"), "{origin}");
    assert_eq!(found["object"]["spec"]["replicas"], 1);
    assert_eq!(found["object"]["metadata"]["namespace"], "guestbook", "as applied: namespaced");
    let (status, missing) = world.get(&desired("Pod", "anything")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    assert!(missing["hint"].as_str().is_some_and(|h| h.contains("/resources")), "{missing}");

    let (_, history) = world.get(&format!("{app}/history")).await;
    let first = &history["items"][0];
    assert_eq!(first["message"], "initial", "{history}");
    assert!(first["author"].as_str().is_some_and(|a| a.contains('<')), "{history}");
    let created: Vec<String> = first["changes"]["objects"]
        .as_array()
        .map(|o| o.iter().map(|o| format!("{} {} {}", o["action"], o["kind"], o["name"])).collect())
        .unwrap_or_default();
    for want in
        [r#""created" "Deployment" "guestbook-ui""#, r#""created" "Service" "guestbook-ui""#]
    {
        assert!(created.iter().any(|c| c == want), "{want} in {created:?}");
    }
    assert_eq!(first["changes"]["created"].as_u64(), Some(created.len() as u64), "{history}");
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sync_of_selected_objects_with_force_is_requested_as_such_and_a_bad_reference_refused() {
    let world = two_guestbooks().await;
    let sync = "/api/v1/applications/ferry/manual/sync";
    let service = json!({"kind": "Service", "namespace": "manual", "name": "guestbook-ui"});
    let (status, accepted) = world.post(sync, json!({"resources": [service], "force": true})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert!(
        accepted["message"].as_str().is_some_and(|m| m.contains("of 1 selected object with force")),
        "{accepted}"
    );
    let request = accepted["requestId"].as_str().expect("a request id").to_owned();
    let app = world
        .wait_api("/api/v1/applications/ferry/manual", "the selective sync done", |a| {
            a["status"]["handledRequests"]["sync"] == request.as_str()
                && a["status"]["operationState"]["phase"] == "Succeeded"
        })
        .await;
    let op = &app["status"]["operationState"];
    assert_eq!(op["resources"], json!([service]));
    assert_eq!(op["force"], true);
    let kinds: Vec<&str> = op["changeSet"]
        .as_array()
        .map(|c| c.iter().filter_map(|i| i["kind"].as_str()).collect())
        .unwrap_or_default();
    assert!(kinds.contains(&"Service") && !kinds.contains(&"Deployment"), "{op}");
    assert_eq!(app["status"]["sync"]["status"], "OutOfSync", "the Deployment is still missing");

    let (status, refused) = world.post(sync, json!({"resources": [{"kind": "Service"}]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    world.engine.shutdown().await;
}
