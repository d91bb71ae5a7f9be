//! Safety: bad input and outages never delete anything; other managers' fields are not drift.

mod support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::*;

async fn guestbook_world() -> (World, String) {
    let world = World::guestbook().await;
    let head = world.head();
    world
        .create_app("guestbook", automated_spec(&world.repo_url(), "guestbook", "guestbook"))
        .await;
    world.wait_synced_healthy("guestbook", &head).await;
    (world, head)
}

async fn both_objects_exist(world: &World) {
    let d: Api<Deployment> = Api::namespaced(world.client.clone(), "guestbook");
    let s: Api<Service> = Api::namespaced(world.client.clone(), "guestbook");
    assert!(
        d.get_opt("guestbook-ui").await.expect("get").is_some(),
        "the Deployment is still there"
    );
    assert!(s.get_opt("guestbook-ui").await.expect("get").is_some(), "the Service is still there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_with_invalid_yaml_leaves_every_object_in_place_and_names_the_file() {
    let (world, _) = guestbook_world().await;
    world
        .repo
        .write(
            "guestbook/guestbook-ui-svc.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n",
        )
        .expect("write");
    let bad = world.repo.commit("broken yaml").expect("commit");
    let app = world
        .wait_for("guestbook", "reporting the render error", |a| {
            a["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter().any(|c| c["type"] == "RenderReady" && c["status"] == "False")
            })
        })
        .await;
    let message = app["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "RenderReady"))
        .map(|c| c["message"].as_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    assert!(message.contains("guestbook-ui-svc.yaml"), "the condition names the file: {message}");
    let short = ferry_source::short_revision(&bad);
    assert!(message.contains(short), "the condition names the revision: {message}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    both_objects_exist(&world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_object_too_large_for_the_api_server_stops_the_commit_and_its_deletions() {
    let (world, _) = guestbook_world().await;
    // One commit adds a 2 MiB ConfigMap and deletes the Service: applying would fail on every
    // try, so nothing of it may happen, the Service's prune included.
    let blob = "z".repeat(2 * 1024 * 1024);
    world
        .repo
        .write(
            "guestbook/huge.yaml",
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: huge\ndata:\n  blob: {blob}\n"
            ),
        )
        .expect("write");
    std::fs::remove_file(world.repo.dir.join("guestbook/guestbook-ui-svc.yaml")).expect("rm");
    world.repo.commit("huge ConfigMap, no Service").expect("commit");
    let app = world
        .wait_for("guestbook", "reporting the oversized object", |a| {
            a["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter().any(|c| c["type"] == "RenderReady" && c["status"] == "False")
            })
        })
        .await;
    let text = app["status"]["conditions"].to_string();
    assert!(text.contains("ConfigMap huge") && text.contains("huge.yaml"), "{text}");
    assert!(!text.contains("zzzz"), "{text}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    both_objects_exist(&world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_git_server_that_is_down_deletes_nothing() {
    let (mut world, _) = guestbook_world().await;
    let port = world.daemon.port;
    world.daemon.stop();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the git daemon is down");
    world.engine.refresh("ferry", "guestbook");
    let app = world
        .wait_for("guestbook", "reporting the fetch error", |a| {
            a["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter().any(|c| c["type"] == "SourceReady" && c["status"] == "False")
            })
        })
        .await;
    assert!(
        app["status"]["inventory"].as_array().is_some_and(|i| i.len() == 2),
        "the inventory is kept"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    both_objects_exist(&world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_field_another_manager_owns_is_not_drift() {
    let world = World::start(|repo| {
        repo.copy_in(&corpus("argocd-example-apps/guestbook"), "guestbook").expect("copy_in");
        // Like an app that leaves replicas to an HPA: the manifest does not declare them.
        let path = repo.dir.join("guestbook/guestbook-ui-deployment.yaml");
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text.replace("  replicas: 1\n", "")).expect("write");
    })
    .await;
    let head = world.head();
    world
        .create_app("guestbook", automated_spec(&world.repo_url(), "guestbook", "guestbook"))
        .await;
    world.wait_synced_healthy("guestbook", &head).await;
    let d: Api<Deployment> = Api::namespaced(world.client.clone(), "guestbook");
    let hpa_scale = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "guestbook-ui"}, "spec": {"replicas": 4}});
    d.patch(
        "guestbook-ui",
        &PatchParams::apply("horizontal-pod-autoscaler").force(),
        &Patch::Apply(&hpa_scale),
    )
    .await
    .expect("scale");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let app = world.wait_synced_healthy("guestbook", &head).await;
    assert_eq!(app["status"]["sync"]["status"], "Synced");
    let live = d.get("guestbook-ui").await.expect("get");
    assert_eq!(
        live.spec.and_then(|s| s.replicas),
        Some(4),
        "Ferry left the autoscaler's replicas alone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unpullable_image_goes_degraded_and_automated_rollback_returns_to_the_healthy_revision()
{
    let world = World::guestbook().await;
    let good = world.head();
    let mut s = automated_spec(&world.repo_url(), "guestbook", "guestbook");
    s["syncPolicy"]["automated"]["rollback"] = json!({"enabled": true});
    world.create_app("guestbook", s).await;
    world.wait_synced_healthy("guestbook", &good).await;
    // Health settles before the next commit, so the good revision is known healthy.
    world
        .wait_for("guestbook", "marking the revision healthy", |a| {
            a["status"]["history"][0]["healthy"] == true
        })
        .await;
    let path = world.repo.dir.join("guestbook/guestbook-ui-deployment.yaml");
    let text = std::fs::read_to_string(&path).expect("read");
    // The embedded cluster keeps images tagged `unpullable` in ImagePullBackOff; a short progress
    // deadline makes the Deployment report Degraded quickly.
    let broken = text.replace("gb-frontend:v5", "gb-frontend:unpullable").replace(
        "  revisionHistoryLimit: 3\n",
        "  revisionHistoryLimit: 3\n  progressDeadlineSeconds: 2\n",
    );
    std::fs::write(&path, broken).expect("write");
    let bad = world.repo.commit("a broken image").expect("commit");
    let app = world
        .wait_for("guestbook", "rolled back", |a| {
            a["status"]["pinned"]["revision"] == good.as_str()
        })
        .await;
    assert!(
        app["status"]["pinned"]["reason"].as_str().unwrap_or("").contains(&bad[..7]),
        "the pin says which revision failed: {}",
        app["status"]["pinned"]
    );
    world.wait_synced_healthy("guestbook", &good).await;
    let d: Api<Deployment> = Api::namespaced(world.client.clone(), "guestbook");
    let image = d
        .get("guestbook-ui")
        .await
        .expect("get")
        .spec
        .and_then(|s| s.template.spec)
        .map(|p| p.containers[0].image.clone());
    assert_eq!(image.flatten().as_deref(), Some("gcr.io/google-samples/gb-frontend:v5"));
}
