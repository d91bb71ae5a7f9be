//! Test fixtures (adapted from the engine's): a Git repository built in the test with an
//! isolated config, served by a real `git daemon` on a random loopback port, the embedded
//! cluster, a running engine, and the API router over them.

#![allow(dead_code)]

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use ferry_api::{ApiState, ApiStateBuilder};
use ferry_cluster::RunningCluster;
use ferry_engine::{Application, Engine, EngineConfig};
use http_body_util::BodyExt;
use kube::Client;
use kube::api::{Api, PostParams};
use prometheus_client::registry::Registry;
use serde_json::Value;
use tempfile::TempDir;
use tower::ServiceExt;

pub fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus").join(rel)
}

/// A git repository with a `main` branch and an isolated git configuration.
pub struct Repo {
    pub dir: PathBuf,
}

impl Repo {
    pub fn init(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).expect("repo dir");
        let repo = Self { dir: dir.to_owned() };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(&self.dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .output()
            .expect("git runs (Debian package git)");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    pub fn copy_in(&self, src: &Path, rel: &str) {
        copy_dir(src, &self.dir.join(rel));
    }

    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}

pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for entry in std::fs::read_dir(src).expect("read corpus dir") {
        let entry = entry.expect("entry");
        let to = dst.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), to).expect("copy");
        }
    }
}

/// A real `git daemon` serving every repository under `base`; stopped on drop.
pub struct GitDaemon {
    child: Child,
    pub port: u16,
}

impl GitDaemon {
    pub fn start(base: &Path) -> Self {
        let port = free_port();
        let child = Command::new("git")
            .args([
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                &format!("--base-path={}", base.display()),
                &base.display().to_string(),
            ])
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // `git daemon` runs `git-daemon` as a child: a process group lets drop end both.
            .process_group(0)
            .spawn()
            .expect("git daemon starts (Debian package git)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "git daemon did not listen on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ =
            Command::new("kill").args(["-KILL", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// How the world is set up.
pub struct Options {
    pub poll_interval: Duration,
    pub configure: Box<dyn FnOnce(ApiStateBuilder) -> ApiStateBuilder>,
}

impl Default for Options {
    fn default() -> Self {
        Self { poll_interval: Duration::from_millis(500), configure: Box::new(|b| b) }
    }
}

/// The embedded cluster, a served repository, an engine and the API router; torn down on drop.
pub struct World {
    pub cluster: RunningCluster,
    pub client: Client,
    pub engine: Engine,
    pub state: ApiState,
    pub repo: Repo,
    pub daemon: GitDaemon,
    pub tmp: TempDir,
}

impl World {
    pub async fn start(setup: impl FnOnce(&Repo)) -> Self {
        Self::start_with(setup, Options::default()).await
    }

    /// `setup` fills the repository before the first commit.
    pub async fn start_with(setup: impl FnOnce(&Repo), options: Options) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let repo = Repo::init(&tmp.path().join("git/config.git"));
        setup(&repo);
        repo.commit("initial");
        let daemon = GitDaemon::start(&tmp.path().join("git"));
        let cluster = ferry_cluster::testing::start().await;
        let client = cluster.client().await.expect("client");
        let mut registry = Registry::default();
        let config =
            EngineConfig::new(tmp.path().join("engine")).poll_interval(options.poll_interval);
        let engine =
            Engine::start(client.clone(), config, &mut registry).await.expect("engine starts");
        let state = (options.configure)(ApiState::builder(engine.clone(), registry)).build();
        Self { cluster, client, engine, state, repo, daemon, tmp }
    }

    pub fn router(&self) -> Router {
        ferry_api::router(self.state.clone())
    }

    pub fn repo_url(&self) -> String {
        self.daemon.url("config.git")
    }

    pub async fn create_namespace(&self, name: &str) {
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        let ns = serde_json::from_value(
            serde_json::json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":name}}),
        )
        .expect("ns");
        let _ = api.create(&PostParams::default(), &ns).await;
    }

    /// Creates an Application in namespace `ferry` from a JSON spec.
    pub async fn create_app(&self, name: &str, spec: Value) -> Api<Application> {
        self.create_namespace("ferry").await;
        let api: Api<Application> = Api::namespaced(self.client.clone(), "ferry");
        let app: Application = serde_json::from_value(serde_json::json!({
            "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": "ferry"}, "spec": spec
        }))
        .expect("a valid Application");
        api.create(&PostParams::default(), &app).await.expect("Application created");
        api
    }

    /// Waits until `check` holds for what the API answers at `path`, or fails with the last answer.
    pub async fn wait_api(&self, path: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut last = Value::Null;
        while Instant::now() < deadline {
            let (status, body) = self.get(path).await;
            if status == StatusCode::OK {
                if check(&body) {
                    return body;
                }
                last = body;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "timed out waiting for {what} at {path}; last answer:\n{}",
            serde_json::to_string_pretty(&last).unwrap_or_default()
        );
    }

    /// Waits until the app is Synced and Healthy at `revision`, as the API reports it.
    pub async fn wait_synced_healthy(&self, name: &str, revision: &str) -> Value {
        let rev = revision.to_owned();
        self.wait_api(
            &format!("/api/v1/applications/ferry/{name}"),
            &format!("{name} Synced+Healthy at {revision}"),
            move |a| {
                a["status"]["sync"]["status"] == "Synced"
                    && a["status"]["health"]["status"] == "Healthy"
                    && a["status"]["sync"]["revision"] == rev.as_str()
            },
        )
        .await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        send(self.router(), Request::get(path).body(Body::empty()).expect("request")).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let request = Request::post(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        send(self.router(), request).await
    }
}

/// Sends one request through the router; the body as JSON (or a JSON string for text).
pub async fn send(router: Router, request: Request<Body>) -> (StatusCode, Value) {
    let (status, text) = send_text(router, request).await;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

pub async fn send_text(router: Router, request: Request<Body>) -> (StatusCode, String) {
    let response = router.oneshot(request).await.expect("the router always answers");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("a body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

pub fn guestbook_spec(url: &str) -> Value {
    serde_json::json!({
        "source": {"repoURL": url, "targetRevision": "main", "path": "guestbook"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "guestbook"},
        "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}
    })
}

/// Fails the test with promtool's complaints unless `text` passes `promtool check metrics`.
pub fn assert_promtool_accepts(text: &str) {
    use std::io::Write;
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (install the Debian package `prometheus`)");
    promtool.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write to promtool");
    let out = promtool.wait_with_output().expect("promtool finishes");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
