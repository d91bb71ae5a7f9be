//! An engine killed in the middle of a sync, and a new one started on the same data directory and
//! cluster: the app converges with no orphan and no wrongful delete.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams};
use support::*;

const WAVES: usize = 10;

/// Wave `n`: a Deployment (whose health gates the next wave) and four ConfigMaps.
fn wave_file(n: usize, value: &str) -> String {
    let mut docs = vec![format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{n}\n  annotations:\n    argocd.argoproj.io/sync-wave: \"{n}\"\n\
         spec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: web-{n}\n  template:\n    metadata:\n      labels:\n        app: web-{n}\n\
         \x20   spec:\n      containers:\n        - name: web\n          image: nginx:1.27\n"
    )];
    for c in 0..4 {
        docs.push(format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-{n}-{c}\n  annotations:\n    argocd.argoproj.io/sync-wave: \"{n}\"\ndata:\n  value: \"{value}\"\n"
        ));
    }
    docs.join("---\n")
}

/// Every object in namespace `big` carrying the app's tracking label, as kind/name → uid.
async fn owned_objects(world: &World) -> BTreeMap<String, String> {
    let lp = ListParams::default().labels("ferry.dev/app=ferry.big");
    let mut out = BTreeMap::new();
    let deployments: Api<Deployment> = Api::namespaced(world.client.clone(), "big");
    for d in deployments.list(&lp).await.expect("list deployments").items {
        out.insert(
            format!("Deployment/{}", d.metadata.name.unwrap_or_default()),
            d.metadata.uid.unwrap_or_default(),
        );
    }
    let maps: Api<ConfigMap> = Api::namespaced(world.client.clone(), "big");
    for m in maps.list(&lp).await.expect("list configmaps").items {
        out.insert(
            format!("ConfigMap/{}", m.metadata.name.unwrap_or_default()),
            m.metadata.uid.unwrap_or_default(),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_engine_killed_mid_sync_and_restarted_converges_with_no_orphan_and_no_wrongful_delete() {
    let mut world = World::start(|repo| {
        for n in 0..WAVES {
            repo.write(&format!("big/wave-{n:02}.yaml"), &wave_file(n, "one")).expect("write");
        }
    })
    .await;
    world.create_app("big", automated_spec(&world.repo_url(), "big", "big")).await;

    // Kill the engine once the sync is past its third wave but not finished.
    let deployments: Api<Deployment> = Api::namespaced(world.client.clone(), "big");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if deployments.get_opt("web-2").await.expect("get").is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the sync never reached wave 2");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    world.engine.shutdown().await;
    let at_kill = owned_objects(&world).await;
    assert!(
        !at_kill.contains_key(&format!("Deployment/web-{}", WAVES - 1)),
        "the engine was stopped mid-sync, before the last wave: {at_kill:?}"
    );
    let app = world.wait_for("big", "marked as syncing", |a| a.is_object()).await;
    assert_eq!(
        app["status"]["operationState"]["phase"], "Running",
        "the killed sync was under way"
    );

    // While it is down, Git drops waves 0 and 1 (applied by the killed sync) and changes wave 5.
    for n in 0..2 {
        std::fs::remove_file(world.repo.dir.join(format!("big/wave-{n:02}.yaml"))).expect("rm");
    }
    world.repo.write("big/wave-05.yaml", &wave_file(5, "two")).expect("write");
    let second = world.repo.commit("drop waves 0 and 1, change wave 5").expect("commit");

    world.restart_engine().await;
    let app = world.wait_synced_healthy("big", &second).await;

    let live = owned_objects(&world).await;
    let mut wanted = BTreeSet::new();
    for n in 2..WAVES {
        wanted.insert(format!("Deployment/web-{n}"));
        for c in 0..4 {
            wanted.insert(format!("ConfigMap/config-{n}-{c}"));
        }
    }
    let live_names: BTreeSet<String> = live.keys().cloned().collect();
    assert_eq!(
        live_names, wanted,
        "no orphan: waves 0 and 1, applied by the killed sync, are pruned"
    );
    let inventory: BTreeSet<String> = app["status"]["inventory"]
        .as_array()
        .expect("an inventory")
        .iter()
        .map(|e| {
            format!("{}/{}", e["kind"].as_str().unwrap_or(""), e["name"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(inventory, wanted, "the inventory holds exactly what Git declares");
    for (name, uid) in &at_kill {
        if let Some(now) = live.get(name) {
            assert_eq!(now, uid, "{name} was kept, never deleted and recreated");
        }
    }
    let maps: Api<ConfigMap> = Api::namespaced(world.client.clone(), "big");
    let changed = maps.get("config-5-0").await.expect("config-5-0");
    assert_eq!(changed.data.unwrap_or_default().get("value").map(String::as_str), Some("two"));
    world.engine.shutdown().await;
}
