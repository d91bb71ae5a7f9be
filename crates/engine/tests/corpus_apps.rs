//! Every app of `argocd-example-apps` the render stage supports reaches Synced+Healthy through a
//! real git daemon and the embedded cluster; hooks and waves run in order.

mod support;

use k8s_openapi::api::batch::v1::Job;
use kube::api::Api;
use serde_json::Value;
use support::*;

/// Copies corpus apps into the repository, syncs `app` and waits for Synced+Healthy.
/// LoadBalancer Services and Ingresses get their address from the embedded cluster's load
/// balancer, as on k3s.
async fn reaches_synced_and_healthy(app: &str, copies: &[&str]) -> (World, Value) {
    let world = World::start(|repo| copy_apps(repo, copies)).await;
    let head = world.head();
    world.create_app(app, automated_spec(&world.repo_url(), app, app)).await;
    let status = world.wait_synced_healthy(app, &head).await;
    (world, status)
}

fn copy_apps(repo: &Repo, copies: &[&str]) {
    for dir in copies {
        repo.copy_in(&corpus(&format!("argocd-example-apps/{dir}")), dir).expect("copy_in");
    }
}

/// The change set entries of the last sync, as (phase, wave, kind, name, at).
fn change_set(app: &Value) -> Vec<(String, i64, String, String, jiff::Timestamp)> {
    let items =
        app["status"]["operationState"]["changeSet"].as_array().cloned().unwrap_or_default();
    let mut out: Vec<_> = items
        .iter()
        .map(|i| {
            (
                i["phase"].as_str().unwrap_or_default().to_owned(),
                i["wave"].as_i64().unwrap_or_default(),
                i["kind"].as_str().unwrap_or_default().to_owned(),
                i["name"].as_str().unwrap_or_default().to_owned(),
                i["at"].as_str().unwrap_or_default().parse().expect("change set times parse"),
            )
        })
        .collect();
    out.sort_by_key(|e| e.4);
    out
}

