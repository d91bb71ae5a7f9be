//! One app of ten objects; each round commits a one-line change and sends the push notification
//! a webhook sends; latency until the objects are applied and until the app is Healthy again.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{COST_NOTE, Costs, Options, Window};
use crate::manifests::{app_spec, ten_objects};
use crate::measure::Percentiles;
use crate::world::{World, applied_at, synced_healthy_at};
use crate::{BenchError, Report};

const APP: &str = "web";

pub(crate) fn run(opts: &Options, report: &mut Report) -> Result<(), BenchError> {
    let rounds = opts.rounds.unwrap_or(opts.pick(5, 50));
    let world = World::start(|repo| Ok(repo.write("app/objects.yaml", &ten_objects(APP, 0))?))?;
    let url = world.repo_url();
    let first = world.repo.git(&["rev-parse", "HEAD"])?;
    world.create_apps(vec![(APP.to_owned(), app_spec(&url, "app", "commit-to-applied"))])?;
    let timeout = Duration::from_secs(120);
    world.wait_apps("the app Synced+Healthy", timeout, |apps| {
        apps.iter().any(|a| synced_healthy_at(a, &first))
    })?;

    let mut applied = Vec::with_capacity(rounds);
    let mut healthy = Vec::with_capacity(rounds);
    let mut missed = Vec::new();
    let mut costs = Costs::default();
    // A round that does not complete is reported as missed rather than ending the run: the next
    // commit supersedes it, and how often it happens is itself a finding.
    let round_timeout = Duration::from_secs(if opts.quick { 60 } else { 30 });
    for round in 1..=rounds {
        world.repo.write("app/objects.yaml", &ten_objects(APP, round))?;
        let revision = world.repo.commit(&format!("round {round}"))?;
        // The window opens after the commit, so the harness's git is not counted.
        let window = Window::open(&world.stage);
        let started = Instant::now();
        world.engine.notify_push(&url);
        let done = world
            .wait_apps("the commit applied", round_timeout, |apps| {
                apps.iter().any(|a| applied_at(a, &revision))
            })
            .and_then(|_| {
                applied.push(started.elapsed());
                world.wait_apps("the app Healthy at the commit", round_timeout, |apps| {
                    apps.iter().any(|a| synced_healthy_at(a, &revision))
                })
            });
        match done {
            Ok(_) => healthy.push(started.elapsed()),
            Err(e) => {
                tracing::warn!(round, error = %e, "a round did not complete");
                missed.push(round);
            }
        }
        costs.add(&window.close(&world.stage));
    }
    if healthy.is_empty() {
        return Err(BenchError::Ferry {
            what: "commit-to-applied".into(),
            message: format!("none of the {rounds} rounds completed"),
        });
    }
    report.set("missed_rounds", missed.len());
    if !missed.is_empty() {
        report.note(format!(
            "rounds {missed:?} were not applied within {} s of the push notification (the engine did not act on the notification; its 10 s poll is the fallback)",
            round_timeout.as_secs()
        ));
    }
    report.set("rounds", rounds);
    report.set("objects", 10);
    report.set("until_applied", Percentiles::of(&applied).to_json());
    report.set("until_healthy", Percentiles::of(&healthy).to_json());
    report.set("engine", costs.engine_json());
    report.set("cluster", costs.cluster_json(&world.stage));
    report.set("harness", costs.harness_json());
    report.set("per_round", json!({
        "engine_api_requests": costs.engine_requests() as f64 / rounds as f64,
        "engine_cpu_ms": super::round3((costs.cpu.engine + costs.cpu.children) * 1000.0 / rounds as f64),
    }));
    report.note("the clock starts at the push notification (Engine::notify_push, what the webhook endpoint calls) after the commit; 'applied' is the sync's Succeeded state and 'healthy' Synced+Healthy at the commit, both as seen in the engine's Application cache (status write and its watch event included)");
    report.note(COST_NOTE);
    Ok(())
}
