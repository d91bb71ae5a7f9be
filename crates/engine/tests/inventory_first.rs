//! A sync records its planned inventory before its first apply: when the Application's status
//! cannot be written, nothing is applied (an object created then could become an orphan), and
//! the sync goes ahead by itself once the write works again.

mod support;

use std::time::Duration;

use ferry_cluster::Faults;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sync_whose_planned_inventory_cannot_be_recorded_applies_nothing_until_it_can() {
    let world = World::start(|repo| {
        repo.write(
            "app/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: demo\ndata:\n  value: \"1\"\n",
        ).expect("write the file")
    })
    .await;
    let head = world.head();
    world.cluster.set_faults(Faults {
        write_error_code: Some(500),
        write_error_ratio: 1.0,
        write_error_resource: Some("applications.ferry.dev/status".into()),
        ..Default::default()
    });
    world.create_app("app", automated_spec(&world.repo_url(), "app", "demo")).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cms: Api<ConfigMap> = Api::namespaced(world.client.clone(), "demo");
    assert!(
        cms.get_opt("settings").await.ok().flatten().is_none(),
        "nothing is applied while the planned inventory cannot be recorded"
    );
    world.cluster.set_faults(Faults::default());
    let app = world.wait_synced_healthy("app", &head).await;
    let inventory = app["status"]["inventory"].as_array().cloned().unwrap_or_default();
    assert!(inventory.iter().any(|e| e["name"] == "settings"), "{inventory:?}");
}
