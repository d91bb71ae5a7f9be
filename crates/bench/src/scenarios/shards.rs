//! `shards`: many tiny apps (one ConfigMap each; 10,000 by default) reconciled by 1, 2 and 4
//! replicas. Every replica is a `ferry controller` child process and the cluster a `ferry
//! cluster serve` child process (a fresh one per replica count), so each RSS is one replica's
//! alone. Reported per replica count: seconds from starting the replicas (the Applications
//! already exist) until all are Synced+Healthy, RSS per replica (peak and at the end),
//! reconciles per replica, and overlaps: reconciles of one app by two replicas whose intervals
//! intersect, read from the replicas' reconcile journals. Overlaps must be 0.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry_engine::Application;
use ferry_engine::shard::journal;
use ferry_testkit::{GitDaemon, Repo};
use futures::StreamExt;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::{Value, json};

use super::Options;
use super::many_apps::app_name;
use crate::manifests::{app_spec, one_config_map};
use crate::world::{client_from, named_runtime, synced_healthy_at};
use crate::{BenchError, Report};

const SHARDS: u32 = 16;
const NAMESPACE: &str = "ferry";

pub(crate) fn run(opts: &Options, report: &mut Report) -> Result<(), BenchError> {
    let apps = opts.size.unwrap_or(opts.pick(200, 10_000));
    let counts: &[usize] = if opts.quick { &[1, 2] } else { &[1, 2, 4] };
    let ferry = ferry_binary()?;
    let tmp = tempfile::tempdir().map_err(|source| io("create a temporary directory", source))?;
    let repo = Repo::init(&tmp.path().join("git").join("config.git"))?;
    repo.git(&["config", "gc.auto", "0"])?;
    for i in 0..apps {
        let name = app_name(i);
        repo.write(&format!("apps/{name}/objects.yaml"), &one_config_map(&name, "v1"))?;
    }
    repo.commit("initial")?;
    let revision = repo.git(&["rev-parse", "HEAD"])?;
    let daemon = GitDaemon::start(&tmp.path().join("git"))?;
    let url = daemon.url("config.git");
    for &replicas in counts {
        let dir = tmp.path().join(format!("replicas-{replicas}"));
        let run = Run { ferry: &ferry, dir: &dir, url: &url, revision: &revision, apps, replicas };
        let result = run.measure()?;
        report.results.insert(format!("replicas_{replicas}"), result);
    }
    report.results.insert("apps".into(), json!(apps));
    report.results.insert("shards".into(), json!(SHARDS));
    report.notes.push(format!(
        "each replica is a `ferry controller --shards {SHARDS}` child process and the cluster a `ferry cluster serve` child process; rss_mib is the replica's own (/proc/PID/status VmRSS); all processes share this machine's CPUs, so more replicas do not add CPU here"
    ));
    Ok(())
}

/// The `ferry` binary: `FERRY_BIN`, else this executable (`ferry bench` runs inside `ferry`).
fn ferry_binary() -> Result<PathBuf, BenchError> {
    if let Some(bin) = std::env::var_os("FERRY_BIN") {
        return Ok(PathBuf::from(bin));
    }
    std::env::current_exe().map_err(|source| io("find the ferry executable", source))
}

fn io(what: &str, source: std::io::Error) -> BenchError {
    BenchError::Io { what: what.to_owned(), source }
}

/// Child processes killed when dropped.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

struct Run<'a> {
    ferry: &'a Path,
    dir: &'a Path,
    url: &'a str,
    revision: &'a str,
    apps: usize,
    replicas: usize,
}

