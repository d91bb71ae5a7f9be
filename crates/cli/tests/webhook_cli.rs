//! `ferry webhook test` against Ferry's API served on a real port: the secret comes from the
//! Secret `ferry-webhook`, a signed push reconciles the app at once under a one-hour poll, and a
//! missing Secret or key is told plainly.

mod support;

use std::time::{Duration, Instant};

use ferry_testkit::world::Options;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use support::*;

/// The world's engine behind Ferry's API on a free loopback port, watching the webhook Secret.
async fn serve_api(world: &mut World) -> (String, tokio::task::JoinHandle<()>) {
    let registry = std::mem::take(&mut world.registry);
    let state = ferry_api::ApiState::builder(world.engine.clone(), registry).build();
    let watch = state.watch_webhook_secret(world.client.clone(), "ferry");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let task = tokio::spawn(async move {
        tokio::select! {
            _ = ferry_api::serve(listener, state, std::future::pending::<()>()) => {}
            _ = watch => {}
        }
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_webhook_test_push_applies_a_commit_at_once_under_a_one_hour_poll() {
    let options = Options { poll_interval: Duration::from_secs(3600), ..Default::default() };
    let mut world = World::start_with(
        |repo| {
            repo.copy_in(&corpus("argocd-example-apps/guestbook"), "guestbook")
                .expect("copy the guestbook example")
        },
        options,
    )
    .await;
    let (api, server) = serve_api(&mut world).await;
    world.create_namespace("ferry").await;

    let run = world.ferry(&["webhook", "test", "--api", &api]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("there is no Secret ferry/ferry-webhook"), "{}", run.stderr);

    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), "ferry");
    let secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "ferry-webhook"}, "stringData": {"generic": "s3cret-value"}});
    secrets
        .patch("ferry-webhook", &PatchParams::apply("test"), &Patch::Apply(secret))
        .await
        .expect("the Secret is written");
    let url = world.repo_url();
    world.create_app("guestbook", guestbook_spec(&url)).await;
    world.wait_synced_healthy("guestbook", &world.head()).await;

    world
        .repo
        .edit("guestbook/guestbook-ui-deployment.yaml", "replicas: 1", "replicas: 2")
        .expect("edit");
    let second = world.repo.commit("two replicas").expect("commit");
    let mut run = world.ferry(&["webhook", "test", "--api", &api, "--repo", &url]).await;
    // The API may not have read the Secret yet when the test runs this early.
    for _ in 0..50 {
        if run.code == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        run = world.ferry(&["webhook", "test", "--api", &api, "--repo", &url]).await;
    }
    let sent = Instant::now();
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("1 application(s) will be reconciled now"), "{}", run.stdout);
    assert!(!run.stdout.contains("s3cret-value") && !run.stderr.contains("s3cret-value"));
    world.wait_synced_healthy("guestbook", &second).await;
    eprintln!("webhook test push to Synced+Healthy at the new commit: {:?}", sent.elapsed());

    let run = world.ferry(&["webhook", "test", "--api", &api, "--provider", "github"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("has no usable key \"github\""), "{}", run.stderr);
    server.abort();
}
