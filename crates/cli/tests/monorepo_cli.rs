//! An app a monorepo commit left unchanged, through the CLI (issue 23): the engine does not
//! write its status, and `ferry app wait --revision NEW`, `get` and `list` read the repository
//! record; `kubectl get applications` names what its columns show.

mod support;

use std::time::{Duration, Instant};

use ferry_engine::Application;
use ferry_engine::records::record_name;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use support::*;

fn config_map(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: demo\ndata:\n  value: \"{value}\"\n"
    )
}

fn ok(run: &Run, what: &str) {
    assert_eq!(run.code, 0, "{what} failed:\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
}

async fn stored(world: &World, name: &str) -> Application {
    let api: Api<Application> = Api::namespaced(world.client.clone(), "ferry");
    api.get(name).await.expect("the Application")
}

/// Until the record ConfigMap names `revision`.
async fn wait_record(world: &World, revision: &str) {
    let api: Api<ConfigMap> = Api::namespaced(world.client.clone(), "ferry");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let cm = api.get_opt(&record_name(&world.repo_url())).await.expect("get the record");
        let data = cm.and_then(|c| c.data).unwrap_or_default();
        if data.get("verified").is_some_and(|v| v.contains(revision)) {
            return;
        }
        assert!(Instant::now() < deadline, "no record naming {revision}: {data:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_a_commit_left_unchanged_is_waited_for_and_shown_at_that_commit_without_a_status_write()
 {
    let world = World::start(|repo| {
        for app in ["web", "api"] {
            repo.write(&format!("{app}/cm.yaml"), &config_map(app, "1")).expect("write the file");
        }
    })
    .await;
    let first = world.head();
    for app in ["web", "api"] {
        world.create_app(app, automated_spec(&world.repo_url(), app, "demo")).await;
        world.wait_synced_healthy(app, &first).await;
    }

    world.repo.write("web/cm.yaml", &config_map("web", "2")).expect("write the file");
    let second = world.repo.commit("change web only").expect("commit");
    world.engine.notify_push(&world.repo_url());
    world.wait_synced_healthy("web", &second).await;
    wait_record(&world, &second).await;
    let before = stored(&world, "api").await;

    let wait =
        world.ferry(&["app", "wait", "api", "--revision", &second[..10], "--timeout", "20s"]).await;
    ok(&wait, "app wait --revision");
    let get = world.ferry(&["app", "get", "api"]).await;
    ok(&get, "app get");
    let shown = format!("Synced to {} (unchanged since {}; verified", &second[..7], &first[..7]);
    assert!(get.stdout.contains(&shown), "{}", get.stdout);
    let list = world.ferry(&["app", "list"]).await;
    ok(&list, "app list");
    let api_row = list.stdout.lines().find(|l| l.starts_with("api ")).expect("a row for api");
    assert!(api_row.contains(&second[..7]), "{}", list.stdout);

    let after = stored(&world, "api").await;
    assert_eq!(
        after.metadata.resource_version, before.metadata.resource_version,
        "no write to api"
    );
    assert_eq!(after.status.expect("a status").sync.revision, first, "its own status is unchanged");

    let kubeconfig = world.cluster.kubeconfig_path().display().to_string();
    let kubectl = std::process::Command::new("kubectl")
        .args(["get", "applications.ferry.dev", "-n", "ferry", "--kubeconfig", &kubeconfig])
        .output()
        .expect("kubectl runs");
    let table = String::from_utf8_lossy(&kubectl.stdout);
    let header = table.lines().next().unwrap_or_default();
    assert!(header.contains("APPLIED") && header.contains("STATUS AT"), "{table}");
}
