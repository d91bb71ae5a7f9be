//! Many managed objects, nothing changes: what the engine costs per minute doing nothing.

use std::time::Duration;

use serde_json::json;

use super::{COST_NOTE, Options, Window, many_apps};
use crate::manifests::mixed;
use crate::measure::{Memory, round};
use crate::{BenchError, Report};

pub(crate) fn run(opts: &Options, report: &mut Report) -> Result<(), BenchError> {
    let objects = opts.size.unwrap_or(opts.pick(100, 10_000));
    let per_app = objects.clamp(1, 100);
    let apps = objects.div_ceil(per_app);
    let seconds = opts.rounds.unwrap_or(opts.pick(3, 60)) as u64;
    let many = many_apps::start(
        apps,
        "steady-state",
        |name| mixed(name, per_app, None),
        Duration::from_secs(120 + apps as u64 * 10),
    )?;
    let world = &many.world;
    // Let the last status writes and watch events of the setup settle.
    std::thread::sleep(Duration::from_secs(2));
    let before = world.counters();
    let window = Window::open(&world.stage);
    std::thread::sleep(Duration::from_secs(seconds));
    let costs = window.close(&world.stage);
    let counters = world.counters().since(&before);
    let per_minute = 60.0 / costs.seconds;
    let memory = Memory::now();
    report.set("apps", apps);
    report.set("objects", apps * per_app);
    report.set("live_objects_watched", world.engine.live_objects());
    report.set("setup_s", super::round3(many.setup_s));
    report.set("window_s", super::round3(costs.seconds));
    report.set("engine", costs.engine_json());
    report.set(
        "engine_per_minute",
        json!({
            "api_requests": round(costs.engine_requests() as f64 * per_minute),
            "api_writes": round(costs.served.writes() as f64 * per_minute),
            "cpu_s": super::round3((costs.cpu.engine + costs.cpu.children) * per_minute),
            "reconciles": round(counters.reconciles as f64 * per_minute),
            "renders": round(counters.renders as f64 * per_minute),
            "process_rss_mib": round(memory.rss_mib),
        }),
    );
    report.set("cluster", costs.cluster_json(&world.stage));
    report.note("the engine polls the repository every 10 s (one ls-remote, counted in engine.git_cpu_s) and resyncs every 10 min; watch connections held open are not requests");
    report.note(COST_NOTE);
    Ok(())
}
