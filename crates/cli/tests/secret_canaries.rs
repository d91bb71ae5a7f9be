//! Secret canaries: values planted in Secrets (plain `stringData`, base64 `data`, Helm values, a
//! SOPS-encrypted Secret decrypted by the engine)
//! must not reach any sink Ferry writes — its logs at TRACE, Application status, Events, every
//! API response, the metrics, the engine's data directory outside the repository cache, and the
//! CLI's outputs — while the apps sync, drift, heal and go OutOfSync on a changed Secret.

mod support;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::{Event, Secret};
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use support::*;
use tower::ServiceExt;

const PLAIN: &str = "canary-plain-7f3a";
const BASE64: &str = "canary-b64-91c2";
const HELM: &str = "canary-helm-55d0";
const DRIFT: &str = "canary-drift-0be4";
const CHANGED: &str = "canary-changed-c81e";
const SOPS: &str = "canary-sops-3b7d";

/// The age key the SOPS app's Secret is encrypted for (identity, recipient).
fn age_key() -> &'static (String, String) {
    static KEY: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    KEY.get_or_init(ferry_secrets::generate_age)
}

/// Each canary as planted and as base64 (how `data` and the API carry it).
fn forms() -> Vec<(String, &'static str)> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    [PLAIN, BASE64, HELM, DRIFT, CHANGED, SOPS]
        .into_iter()
        .flat_map(|c| [(c.to_owned(), c), (b64.encode(c), c)])
        .collect()
}

fn assert_clean(sink: &str, text: &str) {
    for (form, canary) in forms() {
        if let Some(at) = text.find(&form) {
            let from = text[..at].char_indices().rev().nth(200).map_or(0, |(i, _)| i);
            let context = &text[from..(at + form.len()).min(text.len())];
            panic!("{canary} leaked into {sink} (as {form:?}):\n…{context}");
        }
    }
}

/// A writer that keeps everything the engine logs.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> Capture {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let capture = Capture::default();
    let writer = capture.clone();
    // Ferry's crates at TRACE; the embedded cluster (the test bed, standing in for a real API
    // server) and the libraries at INFO.
    let targets = Targets::new()
        .with_default(LevelFilter::INFO)
        .with_target("ferry_cluster", LevelFilter::INFO)
        .with_targets(
            [
                "ferry_engine",
                "ferry_api",
                "ferry_source",
                "ferry_render",
                "ferry_apply",
                "ferry_diff",
                "ferry_secrets",
            ]
            .map(|t| (t, LevelFilter::TRACE)),
        );
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(move || writer.clone()).with_ansi(false))
        .with(targets)
        .init();
    capture
}

fn write_repo(repo: &Repo) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(BASE64);
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {PLAIN}\ndata:\n  token: {b64}\n"
    );
    repo.write("plain/secret.yaml", &secret).expect("write");
    repo.write("manual/secret.yaml", &secret.replace("name: db", "name: manual")).expect("write");
    let sops_secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-db\nstringData:\n  password: {SOPS}\n"
    );
    let opts = ferry_secrets::EncryptOptions {
        age: vec![age_key().1.clone()],
        encrypted_regex: Some("^(data|stringData)$".into()),
        ..Default::default()
    };
    let encrypted =
        ferry_secrets::encrypt(ferry_secrets::Format::Yaml, sops_secret.as_bytes(), &opts)
            .expect("encrypts");
    repo.write("sops/secret.enc.yaml", &String::from_utf8(encrypted).expect("YAML"))
        .expect("write");
    repo.write("chart/Chart.yaml", "apiVersion: v2\nname: canary\nversion: 0.1.0\n")
        .expect("write");
    repo.write("chart/values.yaml", &format!("password: {HELM}\n")).expect("write");
    repo.write(
        "chart/templates/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: helm-db\ndata:\n  password: {{ .Values.password | b64enc }}\n",
    )
    .expect("write");
}

async fn api_texts(world: &mut World) -> Vec<(String, String)> {
    let registry = std::mem::take(&mut world.registry);
    let router =
        ferry_api::router(ferry_api::ApiState::builder(world.engine.clone(), registry).build());
    let mut paths = vec!["/api/v1/applications".to_owned(), "/metrics".to_owned()];
    for app in ["plain", "helm", "manual", "sops"] {
        let base = format!("/api/v1/applications/ferry/{app}");
        for tail in ["", "/resources", "/diff", "/history", "/events", "/tree"] {
            paths.push(format!("{base}{tail}"));
        }
    }
    let mut texts = Vec::new();
    for path in paths {
        let request = Request::get(&path).body(Body::empty()).expect("request");
        let response = router.clone().oneshot(request).await.expect("an answer");
        let bytes = response.into_body().collect().await.expect("a body").to_bytes();
        texts.push((format!("GET {path}"), String::from_utf8_lossy(&bytes).into_owned()));
    }
    texts
}

