//! The disaster-recovery drill of docs/disaster-recovery.md, end to end with real servers:
//! (1) a destination cluster wiped (a new, empty `ferry cluster serve`, the cluster Secret
//! re-pointed) is rebuilt from Git to the same objects; (2) a lost Ferry (Applications, Secrets
//! and its data directory gone) is rebuilt from `ferry export` + Git, and the engine that comes
//! back finds live == desired: not one write to the apps' objects, history as it was.

mod support;

use std::collections::BTreeMap;

use ferry_cluster::RequestStats;
use ferry_testkit::remote::RemoteCluster;
use ferry_testkit::world::APPS_NAMESPACE;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
};
use serde_json::{Value, json};
use support::*;

const SHOP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-config
data:
  colour: blue
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: shop}
  template:
    metadata:
      labels: {app: shop}
    spec:
      containers:
      - name: shop
        image: nginx:1.27
---
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector: {app: shop}
  ports:
  - port: 80
"#;

async fn world() -> World {
    World::start(|repo| repo.write("shop/shop.yaml", SHOP).expect("write")).await
}

/// What an app put in namespace `shop`: kind/name → the declared content (data or spec),
/// without what a cluster assigns (cluster IPs).
async fn shop_objects(client: &kube::Client) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (group, version, kind, field) in [
        ("", "v1", "ConfigMap", "data"),
        ("apps", "v1", "Deployment", "spec"),
        ("", "v1", "Service", "spec"),
    ] {
        let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "shop", &ar);
        for o in api.list(&Default::default()).await.map(|l| l.items).unwrap_or_default() {
            let name = o.metadata.name.clone().unwrap_or_default();
            if name == "kube-root-ca.crt" {
                continue;
            }
            let mut content = o.data[field].clone();
            if let Some(spec) = content.as_object_mut() {
                for assigned in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
                    spec.remove(assigned);
                }
            }
            out.insert(format!("{kind}/{name}"), content);
        }
    }
    out
}

