//! `ferry notify test` and `ferry notify log` against the embedded cluster, the engine behind
//! Ferry's API on a real port, and a real HTTP server on loopback as the sink.

mod support;

use std::time::Duration;

use ferry_testkit::recorder::Recorder;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::*;

const CONFIG_MAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n";

/// The world's engine behind Ferry's API on a free loopback port.
async fn serve_api(world: &mut World) -> (String, tokio::task::JoinHandle<()>) {
    let registry = std::mem::take(&mut world.registry);
    let state = ferry_api::ApiState::builder(world.engine.clone(), registry).build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let task = tokio::spawn(async move {
        let _ = ferry_api::serve(listener, state, std::future::pending::<()>()).await;
    });
    (url, task)
}

async fn configure(world: &World, sink: &str) {
    world.create_namespace("ferry").await;
    let params = PatchParams::apply("test").force();
    let maps: Api<ConfigMap> = Api::namespaced(world.client.clone(), "ferry");
    let map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ferry-notifications"},
        "data": {"service.webhook.ops": format!("url: {sink}/ops\nheaders:\n- name: Authorization\n  value: Bearer $ops-token\n")}});
    maps.patch("ferry-notifications", &params, &Patch::Apply(&map))
        .await
        .expect("ConfigMap written");
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), "ferry");
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ferry-notifications-secret"},
        "stringData": {"ops-token": "tok-never-printed"}});
    secrets
        .patch("ferry-notifications-secret", &params, &Patch::Apply(&secret))
        .await
        .expect("Secret written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn notify_test_sends_to_the_sink_and_notify_log_shows_the_engines_deliveries() {
    let mut world =
        World::start(|repo| repo.write("app/cm.yaml", CONFIG_MAP).expect("write")).await;
    let (api, server) = serve_api(&mut world).await;
    let sink = Recorder::start().await.expect("a recording server");
    configure(&world, &sink.url).await;
    let apps: Api<ferry_engine::Application> = Api::namespaced(world.client.clone(), "ferry");
    let app = serde_json::from_value(json!({
        "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
        "metadata": {"name": "settings", "namespace": "ferry",
                     "annotations": {"notifications.ferry.dev/subscribe.on-deployed.ops": ""}},
        "spec": automated_spec(&world.repo_url(), "app", "settings"),
    }))
    .expect("a valid Application");
    apps.create(&PostParams::default(), &app).await.expect("Application created");
    world.wait_synced_healthy("settings", &world.head()).await;
    sink.wait_for(1, Duration::from_secs(30)).await;

    let run = world.ferry(&["notify", "test", "ops", "--app", "settings"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("delivered (200) to ops (webhook) for on-deployed"), "{run:?}");
    let requests = sink.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(requests.len(), 2, "the engine's notification and the test's");
    assert!(requests.iter().all(|r| r.header("authorization") == Some("Bearer tok-never-printed")));

    let run = world.ferry(&["notify", "test", "nowhere"]).await;
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("no service \"nowhere\""), "{run:?}");

    let home = world.tmp.path().join("home");
    let run = ferry_with(&home, &[], &["notify", "log", "--server", &api, "-o", "json"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let items = run.json();
    assert_eq!(items[0]["app"], "ferry/settings", "{items}");
    assert_eq!(items[0]["trigger"], "on-deployed");
    assert_eq!(items[0]["outcome"], "delivered");
    assert!(!run.stdout.contains("tok-never-printed"));
    server.abort();
}
