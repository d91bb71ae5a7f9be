//! `ferry cluster add | list | remove` against two extra embedded clusters served as `ferry
//! cluster serve` serves them (their own CA and authentication): added clusters receive their
//! apps and only theirs, the list probes each one now, and removal is refused while apps use it.

mod support;

use std::time::Duration;

use ferry_testkit::remote::RemoteCluster;
use ferry_testkit::world::APPS_NAMESPACE;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use serde_json::{Value, json};
use support::*;

fn config_map(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n")
}

async fn world() -> World {
    World::start(|repo| {
        for path in ["east", "west"] {
            repo.write(&format!("{path}/config.yaml"), &config_map(&format!("{path}-config")))
                .expect("write");
        }
    })
    .await
}

/// Runs `ferry cluster …` with the world's cluster as Ferry's control cluster (FERRY_KUBECONFIG).
async fn cluster_cmd(world: &World, args: &[&str]) -> Run {
    let control = world.cluster.kubeconfig_path().display().to_string();
    let mut all = vec!["cluster"];
    all.extend_from_slice(args);
    ferry_with(&world.tmp.path().join("home"), &[("FERRY_KUBECONFIG", &control)], &all).await
}

fn app_spec(world: &World, path: &str, cluster: &str) -> Value {
    let mut spec = automated_spec(&world.repo_url(), path, "shop");
    spec["destination"] = json!({"name": cluster, "namespace": "shop"});
    spec
}

async fn config_maps(client: kube::Client) -> Vec<String> {
    let api: Api<ConfigMap> = Api::namespaced(client, "shop");
    let list = api.list(&Default::default()).await.map(|l| l.items).unwrap_or_default();
    let mut names: Vec<String> = list.into_iter().filter_map(|c| c.metadata.name).collect();
    names.retain(|n| n.ends_with("-config"));
    names
}

fn row<'a>(rows: &'a Value, name: &str) -> &'a Value {
    rows.as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no row {name}: {rows:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn added_clusters_receive_their_apps_only_and_list_tells_a_dead_one() {
    let world = world().await;
    let head = world.head();
    let east = RemoteCluster::start("east", &world.tmp.path().join("east")).await;
    let mut west = RemoteCluster::start("west", &world.tmp.path().join("west")).await;
    let east_kc = east.kubeconfig_path().display().to_string();
    let west_kc = west.kubeconfig_path().display().to_string();

    let added = cluster_cmd(&world, &["add", "east", "--kubeconfig", &east_kc]).await;
    assert_eq!(added.code, 0, "{added:?}");
    assert!(added.stdout.contains("ServiceAccount kube-system/ferry-manager"), "{added:?}");
    let added = cluster_cmd(
        &world,
        &["add", "west", "--kubeconfig", &west_kc, "--use-kubeconfig-credentials"],
    )
    .await;
    assert_eq!(added.code, 0, "{added:?}");
    let again = cluster_cmd(&world, &["add", "east", "--kubeconfig", &east_kc]).await;
    assert_eq!(again.code, 2, "{again:?}");
    assert!(
        again.stderr.contains("already registered") && again.stderr.contains("--upsert"),
        "{again:?}"
    );
    let upsert = cluster_cmd(&world, &["add", "east", "--kubeconfig", &east_kc, "--upsert"]).await;
    assert_eq!(upsert.code, 0, "{upsert:?}");

    // The east Secret holds the token of the ServiceAccount the command created there.
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), APPS_NAMESPACE);
    let listed = secrets.list(&Default::default()).await.expect("list").items;
    let east_secret = listed
        .iter()
        .find(|s| s.data.as_ref().and_then(|d| d.get("name")).is_some_and(|n| n.0 == b"east"))
        .expect("the east cluster Secret");
    let config = String::from_utf8(east_secret.data.as_ref().expect("data")["config"].0.clone())
        .expect("text");
    let config: Value = serde_json::from_str(&config).expect("config is JSON");
    let token = config["bearerToken"].as_str().expect("a bearer token");
    assert!(token.starts_with("eyJ"), "a ServiceAccount JWT");
    for out in [&added.stdout, &added.stderr, &upsert.stdout, &upsert.stderr] {
        assert!(!out.contains(token), "no token is printed");
    }

    world.create_app("on-east", app_spec(&world, "east", "east")).await;
    world.create_app("on-west", app_spec(&world, "west", "west")).await;
    world.wait_synced_healthy("on-east", &head).await;
    world.wait_synced_healthy("on-west", &head).await;
    assert_eq!(config_maps(east.client().await).await, vec!["east-config"]);
    assert_eq!(config_maps(west.client().await).await, vec!["west-config"]);
    assert!(config_maps(world.client.clone()).await.is_empty(), "nothing at home");

    let list = cluster_cmd(&world, &["list", "-o", "json"]).await;
    assert_eq!(list.code, 0, "{list:?}");
    let rows = list.json();
    for name in ["in-cluster", "east", "west"] {
        assert_eq!(row(&rows, name)["status"], "Successful", "{rows:#}");
        assert!(
            row(&rows, name)["version"].as_str().is_some_and(|v| v.starts_with('v')),
            "{rows:#}"
        );
    }
    assert_eq!(row(&rows, "east")["apps"], 1);
    assert_eq!(row(&rows, "east")["objects"], 1);
    assert_eq!(row(&rows, "east")["server"], east.url());

    let refused = cluster_cmd(&world, &["remove", "east"]).await;
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("ferry/on-east") && refused.stderr.contains("--force"),
        "{refused:?}"
    );

    west.stop().await;
    world
        .wait_for("on-west", "Unknown", |a| {
            a["status"]["sync"]["status"] == "Unknown"
                && a["status"]["health"]["status"] == "Unknown"
        })
        .await;
    world.wait_synced_healthy("on-east", &head).await;
    let table = cluster_cmd(&world, &["list"]).await;
    assert_eq!(table.code, 0, "{table:?}");
    let header = table.stdout.lines().next().unwrap_or_default();
    let words: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(words, ["NAME", "SERVER", "VERSION", "STATUS", "APPS", "OBJECTS", "LAST", "ERROR"]);
    let west_line = table.stdout.lines().find(|l| l.starts_with("west")).expect("a west row");
    assert!(
        west_line.contains("Failed") && west_line.contains("connection refused"),
        "{west_line}"
    );

    let removed = cluster_cmd(&world, &["remove", "east", "--force"]).await;
    assert_eq!(removed.code, 0, "{removed:?}");
    world
        .wait_for("on-east", "told its cluster is gone", |a| {
            a["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "DestinationReady" && c["reason"] == "UnknownCluster")
            })
        })
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(config_maps(east.client().await).await, vec!["east-config"], "nothing pruned");
}
