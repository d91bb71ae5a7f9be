//! `ferry bench shards --quick`: replicas as real `ferry controller` processes against a
//! `ferry cluster serve` process share the apps, every app ends Synced+Healthy, and the
//! replicas' reconcile journals show no app reconciled by two of them at once.

use serde_json::Value;

#[test]
fn replica_processes_share_the_apps_with_no_app_reconciled_by_two_at_once() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["bench", "shards", "--quick", "--size", "60", "-o", "json"])
        .env("FERRY_BIN", env!("CARGO_BIN_EXE_ferry"))
        .output()
        .expect("ferry bench runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON report");
    let results = &report["results"];
    for replicas in [1, 2] {
        let run = &results[format!("replicas_{replicas}")];
        assert_eq!(run["all_synced"], true, "{run:#}");
        assert_eq!(run["overlaps"], 0, "{run:#}");
        assert_eq!(run["apps_reconciled"], 60, "{run:#}");
        let reconciles = run["reconciles"].as_array().expect("reconciles per replica");
        assert_eq!(reconciles.len(), replicas);
        assert!(reconciles.iter().all(|n| n.as_u64() > Some(0)), "each replica worked: {run:#}");
        let rss = run["rss_mib_peak"].as_array().expect("rss per replica");
        assert!(rss.iter().all(|m| m.as_f64() > Some(1.0)), "{run:#}");
    }
}
