use super::*;
use crate::application::{AppHealth, ApplicationStatus, SyncStatus};
use std::collections::HashMap;

fn id(name: &str) -> AppId {
    AppId::new("ferry", name)
}

fn app(name: &str, deps: &[&str], state: Option<(SyncStatusCode, HealthStatus)>) -> Application {
    let mut app = Application::new(name, Default::default());
    app.metadata.namespace = Some("ferry".into());
    app.metadata.generation = Some(1);
    app.spec.depends_on =
        deps.iter().map(|d| DependencyRef { name: (*d).into(), namespace: None }).collect();
    app.status = state.map(|(sync, health)| ApplicationStatus {
        sync: SyncStatus { status: sync, revision: "abc".into(), ..Default::default() },
        health: AppHealth { status: health, message: String::new() },
        observed_generation: Some(1),
        ..Default::default()
    });
    app
}

fn judged(apps: &[Application], name: &str) -> Verdict {
    let by_id: HashMap<AppId, &Application> =
        apps.iter().map(|a| (AppId::new("ferry", a.name_any()), a)).collect();
    let me = by_id[&id(name)];
    judge(&id(name), &dependencies(me), |d| by_id.get(d).copied())
}

const READY: Option<(SyncStatusCode, HealthStatus)> =
    Some((SyncStatusCode::Synced, HealthStatus::Healthy));

#[test]
fn an_app_whose_dependencies_are_synced_and_healthy_may_sync() {
    let apps = [app("web", &["db"], None), app("db", &[], READY)];
    assert_eq!(judged(&apps, "web"), Verdict::Ready);
}

#[test]
fn an_app_waits_for_a_dependency_and_says_what_it_is_now() {
    let progressing = Some((SyncStatusCode::Synced, HealthStatus::Progressing));
    let apps = [app("web", &["db"], None), app("db", &[], progressing)];
    let verdict = judged(&apps, "web");
    assert_eq!(verdict.reason(), "DependencyNotReady");
    let message = verdict.message();
    assert!(message.contains("app ferry/db (it is Synced/Progressing)"), "{message}");
    assert!(message.contains("Synced and Healthy at its current revision"), "{message}");
}

#[test]
fn a_dependency_not_yet_reconciled_or_behind_its_spec_is_not_ready() {
    let mut behind = app("db", &[], READY);
    behind.metadata.generation = Some(2);
    assert_eq!(not_ready(&behind).as_deref(), Some("Synced/Healthy, for an older spec"));
    assert_eq!(not_ready(&app("db", &[], None)).as_deref(), Some("not reconciled yet"));
}

#[test]
fn a_missing_dependency_is_named() {
    let apps = [app("web", &["db", "ghost"], None), app("db", &[], READY)];
    let verdict = judged(&apps, "web");
    assert_eq!(verdict, Verdict::Missing(vec![id("ghost")]));
    assert!(verdict.message().contains("app ferry/ghost"));
}

#[test]
fn a_cycle_is_refused_and_listed_in_order() {
    let apps = [app("a", &["b"], READY), app("b", &["c"], READY), app("c", &["a"], READY)];
    let verdict = judged(&apps, "a");
    assert_eq!(verdict, Verdict::Cycle(vec![id("a"), id("b"), id("c"), id("a")]));
    assert!(verdict.message().contains("ferry/a → ferry/b → ferry/c → ferry/a"));
    let own = [app("selfish", &["selfish"], READY)];
    assert_eq!(judged(&own, "selfish").reason(), "DependencyCycle");
}

#[test]
fn an_app_that_depends_on_a_cycle_it_is_not_in_waits_on_it() {
    let apps = [
        app("web", &["a"], None),
        app("a", &["b"], Some((SyncStatusCode::OutOfSync, HealthStatus::Missing))),
        app("b", &["a"], None),
    ];
    assert_eq!(judged(&apps, "web").reason(), "DependencyNotReady");
}

#[test]
fn a_dependency_in_another_namespace_is_named_with_it() {
    let dep = DependencyRef { name: "db".into(), namespace: Some("data".into()) };
    assert_eq!(dep.id("ferry"), AppId::new("data", "db"));
    let local = DependencyRef { name: "db".into(), namespace: Some(String::new()) };
    assert_eq!(local.id("ferry"), AppId::new("ferry", "db"));
}
