//! Defaulting checked against what a 1.32 API server stores for the same input.

use ferry_diff::apply_defaults;
use ferry_diff::defaults::image_pull_policy;
use serde_json::Value;

fn cases() -> Vec<Value> {
    let path = format!("{}/tests/testdata/defaults.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

#[test]
fn each_kind_gets_the_defaults_a_real_server_stores() {
    let cases = cases();
    assert!(cases.len() >= 10);
    for case in cases {
        let mut obj = case["input"].clone();
        apply_defaults(&mut obj);
        assert_eq!(obj, case["expected"], "case {}", case["name"]);
    }
}

#[test]
fn defaulting_twice_changes_nothing_more() {
    for case in cases() {
        let mut once = case["input"].clone();
        apply_defaults(&mut once);
        let mut twice = once.clone();
        apply_defaults(&mut twice);
        assert_eq!(once, twice, "case {}", case["name"]);
    }
}

#[test]
fn image_pull_policy_follows_the_tag() {
    for (image, policy) in [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("localhost:5000/app", "Always"),
        ("localhost:5000/app:v1", "IfNotPresent"),
        ("ghcr.io/org/app@sha256:abcd", "IfNotPresent"),
        ("ghcr.io/org/app:latest@sha256:abcd", "Always"),
    ] {
        assert_eq!(image_pull_policy(image), policy, "{image}");
    }
}

#[test]
fn objects_that_are_not_objects_are_left_alone() {
    let mut v = serde_json::json!(["not", "an", "object"]);
    apply_defaults(&mut v);
    assert_eq!(v, serde_json::json!(["not", "an", "object"]));
    let mut odd =
        serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": "nonsense"});
    apply_defaults(&mut odd);
    assert_eq!(odd["spec"], serde_json::json!("nonsense"));
}
