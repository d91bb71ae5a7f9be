//! Many watched objects; someone edits one field Ferry owns; time until it is healed.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::{COST_NOTE, Costs, Options, Window, many_apps};
use crate::manifests::mixed;
use crate::measure::Percentiles;
use crate::{BenchError, Report};

const NAMESPACE: &str = "drift-heal";

pub(crate) fn run(opts: &Options, report: &mut Report) -> Result<(), BenchError> {
    let objects = opts.size.unwrap_or(opts.pick(100, 10_000));
    let per_app = objects.clamp(1, 100);
    let apps = objects.div_ceil(per_app);
    let rounds = opts.rounds.unwrap_or(opts.pick(5, 50));
    let many = many_apps::start(
        apps,
        NAMESPACE,
        |name| mixed(name, per_app, None),
        Duration::from_secs(120 + apps as u64 * 10),
    )?;
    let world = &many.world;
    let stage = &world.stage;
    std::thread::sleep(Duration::from_secs(1));
    let api: Api<ConfigMap> = Api::namespaced(stage.client.clone(), NAMESPACE);
    let edit = PatchParams { field_manager: Some("kubectl-edit".into()), ..Default::default() };
    let before = world.counters();
    let mut healed = Vec::with_capacity(rounds);
    let mut costs = Costs::default();
    let timeout = Duration::from_secs(60);
    for round in 0..rounds {
        // Object 0 of each app is a ConfigMap (see `manifests::mixed`); spread edits over apps.
        let name = format!("{}-0", many.names[round % many.names.len()]);
        let window = Window::open(stage);
        let patch = json!({"data": {"value": format!("edited-{round}")}});
        stage.block_on(api.patch(&name, &edit, &Patch::Merge(&patch))).map_err(|source| {
            BenchError::Kube { what: format!("edit ConfigMap {NAMESPACE}/{name}"), source }
        })?;
        let started = Instant::now();
        let mut checks = 1;
        loop {
            let cm = stage.block_on(api.get(&name)).map_err(|source| BenchError::Kube {
                what: format!("read ConfigMap {NAMESPACE}/{name}"),
                source,
            })?;
            checks += 1;
            let value = cm.data.as_ref().and_then(|d| d.get("value")).cloned().unwrap_or_default();
            if value == "v1" {
                break;
            }
            if started.elapsed() > timeout {
                return Err(BenchError::Timeout {
                    what: format!("ConfigMap {NAMESPACE}/{name} healed"),
                    seconds: timeout.as_secs(),
                    last: format!("data.value = {value:?}"),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        healed.push(started.elapsed());
        stage.count_harness(checks, 1);
        costs.add(&window.close(stage));
    }
    let counters = world.counters().since(&before);
    report.set("apps", apps);
    report.set("objects", apps * per_app);
    report.set("live_objects_watched", world.engine.live_objects());
    report.set("rounds", rounds);
    report.set("until_healed", Percentiles::of(&healed).to_json());
    report.set("heals", counters.heals);
    report.set("drift_detected", counters.drift);
    report.set("engine", costs.engine_json());
    report.set("cluster", costs.cluster_json(stage));
    report.set("harness", costs.harness_json());
    report.note("the clock starts when the edit (a merge patch by field manager kubectl-edit) returns; the harness then GETs the object every 5 ms until the value is back (those GETs are harness requests)");
    report.note(COST_NOTE);
    Ok(())
}
