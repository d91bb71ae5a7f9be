use super::*;
use crate::application::ApplicationStatus;

fn app(status: serde_json::Value) -> Application {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {"source": {"repoURL": "https://git.example/mono.git", "path": "web"},
                 "destination": {"namespace": "web"}},
        "status": status,
    }))
    .expect("a valid Application")
}

fn record(from: &str, checkpoint: &str) -> RepoRecord {
    let mut r = RepoRecord {
        name: record_name("https://git.example/mono.git"),
        updated_at: "2026-12-06T14:00:00Z".into(),
        ..RepoRecord::default()
    };
    let v = Verified { revision: "bbbb".into(), from: from.into(), checkpoint: checkpoint.into() };
    r.apps.insert("apps/web".into(), v);
    r
}

fn synced_at(revision: &str, checkpoint: &str) -> serde_json::Value {
    serde_json::json!({"sync": {"status": "Synced", "revision": revision,
        "record": record_name("https://git.example/mono.git"), "checkpoint": checkpoint},
        "health": {"status": "Healthy"}})
}

#[test]
fn an_app_verified_from_its_current_status_is_at_the_records_revision() {
    let a = app(synced_at("aaaa", "c1"));
    let r = record("aaaa", "c1");
    let e = effective(&a, Some(&r));
    assert_eq!(e.revision, "bbbb");
    assert_eq!(e.checked_at, Some("2026-12-06T14:00:00Z"));
}

#[test]
fn a_status_written_since_the_entry_wins_over_it() {
    let r = record("aaaa", "c1");
    let rewritten = app(synced_at("aaaa", "c2"));
    assert_eq!(effective(&rewritten, Some(&r)).revision, "aaaa", "another checkpoint");
    let newer = app(synced_at("cccc", "c1"));
    assert_eq!(effective(&newer, Some(&r)).revision, "cccc", "another revision");
    assert_eq!(effective(&newer, None).checked_at, None);
}

#[test]
fn a_status_without_checkpoint_or_of_another_record_is_its_own() {
    let r = record("aaaa", "");
    let a = app(serde_json::json!({"sync": {"status": "Synced", "revision": "aaaa",
        "record": r.name}}));
    assert_eq!(effective(&a, Some(&r)).revision, "aaaa");
    let mut other = record("aaaa", "c1");
    other.name = "ferry-repo-other".into();
    assert_eq!(effective(&app(synced_at("aaaa", "c1")), Some(&other)).revision, "aaaa");
}

#[test]
fn a_record_survives_its_config_map_round_trip_grouped_by_revision() {
    let mut r = record("aaaa", "c1");
    let v = Verified { revision: "bbbb".into(), from: "aaaa".into(), checkpoint: "c9".into() };
    r.apps.insert("apps/api".into(), v);
    let json = r.verified_json(|_| true);
    assert_eq!(json, r#"{"bbbb":{"aaaa":{"apps/api":"c9","apps/web":"c1"}}}"#);
    let cm: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": r.name},
        "data": {"url": "", "updatedAt": r.updated_at, "verified": json}
    }))
    .expect("a ConfigMap");
    assert_eq!(RepoRecord::from_config_map(&cm).expect("parses").apps, r.apps);
    assert_eq!(r.summary(), "2 app(s) verified unchanged at bbbb");
}

#[test]
fn a_malformed_record_names_its_config_map_and_key() {
    let cm: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "ferry-repo-x"}, "data": {"verified.shard-1": "[1"}
    }))
    .expect("a ConfigMap");
    let e = RepoRecord::from_config_map(&cm).expect_err("malformed").to_string();
    assert!(e.contains("ferry-repo-x") && e.contains("verified.shard-1"), "{e}");
}

#[test]
fn only_the_revision_may_differ_for_a_status_to_fold() {
    let status = |rev: &str, health: &str| -> ApplicationStatus {
        serde_json::from_value(serde_json::json!({"sync": {"status": "Synced", "revision": rev,
            "record": "ferry-repo-x"}, "health": {"status": health}}))
        .expect("a status")
    };
    let with_checkpoint = |mut s: ApplicationStatus, content: &str| {
        s.sync.checkpoint = checkpoint(&s, content);
        s
    };
    let old = with_checkpoint(status("aaaa", "Healthy"), "render-1");
    let same = with_checkpoint(status("bbbb", "Healthy"), "render-1");
    assert_eq!(old.sync.checkpoint, same.sync.checkpoint);
    assert!(foldable(&old, &same));
    assert!(!foldable(&old, &old), "the same revision: nothing to record");
    let rendered_otherwise = with_checkpoint(status("bbbb", "Healthy"), "render-2");
    assert!(!foldable(&old, &rendered_otherwise));
    let degraded = with_checkpoint(status("bbbb", "Degraded"), "render-1");
    assert!(!foldable(&old, &degraded));
}
