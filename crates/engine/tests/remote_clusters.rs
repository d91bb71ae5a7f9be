//! Remote clusters: apps reach the cluster their destination names through a cluster Secret
//! (Argo CD's format), and only it; a cluster that goes down turns only its apps Unknown,
//! prunes nothing and comes back by itself; a wrong Secret or a foreign CA is told plainly.

mod support;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use support::*;

use ferry_testkit::remote::{RemoteCluster, cluster_secret};
use ferry_testkit::world::APPS_NAMESPACE;

fn config_map(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n")
}

/// A world whose repository has one ConfigMap per app path: `east/`, `west/`, `local/`.
async fn world() -> World {
    World::start(|repo| {
        for path in ["east", "west", "local"] {
            repo.write(&format!("{path}/config.yaml"), &config_map(&format!("{path}-config")))
                .expect("write");
        }
    })
    .await
}

async fn add_secret(world: &World, secret: Value) {
    world.create_namespace(APPS_NAMESPACE).await;
    let api: Api<Secret> = Api::namespaced(world.client.clone(), APPS_NAMESPACE);
    let secret: Secret = serde_json::from_value(secret).expect("a Secret");
    api.create(&PostParams::default(), &secret).await.expect("the cluster Secret is created");
}

/// An automated app from `path` into namespace `shop` of the cluster `destination` names.
fn app_spec(world: &World, path: &str, destination: Value) -> Value {
    let mut spec = automated_spec(&world.repo_url(), path, "shop");
    spec["destination"] = destination;
    spec["destination"]["namespace"] = json!("shop");
    spec
}

async fn config_maps(client: &Client) -> Vec<String> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "shop");
    let mut names: Vec<String> = match api.list(&Default::default()).await {
        Ok(list) => list.items.into_iter().filter_map(|c| c.metadata.name).collect(),
        Err(_) => Vec::new(),
    };
    names.retain(|n| n.ends_with("-config"));
    names.sort();
    names
}

