//! SOPS end to end: an app whose Secret is encrypted in Git ends Synced with the decrypted Secret
//! in the cluster; a missing key Secret, a wrong key and a tampered file stop the app with a
//! condition naming the cause, and nothing is applied or pruned.

mod support;

use std::time::Duration;

use ferry_secrets::{EncryptOptions, Format};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::{Value, json};
use support::*;

const CANARY: &str = "sops-canary-4d1e-in-cluster-only";
const KEYS: &str = "sops-age";

fn secret_yaml() -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\nstringData:\n  password: {CANARY}\n"
    )
}

fn encrypt_for(recipient: &str, plain: &str) -> String {
    let opts = EncryptOptions {
        age: vec![recipient.to_owned()],
        encrypted_regex: Some("^(data|stringData)$".into()),
        ..EncryptOptions::default()
    };
    let bytes = ferry_secrets::encrypt(Format::Yaml, plain.as_bytes(), &opts).expect("encrypts");
    String::from_utf8(bytes).expect("YAML")
}

const CONFIG_MAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  a: b\n";

/// A world whose `app/` holds an encrypted Secret and a plain ConfigMap, and an age identity.
async fn sops_world() -> (World, String) {
    let (identity, recipient) = ferry_secrets::generate_age();
    let encrypted = encrypt_for(&recipient, &secret_yaml());
    let world = World::start(|repo| {
        repo.write("app/secret.enc.yaml", &encrypted).expect("write");
        repo.write("app/cm.yaml", CONFIG_MAP).expect("write");
    })
    .await;
    (world, identity)
}

fn spec(world: &World) -> Value {
    let mut spec = automated_spec(&world.repo_url(), "app", "sops");
    spec["decryption"] = json!({"provider": "sops", "secretRef": {"name": KEYS}});
    spec
}

async fn put_keys(world: &World, identity: &str) {
    world.create_namespace("ferry").await;
    let api: Api<Secret> = Api::namespaced(world.client.clone(), "ferry");
    let _ = api.delete(KEYS, &DeleteParams::default()).await;
    let mut secret = Secret::default();
    secret.metadata.name = Some(KEYS.into());
    secret.data =
        Some([("age.agekey".to_owned(), ByteString(identity.as_bytes().to_vec()))].into());
    api.create(&PostParams::default(), &secret).await.expect("key Secret created");
}

fn render_message(app: &Value) -> String {
    app["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "RenderReady" && c["status"] == "False"))
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default()
        .to_owned()
}

async fn wait_render_error(world: &World, what: &str, needle: &str) -> String {
    let app = world.wait_for("app", what, |a| render_message(a).contains(needle)).await;
    render_message(&app)
}

async fn config_map_exists(world: &World) -> bool {
    let api: Api<ConfigMap> = Api::namespaced(world.client.clone(), "sops");
    api.get_opt("plain").await.ok().flatten().is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_whose_secret_is_sops_encrypted_ends_synced_with_the_decrypted_secret() {
    let (world, identity) = sops_world().await;
    put_keys(&world, &identity).await;
    world.create_app("app", spec(&world)).await;
    let app = world.wait_synced_healthy("app", &world.head()).await;
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), "sops");
    let secret = secrets.get("db").await.expect("the Secret is applied");
    let data = secret.data.unwrap_or_default();
    let stored = data.get("password").map(|b| b.0.clone()).or_else(|| {
        secret.string_data.unwrap_or_default().get("password").map(|s| s.as_bytes().to_vec())
    });
    assert_eq!(stored.as_deref(), Some(CANARY.as_bytes()), "the cluster holds the cleartext");
    assert!(!app.to_string().contains(CANARY), "the status never shows the value");
    assert!(!app.to_string().contains("sops:"), "no metadata leaks into status");

    // A quiet app keeps its key ring: reconciles read no Secret.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = world.cluster.stats();
    for _ in 0..3 {
        world.engine.refresh("ferry", "app");
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let reads = world.cluster.stats().since(&before);
    assert_eq!(
        reads.resource("secrets"),
        0,
        "reconciles of an unchanged app read Secrets: {reads:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missing_then_wrong_key_stops_the_app_until_the_right_key_comes() {
    let (world, identity) = sops_world().await;
    world.create_app("app", spec(&world)).await;
    let message =
        wait_render_error(&world, "reporting the missing key Secret", "does not exist").await;
    assert!(message.contains(&format!("ferry/{KEYS}")), "names the Secret: {message}");
    let (wrong, _) = ferry_secrets::generate_age();
    put_keys(&world, &wrong).await;
    let message = wait_render_error(&world, "reporting the wrong key", "none of the").await;
    assert!(message.contains("app/secret.enc.yaml"), "names the file: {message}");
    assert!(!config_map_exists(&world).await, "nothing of the app was applied");
    put_keys(&world, &identity).await;
    world.wait_synced_healthy("app", &world.head()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tampered_commit_stops_the_app_and_prunes_nothing() {
    let (world, identity) = sops_world().await;
    put_keys(&world, &identity).await;
    world.create_app("app", spec(&world)).await;
    world.wait_synced_healthy("app", &world.head()).await;
    let path = world.repo.dir.join("app/secret.enc.yaml");
    let tampered = std::fs::read_to_string(&path).expect("read").replace("name: db", "name: dc");
    world.repo.write("app/secret.enc.yaml", &tampered).expect("write");
    std::fs::remove_file(world.repo.dir.join("app/cm.yaml")).expect("rm");
    world.repo.commit("tampered secret, ConfigMap removed").expect("commit");
    let message = wait_render_error(&world, "reporting the MAC mismatch", "MAC").await;
    assert!(message.contains("app/secret.enc.yaml"), "names the file: {message}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(config_map_exists(&world).await, "the ConfigMap was not pruned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_secret_changed_after_sync_renders_the_app_again_at_once() {
    let (world, identity) = sops_world().await;
    put_keys(&world, &identity).await;
    world.create_app("app", spec(&world)).await;
    world.wait_synced_healthy("app", &world.head()).await;
    let (wrong, _) = ferry_secrets::generate_age();
    put_keys(&world, &wrong).await;
    let message =
        wait_render_error(&world, "rendering again with the replaced key", "none of the").await;
    assert!(message.contains("app/secret.enc.yaml"), "names the file: {message}");
    assert!(config_map_exists(&world).await, "the last good render stays applied");
}
