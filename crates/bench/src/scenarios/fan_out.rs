//! The Flux MTTP shape: one commit adds N apps of four objects (a Deployment scaled to 0, a
//! ServiceAccount, a Service, a ConfigMap); time until all are Synced and Healthy.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::many_apps::app_name;
use super::{COST_NOTE, Options, Window};
use crate::manifests::{app_spec, fan_out_app};
use crate::measure::{Memory, reset_peak, round};
use crate::world::{World, synced_healthy_at};
use crate::{BenchError, Report};

const NAMESPACE: &str = "fan-out";

pub(crate) fn run(opts: &Options, report: &mut Report) -> Result<(), BenchError> {
    let sizes = match opts.size {
        Some(n) => vec![n],
        None if opts.quick => vec![10],
        None => vec![100, 1000],
    };
    for n in sizes {
        let result = one(n)?;
        report.set(&format!("n{n}"), result);
    }
    report.note("the commit adds N app directories; the harness then creates the N Applications (as a CI job or an app-of-apps would); the clock starts after the commit, before the first Application is created");
    report.note(COST_NOTE);
    Ok(())
}

fn one(n: usize) -> Result<Value, BenchError> {
    let world = World::start(|repo| Ok(repo.write("README.md", "fan-out benchmark\n")?))?;
    world.stage.create_namespace(NAMESPACE)?;
    let names: Vec<String> = (0..n).map(app_name).collect();
    for name in &names {
        world.repo.write(&format!("apps/{name}/objects.yaml"), &fan_out_app(name))?;
    }
    let revision = world.repo.commit(&format!("add {n} apps"))?;
    let url = world.repo_url();
    let memory_before = Memory::now();
    reset_peak();
    let window = Window::open(&world.stage);
    let started = Instant::now();
    world.create_apps(
        names
            .iter()
            .map(|name| (name.clone(), app_spec(&url, &format!("apps/{name}"), NAMESPACE)))
            .collect(),
    )?;
    let created = started.elapsed();
    let timeout = Duration::from_secs(60 + n as u64 * 2);
    world.wait_apps(&format!("{n} apps Synced+Healthy"), timeout, |apps| {
        apps.len() >= n && apps.iter().all(|a| synced_healthy_at(a, &revision))
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    let costs = window.close(&world.stage);
    let synced =
        world.engine.applications().iter().filter(|a| synced_healthy_at(a, &revision)).count();
    let counters = world.counters();
    Ok(json!({
        "apps": n,
        "objects": n * 4,
        "apps_synced_healthy": synced,
        "seconds": super::round3(elapsed),
        "apps_per_s": round(n as f64 / elapsed),
        "creating_apps_s": super::round3(created.as_secs_f64()),
        "engine": costs.engine_json(),
        "engine_reconciles": counters.reconciles,
        "engine_syncs": counters.syncs,
        "process_rss_before_mib": round(memory_before.rss_mib),
        "cluster": costs.cluster_json(&world.stage),
        "harness": costs.harness_json(),
    }))
}