async fn cli_texts(world: &World) -> Vec<(String, String)> {
    let mut texts = Vec::new();
    for app in ["plain", "helm", "manual", "sops"] {
        for args in [
            vec!["app", "get", app],
            vec!["app", "get", app, "-o", "json"],
            vec!["app", "get", app, "-o", "yaml"],
            vec!["app", "diff", app],
            vec!["app", "resources", app],
            vec!["app", "history", app],
            vec!["app", "manifests", app],
            vec!["app", "manifests", app, "--source", "live", "-o", "json"],
        ] {
            let run = world.ferry(&args).await;
            texts.push((
                format!("ferry {}", args.join(" ")),
                format!("{}{}", run.stdout, run.stderr),
            ));
        }
    }
    texts
}

/// Every file of the engine's data directory but the repository cache (which is the repository).
fn data_dir_texts(dir: &Path) -> Vec<(String, String)> {
    let mut texts = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && path.file_name().is_some_and(|n| n != "repos") {
                stack.push(path);
            } else if path.is_file() {
                let bytes = std::fs::read(&path).unwrap_or_default();
                texts.push((
                    path.display().to_string(),
                    String::from_utf8_lossy(&bytes).into_owned(),
                ));
            }
        }
    }
    texts
}

/// The SOPS app's key Secret, in the Applications' namespace.
async fn put_sops_keys(world: &World) {
    world.create_namespace("ferry").await;
    let api: Api<Secret> = Api::namespaced(world.client.clone(), "ferry");
    let mut secret = Secret::default();
    secret.metadata.name = Some("sops-age".into());
    let identity = k8s_openapi::ByteString(age_key().0.as_bytes().to_vec());
    secret.data = Some([("age.agekey".to_owned(), identity)].into());
    api.create(&kube::api::PostParams::default(), &secret).await.expect("key Secret created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secret_canaries_reach_no_log_status_event_api_response_metric_file_or_cli_output() {
    let logs = capture_logs();
    let mut world = World::start(write_repo).await;
    let url = world.repo_url();
    world.create_app("plain", automated_spec(&url, "plain", "shop")).await;
    world.create_app("helm", automated_spec(&url, "chart", "shop")).await;
    let mut manual = automated_spec(&url, "manual", "shop");
    manual["syncPolicy"]["automated"] = Value::Null;
    world.create_app("manual", manual).await;
    put_sops_keys(&world).await;
    let mut sops = automated_spec(&url, "sops", "shop");
    sops["decryption"] = json!({"provider": "sops", "secretRef": {"name": "sops-age"}});
    world.create_app("sops", sops).await;
    let head = world.head();
    world.wait_synced_healthy("sops", &head).await;
    let applied: Api<Secret> = Api::namespaced(world.client.clone(), "shop");
    let applied = applied.get("sops-db").await.expect("the decrypted Secret is applied");
    let data = applied.data.unwrap_or_default();
    assert_eq!(
        data.get("password").map(|b| b.0.as_slice()),
        Some(SOPS.as_bytes()),
        "the cluster holds the cleartext"
    );
    world.wait_synced_healthy("plain", &head).await;
    world.wait_synced_healthy("helm", &head).await;
    world.request_sync("manual").await;
    world.wait_synced_healthy("manual", &head).await;

    // Drift on a Secret, healed; then a Secret changed in Git that the manual app does not take.
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), "shop");
    let drift = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
        "stringData": {"password": DRIFT}});
    secrets
        .patch("db", &PatchParams::apply("intruder").force(), &Patch::Apply(drift))
        .await
        .expect("drift");
    world.repo.edit("manual/secret.yaml", PLAIN, CHANGED).expect("edit");
    let changed = world.repo.commit("rotate the manual app's password").expect("commit");
    world
        .wait_for("manual", "OutOfSync on the changed Secret", |a| {
            a["status"]["sync"]["status"] == "OutOfSync"
                && a["status"]["sync"]["revision"].as_str() == Some(changed.as_str())
        })
        .await;
    world.wait_for("plain", "healed", |a| a["status"]["sync"]["status"] == "Synced").await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut sinks: Vec<(String, String)> = Vec::new();
    let apps: Api<ferry_engine::Application> = Api::namespaced(world.client.clone(), "ferry");
    for app in apps.list(&ListParams::default()).await.expect("list apps") {
        sinks.push((
            format!("status of {}", app.metadata.name.clone().unwrap_or_default()),
            serde_json::to_string(&app).expect("json"),
        ));
    }
    let events: Api<Event> = Api::all(world.client.clone());
    let events = events.list(&ListParams::default()).await.expect("list events");
    sinks.push(("Events".into(), serde_json::to_string(&events.items).expect("json")));
    sinks.extend(cli_texts(&world).await);
    sinks.extend(api_texts(&mut world).await);
    sinks.extend(data_dir_texts(&world.tmp.path().join("engine")));
    let logged = String::from_utf8_lossy(&logs.0.lock().expect("logs")).into_owned();
    assert!(logged.contains("reconcile"), "TRACE logs were captured");
    sinks.push(("logs".into(), logged));

    for (sink, text) in &sinks {
        assert_clean(sink, text);
    }
    let diff = sinks.iter().find(|(s, _)| s == "ferry app diff manual").expect("diff ran");
    assert!(diff.1.contains("++++++++"), "the diff shows the change masked:\n{}", diff.1);
}