impl Run<'_> {
    fn measure(&self) -> Result<Value, BenchError> {
        std::fs::create_dir_all(self.dir)
            .map_err(|source| io("create the run directory", source))?;
        let mut children = Children(Vec::new());
        let kubeconfig = self.serve_cluster(&mut children)?;
        let rt = named_runtime("ferry-bench-harness")?;
        let client = rt.block_on(client_from(&kubeconfig))?;
        rt.block_on(self.create_apps(&client))?;
        let started = Instant::now();
        let pids: Vec<u32> = (0..self.replicas)
            .map(|i| self.spawn_replica(&kubeconfig, i, &mut children))
            .collect::<Result<_, _>>()?;
        let mut peak = vec![0u64; pids.len()];
        let done = rt.block_on(self.wait_synced(&client, &pids, &mut peak))?;
        let seconds = started.elapsed().as_secs_f64();
        let rss: Vec<f64> = pids.iter().map(|p| mib(rss_kib(*p))).collect();
        drop(children);
        let mut spans = Vec::new();
        let mut reconciles = Vec::new();
        for i in 0..self.replicas {
            let read = journal::read(&self.journal(i)).unwrap_or_default();
            reconciles.push(read.len());
            spans.extend(read);
        }
        let overlaps = journal::overlaps(&spans);
        let mut distinct: Vec<&str> = spans.iter().map(|s| s.app.as_str()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        Ok(json!({
            "replicas": self.replicas,
            "synced_healthy_s": crate::measure::round(seconds),
            "all_synced": done,
            "rss_mib_end": rss,
            "rss_mib_peak": peak.iter().map(|k| mib(*k)).collect::<Vec<_>>(),
            "reconciles": reconciles,
            "apps_reconciled": distinct.len(),
            "overlaps": overlaps.len(),
        }))
    }

    fn journal(&self, i: usize) -> PathBuf {
        self.dir.join(format!("replica-{i}.journal.jsonl"))
    }

    /// Starts `ferry cluster serve` and returns its kubeconfig path (from its second line).
    fn serve_cluster(&self, children: &mut Children) -> Result<PathBuf, BenchError> {
        let mut child = Command::new(self.ferry)
            .args(["cluster", "serve", "--data-dir"])
            .arg(self.dir.join("cluster"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| io("start `ferry cluster serve`", source))?;
        let stdout = child.stdout.take();
        children.0.push(child);
        let lines = BufReader::new(stdout.ok_or_else(|| BenchError::Tool {
            tool: "ferry cluster serve".into(),
            message: "no stdout".into(),
        })?)
        .lines();
        for line in lines {
            let line = line.map_err(|source| io("read `ferry cluster serve` output", source))?;
            if let Some(path) = line.strip_prefix("kubeconfig: ") {
                return Ok(PathBuf::from(path.trim()));
            }
        }
        Err(BenchError::Tool {
            tool: "ferry cluster serve".into(),
            message: "exited before printing its kubeconfig".into(),
        })
    }

    async fn create_apps(&self, client: &kube::Client) -> Result<(), BenchError> {
        let kube_err = |what: String| move |source| BenchError::Kube { what, source };
        ferry_engine::install_crd(client).await.map_err(kube_err("install the CRDs".into()))?;
        for ns in [NAMESPACE, "bench-shards"] {
            let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
            let object = serde_json::from_value(json!({"metadata": {"name": ns}}))
                .map_err(|source| BenchError::Json { what: "a Namespace".into(), source })?;
            let _ = api.create(&PostParams::default(), &object).await;
        }
        let api: Api<Application> = Api::namespaced(client.clone(), NAMESPACE);
        let results: Vec<Result<(), BenchError>> = futures::stream::iter((0..self.apps).map(|i| {
            let api = api.clone();
            let name = app_name(i);
            let spec = app_spec(self.url, &format!("apps/{name}"), "bench-shards");
            async move {
                let app: Application = serde_json::from_value(json!({
                    "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
                    "metadata": {"name": name, "namespace": NAMESPACE}, "spec": spec
                }))
                .map_err(|source| BenchError::Json {
                    what: format!("Application {name}"),
                    source,
                })?;
                api.create(&PostParams::default(), &app)
                    .await
                    .map(|_| ())
                    .map_err(kube_err(format!("create Application {name}")))
            }
        }))
        .buffer_unordered(16)
        .collect()
        .await;
        results.into_iter().collect()
    }

    fn spawn_replica(
        &self,
        kubeconfig: &Path,
        i: usize,
        children: &mut Children,
    ) -> Result<u32, BenchError> {
        let log = std::fs::File::create(self.dir.join(format!("replica-{i}.log")))
            .map_err(|source| io("create a replica log", source))?;
        let child = Command::new(self.ferry)
            .arg("controller")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["--namespace", NAMESPACE, "--listen", "127.0.0.1:0", "--poll-interval", "60s"])
            .args(["--shards", &SHARDS.to_string(), "--identity", &format!("replica-{i}")])
            .args(["--shard-lease-duration", "10s", "--shard-renew-every", "1s"])
            .arg("--data-dir")
            .arg(self.dir.join(format!("replica-{i}")))
            .arg("--reconcile-journal")
            .arg(self.journal(i))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|source| io("start `ferry controller`", source))?;
        let pid = child.id();
        children.0.push(child);
        Ok(pid)
    }

    /// Watches the Applications until all are Synced+Healthy (sampling every replica's RSS
    /// meanwhile); `false` after the timeout.
    async fn wait_synced(
        &self,
        client: &kube::Client,
        pids: &[u32],
        peak: &mut [u64],
    ) -> Result<bool, BenchError> {
        let api: Api<Application> = Api::namespaced(client.clone(), NAMESPACE);
        let (store, writer) = reflector::store();
        let stream = watcher(api, watcher::Config::default()).default_backoff().reflect(writer);
        let task = tokio::spawn(stream.for_each(|_| async {}));
        let deadline = Instant::now() + Duration::from_secs(1800);
        let done = loop {
            for (p, pid) in peak.iter_mut().zip(pids) {
                *p = (*p).max(rss_kib(*pid));
            }
            let all = store.state();
            if all.len() >= self.apps && all.iter().all(|a| synced_healthy_at(a, self.revision)) {
                break true;
            }
            if Instant::now() > deadline {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        task.abort();
        Ok(done)
    }
}

/// VmRSS of a process, KiB (0 once it is gone).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    crate::measure::round(kib as f64 / 1024.0)
}