async fn put_secret(client: &kube::Client, secret: Value) {
    let api: Api<Secret> = Api::namespaced(client.clone(), APPS_NAMESPACE);
    let secret: Secret = serde_json::from_value(secret).expect("a Secret");
    let name = secret.metadata.name.clone().expect("named");
    let pp = PatchParams::apply("test").force();
    api.patch(&name, &pp, &Patch::Apply(&secret)).await.expect("the Secret is applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wiped_destination_cluster_is_rebuilt_from_git_to_the_same_objects() {
    let world = world().await;
    let head = world.head();
    world.create_namespace(APPS_NAMESPACE).await;
    let mut east = RemoteCluster::start("east", &world.tmp.path().join("east")).await;
    put_secret(&world.client, east.secret("cluster-east", east.ca_pem())).await;
    let mut spec = automated_spec(&world.repo_url(), "shop", "shop");
    spec["destination"] = json!({"name": "east", "namespace": "shop"});
    world.create_app("shop", spec).await;
    world.wait_synced_healthy("shop", &head).await;
    let before = shop_objects(&east.client().await).await;
    assert_eq!(before.len(), 3, "{before:#?}");

    // The cluster is lost with everything in it; a new, empty one takes its place.
    east.stop().await;
    let fresh = RemoteCluster::start("east", &world.tmp.path().join("east-rebuilt")).await;
    assert!(shop_objects(&fresh.client().await).await.is_empty(), "the new cluster is empty");
    put_secret(&world.client, fresh.secret("cluster-east", fresh.ca_pem())).await;
    let repointed = std::time::Instant::now();

    let client = fresh.client().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let mut after = BTreeMap::new();
    while std::time::Instant::now() < deadline {
        after = shop_objects(&client).await;
        if after == before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(after, before, "the new cluster holds what the old one held");
    world.wait_synced_healthy("shop", &head).await;
    eprintln!(
        "drill 1: the new cluster held the same objects {:?} after the Secret was re-pointed",
        repointed.elapsed()
    );
}

/// Writes that touched anything but Applications (their status), Events and Ferry's own CRDs
/// (every engine applies them as it starts, whether or not anything was lost).
fn object_writes(stats: &RequestStats) -> Vec<String> {
    stats
        .counts
        .iter()
        .filter(|((verb, resource, _), _)| {
            ferry_cluster::stats::WRITE_VERBS.contains(&verb.as_str())
                && !resource.starts_with("applications")
                && !resource.starts_with("events")
                && !resource.starts_with("leases")
                && resource != "customresourcedefinitions.apiextensions.k8s.io"
        })
        .map(|((verb, resource, code), n)| format!("{verb} {resource} {code} ×{n}"))
        .collect()
}

async fn lose_ferry(world: &mut World) {
    world.engine.shutdown().await;
    let apps: Api<DynamicObject> = Api::namespaced_with(
        world.client.clone(),
        APPS_NAMESPACE,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("ferry.dev", "v1alpha1", "Application"),
            "applications",
        ),
    );
    // Gone without cascading: no controller runs to act on a finalizer.
    let strip = json!({"metadata": {"finalizers": null}});
    apps.patch("shop", &PatchParams::default(), &Patch::Merge(&strip)).await.expect("unfinalized");
    apps.delete("shop", &DeleteParams::default()).await.expect("the Application is deleted");
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), APPS_NAMESPACE);
    secrets.delete("repo-config", &DeleteParams::default()).await.expect("the Secret is deleted");
    std::fs::remove_dir_all(world.tmp.path().join("engine")).expect("the data dir is lost");
    assert!(apps.get_opt("shop").await.expect("get").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_ferry_is_rebuilt_from_export_and_git_without_resyncing_any_app() {
    let mut world = world().await;
    let first = world.head();
    world.create_namespace(APPS_NAMESPACE).await;
    let repo_secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "repo-config", "labels": {"argocd.argoproj.io/secret-type": "repository"}},
        "stringData": {"type": "git", "url": world.repo_url(), "password": "s3cr3t-token-for-the-drill"}});
    put_secret(&world.client, repo_secret).await;
    world.create_app("shop", automated_spec(&world.repo_url(), "shop", "shop")).await;
    world.wait_synced_healthy("shop", &first).await;
    world.repo.write("shop/shop.yaml", &SHOP.replace("blue", "green")).expect("edit");
    world.repo.commit("green").expect("commit");
    let head = world.head();
    world.wait_synced_healthy("shop", &head).await;
    let history = world.ferry(&["app", "history", "shop", "-o", "json"]).await.json();
    assert_eq!(history.as_array().map(Vec::len), Some(2), "{history:#}");
    let live = shop_objects(&world.client).await;

    let (identity, recipient) = ferry_secrets::generate_age();
    let key = world.tmp.path().join("age.key");
    std::fs::write(&key, &identity).expect("the key is written");
    let file = world.tmp.path().join("ferry-export.yaml");
    let file_arg = file.display().to_string();
    let exported = world.ferry(&["export", "-o", &file_arg, "--age-recipient", &recipient]).await;
    assert_eq!(exported.code, 0, "{exported:?}");
    assert!(
        exported.stderr.contains("1 Applications") && exported.stderr.contains("sealed"),
        "{exported:?}"
    );
    let text = std::fs::read_to_string(&file).expect("the export is written");
    assert!(!text.contains("s3cr3t") && !text.contains("czNjcjN0"), "no Secret value in clear");
    assert!(text.contains("ENC[AES256_GCM"), "the Secret values are sealed:\n{text}");

    lose_ferry(&mut world).await;

    let without_key = world.ferry(&["import", &file_arg]).await;
    assert_ne!(without_key.code, 0, "{without_key:?}");
    assert!(without_key.stderr.contains("--age-key"), "{without_key:?}");
    let key_arg = key.display().to_string();
    let imported = world.ferry(&["import", &file_arg, "--age-key", &key_arg]).await;
    assert_eq!(imported.code, 0, "{imported:?}");
    let again = world.ferry(&["import", &file_arg, "--age-key", &key_arg]).await;
    assert_eq!(again.code, 0, "import is idempotent: {again:?}");
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), APPS_NAMESPACE);
    let restored = secrets.get("repo-config").await.expect("the repository Secret is back");
    let password = restored.data.expect("data")["password"].0.clone();
    assert_eq!(password, b"s3cr3t-token-for-the-drill");

    let before = world.cluster.stats();
    let restarted = std::time::Instant::now();
    world.restart_engine().await;
    world.wait_synced_healthy("shop", &head).await;
    eprintln!("drill 2: Synced+Healthy {:?} after the new engine started", restarted.elapsed());
    world.request_sync_free_wait(&head).await;
    let writes = object_writes(&world.cluster.stats().since(&before));
    assert!(
        writes.is_empty(),
        "the rebuilt Ferry re-applied objects that were in sync: {writes:?}"
    );
    assert_eq!(shop_objects(&world.client).await, live);
    let after = world.ferry(&["app", "history", "shop", "-o", "json"]).await.json();
    assert_eq!(after, history, "ferry app history shows the history from before the loss");
}

trait Settle {
    async fn request_sync_free_wait(&self, head: &str);
}

impl Settle for World {
    /// Waits for Synced+Healthy at `head` and then a few more reconcile rounds (poll: 500 ms).
    async fn request_sync_free_wait(&self, head: &str) {
        self.wait_synced_healthy("shop", head).await;
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        self.wait_synced_healthy("shop", head).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_from_a_newer_ferry_is_refused_with_what_to_do() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("future.yaml");
    std::fs::write(
        &file,
        "apiVersion: ferry.dev/export\nkind: FerryExport\nformatVersion: 99\nferryVersion: 9.0.0\nexportedAt: x\nsecrets: omit\nobjects: []\n",
    )
    .expect("write");
    let run = ferry_with(tmp.path(), &[], &["import", &file.display().to_string()]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("future.yaml"), "the file is named: {run:?}");
    assert!(run.stderr.contains("newer Ferry") && run.stderr.contains("upgrade ferry"), "{run:?}");
}
