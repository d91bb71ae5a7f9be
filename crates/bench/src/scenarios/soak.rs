//! Soak: many apps for a long time — a commit every 10 s, an edit by hand every 5 s, the
//! cluster's watches cut every minute — with the process's RSS, open files, threads and the
//! tasks alive on the engine's and the cluster's runtimes sampled.
//! What must hold: every app converges at the end, and after warm-up the RSS is flat (its
//! least-squares slope, in MiB per 10 minutes, is the number to read). Not in `all`: run it as
//! `ferry bench soak --duration 1h` (or `--rounds SECONDS`; default one hour).

use std::time::{Duration, Instant};

use ferry_cluster::Faults;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use super::{COST_NOTE, Options, Window, many_apps};
use crate::manifests::{mixed, one_config_map};
use crate::measure::{Memory, round};
use crate::world::synced_healthy_at;
use crate::{BenchError, Report};

const NAMESPACE: &str = "soak";

/// How long the embedded cluster keeps Events here. Ferry posts one for every heal and sync
/// step (drift found, healing, healed, sync started, synced: about sixty a minute in this
/// scenario); kept the hour kube-apiserver keeps them, they would grow the process for the
/// first hour of any soak. In production they live in the API server, not in Ferry: a short
/// TTL lets the cluster's share settle within the warm-up, so the slope is Ferry's.
const EVENT_TTL: Duration = Duration::from_secs(5 * 60);

/// One sample of the process.
#[derive(Clone, Copy, Debug)]
struct Sample {
    at_s: f64,
    rss_mib: f64,
    anon_mib: f64,
    file_mib: f64,
    open_files: usize,
    threads: usize,
    /// Tasks alive on the engine's and the cluster's runtimes.
    engine_tasks: usize,
    cluster_tasks: usize,
    live_objects: usize,
}

fn sample(at: Instant, world: &crate::world::World) -> Sample {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let open_files = std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0);
    let memory = Memory::now();
    Sample {
        at_s: at.elapsed().as_secs_f64(),
        rss_mib: memory.rss_mib,
        anon_mib: memory.anon_mib,
        file_mib: memory.file_mib,
        open_files,
        threads,
        engine_tasks: world.engine_tasks(),
        cluster_tasks: world.stage.cluster_tasks(),
        live_objects: world.engine.live_objects(),
    }
}

/// A number read from a sample.
type Field = fn(&Sample) -> f64;

/// Least-squares slope of RSS over time, in MiB per 10 minutes (`None` under two samples).
fn rss_slope_per_10_min(samples: &[Sample]) -> Option<f64> {
    slope_per_10_min(samples, |s| s.rss_mib)
}

/// Least-squares slope of `field` over time, per 10 minutes.
fn slope_per_10_min(samples: &[Sample], field: Field) -> Option<f64> {
    let n = samples.len() as f64;
    if samples.len() < 2 {
        return None;
    }
    let mean_t = samples.iter().map(|s| s.at_s).sum::<f64>() / n;
    let mean_r = samples.iter().map(field).sum::<f64>() / n;
    let cov: f64 = samples.iter().map(|s| (s.at_s - mean_t) * (field(s) - mean_r)).sum();
    let var: f64 = samples.iter().map(|s| (s.at_s - mean_t).powi(2)).sum();
    (var > 0.0).then(|| cov / var * 600.0)
}

