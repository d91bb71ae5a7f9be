//! Every scenario in quick mode, as CI runs it: the harness works and produces sane numbers.
//! Nothing here asserts speed (see BENCHMARKS.md for measured numbers).

use std::sync::Mutex;

use ferry_bench::{Options, Report, Scenario, run};
use serde_json::Value;

/// Scenarios measure CPU by thread name in this process: run them one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn quick(scenario: Scenario) -> Report {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let report = run(scenario, &Options::quick()).unwrap_or_else(|e| {
        panic!("{} failed: {e}\n{:?}", scenario.name(), std::error::Error::source(&e))
    });
    eprintln!("{}", report.table());
    let json = report.to_json();
    for key in ["scenario", "commit", "machine", "results", "ratios"] {
        assert!(json.get(key).is_some(), "{}: no {key} in {json}", scenario.name());
    }
    assert_eq!(json["scenario"], scenario.name());
    assert!(!report.commit.is_empty());
    report
}

fn num(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {pointer} in {v:#}"))
}

#[test]
fn commit_to_applied_measures_every_round_until_applied_and_healthy() {
    let r = quick(Scenario::CommitToApplied).to_json()["results"].clone();
    // A missed round (the engine not acting on a push) is reported, not hidden.
    assert_eq!(num(&r, "/until_healthy/n") + num(&r, "/missed_rounds"), num(&r, "/rounds"));
    assert!(num(&r, "/until_healthy/n") >= 1.0, "{r:#}");
    assert!(num(&r, "/until_applied/p50_ms") > 0.0);
    assert!(num(&r, "/until_healthy/p99_ms") >= num(&r, "/until_applied/p50_ms"));
    assert!(
        num(&r, "/engine/api_writes") >= num(&r, "/rounds"),
        "each round applies the changed object: {r:#}"
    );
    assert!(num(&r, "/cluster/requests_served") >= num(&r, "/engine/api_requests"));
}

#[test]
fn fan_out_brings_every_app_to_synced_and_healthy() {
    let r = quick(Scenario::FanOut).to_json()["results"].clone();
    let n = num(&r, "/n10/apps");
    assert_eq!(num(&r, "/n10/apps_synced_healthy"), n);
    assert!(num(&r, "/n10/cluster/objects_stored") >= n * 4.0, "{r:#}");
    assert!(num(&r, "/n10/engine/api_writes") >= n * 4.0, "every object is applied: {r:#}");
    assert!(num(&r, "/n10/engine/cpu_s") > 0.0 && num(&r, "/n10/seconds") > 0.0);
    // The apps, and the namespace they live in.
    assert_eq!(num(&r, "/n10/harness/api_requests"), n + 1.0, "the harness only creates the apps");
}

#[test]
fn multi_cluster_syncs_every_app_and_recovers_the_killed_cluster_without_touching_the_others() {
    let r = quick(Scenario::MultiCluster).to_json()["results"].clone();
    assert_eq!(num(&r, "/clusters"), 3.0);
    assert_eq!(num(&r, "/connected_clusters"), 2.0, "{r:#}");
    assert!(num(&r, "/fan_out_s") > 0.0 && num(&r, "/killed_cluster/apps") >= 1.0, "{r:#}");
    assert!(num(&r, "/killed_cluster/recovered_s") > 0.0, "{r:#}");
    assert_eq!(r["other_apps_synced_during_outage"], true, "{r:#}");
}

#[test]
fn steady_state_watches_every_object_and_reports_costs_per_minute() {
    let r = quick(Scenario::SteadyState).to_json()["results"].clone();
    // Every object, and the namespace the apps created.
    assert!(num(&r, "/live_objects_watched") >= num(&r, "/objects"), "{r:#}");
    assert!(num(&r, "/window_s") >= 3.0);
    assert!(num(&r, "/engine_per_minute/process_rss_mib") > 0.0);
    assert!(num(&r, "/cluster/objects_stored") >= num(&r, "/objects"));
}

#[test]
fn drift_heal_heals_every_edit_it_makes() {
    let r = quick(Scenario::DriftHeal).to_json()["results"].clone();
    assert_eq!(num(&r, "/until_healed/n"), num(&r, "/rounds"));
    assert!(num(&r, "/heals") >= 1.0, "{r:#}");
    assert!(num(&r, "/engine/api_writes") >= num(&r, "/rounds"), "each heal writes: {r:#}");
}

#[test]
fn monorepo_one_line_applies_the_change_and_counts_renders() {
    let r = quick(Scenario::MonorepoOneLine).to_json()["results"].clone();
    assert!(num(&r, "/until_applied_ms") > 0.0);
    assert!(num(&r, "/apps_rerendered") >= 1.0, "the changed app is rendered: {r:#}");
    assert!(num(&r, "/apps_synced") >= 1.0);
    assert!(num(&r, "/bytes_fetched") > 0.0, "the new commit is fetched: {r:#}");
}

#[test]
fn plan_finds_the_one_changed_app_among_all_and_times_kubectl_diff() {
    let r = quick(Scenario::Plan).to_json()["results"].clone();
    assert!(num(&r, "/plan_warm_ms") > 0.0, "{r:#}");
    assert_eq!(num(&r, "/apps_unaffected"), num(&r, "/apps") - 1.0, "{r:#}");
    assert!(num(&r, "/kubectl_diff_one_app_ms") > 0.0, "{r:#}");
}

#[test]
fn render_renders_every_manifest_from_git_objects_beside_a_parse_floor() {
    let json = quick(Scenario::Render).to_json();
    let r = &json["results"];
    assert_eq!(num(r, "/objects"), 300.0);
    assert!(num(r, "/fetch/bytes") > 0.0);
    assert!(num(r, "/render/median_ms") > 0.0);
    assert_eq!(num(r, "/parse_floor/documents"), 300.0, "the floor parses the same files: {r:#}");
    assert!(num(&json["ratios"], "/parse-floor") > 0.0, "{json:#}");
}

#[test]
fn apply_vs_kubectl_prints_ratios_for_the_apply_and_noop_columns() {
    let report = quick(Scenario::ApplyVsKubectl);
    let json = report.to_json();
    let r = &json["results"];
    assert_eq!(num(r, "/ferry/apply/sent"), num(r, "/objects"));
    assert_eq!(num(r, "/ferry/noop/sent"), 0.0, "a no-op re-apply sends nothing");
    assert_eq!(num(r, "/ferry/noop/writes"), 0.0);
    assert!(num(r, "/kubectl/apply/writes") >= num(r, "/objects"));
    for ratio in ["kubectl-apply", "kubectl-noop", "kpt-apply", "kpt-noop"] {
        assert!(num(&json, &format!("/ratios/{ratio}")) > 0.0, "{ratio} missing: {json:#}");
    }
}

#[test]
fn an_unknown_scenario_is_an_error_naming_the_known_ones() {
    let err = "fan-in".parse::<Scenario>().expect_err("not a scenario");
    assert!(err.to_string().contains("fan-out"), "{err}");
}

#[test]
fn soak_keeps_changing_things_samples_the_process_and_converges() {
    let r = quick(Scenario::Soak).to_json()["results"].clone();
    assert_eq!(r["converged"], true, "{r:#}");
    assert!(num(&r, "/commits") >= 1.0 && num(&r, "/edits_by_hand") >= 1.0, "{r:#}");
    let samples = r["samples"].as_array().expect("samples");
    assert!(!samples.is_empty() && samples.iter().all(|s| s["rss_mib"].as_f64() > Some(0.0)));
    assert!(num(&r, "/open_files_first_last/1") > 0.0 && num(&r, "/threads_first_last/1") > 0.0);
    // The engine's workers and watches are tasks: never none while it runs.
    assert!(num(&r, "/engine_tasks_first_last/1") > 0.0, "{r:#}");
    assert!(num(&r, "/cluster_tasks_first_last/1") > 0.0, "{r:#}");
}

#[test]
fn sops_decrypts_every_value_and_renders_the_encrypted_app() {
    let json = quick(Scenario::Sops).to_json();
    let r = &json["results"];
    let n = num(r, "/secrets");
    assert_eq!(num(r, "/decrypt/files"), n);
    assert_eq!(num(r, "/decrypt/values"), n * num(r, "/values_per_secret"), "{r:#}");
    assert!(num(r, "/decrypt/per_file_ms") > 0.0 && num(r, "/render/sops_median_ms") > 0.0);
    assert!(num(&json, "/ratios/sops_render_vs_plain") > 0.0, "{json:#}");
}
