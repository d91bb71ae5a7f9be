//! Notifications end to end: the engine syncs commits served by a real `git daemon` into the
//! embedded cluster, and the subscribed sinks (real HTTP servers on loopback) hear of it.

mod support;

use std::time::Duration;

use ferry_notify::Outcome;
use ferry_notify::payload::sign;
use ferry_testkit::recorder::{Recorded, Recorder};
use ferry_testkit::world::APPS_NAMESPACE;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::*;

const CONFIG_MAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n";
const AUTHOR: &str = "Ferry Test <test@ferry.invalid>";
const WAIT: Duration = Duration::from_secs(30);

/// Writes the ConfigMap `ferry-notifications` (and its Secret) as an operator would.
async fn configure(world: &World, data: Value, secret: Value) {
    world.create_namespace(APPS_NAMESPACE).await;
    let maps: Api<ConfigMap> = Api::namespaced(world.client.clone(), APPS_NAMESPACE);
    let map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ferry-notifications"}, "data": data});
    let params = PatchParams::apply("test").force();
    maps.patch("ferry-notifications", &params, &Patch::Apply(&map))
        .await
        .expect("ConfigMap written");
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), APPS_NAMESPACE);
    let s = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ferry-notifications-secret"}, "stringData": secret});
    secrets
        .patch("ferry-notifications-secret", &params, &Patch::Apply(&s))
        .await
        .expect("Secret written");
}

/// An automated app at `app/` subscribed as `annotations` say.
async fn create_subscribed_app(world: &World, name: &str, annotations: Value) {
    let api: Api<ferry_engine::Application> = Api::namespaced(world.client.clone(), APPS_NAMESPACE);
    let app = serde_json::from_value(json!({
        "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": APPS_NAMESPACE, "annotations": annotations},
        "spec": automated_spec(&world.repo_url(), "app", name),
    }))
    .expect("a valid Application");
    api.create(&PostParams::default(), &app).await.expect("Application created");
}

fn body(r: &Recorded) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

/// The requests at `path` whose body is about `trigger` at `revision`.
fn about(requests: &[Recorded], path: &str, trigger: &str, revision: &str) -> usize {
    requests
        .iter()
        .filter(|r| {
            r.path == path && body(r)["trigger"] == trigger && body(r)["revision"] == revision
        })
        .count()
}