pub(crate) fn run(opts: &Options, report: &mut Report) -> Result<(), BenchError> {
    let apps = opts.size.unwrap_or(opts.pick(10, 1000));
    let seconds = opts.rounds.unwrap_or(opts.pick(12, 3600)) as u64;
    let warmup = (seconds / 3).min(600);
    let objects = |name: &str| format!("{}{}", one_config_map(name, "0"), mixed(name, 2, None));
    let timeout = Duration::from_secs(120 + apps as u64);
    let ttl = |config: ferry_cluster::ClusterConfig| config.event_ttl(EVENT_TTL);
    let many = many_apps::start_with(ttl, apps, NAMESPACE, objects, timeout)?;
    let world = &many.world;
    let stage = &world.stage;
    let api: Api<ConfigMap> = Api::namespaced(stage.client.clone(), NAMESPACE);
    let edit = PatchParams { field_manager: Some("kubectl-edit".into()), ..Default::default() };
    let started = Instant::now();
    let window = Window::open(stage);
    let (mut samples, mut commits, mut edits, mut cuts) = (Vec::new(), 0u64, 0u64, 0u64);
    let mut revision = world.repo.git(&["rev-parse", "HEAD"])?;
    for tick in 0..seconds {
        let next = started + Duration::from_secs(tick + 1);
        if tick % 10 == 0 {
            let name = &many.names[(tick as usize / 10) % apps];
            let text =
                format!("{}{}", one_config_map(name, &tick.to_string()), mixed(name, 2, None));
            world.repo.write(&format!("apps/{name}/objects.yaml"), &text)?;
            revision = world.repo.commit(&format!("soak {tick}"))?;
            world.engine.notify_push(&world.repo_url());
            commits += 1;
        }
        if tick % 5 == 2 {
            let name = format!("{}-0", many.names[(tick as usize * 7) % apps]);
            let patch = json!({"data": {"value": format!("edited-{tick}")}});
            let _ = stage.block_on(api.patch(&name, &edit, &Patch::Merge(&patch)));
            stage.count_harness(1, 1);
            edits += 1;
        }
        match tick % 60 {
            30 => {
                let cut = Faults { drop_watches_after_ms: Some(200), ..Default::default() };
                stage.cluster.set_faults(cut);
                cuts += 1;
            }
            32 => stage.cluster.set_faults(Faults::default()),
            _ => {}
        }
        if tick % 10 == 5 {
            samples.push(sample(started, world));
        }
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    stage.cluster.set_faults(Faults::default());
    let costs = window.close(stage);
    let converged = world
        .wait_apps("every app Synced+Healthy after the soak", Duration::from_secs(300), |all| {
            all.len() >= apps && all.iter().all(|a| synced_healthy_at(a, &revision))
        })
        .is_ok();
    let after: Vec<Sample> = samples.iter().copied().filter(|s| s.at_s >= warmup as f64).collect();
    let first = samples.first().copied();
    let last = samples.last().copied();
    report.set("apps", apps);
    report.set("objects", apps * 3);
    report.set("duration_s", seconds);
    report.set("warmup_s", warmup);
    report.set("commits", commits);
    report.set("edits_by_hand", edits);
    report.set("watch_cuts", cuts);
    report.set("event_ttl_s", EVENT_TTL.as_secs());
    report.set("converged", converged);
    let slope = rss_slope_per_10_min(&after);
    report.set("rss_slope_mib_per_10min", slope.map(|s| round(s * 100.0) / 100.0));
    // Which side grows: the heap, or mapped files (git packs the engine reads).
    for (name, field) in [
        ("anon_slope_mib_per_10min", (|s: &Sample| s.anon_mib) as Field),
        ("file_slope_mib_per_10min", |s: &Sample| s.file_mib),
    ] {
        report.set(name, slope_per_10_min(&after, field).map(|s| round(s * 100.0) / 100.0));
    }
    let pick = |s: Option<Sample>, f: Field| s.map(|s| round(f(&s)));
    let first_last: [(&str, Field); 5] = [
        ("rss_mib_first_last", |s| s.rss_mib),
        ("open_files_first_last", |s| s.open_files as f64),
        ("threads_first_last", |s| s.threads as f64),
        ("engine_tasks_first_last", |s| s.engine_tasks as f64),
        ("cluster_tasks_first_last", |s| s.cluster_tasks as f64),
    ];
    for (name, field) in first_last {
        report.set(name, json!([pick(first, field), pick(last, field)]));
    }
    report.set("samples", samples_json(&samples));
    report.set("engine", costs.engine_json());
    report.set("cluster", costs.cluster_json(stage));
    report.note("one commit every 10 s (a ConfigMap of one app, push notified), one edit by hand every 5 s (a ConfigMap value Ferry owns, healed), every minute the cluster cuts all watches for 2 s; the cluster keeps Events 5 minutes (kube-apiserver: an hour; in production they are the API server's memory, not Ferry's); a sample every 10 s; the slope is a least-squares fit of RSS over the samples after warm-up (a third of the run, at most 10 min)");
    report.note(COST_NOTE);
    Ok(())
}

fn samples_json(samples: &[Sample]) -> Value {
    samples
        .iter()
        .map(|s| {
            json!({"at_s": round(s.at_s), "rss_mib": round(s.rss_mib), "anon_mib": round(s.anon_mib),
                "file_mib": round(s.file_mib), "open_files": s.open_files,
                "threads": s.threads, "engine_tasks": s.engine_tasks,
                "cluster_tasks": s.cluster_tasks, "live_objects": s.live_objects})
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: f64, rss: f64) -> Sample {
        Sample {
            at_s: t,
            rss_mib: rss,
            anon_mib: rss,
            file_mib: 0.0,
            open_files: 0,
            threads: 0,
            engine_tasks: 0,
            cluster_tasks: 0,
            live_objects: 0,
        }
    }

    #[test]
    fn the_slope_is_mib_per_ten_minutes_and_flat_memory_has_none() {
        let flat = [at(0.0, 100.0), at(60.0, 100.0), at(120.0, 100.0)];
        assert_eq!(rss_slope_per_10_min(&flat), Some(0.0));
        let growing = [at(0.0, 100.0), at(300.0, 101.0), at(600.0, 102.0)];
        let slope = rss_slope_per_10_min(&growing).expect("a slope");
        assert!((slope - 2.0).abs() < 1e-9, "{slope}");
        assert_eq!(rss_slope_per_10_min(&flat[..1]), None);
    }
}
