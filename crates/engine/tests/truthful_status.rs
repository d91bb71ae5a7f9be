//! Status tells the truth: objects two apps declare are neither fought over nor deleted by one
//! app's cascade, drift is healed from the last good render while Git is down or broken, a
//! refresh reports what the target resolves to now, and a dry run says what a sync would change.

mod support;

use std::time::Duration;

use ferry_engine::application::{ANNOTATION_REFRESH, FINALIZER_CASCADE, RefreshRequest};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};
use support::*;

fn config_map(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: demo\ndata:\n  value: \"{value}\"\n"
    )
}

fn condition<'a>(app: &'a Value, type_: &str) -> Option<&'a Value> {
    app["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

fn has_condition(app: &Value, type_: &str, status: &str) -> bool {
    condition(app, type_).is_some_and(|c| c["status"] == status)
}

async fn config_map_exists(world: &World, name: &str) -> bool {
    let api: Api<ConfigMap> = Api::namespaced(world.client.clone(), "demo");
    api.get_opt(name).await.expect("get").is_some()
}

async fn delete_config_map(world: &World, name: &str) {
    let api: Api<ConfigMap> = Api::namespaced(world.client.clone(), "demo");
    api.delete(name, &DeleteParams::default()).await.expect("deleted behind Ferry's back");
}

async fn wait_recreated(world: &World, name: &str) {
    for _ in 0..300 {
        if config_map_exists(world, name).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} was not recreated from Git within 30 s");
}

async fn one_app_world() -> (World, String) {
    let world = World::start(|repo| {
        repo.write("app/cm.yaml", &config_map("settings", "1")).expect("write the file")
    })
    .await;
    let head = world.head();
    world.create_app("app", automated_spec(&world.repo_url(), "app", "demo")).await;
    world.wait_synced_healthy("app", &head).await;
    (world, head)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_object_two_apps_declare_is_reported_shared_and_survives_the_cascade_delete_of_one() {
    let world = World::start(|repo| {
        repo.write("a/shared.yaml", &config_map("shared", "same")).expect("write the file");
        repo.write("b/shared.yaml", &config_map("shared", "same")).expect("write the file");
        repo.write("b/own.yaml", &config_map("b-own", "b")).expect("write the file");
    })
    .await;
    let head = world.head();
    let apps = world.create_app("a", automated_spec(&world.repo_url(), "a", "demo")).await;
    world.wait_synced_healthy("a", &head).await;
    let patch = json!({"metadata": {"finalizers": [FINALIZER_CASCADE]}});
    apps.patch("a", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("finalizer");
    world.create_app("b", automated_spec(&world.repo_url(), "b", "demo")).await;
    let b = world.wait_synced_healthy("b", &head).await;
    let shared = condition(&b, "SharedResource").expect("b says the object is shared");
    assert!(shared["message"].as_str().unwrap_or("").contains("ferry/a"), "{shared}");
    world
        .wait_for("a", "reporting the object b holds as shared", |a| {
            has_condition(a, "SharedResource", "True")
                && a["status"]["sync"]["status"] == "OutOfSync"
        })
        .await;

    apps.delete("a", &DeleteParams::default()).await.expect("a deleted with cascade");
    for _ in 0..300 {
        if apps.get_opt("a").await.expect("get").is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(apps.get_opt("a").await.expect("get").is_none(), "a's finalizer was removed");
    assert!(config_map_exists(&world, "shared").await, "the cascade left what b declares");
    world
        .wait_for("b", "Synced with no other app sharing its objects", |b| {
            b["status"]["sync"]["status"] == "Synced" && condition(b, "SharedResource").is_none()
        })
        .await;
    delete_config_map(&world, "shared").await;
    wait_recreated(&world, "shared").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drift_is_healed_from_the_last_good_render_while_the_git_server_is_down() {
    let (mut world, head) = one_app_world().await;
    world.daemon.stop();
    world
        .wait_for("app", "reporting that Git is unreachable", |a| {
            has_condition(a, "SourceReady", "False")
        })
        .await;
    delete_config_map(&world, "settings").await;
    wait_recreated(&world, "settings").await;
    let app = world
        .wait_for("app", "Unknown, compared with the last good render", |a| {
            a["status"]["sync"]["status"] == "Unknown"
                && condition(a, "Synced").is_some_and(|c| c["reason"] == "LastGoodRender")
        })
        .await;
    assert_eq!(app["status"]["sync"]["revision"], head.as_str());
    let synced = condition(&app, "Synced").expect("a Synced condition");
    assert!(synced["message"].as_str().unwrap_or("").contains("cannot fetch"), "{synced}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drift_is_healed_from_the_last_good_render_after_a_commit_that_does_not_render() {
    let (world, _) = one_app_world().await;
    world.repo.write("app/broken.yaml", "kind: [unclosed\n").expect("write the file");
    world.repo.commit("broken").expect("commit");
    world
        .wait_for("app", "reporting the render error", |a| {
            has_condition(a, "RenderReady", "False") && a["status"]["sync"]["status"] == "Unknown"
        })
        .await;
    delete_config_map(&world, "settings").await;
    wait_recreated(&world, "settings").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_reports_the_comparison_with_what_the_target_resolves_to_now() {
    let (world, _) = one_app_world().await;
    world.repo.write("app/cm.yaml", &config_map("settings", "2")).expect("write the file");
    let new = world.repo.commit("value 2").expect("commit");
    let value = RefreshRequest::new(false).annotation_value();
    let patch = json!({"metadata": {"annotations": {ANNOTATION_REFRESH: value}}});
    let apps: Api<ferry_engine::Application> = Api::namespaced(world.client.clone(), "ferry");
    apps.patch("app", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("refresh");
    let app = world
        .wait_for("app", "done with the refresh", |a| {
            a["status"]["handledRequests"]["refresh"] == value.as_str()
        })
        .await;
    assert_eq!(
        app["status"]["sync"]["revision"],
        new.as_str(),
        "the status is not older than the request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dry_run_reports_a_drifted_object_as_configured() {
    let world = World::start(|repo| {
        repo.write("app/cm.yaml", &config_map("settings", "1")).expect("write the file")
    })
    .await;
    let head = world.head();
    let manual = json!({
        "source": {"repoURL": world.repo_url(), "targetRevision": "main", "path": "app"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "demo"},
        "syncPolicy": {"syncOptions": ["CreateNamespace=true"]}
    });
    world.create_app("app", manual).await;
    world.request_sync("app").await;
    world.wait_synced_healthy("app", &head).await;
    let cms: Api<ConfigMap> = Api::namespaced(world.client.clone(), "demo");
    let drift = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "demo"}, "data": {"value": "changed"}});
    cms.patch("settings", &PatchParams::apply("kubectl").force(), &Patch::Apply(&drift))
        .await
        .expect("drift");
    world.wait_for("app", "OutOfSync", |a| a["status"]["sync"]["status"] == "OutOfSync").await;
    let apps: Api<ferry_engine::Application> = Api::namespaced(world.client.clone(), "ferry");
    let request = json!({"at": jiff::Timestamp::now().to_string(), "dryRun": true});
    let patch = json!({"metadata": {"annotations": {
        ferry_engine::application::ANNOTATION_SYNC_REQUEST: request.to_string()}}});
    apps.patch("app", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("dry run");
    let app = world
        .wait_for("app", "done with the dry run", |a| {
            a["status"]["operationState"]["dryRun"] == true
        })
        .await;
    let items =
        app["status"]["operationState"]["changeSet"].as_array().cloned().unwrap_or_default();
    let cm =
        items.iter().find(|i| i["name"] == "settings").expect("the ConfigMap is in the change set");
    assert_eq!(cm["action"], "configured", "{cm}");
    let live = cms.get("settings").await.expect("get");
    assert_eq!(live.data.unwrap_or_default()["value"], "changed", "a dry run changes nothing");
}