async fn wait_until(
    server: &Recorder,
    what: &str,
    check: impl Fn(&[Recorded]) -> bool,
) -> Vec<Recorded> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let requests = server.requests();
        if check(&requests) {
            return requests;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}; got {requests:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_that_syncs_sends_exactly_one_on_deployed_per_subscribed_sink_with_its_revision_and_author()
 {
    let world = World::start(|repo| repo.write("app/cm.yaml", CONFIG_MAP).expect("write")).await;
    let server = Recorder::start().await.expect("a recording server");
    let url = &server.url;
    configure(
        &world,
        json!({
            "service.webhook.ops": format!("url: {url}/ops\n"),
            "service.webhook.audit": format!("url: {url}/audit\nsecret: $audit-key\n"),
            "context": "ferryUrl: https://ferry.example\n",
        }),
        json!({"audit-key": "a-shared-key"}),
    )
    .await;
    create_subscribed_app(
        &world,
        "settings",
        json!({
            "notifications.ferry.dev/subscribe.on-deployed.ops": "",
            "notifications.argoproj.io/subscribe.on-deployed.audit": "",
        }),
    )
    .await;
    let first = world.head();
    world.wait_synced_healthy("settings", &first).await;
    wait_until(&server, "the first deploy at both sinks", |r| {
        about(r, "/ops", "on-deployed", &first) == 1
            && about(r, "/audit", "on-deployed", &first) == 1
    })
    .await;

    // A new commit: one more notification per sink, naming that commit and its author.
    world.repo.edit("app/cm.yaml", "blue", "green").expect("edit");
    let second = world.repo.commit("turn it green").expect("commit");
    world.wait_synced_healthy("settings", &second).await;
    let requests = wait_until(&server, "the second deploy at both sinks", |r| {
        about(r, "/ops", "on-deployed", &second) >= 1
            && about(r, "/audit", "on-deployed", &second) >= 1
    })
    .await;
    let deployed = requests
        .iter()
        .find(|r| r.path == "/ops" && body(r)["revision"] == second.as_str())
        .expect("sent");
    let sent = body(deployed);
    assert_eq!(sent["author"], AUTHOR);
    assert_eq!(sent["commitMessage"], "turn it green");
    assert_eq!(sent["app"], "settings");
    assert_eq!(sent["url"], "https://ferry.example/applications/ferry/settings");
    let audit = requests.iter().find(|r| r.path == "/audit").expect("sent");
    assert_eq!(audit.header("x-ferry-signature"), Some(sign("a-shared-key", &audit.body).as_str()));

    // A commit that changes no object moves the app without a sync: it is announced too.
    let comment = format!("{}# reviewed\n", CONFIG_MAP.replace("blue", "green"));
    let third = world.repo.commit_file("app/cm.yaml", &comment, "a comment only").expect("commit");
    world.wait_synced_healthy("settings", &third).await;
    let requests = wait_until(&server, "the comment-only commit at ops", |r| {
        about(r, "/ops", "on-deployed", &third) == 1
    })
    .await;
    let sent =
        requests.iter().find(|r| body(r)["revision"] == third.as_str()).map(body).expect("sent");
    assert_eq!(sent["commitMessage"], "a comment only");

    // Later reconciles (the app stays Synced and Healthy) send nothing more.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let requests = server.requests();
    for path in ["/ops", "/audit"] {
        assert_eq!(
            about(&requests, path, "on-deployed", &first),
            1,
            "{path} heard of the first commit once"
        );
        assert_eq!(
            about(&requests, path, "on-deployed", &second),
            1,
            "{path} heard of the second commit once"
        );
    }
    let log = world.engine.notifier().log().entries();
    assert!(log.iter().all(|e| e.outcome == Some(Outcome::Delivered)), "{log:#?}");
    assert_eq!(log.len(), 6, "{log:#?}");
    let mut metrics = String::new();
    prometheus_client::encoding::text::encode(&mut metrics, &world.registry)
        .expect("metrics encode");
    assert!(
        metrics.contains(r#"ferry_notifications_delivered_total{service="ops",trigger="on-deployed",outcome="delivered"} 3"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"ferry_notification_delivery_seconds_count{service="audit"} 3"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_sync_sends_on_sync_failed_and_a_config_change_needs_no_restart() {
    let world = World::start(|repo| repo.write("app/cm.yaml", CONFIG_MAP).expect("write")).await;
    let server = Recorder::start().await.expect("a recording server");
    let url = &server.url;
    configure(&world, json!({"service.webhook.ops": format!("url: {url}/before\n")}), json!({}))
        .await;
    create_subscribed_app(
        &world,
        "broken",
        json!({"notifications.ferry.dev/subscribe.on-sync-failed.ops": ""}),
    )
    .await;
    world.wait_synced_healthy("broken", &world.head()).await;

    // The sink moves; the engine reads the new ConfigMap while it runs.
    configure(&world, json!({"service.webhook.ops": format!("url: {url}/after\n")}), json!({}))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let service =
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 70000\n";
    let bad =
        world.repo.commit_file("app/svc.yaml", service, "a port out of range").expect("commit");
    world
        .wait_for("broken", "failed to sync", |a| {
            a["status"]["operationState"]["phase"] == "Failed"
        })
        .await;
    let requests =
        wait_until(&server, "on-sync-failed", |r| about(r, "/after", "on-sync-failed", &bad) == 1)
            .await;
    assert_eq!(about(&requests, "/before", "on-sync-failed", &bad), 0, "the old URL is not used");
    let sent = body(requests.iter().find(|r| r.path == "/after").expect("sent"));
    assert_eq!(sent["author"], AUTHOR);
    assert!(sent["message"].as_str().is_some_and(|m| m.contains("Operation:")), "{sent}");
}
