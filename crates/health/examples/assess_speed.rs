//! Benchmark: how long judging one object takes, built-in and with a CEL rule.
//!
//! `cargo run --release -p ferry-health --example assess_speed`

use std::path::Path;
use std::time::Instant;

use ferry_health::{HealthCheck, Rules, assess};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(format!("{name}.yaml"));
    let text = std::fs::read_to_string(&path).expect("fixture is readable");
    serde_saphyr::from_str(&text).expect("fixture is YAML")
}

fn time(label: &str, obj: &Value, rules: &Rules) {
    let rounds = 20_000u32;
    let start = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(assess(std::hint::black_box(obj), rules));
    }
    let per_object = start.elapsed() / rounds;
    println!("{label:<40} {per_object:>10.2?} per object");
}

fn main() {
    let deployment = load("deployment/rolling-update-in-progress");
    let pod = load("pod/crash-loop-back-off");
    let certificate = load("generic/cert-manager-certificate-issuing");
    time("built-in Deployment", &deployment, &Rules::default());
    time("built-in Pod", &pod, &Rules::default());
    time("built-in conditions (Certificate)", &certificate, &Rules::default());
    let rules = Rules::new([HealthCheck {
        api_version: Some("cert-manager.io/v1".into()),
        group: None,
        kind: "Certificate".into(),
        in_progress: Some(
            "status.conditions.exists(c, c.type == 'Issuing' && c.status == 'True')".into(),
        ),
        failed: Some(
            "status.conditions.exists(c, c.type == 'Ready' && c.status == 'False')".into(),
        ),
        current: "status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')".into(),
    }]);
    time("CEL rule (Certificate, 1 expression)", &certificate, &rules);
    let trivial = Rules::new([HealthCheck {
        api_version: Some("cert-manager.io/v1".into()),
        group: None,
        kind: "Certificate".into(),
        in_progress: None,
        failed: None,
        current: "true".into(),
    }]);
    time("CEL rule (`true`)", &certificate, &trivial);
    let mut ready = certificate.clone();
    ready["status"]["conditions"][0]["status"] = "False".into();
    ready["status"]["conditions"][1]["status"] = "True".into();
    time("CEL rule (Certificate, 3 expressions)", &ready, &rules);
}
