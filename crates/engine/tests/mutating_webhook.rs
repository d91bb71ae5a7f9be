//! A mutating admission webhook that adds a label to what the engine applies (served on
//! loopback, called by the embedded cluster over HTTPS) is not drift: the app stays Synced and
//! a reconcile writes nothing (argo-cd #1075, #4326: the top source of false drift there).

mod support;

use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, PostParams};
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_label_added_by_a_mutating_webhook_is_not_reported_as_drift() {
    let world = World::start(|repo| {
        repo.copy_in(&corpus("argocd-example-apps/guestbook"), "guestbook")
            .expect("copy the files in")
    })
    .await;
    let webhook = ferry_cluster::testing::TestServer::label_webhook("injected-by", "webhook")
        .await
        .expect("the webhook server starts");
    let rules = json!([{"operations": ["CREATE", "UPDATE"], "apiGroups": ["", "apps"],
        "apiVersions": ["v1"], "resources": ["deployments", "services"]}]);
    let config: MutatingWebhookConfiguration =
        serde_json::from_value(webhook.mutating_configuration("label.example.com", rules))
            .expect("a valid MutatingWebhookConfiguration");
    Api::<MutatingWebhookConfiguration>::all(world.client.clone())
        .create(&PostParams::default(), &config)
        .await
        .expect("the webhook is registered");

    let head = world.head();
    world
        .create_app("guestbook", automated_spec(&world.repo_url(), "guestbook", "guestbook"))
        .await;
    world.wait_synced_healthy("guestbook", &head).await;
    let deployments: Api<Deployment> = Api::namespaced(world.client.clone(), "guestbook");
    let live = deployments.get("guestbook-ui").await.expect("the Deployment was applied");
    let labels = live.metadata.labels.unwrap_or_default();
    assert_eq!(labels.get("injected-by").map(String::as_str), Some("webhook"), "{labels:?}");

    // A reconcile sees the webhook's label and neither reports nor heals it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = world.cluster.stats();
    world.engine.refresh("ferry", "guestbook");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let writes = world.cluster.stats().since(&before).writes();
    assert_eq!(writes, 0, "a reconcile re-applied: {:?}", world.cluster.stats().since(&before));
    let app = world.wait_synced_healthy("guestbook", &head).await;
    assert_eq!(app["status"]["sync"]["status"], "Synced", "{}", app["status"]);
    world.engine.shutdown().await;
}
