//! kube-rs's watcher with streaming lists (`sendInitialEvents=true`, the watch-list protocol):
//! the initial objects arrive as events, end with the `k8s.io/initial-events-end` bookmark, and
//! changes follow on the same watch.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use kube::runtime::watcher::{self, Event};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}}))
        .expect("a valid ConfigMap")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_streaming_list_watcher_gets_the_initial_objects_then_the_end_marker_then_changes() {
    let cluster = ferry_cluster::testing::start().await;
    let client = cluster.client().await.expect("a client");
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for name in ["a", "b"] {
        api.create(&PostParams::default(), &config_map(name)).await.expect("created");
    }
    let before = cluster.stats();
    let config = watcher::Config::default().streaming_lists();
    let mut stream = Box::pin(watcher::watcher(api.clone(), config));
    let mut initial = Vec::new();
    loop {
        match tokio::time::timeout(WAIT, stream.next()).await.expect("an event in time") {
            Some(Ok(Event::Init)) => {}
            Some(Ok(Event::InitApply(cm))) => initial.push(cm.metadata.name.unwrap_or_default()),
            Some(Ok(Event::InitDone)) => break,
            other => panic!("unexpected before InitDone: {other:?}"),
        }
    }
    initial.sort();
    assert!(
        initial.contains(&"a".to_string()) && initial.contains(&"b".to_string()),
        "{initial:?}"
    );
    let delta = cluster.stats().since(&before);
    assert_eq!(delta.verb("LIST"), 0, "no LIST: the initial state came by watch: {delta:?}");

    api.create(&PostParams::default(), &config_map("c")).await.expect("created");
    match tokio::time::timeout(WAIT, stream.next()).await.expect("an event in time") {
        Some(Ok(Event::Apply(cm))) => assert_eq!(cm.metadata.name.as_deref(), Some("c")),
        other => panic!("expected the new ConfigMap, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_watch_list_without_not_older_than_is_refused_naming_the_field() {
    let cluster = ferry_cluster::testing::start().await;
    let client = cluster.client().await.expect("a client");
    let req =
        http::Request::get("/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true")
            .body(Vec::new())
            .expect("a request");
    match client.request_text(req).await {
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 422);
            assert!(e.message.contains("resourceVersionMatch: Forbidden"), "{}", e.message);
        }
        other => panic!("expected a 422 Status, got {other:?}"),
    }
}
