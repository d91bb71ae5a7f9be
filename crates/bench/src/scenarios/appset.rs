//! An ApplicationSet over a monorepo: one git-directories generator over `apps/*` of N
//! directories (1,000 by default). Measured: the time from creating the set until every
//! generated app is Synced and Healthy, and what a commit adding one directory costs — the time
//! until the new app is Synced and Healthy, and how many Applications the set wrote for it.

use std::time::{Duration, Instant};

use kube::api::{Api, PostParams};
use serde_json::json;

use super::{COST_NOTE, Options, Window};
use crate::manifests::one_config_map;
use crate::world::{World, synced_healthy_at};
use crate::{BenchError, Report};

const NAMESPACE: &str = "appset";

pub(crate) fn run(opts: &Options, report: &mut Report) -> Result<(), BenchError> {
    let apps = opts.size.unwrap_or(opts.pick(20, 1000));
    let timeout = Duration::from_secs(120 + apps as u64);
    let world = World::start(|repo| {
        for i in 0..apps {
            let name = format!("app-{i:04}");
            repo.write(&format!("apps/{name}/objects.yaml"), &one_config_map(&name, "one"))?;
        }
        Ok(())
    })?;
    let revision = world.repo.git(&["rev-parse", "HEAD"])?;
    world.stage.create_namespace(NAMESPACE)?;
    world.stage.create_namespace(crate::world::APPS_NAMESPACE)?;
    let started = Instant::now();
    create_set(&world)?;
    world.wait_apps(&format!("{apps} generated apps Synced+Healthy"), timeout, |all| {
        all.len() >= apps && all.iter().all(|a| synced_healthy_at(a, &revision))
    })?;
    let generate_s = started.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(1));

    let name = format!("app-{apps:04}");
    world.repo.write(&format!("apps/{name}/objects.yaml"), &one_config_map(&name, "one"))?;
    let revision = world.repo.commit("add one directory")?;
    let writes = world.engine.appset_writes();
    let window = Window::open(&world.stage);
    let started = Instant::now();
    world.engine.notify_push(&world.repo_url());
    let created = world.wait_apps("the new app created", Duration::from_secs(120), |all| {
        all.iter().any(|a| a.metadata.name.as_deref() == Some(name.as_str()))
    })?;
    world.wait_apps("the new app Synced+Healthy", Duration::from_secs(120), |all| {
        all.iter().any(|a| {
            a.metadata.name.as_deref() == Some(name.as_str()) && synced_healthy_at(a, &revision)
        })
    })?;
    let added = started.elapsed();
    let costs = window.close(&world.stage);
    report.set("apps", apps);
    report.set("until_all_synced_healthy_s", super::round3(generate_s));
    report.set("add_one_until_created_ms", super::round3(created.as_secs_f64() * 1000.0));
    report.set("add_one_until_synced_healthy_ms", super::round3(added.as_secs_f64() * 1000.0));
    report.set("add_one_application_writes", world.engine.appset_writes() - writes);
    report.set("engine", costs.engine_json());
    report.set("cluster", costs.cluster_json(&world.stage));
    report.note("the commit moves `main`, so every generated app (targetRevision main) is reconciled for it and writes its status once; the new app's first sync waits in that queue: add_one_until_created_ms is the set's part, add_one_until_synced_healthy_ms includes the queue");
    report.note("add_one_application_writes counts the Applications the set created, updated or deleted for the commit (1 is the least possible)");
    report.note(COST_NOTE);
    Ok(())
}

fn create_set(world: &World) -> Result<(), BenchError> {
    let url = world.repo_url();
    let set = json!({
        "apiVersion": "ferry.dev/v1alpha1", "kind": "ApplicationSet",
        "metadata": {"name": "monorepo", "namespace": crate::world::APPS_NAMESPACE},
        "spec": {
            "generators": [{"git": {"repoURL": url, "revision": "main", "directories": [{"path": "apps/*"}]}}],
            "template": {
                "metadata": {"name": "{{path.basename}}"},
                "spec": {"source": {"repoURL": url, "targetRevision": "main", "path": "{{path}}"},
                         "destination": {"server": "https://kubernetes.default.svc", "namespace": NAMESPACE},
                         "syncPolicy": {"automated": {"prune": true, "selfHeal": true}}}
            }
        }
    });
    let set: ferry_engine::appset::ApplicationSet = serde_json::from_value(set)
        .map_err(|source| BenchError::Json { what: "the ApplicationSet".into(), source })?;
    let api: Api<ferry_engine::appset::ApplicationSet> =
        Api::namespaced(world.stage.client.clone(), crate::world::APPS_NAMESPACE);
    world.stage.count_harness(1, 1);
    world
        .stage
        .block_on(api.create(&PostParams::default(), &set))
        .map(|_| ())
        .map_err(|source| BenchError::Kube { what: "create the ApplicationSet".into(), source })
}