fn condition<'a>(app: &'a Value, type_: &str) -> Option<&'a Value> {
    app["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

fn has_condition(app: &Value, type_: &str, reason: &str) -> bool {
    condition(app, type_).is_some_and(|c| c["status"] == "False" && c["reason"] == reason)
}

fn message(app: &Value, type_: &str) -> String {
    condition(app, type_).and_then(|c| c["message"].as_str()).unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apps_reach_only_their_cluster_and_a_dead_cluster_turns_only_its_apps_unknown_until_it_returns()
 {
    let world = world().await;
    let head = world.head();
    let mut east = RemoteCluster::start("east", &world.tmp.path().join("east")).await;
    let west = RemoteCluster::start("west", &world.tmp.path().join("west")).await;
    add_secret(&world, east.secret("cluster-east", east.ca_pem())).await;
    add_secret(&world, west.secret("cluster-west", west.ca_pem())).await;

    world.create_app("on-east", app_spec(&world, "east", json!({"name": "east"}))).await;
    world.create_app("on-west", app_spec(&world, "west", json!({"server": west.url()}))).await;
    world.create_app("on-local", app_spec(&world, "local", json!({"name": "in-cluster"}))).await;
    for app in ["on-east", "on-west", "on-local"] {
        world.wait_synced_healthy(app, &head).await;
    }
    let (east_client, west_client) = (east.client().await, west.client().await);
    assert_eq!(config_maps(&east_client).await, vec!["east-config"], "east got only its app");
    assert_eq!(config_maps(&west_client).await, vec!["west-config"], "west got only its app");
    assert_eq!(
        config_maps(&world.client).await,
        vec!["local-config"],
        "nothing remote leaked home"
    );
    let cms: Api<ConfigMap> = Api::namespaced(east_client.clone(), "shop");
    let uid_before = cms.get("east-config").await.expect("get").metadata.uid;

    east.stop().await;
    let down = world
        .wait_for("on-east", "Unknown because its cluster is down", |a| {
            a["status"]["sync"]["status"] == "Unknown"
                && a["status"]["health"]["status"] == "Unknown"
                && has_condition(a, "ClusterReady", "ClusterUnreachable")
        })
        .await;
    let text = message(&down, "ClusterReady");
    assert!(text.contains("cluster east") && text.contains(east.url()), "{text}");
    assert!(text.contains("connection refused"), "the cause is named: {text}");
    assert!(text.contains("Nothing in the cluster was changed or pruned"), "{text}");
    for other in ["on-west", "on-local"] {
        let app = world.wait_synced_healthy(other, &head).await;
        assert!(condition(&app, "ClusterReady").is_none(), "{other} is untouched");
    }

    east.restart().await;
    world.wait_synced_healthy("on-east", &head).await;
    let back = world
        .wait_for("on-east", "without the condition", |a| condition(a, "ClusterReady").is_none());
    back.await;
    let east_client = east.client().await;
    assert_eq!(config_maps(&east_client).await, vec!["east-config"]);
    let cms: Api<ConfigMap> = Api::namespaced(east_client, "shop");
    let uid_after = cms.get("east-config").await.expect("get").metadata.uid;
    assert_eq!(uid_before, uid_after, "the object was neither pruned nor recreated");
    assert_eq!(world.engine.connected_clusters(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_garbage_secret_a_foreign_ca_and_an_unknown_cluster_are_told_plainly() {
    let world = world().await;
    let east = RemoteCluster::start("east", &world.tmp.path().join("east")).await;
    let other = RemoteCluster::start("other", &world.tmp.path().join("other")).await;
    let garbage = cluster_secret(
        "cluster-garbage",
        &[
            ("name", "garbage"),
            ("server", "https://127.0.0.1:9"),
            ("config", "{\"bearerToken\": \"s3cr3t\", oops"),
        ],
    );
    add_secret(&world, garbage).await;
    let mut foreign = east.secret("cluster-foreign", other.ca_pem());
    foreign["stringData"]["name"] = json!("foreign");
    add_secret(&world, foreign).await;

    world.create_app("on-garbage", app_spec(&world, "east", json!({"name": "garbage"}))).await;
    world.create_app("on-foreign", app_spec(&world, "east", json!({"name": "foreign"}))).await;
    world.create_app("on-nowhere", app_spec(&world, "east", json!({"name": "nowhere"}))).await;
    world
        .create_app(
            "on-both",
            app_spec(&world, "east", json!({"name": "foreign", "server": "https://10.0.0.1"})),
        )
        .await;

    let app = world
        .wait_for("on-garbage", "refused for its Secret", |a| {
            has_condition(a, "ClusterReady", "InvalidClusterSecret")
        })
        .await;
    let text = message(&app, "ClusterReady");
    assert!(
        text.contains("cluster-garbage") && text.contains("config is not valid JSON"),
        "{text}"
    );
    assert!(!text.contains("s3cr3t"), "no secret in the message: {text}");
    assert_eq!(app["status"]["sync"]["status"], "Unknown");

    let app = world
        .wait_for("on-foreign", "unreachable for its CA", |a| {
            has_condition(a, "ClusterReady", "ClusterUnreachable")
        })
        .await;
    let text = message(&app, "ClusterReady");
    assert!(text.contains("another CA") && text.contains(east.url()), "{text}");
    assert!(!text.contains(east.token()), "{text}");

    let app = world
        .wait_for("on-nowhere", "an unknown cluster", |a| {
            has_condition(a, "DestinationReady", "UnknownCluster")
        })
        .await;
    assert!(message(&app, "DestinationReady").contains("ferry cluster add"), "{app:#}");
    let app = world
        .wait_for("on-both", "a destination naming two clusters", |a| {
            has_condition(a, "DestinationReady", "InvalidDestination")
        })
        .await;
    assert!(message(&app, "DestinationReady").contains("different clusters"), "{app:#}");
    assert!(config_maps(&east.client().await).await.is_empty(), "nothing reached east");
}

/// On `east`: namespace `shop` with ServiceAccount `deployer`, admin of `shop` only, and its
/// long-lived token (from a token Secret, as `ferry cluster add` gets one).
async fn shop_deployer_token(east: &RemoteCluster) -> String {
    let client = east.client().await;
    let post = |obj: Value| {
        let client = client.clone();
        async move {
            let obj: kube::api::DynamicObject = serde_json::from_value(obj).expect("object");
            let gvk = kube::api::GroupVersionKind::try_from(obj.types.as_ref().expect("types"))
                .expect("gvk");
            let (ar, _) = kube::discovery::pinned_kind(&client, &gvk).await.expect("discovery");
            let api: Api<kube::api::DynamicObject> = match obj.metadata.namespace.as_deref() {
                Some(ns) => Api::namespaced_with(client, ns, &ar),
                None => Api::all_with(client, &ar),
            };
            api.create(&PostParams::default(), &obj).await.expect("created");
        }
    };
    post(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})).await;
    post(json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "deployer", "namespace": "shop"}}))
    .await;
    post(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "deployer-admin", "namespace": "shop"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": "shop"}]}))
    .await;
    post(
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "deployer-token", "namespace": "shop",
            "annotations": {"kubernetes.io/service-account.name": "deployer"}}}),
    )
    .await;
    let secrets: Api<Secret> = Api::namespaced(client, "shop");
    let secret = secrets.get("deployer-token").await.expect("the token Secret");
    let token = secret.data.expect("filled by the token controller")["token"].0.clone();
    String::from_utf8(token).expect("text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_limited_to_some_namespaces_is_watched_there_and_refuses_the_rest_before_any_apply()
 {
    let world = world().await;
    let head = world.head();
    let east = RemoteCluster::start("east", &world.tmp.path().join("east")).await;
    let token = shop_deployer_token(&east).await;
    let b64 = |s: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    let config = json!({"bearerToken": token, "tlsClientConfig": {"caData": b64(east.ca_pem())}});
    add_secret(
        &world,
        cluster_secret(
            "cluster-east",
            &[
                ("name", "east"),
                ("server", east.url()),
                ("config", &config.to_string()),
                ("namespaces", "shop"),
            ],
        ),
    )
    .await;
    // Without CreateNamespace: a Namespace is cluster-scoped, which the Secret does not allow.
    let mut spec = app_spec(&world, "east", json!({"name": "east"}));
    spec["syncPolicy"]["syncOptions"] = json!([]);
    world.create_app("in-shop", spec.clone()).await;
    spec["destination"]["namespace"] = json!("billing");
    world.create_app("in-billing", spec).await;
    let mut creating = app_spec(&world, "west", json!({"name": "east"}));
    creating["syncPolicy"]["syncOptions"] = json!(["CreateNamespace=true"]);
    world.create_app("creating-namespace", creating).await;

    world.wait_synced_healthy("in-shop", &head).await;
    let app = world
        .wait_for("in-billing", "refused", |a| {
            has_condition(a, "DestinationReady", "DestinationNotPermitted")
        })
        .await;
    let text = message(&app, "DestinationReady");
    assert!(text.contains("\"billing\"") && text.contains("cluster-east"), "{text}");
    let app = world
        .wait_for("creating-namespace", "refused", |a| {
            has_condition(a, "DestinationReady", "DestinationNotPermitted")
        })
        .await;
    assert!(message(&app, "DestinationReady").contains("clusterResources"), "{app:#}");
    assert_eq!(
        config_maps(&east.client().await).await,
        vec!["east-config"],
        "only shop's app applied"
    );
}