fn inventory_names(app: &Value) -> Vec<String> {
    let mut names: Vec<String> = app["status"]["inventory"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            format!("{}/{}", e["kind"].as_str().unwrap_or(""), e["name"].as_str().unwrap_or(""))
        })
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kustomize_guestbook_reaches_synced_and_healthy() {
    let (world, app) =
        reaches_synced_and_healthy("kustomize-guestbook", &["kustomize-guestbook"]).await;
    assert_eq!(
        inventory_names(&app),
        ["Deployment/kustomize-guestbook-ui", "Service/kustomize-guestbook-ui"]
    );
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_helm_guestbook_reaches_synced_and_healthy() {
    let (world, app) = reaches_synced_and_healthy("helm-guestbook", &["helm-guestbook"]).await;
    assert_eq!(inventory_names(&app), ["Deployment/helm-guestbook", "Service/helm-guestbook"]);
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_jsonnet_guestbook_reaches_synced_and_healthy() {
    let (world, app) =
        reaches_synced_and_healthy("jsonnet-guestbook", &["jsonnet-guestbook"]).await;
    assert_eq!(
        inventory_names(&app),
        ["Deployment/jsonnet-guestbook-ui", "Service/jsonnet-guestbook-ui"]
    );
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sock_shop_reaches_synced_and_healthy() {
    let (world, app) = reaches_synced_and_healthy("sock-shop", &["sock-shop"]).await;
    let names = inventory_names(&app);
    assert_eq!(names.len(), 29, "14 Deployments, 14 Services and an Ingress: {names:?}");
    assert!(names.contains(&"Ingress/front-end-ingress".to_owned()), "{names:?}");
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_load_balancer_the_jsonnet_guestbook_stays_progressing_until_an_address_is_published()
 {
    let config = ferry_cluster::testing::fast_config().load_balancers(false);
    let app = "jsonnet-guestbook";
    let options = Options { cluster: config, ..Options::default() };
    let world = World::start_with(|repo| copy_apps(repo, &[app]), options).await;
    let head = world.head();
    world.create_app(app, automated_spec(&world.repo_url(), app, app)).await;
    let rev = head.clone();
    let synced = world
        .wait_for(app, "Synced", move |a| {
            a["status"]["sync"]["status"] == "Synced"
                && a["status"]["sync"]["revision"] == rev.as_str()
                && a["status"]["health"]["status"] == "Progressing"
        })
        .await;
    assert_eq!(synced["status"]["health"]["status"], "Progressing");
    assert_eq!(world.publish_load_balancer_addresses(app).await, 1);
    world.wait_synced_healthy(app, &head).await;
    world.engine.shutdown().await;
}

/// Phases and waves of the change set in the order its entries happened. A hook's entry is written
/// when it finished, a resource's when it was applied, so this order also shows that each hook
/// finished before the next wave started.
fn steps_in_time_order(app: &Value) -> Vec<String> {
    change_set(app)
        .into_iter()
        .map(|(phase, wave, kind, name, _)| format!("{phase}/{wave} {kind}/{name}"))
        .collect()
}

async fn job(world: &World, namespace: &str, name: &str) -> Option<Job> {
    let jobs: Api<Job> = Api::namespaced(world.client.clone(), namespace);
    jobs.get_opt(name).await.expect("jobs can be read")
}

fn completed(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Complete" && c.status == "True"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sync_waves_run_hooks_and_waves_in_order() {
    let (world, app) = reaches_synced_and_healthy("sync-waves", &["sync-waves"]).await;
    assert_eq!(
        steps_in_time_order(&app),
        [
            "PreSync/0 Namespace/sync-waves",
            "PreSync/0 Job/upgrade-sql-schema",
            "Sync/0 Service/backend",
            "Sync/0 ReplicaSet/backend",
            "Sync/1 Job/maint-page-up",
            "Sync/2 Service/frontend",
            "Sync/2 ReplicaSet/frontend",
            "Sync/3 Job/maint-page-down",
        ]
    );
    // Hooks are not part of the app's inventory; BeforeHookCreation (and no policy, Argo's
    // default) keeps the finished Job until the next sync replaces it.
    assert_eq!(
        inventory_names(&app),
        ["ReplicaSet/backend", "ReplicaSet/frontend", "Service/backend", "Service/frontend"]
    );
    let up = job(&world, "sync-waves", "maint-page-up").await.expect("the Sync hook is kept");
    assert!(completed(&up), "the Sync hook ran to completion: {:?}", up.status);
    let jobs: Api<Job> = Api::namespaced(world.client.clone(), "sync-waves");
    let generated: Vec<Job> =
        jobs.list(&Default::default())
            .await
            .expect("list jobs")
            .items
            .into_iter()
            .filter(|j| {
                j.metadata.name.as_deref().is_some_and(|n| {
                    n.starts_with("upgrade-sql-schema") && n != "upgrade-sql-schema"
                })
            })
            .collect();
    assert_eq!(generated.len(), 1, "the PreSync hook was created from its generateName");
    assert!(completed(&generated[0]));

    // A second sync runs the hooks afresh: BeforeHookCreation deletes the previous run first.
    let first_uid = up.metadata.uid.clone();
    world.request_sync("sync-waves").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let again = job(&world, "sync-waves", "maint-page-up").await;
        if again.as_ref().is_some_and(|j| j.metadata.uid != first_uid && completed(j)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the Sync hook did not run again");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pre_and_post_sync_hooks_run_around_the_sync_and_are_deleted_when_they_succeed() {
    let (world, app) =
        reaches_synced_and_healthy("pre-post-sync", &["pre-post-sync", "kustomize-guestbook"])
            .await;
    assert_eq!(
        steps_in_time_order(&app),
        [
            "PreSync/0 Namespace/pre-post-sync",
            "PreSync/0 Job/pre-post-sync-before",
            "Sync/0 Service/pre-post-sync-kustomize-guestbook-ui",
            "Sync/0 Deployment/pre-post-sync-kustomize-guestbook-ui",
            "PostSync/0 Job/pre-post-sync-after",
        ]
    );
    let actions: Vec<&str> = app["status"]["operationState"]["changeSet"]
        .as_array()
        .expect("a change set")
        .iter()
        .filter(|i| i["kind"] == "Job")
        .map(|i| i["action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(actions, ["hook succeeded", "hook succeeded"]);
    // HookSucceeded: both Jobs are gone once they succeeded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    for name in ["pre-post-sync-before", "pre-post-sync-after"] {
        while job(&world, "pre-post-sync", name).await.is_some() {
            assert!(std::time::Instant::now() < deadline, "hook {name} was not deleted");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    world.engine.shutdown().await;
}
