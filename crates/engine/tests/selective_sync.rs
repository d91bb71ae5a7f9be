//! A sync of selected objects applies only them (Argo CD's `syncOperation.resources`), and a
//! forced sync deletes and creates again an object whose immutable field changed (Argo CD's
//! Force, `kubectl replace --force`), while applying everything else as usual.

mod support;

use ferry_engine::application::{ANNOTATION_SYNC_REQUEST, SyncRequest, SyncResourceRef};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use support::*;

fn config_map(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: demo\ndata:\n  value: \"{value}\"\n"
    )
}

fn job(image: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  namespace: demo\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: migrate\n        image: {image}\n        command: [\"true\"]\n"
    )
}

fn spec(url: &str) -> Value {
    json!({
        "source": {"repoURL": url, "targetRevision": "main", "path": "demo"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "demo"},
        "syncPolicy": {"syncOptions": ["CreateNamespace=true"]}
    })
}

/// Writes a sync request as `ferry app sync` does and waits for the operation that answers it.
async fn sync(world: &World, resources: &[&str], force: bool) -> Value {
    let request = SyncRequest {
        at: jiff::Timestamp::now().to_string(),
        resources: resources.iter().map(|r| SyncResourceRef::parse(r).expect("a ref")).collect(),
        force,
        ..Default::default()
    };
    let value = serde_json::to_string(&request).expect("serializes");
    let api: Api<ferry_engine::Application> = Api::namespaced(world.client.clone(), "ferry");
    let patch = json!({"metadata": {"annotations": {ANNOTATION_SYNC_REQUEST: value.clone()}}});
    api.patch("demo", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("requested");
    world
        .wait_for("demo", "done with the request", |a| {
            a["status"]["handledRequests"]["sync"] == value.as_str()
                && a["status"]["operationState"]["phase"] != "Running"
                && a["status"]["operationState"]["startedAt"].as_str() >= Some(&request.at[..19])
        })
        .await
}

/// Commits, tells the engine (as a push webhook would) and waits until it compared the app
/// with the new commit.
async fn commit(world: &World, message: &str) -> String {
    let revision = world.repo.commit(message).expect("commit");
    world.engine.notify_push(&world.repo_url());
    let seen = revision.clone();
    world
        .wait_for("demo", "compared with the new commit", move |a| {
            a["status"]["sync"]["revision"] == seen.as_str()
        })
        .await;
    revision
}

async fn value_of(world: &World, name: &str) -> String {
    let api: Api<ConfigMap> = Api::namespaced(world.client.clone(), "demo");
    let cm = api.get(name).await.expect("the ConfigMap exists");
    cm.data.unwrap_or_default().get("value").cloned().unwrap_or_default()
}

async fn uid_of<K>(world: &World, name: &str) -> String
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(world.client.clone(), "demo");
    api.get(name).await.expect("exists").meta().uid.clone().expect("a uid")
}

