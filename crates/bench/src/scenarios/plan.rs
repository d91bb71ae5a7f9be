//! `ferry plan` in a monorepo: many apps in one repository, a branch that changes one line of
//! one app; how long the engine takes to plan it (fetch the branch, find the one app whose
//! renders read the changed path, render it at both ends, compare with live), cold and warm,
//! against `kubectl diff --server-side` of that one app's objects (what a reviewer who knew
//! which app changed would run by hand).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferry_engine::plan::PlanRequest;
use serde_json::json;

use super::{COST_NOTE, Options, Window, many_apps, round3};
use crate::manifests::{mixed, one_config_map};
use crate::{BenchError, Report};

const NAMESPACE: &str = "plan";

pub(crate) fn run(opts: &Options, report: &mut Report) -> Result<(), BenchError> {
    let apps = opts.size.unwrap_or(opts.pick(20, 1000));
    let objects = |name: &str| {
        format!("{}{}", one_config_map(name, "one"), mixed(&format!("{name}-x"), 2, None))
    };
    let many = many_apps::start(apps, NAMESPACE, objects, Duration::from_secs(120 + apps as u64))?;
    let world = &many.world;
    let target = many.names[apps / 2].clone();
    let changed =
        format!("{}{}", one_config_map(&target, "two"), mixed(&format!("{target}-x"), 2, None));
    world.repo.git(&["checkout", "-q", "-b", "change"])?;
    world.repo.write(&format!("apps/{target}/objects.yaml"), &changed)?;
    world.repo.commit("change one line of one app")?;
    world.repo.git(&["checkout", "-q", "main"])?;

    let req =
        PlanRequest { repo_url: world.repo_url(), base: "main".into(), head: "change".into() };
    let mut runs = Vec::new();
    for _ in 0..4 {
        let window = Window::open(&world.stage);
        let started = Instant::now();
        let planned = world
            .on_engine(world.engine.plan(&req))
            .map_err(|e| BenchError::Ferry { what: "plan".into(), message: e.to_string() })?;
        let seconds = started.elapsed().as_secs_f64();
        let costs = window.close(&world.stage);
        if planned.apps.len() != 1 || planned.apps[0].update.len() != 1 {
            return Err(BenchError::Ferry {
                what: "plan".into(),
                message: format!("expected one app with one update, got: {}", planned.headline()),
            });
        }
        runs.push((seconds, costs.served.total(), planned.unaffected.len()));
    }
    let cold = runs[0].0;
    let mut warm: Vec<f64> = runs[1..].iter().map(|r| r.0).collect();
    warm.sort_by(f64::total_cmp);
    let warm_median = warm[warm.len() / 2];

    let kubectl = kubectl_diff(world, &changed)?;
    report.set("apps", apps);
    report.set("objects", apps * 3);
    report.set("plan_cold_ms", round3(cold * 1000.0));
    report.set("plan_warm_ms", round3(warm_median * 1000.0));
    report.set("plan_requests", runs[1].1);
    report.set("apps_unaffected", runs[1].2);
    report.set("kubectl_diff_one_app_ms", round3(kubectl * 1000.0));
    report.ratio("kubectl-diff-one-app", kubectl, warm_median);
    report.note("cold: the first plan fetches the branch; warm: the median of three more (the refs are fetched again each time, the objects are cached)");
    report.note("ferry plans every app of the repository (each rendered at base to learn what it reads); kubectl diffs only the one app a reviewer would have to know changed");
    report.note(COST_NOTE);
    Ok(())
}

/// `kubectl diff --server-side` of the changed app's objects, timed.
fn kubectl_diff(world: &crate::world::World, manifests: &str) -> Result<f64, BenchError> {
    let file = world.tmp.path().join("plan-kubectl.yaml");
    std::fs::write(&file, manifests)
        .map_err(|source| BenchError::Io { what: format!("write {}", file.display()), source })?;
    let kubeconfig = world.stage.cluster.kubeconfig_path().to_owned();
    let started = Instant::now();
    let out = Command::new("kubectl")
        .args([
            "diff",
            "--server-side",
            "--field-manager",
            "ferry",
            "--force-conflicts",
            "-n",
            NAMESPACE,
            "-f",
        ])
        .arg(&file)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| BenchError::Tool {
            tool: "kubectl".into(),
            message: format!("cannot run it: {e}"),
        })?;
    let seconds = started.elapsed().as_secs_f64();
    // kubectl diff exits 1 when there is a difference (there is one), above 1 on an error.
    if out.status.code() != Some(1) {
        return Err(BenchError::Tool {
            tool: "kubectl diff".into(),
            message:
                json!({"code": out.status.code(), "stderr": String::from_utf8_lossy(&out.stderr)})
                    .to_string(),
        });
    }
    Ok(seconds)
}
