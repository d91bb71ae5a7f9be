//! `shards`: many tiny apps (one ConfigMap each; 10,000 by default) reconciled by 1, 2 and 4
//! replicas. Every replica is a `ferry controller` child process and the cluster a `ferry
//! cluster serve` child process (a fresh one per replica count), so each RSS is one replica's
//! alone. Reported per replica count: seconds from starting the replicas (the Applications
//! already exist) until all are Synced+Healthy, RSS per replica (peak and at the end),
//! reconciles per replica, and overlaps: reconciles of one app by two replicas whose intervals
//! intersect, read from the replicas' reconcile journals. Overlaps must be 0.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferry_engine::Application;
use ferry_engine::shard::journal;
use ferry_testkit::{GitDaemon, Repo};
use futures::StreamExt;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::{Value, json};

use super::Options;
use super::many_apps::app_name;
use crate::manifests::{app_spec, one_config_map};
use crate::measure::round;
use crate::process::{ChildProcess, ClusterProcess, ProcSample, ferry_binary, start_controller};
use crate::world::{
    APPS_NAMESPACE, client_from, create_applications, create_namespace, named_runtime,
    synced_healthy_at,
};
use crate::{BenchError, Report};

const SHARDS: u32 = 16;

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

fn io(what: &str, source: std::io::Error) -> BenchError {
    BenchError::Io { what: what.to_owned(), source }
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
        let cluster = ClusterProcess::start(self.ferry, &self.dir.join("cluster"))?;
        let rt = named_runtime("ferry-bench-harness")?;
        let client = rt.block_on(client_from(&cluster.kubeconfig))?;
        rt.block_on(self.create_apps(&client))?;
        let started = Instant::now();
        let replicas: Vec<ChildProcess> = (0..self.replicas)
            .map(|i| self.spawn_replica(&cluster.kubeconfig, i))
            .collect::<Result<_, _>>()?;
        let mut peak = vec![0.0; replicas.len()];
        let done = rt.block_on(self.wait_synced(&client, &replicas, &mut peak))?;
        let seconds = started.elapsed().as_secs_f64();
        let rss: Vec<f64> = replicas.iter().map(|r| round(rss_mib(r))).collect();
        drop(replicas);
        drop(cluster);
        let mut spans = Vec::new();
        let mut reconciles = Vec::new();
        for i in 0..self.replicas {
            // Each replica opens its journal at start: one that cannot be read is an error, not
            // "no reconciles" (which would also read as "no overlaps").
            let read = journal::read(&self.journal(i))
                .map_err(|source| io(&format!("read replica {i}'s reconcile journal"), source))?;
            reconciles.push(read.len());
            spans.extend(read);
        }
        let overlaps = journal::overlaps(&spans);
        let mut distinct: Vec<&str> = spans.iter().map(|s| s.app.as_str()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        Ok(json!({
            "replicas": self.replicas,
            "synced_healthy_s": round(seconds),
            "all_synced": done,
            "rss_mib_end": rss,
            "rss_mib_peak": peak.iter().map(|m| round(*m)).collect::<Vec<_>>(),
            "reconciles": reconciles,
            "apps_reconciled": distinct.len(),
            "overlaps": overlaps.len(),
        }))
    }

    fn journal(&self, i: usize) -> PathBuf {
        self.dir.join(format!("replica-{i}.journal.jsonl"))
    }

    async fn create_apps(&self, client: &kube::Client) -> Result<(), BenchError> {
        ferry_engine::install_crd(client)
            .await
            .map_err(|source| BenchError::Kube { what: "install the CRDs".into(), source })?;
        for ns in [APPS_NAMESPACE, "bench-shards"] {
            create_namespace(client, ns).await?;
        }
        let apps = (0..self.apps).map(|i| {
            let name = app_name(i);
            let spec = app_spec(self.url, &format!("apps/{name}"), "bench-shards");
            (name, spec)
        });
        create_applications(client, apps.collect()).await
    }

    fn spawn_replica(&self, kubeconfig: &Path, i: usize) -> Result<ChildProcess, BenchError> {
        let log = std::fs::File::create(self.dir.join(format!("replica-{i}.log")))
            .map_err(|source| io("create a replica log", source))?;
        let (shards, identity) = (SHARDS.to_string(), format!("replica-{i}"));
        let journal = self.journal(i);
        let args = [
            "--namespace",
            APPS_NAMESPACE,
            "--poll-interval",
            "60s",
            "--shards",
            &shards,
            "--identity",
            &identity,
            "--shard-lease-duration",
            "10s",
            "--shard-renew-every",
            "1s",
            "--reconcile-journal",
            journal.to_str().ok_or_else(|| BenchError::Ferry {
                what: "the reconcile journal's path".into(),
                message: format!("{} is not UTF-8", journal.display()),
            })?,
        ];
        let data = self.dir.join(format!("replica-{i}"));
        start_controller(self.ferry, kubeconfig, &data, &args, Some(log))
    }

    /// Watches the Applications until all are Synced+Healthy (sampling every replica's RSS
    /// meanwhile); `false` after the timeout.
    async fn wait_synced(
        &self,
        client: &kube::Client,
        replicas: &[ChildProcess],
        peak: &mut [f64],
    ) -> Result<bool, BenchError> {
        let api: Api<Application> = Api::namespaced(client.clone(), APPS_NAMESPACE);
        let (store, writer) = reflector::store();
        let stream = watcher(api, watcher::Config::default()).default_backoff().reflect(writer);
        let task = tokio::spawn(stream.for_each(|_| async {}));
        let deadline = Instant::now() + Duration::from_secs(1800);
        let done = loop {
            for (p, replica) in peak.iter_mut().zip(replicas) {
                *p = p.max(rss_mib(replica));
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

/// A replica's RSS, MiB (0 once it is gone).
fn rss_mib(replica: &ChildProcess) -> f64 {
    ProcSample::of(replica.pid()).map(|s| s.rss_mib).unwrap_or(0.0)
}