fn change<'a>(op: &'a Value, name: &str) -> &'a Value {
    op["changeSet"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["name"] == name))
        .unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_selective_sync_applies_only_the_chosen_object_and_the_app_stays_out_of_sync() {
    let world = World::start(|repo| {
        repo.write("demo/a.yaml", &config_map("a", "one")).expect("a");
        repo.write("demo/b.yaml", &config_map("b", "one")).expect("b");
    })
    .await;
    let first = world.head();
    world.create_app("demo", spec(&world.repo_url())).await;
    world.request_sync("demo").await;
    world.wait_synced_healthy("demo", &first).await;
    world.repo.write("demo/a.yaml", &config_map("a", "two")).expect("a");
    world.repo.write("demo/b.yaml", &config_map("b", "two")).expect("b");
    commit(&world, "both change").await;

    let app = sync(&world, &[":ConfigMap:demo/a"], false).await;
    let op = &app["status"]["operationState"];
    assert_eq!(op["phase"], "Succeeded", "{op}");
    assert_eq!(op["resources"], json!([{"kind": "ConfigMap", "namespace": "demo", "name": "a"}]));
    assert_eq!(value_of(&world, "a").await, "two");
    assert_eq!(value_of(&world, "b").await, "one", "an object not selected is left as it was");
    assert_eq!(change(op, "b"), &Value::Null, "nor is it in the change set");
    assert_eq!(app["status"]["sync"]["status"], "OutOfSync", "b still differs from Git");
    assert_eq!(
        app["status"]["history"].as_array().map(Vec::len),
        Some(1),
        "a partly applied revision is no history entry to roll back to"
    );

    let app = sync(&world, &[":ConfigMap:typo"], false).await;
    let op = &app["status"]["operationState"];
    assert_eq!(op["phase"], "Failed");
    let message = op["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("`:ConfigMap:typo`") && message.contains("Nothing was applied"),
        "{message}"
    );
    let failed = app["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "SyncFailed").cloned())
        .expect("a SyncFailed condition");
    assert!(failed["message"].as_str().unwrap_or_default().contains("typo"), "{failed}");
    assert_eq!(value_of(&world, "b").await, "one");
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn force_recreates_a_job_whose_template_changed_and_is_a_normal_apply_otherwise() {
    let world = World::start(|repo| {
        repo.write("demo/job.yaml", &job("busybox:1.36")).expect("job");
        repo.write("demo/settings.yaml", &config_map("settings", "one")).expect("settings");
    })
    .await;
    let first = world.head();
    world.create_app("demo", spec(&world.repo_url())).await;
    world.request_sync("demo").await;
    world.wait_synced_healthy("demo", &first).await;
    let job_uid = uid_of::<Job>(&world, "migrate").await;
    let settings_uid = uid_of::<ConfigMap>(&world, "settings").await;

    // Force where nothing is immutable: the ConfigMap is configured in place.
    world.repo.write("demo/settings.yaml", &config_map("settings", "two")).expect("settings");
    commit(&world, "settings two").await;
    let app = sync(&world, &[], true).await;
    let op = &app["status"]["operationState"];
    assert_eq!(op["phase"], "Succeeded", "{op}");
    assert_eq!(change(op, "settings")["action"], "configured");
    assert_eq!(change(op, "migrate")["action"], "unchanged");
    assert_eq!(value_of(&world, "settings").await, "two");
    assert_eq!(uid_of::<ConfigMap>(&world, "settings").await, settings_uid, "not recreated");
    assert_eq!(uid_of::<Job>(&world, "migrate").await, job_uid);

    // A changed Job template: refused without force, with a message that says what to do.
    world.repo.write("demo/job.yaml", &job("busybox:1.37")).expect("job");
    let third = commit(&world, "a new image for the migration").await;
    let app = sync(&world, &[], false).await;
    let op = &app["status"]["operationState"];
    assert_eq!(op["phase"], "Failed");
    let message = change(op, "migrate")["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("field is immutable") && message.contains("force"), "{message}");
    assert_eq!(uid_of::<Job>(&world, "migrate").await, job_uid);

    let app = sync(&world, &[], true).await;
    let op = &app["status"]["operationState"];
    assert_eq!(op["phase"], "Succeeded", "{op}");
    assert_eq!(op["force"], true);
    let recreated = change(op, "migrate");
    assert_eq!(recreated["action"], "configured");
    assert!(
        recreated["message"].as_str().unwrap_or_default().starts_with("deleted and created again"),
        "{recreated}"
    );
    let jobs: Api<Job> = Api::namespaced(world.client.clone(), "demo");
    let live = jobs.get("migrate").await.expect("the Job exists again");
    assert_ne!(live.metadata.uid.as_deref(), Some(job_uid.as_str()), "a new object");
    let image = live.spec.and_then(|s| s.template.spec).map(|p| p.containers[0].image.clone());
    assert_eq!(image, Some(Some("busybox:1.37".to_owned())));
    let app = world.wait_synced_healthy("demo", &third).await;
    let inventory = app["status"]["inventory"].as_array().cloned().unwrap_or_default();
    let recorded = inventory.iter().find(|e| e["name"] == "migrate").expect("in the inventory");
    assert_eq!(recorded["uid"].as_str(), live.metadata.uid.as_deref(), "the inventory follows");
    world.engine.shutdown().await;
}
