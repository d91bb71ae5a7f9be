//! `ferry bench engine-memory --quick`: the engine runs as a `ferry controller` process against a
//! `ferry cluster serve` process, every app ends Synced+Healthy, and the engine's own memory is
//! read from /proc (heap and mapped files told apart) at each size.

use serde_json::Value;

#[test]
fn the_engine_runs_in_its_own_process_and_its_memory_is_its_own() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["bench", "engine-memory", "--quick", "-o", "json"])
        .env("FERRY_BIN", env!("CARGO_BIN_EXE_ferry"))
        .output()
        .expect("ferry bench runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON report");
    let results = &report["results"];
    for size in ["apps_x4", "objects_10k", "objects_20k"] {
        let run = &results[size];
        let engine = &run["engine"];
        let rss = engine["rss_mib"].as_f64().expect("the engine's RSS");
        let parts =
            engine["anon_mib"].as_f64().unwrap_or(0.0) + engine["file_mib"].as_f64().unwrap_or(0.0);
        assert!(rss > 1.0, "{run:#}");
        assert!((rss - parts).abs() < 2.0, "RSS is heap plus mapped files: {run:#}");
        let cluster = run["cluster"]["rss_mib"].as_f64().expect("the cluster's RSS");
        assert!(cluster > 1.0, "the cluster is another process, measured apart: {run:#}");
        assert!(run["objects"].as_u64() > Some(0), "{run:#}");
    }
    assert!(results["engine_mib_per_10k_objects"].is_number(), "{results:#}");
}
