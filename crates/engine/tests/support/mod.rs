//! Test fixtures: a Git repository built in the test with an isolated config, served by a real
//! `git daemon` on a random loopback port, and an engine running against the embedded cluster.

#![allow(dead_code)]

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry_cluster::RunningCluster;
use ferry_engine::{Application, Engine, EngineConfig};
use kube::Client;
use kube::api::{Api, PostParams};
use prometheus_client::registry::Registry;
use serde_json::Value;
use tempfile::TempDir;

/// An Application spec following `main` of `url` at `path`, deployed into `namespace` (created),
/// with automated sync, prune and self-heal.
pub fn automated_spec(url: &str, path: &str, namespace: &str) -> Value {
    serde_json::json!({
        "source": {"repoURL": url, "targetRevision": "main", "path": path},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
        "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}
    })
}

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
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Replaces `from` with `to` in the file `rel` of the work tree (not committed).
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let path = self.dir.join(rel);
        let text = std::fs::read_to_string(&path).expect("the file to edit");
        std::fs::write(&path, text.replace(from, to)).expect("edit");
    }

    pub fn write(&self, rel: &str, content: &str) {
        let path = self.dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("a file has a parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
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
                "--enable=receive-pack",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                &format!("--base-path={}", base.display()),
                &base.display().to_string(),
            ])
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // `git daemon` runs `git-daemon` as a child: a process group lets stop() end both.
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

    /// Stops the server (an outage).
    pub fn stop(&mut self) {
        // `--` so the negative pid names the process group, not a signal.
        let _ =
            Command::new("kill").args(["-KILL", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The `git-daemon` grandchild dies asynchronously: wait until the port refuses.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn engine_config(tmp: &Path) -> EngineConfig {
    let mut config =
        EngineConfig::new(tmp.join("engine")).poll_interval(Duration::from_millis(500));
    config.render = config.render.with_helm(helm_wrapper());
    config.executor =
        config.executor.wave_timeout(Duration::from_secs(60)).hook_timeout(Duration::from_secs(60));
    config
}

/// The embedded cluster, a served repository and an engine, torn down on drop.
pub struct World {
    pub cluster: RunningCluster,
    pub client: Client,
    pub engine: Engine,
    pub repo: Repo,
    pub daemon: GitDaemon,
    pub tmp: TempDir,
    pub registry: Registry,
}

impl World {
    /// `setup` fills the repository before the first commit.
    pub async fn start(setup: impl FnOnce(&Repo)) -> Self {
        Self::start_with(ferry_cluster::testing::fast_config(), setup).await
    }

    /// As [`World::start`], on a cluster started with `config`.
    pub async fn start_with(
        config: ferry_cluster::ClusterConfig,
        setup: impl FnOnce(&Repo),
    ) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let repo = Repo::init(&tmp.path().join("git/config.git"));
        setup(&repo);
        repo.commit("initial");
        let daemon = GitDaemon::start(&tmp.path().join("git"));
        let cluster = ferry_cluster::testing::try_start(config).await.expect("the cluster starts");
        let client = cluster.client().await.expect("client");
        let mut registry = Registry::default();
        let engine = Engine::start(client.clone(), engine_config(tmp.path()), &mut registry)
            .await
            .expect("engine starts");
        Self { cluster, client, engine, repo, daemon, tmp, registry }
    }

    /// Stops the engine where it is (its tasks are aborted at their next await, as a killed
    /// process would stop) and starts a new one on the same data directory and cluster.
    pub async fn restart_engine(&mut self) {
        self.engine.shutdown().await;
        let mut registry = Registry::default();
        self.engine =
            Engine::start(self.client.clone(), engine_config(self.tmp.path()), &mut registry)
                .await
                .expect("engine restarts");
        self.registry = registry;
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

    /// Waits until `check` holds for the app's status, or fails with the last status seen.
    pub async fn wait_for(&self, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let api: Api<Application> = Api::namespaced(self.client.clone(), "ferry");
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut last = Value::Null;
        while Instant::now() < deadline {
            if let Ok(app) = api.get(name).await {
                last = serde_json::to_value(&app).expect("json");
                if check(&last) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "timed out waiting for {name} to be {what}; last seen:\n{}",
            serde_json::to_string_pretty(&last["status"]).unwrap_or_default()
        );
    }

    pub async fn wait_synced_healthy(&self, name: &str, revision: &str) -> Value {
        let rev = revision.to_owned();
        self.wait_for(name, &format!("Synced+Healthy at {revision}"), move |a| {
            a["status"]["sync"]["status"] == "Synced"
                && a["status"]["health"]["status"] == "Healthy"
                && a["status"]["sync"]["revision"] == rev.as_str()
        })
        .await
    }
}

/// The `helm` the render tests use: real Helm (the helm-python-sdk package) behind a
/// `helm template`-compatible wrapper.
pub fn helm_wrapper() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../render/tests/support/helm")
}

impl World {
    /// Asks for a sync now, the way `ferry app sync` does (a fresh annotation value).
    pub async fn request_sync(&self, name: &str) {
        let api: Api<Application> = Api::namespaced(self.client.clone(), "ferry");
        let at = jiff::Timestamp::now().to_string();
        let patch = serde_json::json!({"metadata": {"annotations": {
            ferry_engine::application::ANNOTATION_SYNC_REQUEST: at}}});
        api.patch(name, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch))
            .await
            .expect("sync requested");
    }

    /// Plays the part of a cloud load-balancer controller and an ingress controller, which the
    /// embedded cluster does not run: every LoadBalancer Service and Ingress in `namespace` gets
    /// an address in its status, as MetalLB or ingress-nginx would publish it.
    pub async fn publish_load_balancer_addresses(&self, namespace: &str) -> usize {
        use k8s_openapi::api::core::v1::Service;
        use k8s_openapi::api::networking::v1::Ingress;
        let address =
            serde_json::json!({"status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}});
        let pp = kube::api::PatchParams::default();
        let mut published = 0;
        let services: Api<Service> = Api::namespaced(self.client.clone(), namespace);
        for s in services.list(&Default::default()).await.expect("list services").items {
            if s.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer") {
                let name = s.metadata.name.clone().unwrap_or_default();
                services
                    .patch_status(&name, &pp, &kube::api::Patch::Merge(&address))
                    .await
                    .expect("the Service status takes an address");
                published += 1;
            }
        }
        let ingresses: Api<Ingress> = Api::namespaced(self.client.clone(), namespace);
        for i in ingresses.list(&Default::default()).await.expect("list ingresses").items {
            let name = i.metadata.name.clone().unwrap_or_default();
            ingresses
                .patch_status(&name, &pp, &kube::api::Patch::Merge(&address))
                .await
                .expect("the Ingress status takes an address");
            published += 1;
        }
        published
    }
}
