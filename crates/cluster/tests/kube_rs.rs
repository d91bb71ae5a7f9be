//! kube-rs against the embedded cluster: discovery, dynamic apply, list paging, watch and
//! reflector, 410 Gone, counters, faults and bad input.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams, WatchEvent,
    WatchParams,
};
use kube::core::GroupVersionKind;
use kube::discovery::Discovery;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::json;

fn config_map(name: &str, value: &str) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "demo"}},
        "data": {"v": value},
    }))
    .expect("a valid ConfigMap")
}

async fn config_maps(cluster: &ferry_cluster::RunningCluster) -> Api<DynamicObject> {
    config_maps_and_type(cluster).await.0
}

async fn config_maps_and_type(
    cluster: &ferry_cluster::RunningCluster,
) -> (Api<DynamicObject>, kube::discovery::ApiResource) {
    let client = cluster.client().await.expect("kube client from the kubeconfig");
    let discovery = Discovery::new(client.clone()).run().await.expect("discovery succeeds");
    let (ar, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"))
        .expect("ConfigMap is discovered");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    (Api::namespaced_with(client, "default", &ar), ar)
}

#[tokio::test]
async fn discovery_finds_builtin_groups_and_crds_created_at_runtime() {
    let cluster = ferry_cluster::testing::start().await;
    let client = cluster.client().await.expect("client");
    let crds: Api<DynamicObject> = {
        let d = Discovery::new(client.clone()).run().await.expect("discovery");
        let (ar, _) = d
            .resolve_gvk(&GroupVersionKind::gvk(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
            ))
            .expect("CRDs are served");
        Api::all_with(client.clone(), &ar)
    };
    let crd: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {"group": "example.com", "scope": "Cluster",
            "names": {"kind": "Gadget", "plural": "gadgets"},
            "versions": [{"name": "v1beta1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    })).expect("valid CRD");
    crds.patch("gadgets.example.com", &PatchParams::apply("test"), &Patch::Apply(&crd))
        .await
        .expect("CRD applies");
    let d = Discovery::new(client.clone()).run().await.expect("discovery");
    let (ar, caps) = d
        .resolve_gvk(&GroupVersionKind::gvk("example.com", "v1beta1", "Gadget"))
        .expect("the new kind is discovered");
    assert_eq!(caps.scope, kube::discovery::Scope::Cluster);
    let gadgets: Api<DynamicObject> = Api::all_with(client, &ar);
    let g: DynamicObject = serde_json::from_value(json!({"apiVersion": "example.com/v1beta1", "kind": "Gadget", "metadata": {"name": "g1"}, "spec": {"x": 1}})).expect("valid");
    let created = gadgets
        .patch("g1", &PatchParams::apply("test"), &Patch::Apply(&g))
        .await
        .expect("custom resource applies");
    assert_eq!(created.metadata.generation, Some(1));
    assert!(
        created.metadata.managed_fields.is_some_and(|m| m[0].manager.as_deref() == Some("test"))
    );
}

#[tokio::test]
async fn list_pages_with_limit_and_continue_and_filters_by_label() {
    let cluster = ferry_cluster::testing::start().await;
    let api = config_maps(&cluster).await;
    for i in 0..5 {
        api.create(&PostParams::default(), &config_map(&format!("cm-{i}"), "x"))
            .await
            .expect("create");
    }
    let other: DynamicObject = serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "labels": {"app": "else"}}})).expect("valid");
    api.create(&PostParams::default(), &other).await.expect("create");
    let first =
        api.list(&ListParams::default().labels("app=demo").limit(2)).await.expect("first page");
    assert_eq!(first.items.len(), 2);
    let token = first.metadata.continue_.clone().expect("a continue token while items remain");
    let mut names: Vec<String> =
        first.items.iter().filter_map(|o| o.metadata.name.clone()).collect();
    let mut token = Some(token);
    while let Some(t) = token {
        let page = api
            .list(&ListParams::default().labels("app=demo").limit(2).continue_token(&t))
            .await
            .expect("next page");
        names.extend(page.items.iter().filter_map(|o| o.metadata.name.clone()));
        token = page.metadata.continue_.filter(|c| !c.is_empty());
    }
    assert_eq!(names, vec!["cm-0", "cm-1", "cm-2", "cm-3", "cm-4"]);
    let by_field = api
        .list(&ListParams::default().fields("metadata.name=other"))
        .await
        .expect("field selector");
    assert_eq!(by_field.items.len(), 1);
}

