//! The engine's own memory: `ferry controller` in its own process against `ferry cluster serve`
//! in another, at three sizes (1,000 apps × 4 objects; 100 apps × 100 and × 200 objects), so
//! the RSS read from `/proc` is the engine's alone and the last two give a cost per 10,000
//! managed objects.

use std::path::Path;
use std::time::{Duration, Instant};

use ferry_engine::Application;
use kube::api::{Api, ListParams};
use serde_json::{Value, json};

use super::Options;
use super::many_apps::app_name;
use crate::manifests::{app_spec, fan_out_app, mixed};
use crate::measure::round;
use crate::process::{ClusterProcess, ProcSample, ferry_binary, settled, start_controller};
use crate::world::{
    REPO_NAME, client_from, create_applications, create_namespace, synced_healthy_at,
};
use crate::{BenchError, Report};
use ferry_testkit::{GitDaemon, Repo};

/// One size: `apps` apps of `objects(name)`.
struct Size {
    label: &'static str,
    apps: usize,
    per_app: usize,
    objects: fn(&str, usize) -> String,
}

fn four(name: &str, _: usize) -> String {
    fan_out_app(name)
}

fn many(name: &str, count: usize) -> String {
    mixed(name, count, None)
}

pub(crate) fn run(opts: &Options, report: &mut Report) -> Result<(), BenchError> {
    let ferry = ferry_binary()?;
    let scale = |full: usize, quick: usize| opts.pick(quick, full);
    let sizes = match opts.size {
        // `--size N`: N objects only, in 100 apps (for a quick look at one figure).
        Some(n) => {
            vec![Size {
                label: "objects",
                apps: 100,
                per_app: n.div_ceil(100).max(1),
                objects: many,
            }]
        }
        None => vec![
            Size { label: "apps_x4", apps: scale(1_000, 20), per_app: 4, objects: four },
            Size {
                label: "objects_10k",
                apps: scale(100, 5),
                per_app: scale(100, 20),
                objects: many,
            },
            Size {
                label: "objects_20k",
                apps: scale(100, 5),
                per_app: scale(200, 40),
                objects: many,
            },
        ],
    };
    let mut results = Vec::new();
    for size in &sizes {
        if std::env::var("HACK_ONLY").is_ok_and(|o| o != size.label) {
            continue;
        }
        let result = measure(&ferry, size)?;
        report.set(size.label, result.clone());
        results.push(result);
    }
    let rss = |r: &Value| r["engine"]["rss_mib"].as_f64().unwrap_or(0.0);
    let objects = |r: &Value| r["objects"].as_f64().unwrap_or(0.0);
    if let [_, ten, twenty] = results.as_slice()
        && objects(twenty) > objects(ten)
    {
        let extra = objects(twenty) - objects(ten);
        report
            .set("engine_mib_per_10k_objects", round((rss(twenty) - rss(ten)) * 10_000.0 / extra));
    }
    report.note("engine.* is `ferry controller` in its own process (RSS from /proc after the apps are Synced+Healthy and memory settled); cluster.* is `ferry cluster serve`, another process");
    Ok(())
}

fn measure(ferry: &Path, size: &Size) -> Result<Value, BenchError> {
    let tmp = tempfile::tempdir()
        .map_err(|source| BenchError::Io { what: "create a temporary directory".into(), source })?;
    let names: Vec<String> = (0..size.apps).map(app_name).collect();
    let repo = Repo::init(&tmp.path().join("git").join(REPO_NAME))?;
    repo.git(&["config", "gc.auto", "0"])?;
    for name in &names {
        repo.write(&format!("apps/{name}/objects.yaml"), &(size.objects)(name, size.per_app))?;
    }
    let revision = repo.commit("initial")?;
    let daemon = GitDaemon::start(&tmp.path().join("git"))?;
    let cluster = ClusterProcess::start(ferry, &tmp.path().join("cluster"))?;
    let args = ["--no-leader-election"];
    let mut engine =
        start_controller(ferry, &cluster.kubeconfig, &tmp.path().join("engine"), &args, None)?;
    let harness = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| BenchError::Runtime { source })?;
    let url = daemon.url(REPO_NAME);
    let started = Instant::now();
    let timeout = Duration::from_secs(120 + size.apps as u64 / 5 + size.per_app as u64);
    harness.block_on(async {
        let client = client_from(&cluster.kubeconfig).await?;
        create_namespace(&client, "ferry").await?;
        create_namespace(&client, "bench").await?;
        crd_served(&client).await?;
        let apps = names.iter().map(|n| (n.clone(), app_spec(&url, &format!("apps/{n}"), "bench")));
        create_applications(&client, apps.collect()).await?;
        wait_synced(&client, size.apps, &revision, timeout).await
    })?;
    let setup_s = started.elapsed().as_secs_f64();
    engine.check_running()?;
    let idle = settled(&engine, Duration::from_secs(30))?;
    let cluster_sample = cluster.process.sample()?;
    let objects = size.apps * size.per_app;
    Ok(json!({
        "apps": size.apps,
        "objects": objects,
        "setup_s": super::round3(setup_s),
        "engine": sample_json(&idle, objects),
        "cluster": {"rss_mib": round(cluster_sample.rss_mib), "cpu_s": super::round3(cluster_sample.cpu_s)},
    }))
}

fn sample_json(s: &ProcSample, objects: usize) -> Value {
    json!({
        "rss_mib": round(s.rss_mib),
        "peak_rss_mib": round(s.peak_mib),
        "anon_mib": round(s.anon_mib),
        "file_mib": round(s.file_mib),
        "kib_per_object": round(s.rss_mib * 1024.0 / objects.max(1) as f64),
        "cpu_s": super::round3(s.cpu_s),
        "threads": s.threads,
    })
}

/// Waits until the controller installed the Application CRD (at its start) and it is served.
async fn crd_served(client: &kube::Client) -> Result<(), BenchError> {
    let api: Api<Application> = Api::namespaced(client.clone(), "ferry");
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        match api.list(&ListParams::default().limit(1)).await {
            Ok(_) => return Ok(()),
            Err(_) if Instant::now() < end => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(source) => {
                return Err(BenchError::Kube {
                    what:
                        "the Application CRD was not served within 60 s of the controller's start"
                            .into(),
                    source,
                });
            }
        }
    }
}

/// Lists the Applications every half second until all `count` are Synced and Healthy.
async fn wait_synced(
    client: &kube::Client,
    count: usize,
    revision: &str,
    timeout: Duration,
) -> Result<(), BenchError> {
    let api: Api<Application> = Api::namespaced(client.clone(), "ferry");
    let end = Instant::now() + timeout;
    loop {
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(|source| BenchError::Kube { what: "list Applications".into(), source })?;
        let done = list.items.iter().filter(|a| synced_healthy_at(a, revision)).count();
        if done >= count {
            return Ok(());
        }
        if Instant::now() > end {
            return Err(BenchError::Timeout {
                what: format!("{count} apps Synced+Healthy"),
                seconds: timeout.as_secs(),
                last: format!("{done} of {count}"),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
