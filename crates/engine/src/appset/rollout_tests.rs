use super::*;
use crate::appset::LabelSelectorRequirement;
use serde_json::json;

fn step(env: &str, max: Option<Value>) -> RolloutStep {
    RolloutStep {
        match_expressions: vec![LabelSelectorRequirement {
            key: "env".into(),
            operator: "In".into(),
            values: vec![env.into()],
        }],
        max_update: max,
    }
}

fn app(name: &str, env: &str, sync: &str, revision: &str, health: &str) -> RolloutApp {
    RolloutApp {
        name: name.into(),
        labels: [("env".to_string(), env.to_string())].into(),
        sync: sync.into(),
        revision: revision.into(),
        health: health.into(),
        target: Some("new".into()),
    }
}

fn steps() -> Vec<RolloutStep> {
    vec![step("dev", None), step("staging", None), step("prod", Some(json!(1)))]
}

fn status_of(r: &Rollout, name: &str) -> String {
    r.status.iter().find(|s| s.application == name).map(|s| s.status.clone()).unwrap_or_default()
}

#[test]
fn only_the_first_step_syncs_while_it_is_not_healthy_at_the_new_revision() {
    let apps = [
        app("dev", "dev", "Synced", "old", "Healthy"),
        app("staging", "staging", "Synced", "old", "Healthy"),
        app("prod", "prod", "Synced", "old", "Healthy"),
    ];
    let r = super::step(&steps(), &apps, &[]).expect("a rollout");
    assert_eq!(r.sync_now, ["dev"]);
    assert_eq!(status_of(&r, "staging"), "Waiting");
    let again = super::step(&steps(), &apps, &r.status).expect("a rollout");
    assert!(again.sync_now.is_empty(), "a requested sync is not requested twice");
}

#[test]
fn the_next_step_starts_once_every_earlier_app_is_healthy_at_the_new_revision() {
    let apps = [
        app("dev", "dev", "Synced", "new", "Healthy"),
        app("staging", "staging", "OutOfSync", "old", "Healthy"),
        app("prod", "prod", "OutOfSync", "old", "Healthy"),
    ];
    let r = super::step(&steps(), &apps, &[]).expect("a rollout");
    assert_eq!(r.sync_now, ["staging"]);
    assert_eq!(
        (status_of(&r, "dev").as_str(), status_of(&r, "prod").as_str()),
        ("Healthy", "Waiting")
    );
}

#[test]
fn max_update_limits_the_apps_of_a_step_in_progress_at_once() {
    let apps = [
        app("p1", "prod", "OutOfSync", "old", "Healthy"),
        app("p2", "prod", "OutOfSync", "old", "Healthy"),
        app("p3", "prod", "OutOfSync", "old", "Healthy"),
    ];
    let r = super::step(&[step("prod", Some(json!("50%")))], &apps, &[]).expect("a rollout");
    assert_eq!(r.sync_now, ["p1"]);
    assert_eq!(status_of(&r, "p3"), "Pending");
    assert_eq!(max_update(Some(&json!("100%")), 4, 0), Ok(4));
    assert_eq!(max_update(Some(&json!(0)), 4, 0), Ok(4));
    assert!(max_update(Some(&json!("lots")), 4, 2).unwrap_err().to_string().contains("steps[2]"));
}

#[test]
fn a_degraded_app_stops_the_rollout_and_is_named() {
    let apps = [
        app("dev", "dev", "Synced", "new", "Degraded"),
        app("staging", "staging", "OutOfSync", "old", "Healthy"),
    ];
    let r = super::step(&steps(), &apps, &[]).expect("a rollout");
    assert!(r.sync_now.is_empty());
    let why = r.blocked.expect("blocked");
    assert!(why.contains("dev") && why.contains("Degraded") && why.contains("step 1"), "{why}");
}

#[test]
fn an_app_no_step_selects_is_left_to_manual_syncs() {
    let apps = [app("qa", "qa", "OutOfSync", "old", "Healthy")];
    let r = super::step(&steps(), &apps, &[]).expect("a rollout");
    assert!(r.sync_now.is_empty());
    assert_eq!(status_of(&r, "qa"), "Waiting");
}