#[tokio::test]
async fn watcher_and_reflector_follow_changes() {
    let cluster = ferry_cluster::testing::start().await;
    let (api, ar) = config_maps_and_type(&cluster).await;
    api.create(&PostParams::default(), &config_map("before", "1")).await.expect("create");
    let writer = reflector::store::Writer::<DynamicObject>::new(ar);
    let reader = writer.as_reader();
    let stream = watcher(api.clone(), watcher::Config::default()).default_backoff();
    let reflected = reflector(writer, stream).applied_objects();
    let task = tokio::spawn(async move {
        futures::pin_mut!(reflected);
        while reflected.try_next().await.is_ok_and(|o| o.is_some()) {}
    });
    reader.wait_until_ready().await.expect("the reflector gets its initial list");
    api.create(&PostParams::default(), &config_map("after", "2")).await.expect("create");
    api.delete("before", &DeleteParams::default()).await.expect("delete");
    let mut seen = false;
    for _ in 0..100 {
        let mut names: Vec<String> =
            reader.state().iter().filter_map(|o| o.metadata.name.clone()).collect();
        names.sort();
        // kube-root-ca.crt: every namespace has it, as on a real cluster.
        if names == ["after", "kube-root-ca.crt"] {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    task.abort();
    assert!(
        seen,
        "the reflector holds exactly the live objects: {:?}",
        reader.state().iter().map(|o| o.metadata.name.clone()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_watch_from_a_version_older_than_the_window_gets_410_gone() {
    let config = ferry_cluster::testing::fast_config().watch_window(3);
    let cluster = ferry_cluster::testing::try_start(config).await.expect("cluster starts");
    let api = config_maps(&cluster).await;
    for i in 0..6 {
        api.create(&PostParams::default(), &config_map(&format!("c{i}"), "x"))
            .await
            .expect("create");
    }
    let mut events = api
        .watch(&WatchParams::default().timeout(5), "2")
        .await
        .expect("the watch request is accepted")
        .boxed();
    match events.next().await {
        Some(Ok(WatchEvent::Error(e))) => {
            assert_eq!(e.code, 410);
            assert_eq!(e.reason, "Expired");
        }
        other => panic!("expected a 410 Expired event, got {other:?}"),
    }
    let recent = cluster.resource_version() - 1;
    let mut events = api
        .watch(&WatchParams::default().timeout(2), &recent.to_string())
        .await
        .expect("watch")
        .boxed();
    match events.next().await {
        Some(Ok(WatchEvent::Added(o))) => assert_eq!(o.metadata.name.as_deref(), Some("c5")),
        other => panic!("expected the last create, got {other:?}"),
    }
}

#[tokio::test]
async fn reads_and_dry_runs_are_counted_and_dry_runs_store_nothing() {
    let cluster = ferry_cluster::testing::start().await;
    let api = config_maps(&cluster).await;
    let before = cluster.stats();
    api.list(&ListParams::default()).await.expect("list");
    let _ = api.get_opt("missing").await.expect("get of a missing object is None");
    let reads = cluster.stats().since(&before);
    assert_eq!(reads.writes(), 0, "{reads:?}");
    assert_eq!(reads.verb("LIST"), 1);
    assert_eq!(reads.counts.get(&("GET".to_string(), "configmaps".to_string(), 404)), Some(&1));

    let dry = api
        .create(&PostParams { dry_run: true, ..PostParams::default() }, &config_map("dry", "1"))
        .await
        .expect("dry-run create");
    assert_eq!(dry.metadata.name.as_deref(), Some("dry"));
    assert!(api.get_opt("dry").await.expect("get").is_none(), "a dry run stores nothing");
    assert_eq!(cluster.stats().since(&before).verb("POST"), 1);
}

#[tokio::test]
async fn metrics_are_served_in_prometheus_format() {
    let cluster = ferry_cluster::testing::start().await;
    let client = cluster.client().await.expect("client");
    let _ = config_maps(&cluster).await.list(&ListParams::default()).await.expect("list");
    let req = http::Request::get("/metrics").body(Vec::new()).expect("request");
    let text = client.request_text(req).await.expect("metrics");
    assert!(
        text.contains(
            "apiserver_request_total{code=\"200\",resource=\"configmaps\",verb=\"LIST\"} 1"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn injected_faults_fail_writes_and_deny_deletes_by_label() {
    let cluster = ferry_cluster::testing::start().await;
    let api = config_maps(&cluster).await;
    api.create(&PostParams::default(), &config_map("keep", "1")).await.expect("create");
    cluster.set_faults(ferry_cluster::Faults {
        deny_delete_selector: Some("app=demo".into()),
        ..Default::default()
    });
    match api.delete("keep", &DeleteParams::default()).await {
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 403);
            assert!(e.message.contains("denied"), "{}", e.message);
        }
        other => panic!("expected a denied delete, got {other:?}"),
    }
    cluster.set_faults(ferry_cluster::Faults {
        write_error_code: Some(500),
        write_error_ratio: 1.0,
        ..Default::default()
    });
    match api.create(&PostParams::default(), &config_map("fails", "1")).await {
        Err(kube::Error::Api(e)) => assert_eq!(e.code, 500),
        other => panic!("expected an injected 500, got {other:?}"),
    }
    cluster.set_faults(ferry_cluster::Faults::default());
    api.delete("keep", &DeleteParams::default()).await.expect("deletes work again");
}

#[tokio::test]
async fn bad_input_gets_a_status_naming_the_problem() {
    let cluster = ferry_cluster::testing::start().await;
    let client = cluster.client().await.expect("client");
    let before = cluster.object_count();
    let send = |method: &str, path: &str, ct: &str, body: &str| {
        http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", ct)
            .body(body.as_bytes().to_vec())
            .expect("request")
    };
    let oversized = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"big"}},"data":{{"a":"{}"}}}}"#,
        "x".repeat(4 * 1024 * 1024)
    );
    let deep = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"deep"}},"x":{}1{}}}"#,
        "[".repeat(110),
        "]".repeat(110)
    );
    let cases = [
        (
            send("POST", "/api/v1/namespaces/default/configmaps", "application/json", "{not json"),
            400,
            "not valid JSON",
        ),
        (
            send(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                "application/json",
                r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}"#,
            ),
            400,
            "does not match the expected kind",
        ),
        (
            send(
                "POST",
                "/apis/example.com/v1/namespaces/default/nothings",
                "application/json",
                "{}",
            ),
            404,
            "could not find the requested resource",
        ),
        (
            send(
                "POST",
                "/api/v1/namespaces/nowhere/configmaps",
                "application/json",
                r#"{"metadata":{"name":"x"}}"#,
            ),
            404,
            "namespaces \"nowhere\" not found",
        ),
        (
            send(
                "PATCH",
                "/api/v1/namespaces/default/configmaps/x",
                "application/apply-patch+yaml",
                "kind: ConfigMap\napiVersion: v1\nmetadata: {name: x}\n",
            ),
            400,
            "fieldManager",
        ),
        (
            send("PATCH", "/api/v1/namespaces/default/configmaps/x", "text/plain", "{}"),
            415,
            "not supported",
        ),
        (
            send(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                "application/json",
                r#"{"apiVersion":"v2","kind":"ConfigMap","metadata":{"name":"x"}}"#,
            ),
            400,
            "does not match the expected API version",
        ),
        (
            send("POST", "/apis/apps/v2/namespaces/default/deployments", "application/json", "{}"),
            404,
            "could not find the requested resource",
        ),
        (
            send(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                "application/json",
                r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Not_Valid"}}"#,
            ),
            422,
            "metadata.name",
        ),
        (
            send("POST", "/api/v1/namespaces/default/configmaps", "application/json", &oversized),
            413,
            "larger than the limit",
        ),
        (
            send("POST", "/api/v1/namespaces/default/configmaps", "application/json", &deep),
            400,
            "nests deeper",
        ),
        (
            send(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                "application/vnd.kubernetes.protobuf",
                "k8s\0\u{a}\u{ff}",
            ),
            400,
            "protobuf",
        ),
        (
            send(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                "application/yaml",
                "metadata: [unclosed",
            ),
            400,
            "not valid YAML",
        ),
    ];
    for (req, code, text) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        match client.request_text(req).await {
            Err(kube::Error::Api(e)) => {
                assert_eq!(e.code, code, "{what}: {}", e.message);
                assert!(e.message.contains(text), "{what}: {}", e.message);
            }
            other => panic!("{what}: expected a Status error, got {other:?}"),
        }
    }
    assert_eq!(cluster.object_count(), before, "nothing half-written");
}
