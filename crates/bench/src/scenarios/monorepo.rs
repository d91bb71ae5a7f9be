//! Many apps in one repository; one line of one app changes: which apps are re-rendered, how
//! many bytes are fetched, and how long until the change is applied.

use std::time::{Duration, Instant};

use super::{COST_NOTE, Options, Window, many_apps};
use crate::manifests::{mixed, one_config_map};
use crate::world::applied_at;
use crate::{BenchError, Report};

pub(crate) fn run(opts: &Options, report: &mut Report) -> Result<(), BenchError> {
    let apps = opts.size.unwrap_or(opts.pick(20, 1000));
    let objects = |name: &str| {
        format!("{}{}", one_config_map(name, "one"), mixed(&format!("{name}-x"), 2, None))
    };
    let many = many_apps::start(apps, "monorepo", objects, Duration::from_secs(120 + apps as u64))?;
    let world = &many.world;
    std::thread::sleep(Duration::from_secs(1));
    let target = many.names[apps / 2].clone();
    world.repo.write(
        &format!("apps/{target}/objects.yaml"),
        &format!("{}{}", one_config_map(&target, "two"), mixed(&format!("{target}-x"), 2, None)),
    )?;
    let revision = world.repo.commit("change one line of one app")?;

    let bytes_before = world.repo_cache_bytes();
    let before = world.counters();
    let window = Window::open(&world.stage);
    let started = Instant::now();
    // What the API does with a GitHub/GitLab/Gitea push delivery: it names the commit and the
    // paths it changed.
    let changed: std::collections::BTreeSet<ferry_source::RepoPath> =
        [format!("apps/{target}/objects.yaml")]
            .iter()
            .filter_map(|p| ferry_source::RepoPath::new(p).ok())
            .collect();
    let commits = [revision.to_string()];
    world.engine.notify_webhook_push(
        &world.repo_url(),
        Some("bench-push"),
        &commits,
        Some(&changed),
    );
    world.wait_apps("the changed app applied", Duration::from_secs(120), |all| {
        all.iter().any(|a| {
            a.metadata.name.as_deref() == Some(target.as_str()) && applied_at(a, &revision)
        })
    })?;
    let applied = started.elapsed();
    // Then until the engine has nothing left to do for this push.
    let mut idle_since = Instant::now();
    while idle_since.elapsed() < Duration::from_millis(500)
        && started.elapsed() < Duration::from_secs(600)
    {
        if world.engine.queued() > 0 {
            idle_since = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let settled = started.elapsed() - Duration::from_millis(500);
    let costs = window.close(&world.stage);
    let counters = world.counters().since(&before);
    report.set("apps", apps);
    report.set("objects", apps * 3);
    report.set("until_applied_ms", super::round3(applied.as_secs_f64() * 1000.0));
    report.set("until_all_reconciled_ms", super::round3(settled.as_secs_f64() * 1000.0));
    report.set("apps_reconciled", counters.reconciles);
    report.set("apps_render_checked", counters.renders);
    report.set("apps_rerendered", counters.renders_run);
    report.set("apps_synced", counters.syncs);
    report.set("statuses_recorded_not_written", counters.statuses_folded);
    report.set("repo_record_writes", counters.record_writes);
    report.set("bytes_fetched", world.repo_cache_bytes().saturating_sub(bytes_before));
    report.set("engine", costs.engine_json());
    report.set("cluster", costs.cluster_json(&world.stage));
    report.note("bytes_fetched is the growth of the engine's repository cache (pack and index files) for the push");
    report.note("apps_render_checked counts render-cache lookups (each checks the fingerprints of the paths the app's last render read); apps_rerendered counts renders the cache did not have; an app whose render and result are unchanged is neither synced nor written: the repository record (ConfigMap ferry-repo-<hash>, written once per burst) says it is up to date at the new commit");
    report.note(COST_NOTE);
    Ok(())
}
