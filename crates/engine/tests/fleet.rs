//! Fleets of apps (issue #20) against the embedded cluster and a real git daemon: `dependsOn`
//! holds an app until its dependencies are Synced and Healthy (and names what it waits for, a
//! missing app or a cycle), and the prune guard holds a sync's deletions past its thresholds
//! until they are approved.

mod support;

use std::time::Duration;

use ferry_engine::approval::{ANNOTATION_APPROVE, ApprovalRequest};
use ferry_engine::audit::{AuditQuery, AuditTrail, Outcome};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use support::*;

fn condition<'a>(app: &'a Value, type_: &str) -> Option<&'a Value> {
    app["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

fn has_condition(app: &Value, type_: &str, reason: &str) -> bool {
    condition(app, type_).is_some_and(|c| c["reason"] == reason)
}

fn message(app: &Value, type_: &str) -> String {
    condition(app, type_).and_then(|c| c["message"].as_str()).unwrap_or_default().to_owned()
}

fn config_map(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n")
}

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: db\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: db}\n  template:\n    metadata:\n      labels: {app: db}\n    spec:\n      containers:\n      - name: db\n        image: postgres:16\n";

async fn config_maps(world: &World, namespace: &str) -> Vec<String> {
    let api: Api<ConfigMap> = Api::namespaced(world.client.clone(), namespace);
    let listed = api.list(&ListParams::default()).await.expect("list ConfigMaps");
    let mut names: Vec<String> = listed
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .filter(|n| n != "kube-root-ca.crt")
        .collect();
    names.sort();
    names
}

fn depends_on(world: &World, path: &str, namespace: &str, deps: &[&str]) -> Value {
    let mut spec = automated_spec(&world.repo_url(), path, namespace);
    spec["dependsOn"] = deps.iter().map(|d| json!({"name": d})).collect();
    spec
}

async fn slow_world() -> World {
    let mut options = Options::default();
    options.cluster = options.cluster.simulator_delay(Duration::from_secs(4));
    World::start_with(
        |repo| {
            repo.write("db/deploy.yaml", DEPLOYMENT).expect("write");
            repo.write("web/cm.yaml", &config_map("web")).expect("write");
            repo.write("other/cm.yaml", &config_map("other")).expect("write");
        },
        options,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_that_depends_on_another_waits_until_it_is_healthy_then_syncs_at_once() {
    let world = slow_world().await;
    let head = world.head();
    world.create_app("web", depends_on(&world, "web", "web", &["db"])).await;
    world.create_app("db", automated_spec(&world.repo_url(), "db", "db")).await;
    let waiting = world
        .wait_for("web", "waiting for db", |a| has_condition(a, "DependsOn", "DependencyNotReady"))
        .await;
    let said = message(&waiting, "DependsOn");
    assert!(said.contains("waiting for app ferry/db (it is"), "{said}");
    assert!(said.contains("Synced and Healthy at its current revision"), "{said}");
    let deployments: Api<Deployment> = Api::namespaced(world.client.clone(), "db");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while deployments.get_opt("db").await.expect("get").is_none() {
        assert!(std::time::Instant::now() < deadline, "the dependency syncs meanwhile");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Its pods take 4 s to be ready: the dependent still waits, with nothing applied.
    assert!(config_maps(&world, "web").await.is_empty(), "a waiting app applies nothing");

    world.wait_synced_healthy("db", &head).await;
    let web = world.wait_synced_healthy("web", &head).await;
    assert!(condition(&web, "DependsOn").is_none(), "the condition goes once it is ready");
    assert_eq!(config_maps(&world, "web").await, vec!["web"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cycle_is_refused_with_the_cycle_listed_and_a_missing_dependency_is_named() {
    let world = slow_world().await;
    world.create_app("a", depends_on(&world, "web", "web", &["b"])).await;
    world.create_app("b", depends_on(&world, "other", "other", &["a"])).await;
    world.create_app("lonely", depends_on(&world, "db", "db", &["ghost"])).await;
    let a = world
        .wait_for("a", "refusing the cycle", |a| has_condition(a, "DependsOn", "DependencyCycle"))
        .await;
    assert!(message(&a, "DependsOn").contains("ferry/a → ferry/b → ferry/a"), "{a}");
    let b = world
        .wait_for("b", "refusing the cycle", |a| has_condition(a, "DependsOn", "DependencyCycle"))
        .await;
    assert!(message(&b, "DependsOn").contains("ferry/b → ferry/a → ferry/b"));
    let lonely = world
        .wait_for("lonely", "naming the missing app", |a| {
            has_condition(a, "DependsOn", "DependencyMissing")
        })
        .await;
    assert!(message(&lonely, "DependsOn").contains("app ferry/ghost"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        config_maps(&world, "web").await.is_empty()
            && config_maps(&world, "other").await.is_empty()
    );

    // The missing app appears: the dependent is reconciled because of it, not by a poll.
    world.create_app("ghost", automated_spec(&world.repo_url(), "other", "other")).await;
    let head = world.head();
    world.wait_synced_healthy("lonely", &head).await;
}

/// A world whose `many/` holds 20 ConfigMaps, synced by an automated app `many`.
async fn twenty_config_maps(trail: Option<AuditTrail>, guard: Option<Value>) -> World {
    let options = Options { audit: trail, ..Options::default() };
    let world = World::start_with(
        |repo| {
            for i in 0..20 {
                repo.write(&format!("many/cm-{i:02}.yaml"), &config_map(&format!("cm-{i:02}")))
                    .expect("write");
            }
        },
        options,
    )
    .await;
    let mut spec = automated_spec(&world.repo_url(), "many", "many");
    if let Some(guard) = guard {
        spec["syncPolicy"]["pruneGuard"] = guard;
    }
    world.create_app("many", spec).await;
    world.wait_synced_healthy("many", &world.head()).await;
    world
}

fn delete_config_maps(world: &World, range: std::ops::Range<usize>) -> String {
    for i in range {
        std::fs::remove_file(world.repo.dir.join(format!("many/cm-{i:02}.yaml"))).expect("rm");
    }
    world.repo.commit("fewer ConfigMaps").expect("commit")
}

async fn approve(world: &World, revision: &str, approver: &str) {
    let api: Api<ferry_engine::Application> = Api::namespaced(world.client.clone(), "ferry");
    let value = ApprovalRequest::new(revision, approver).annotation_value();
    let patch = json!({"metadata": {"annotations": {ANNOTATION_APPROVE: value}}});
    api.patch("many", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("approve");
}

fn names(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("cm-{i:02}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_15_of_20_objects_waits_for_approval_then_deletes_exactly_those() {
    let trail = AuditTrail::in_memory(1_000);
    let world = twenty_config_maps(Some(trail.clone()), None).await;
    let commit = delete_config_maps(&world, 5..20);
    let held = world
        .wait_for("many", "holding the deletions", |a| {
            a["status"]["pruneApproval"]["phase"] == "AwaitingApproval"
                && a["status"]["pruneApproval"]["revision"] == commit.as_str()
        })
        .await;
    let said = message(&held, "PruneApproval");
    assert!(said.contains("15 deletions wait for approval"), "{said}");
    assert!(said.contains("deletes 15 of 20 objects"), "{said}");
    assert!(said.contains("ConfigMap many/cm-05"), "the condition names the objects: {said}");
    assert!(
        said.contains(&format!("ferry app approve many --revision {}", &commit[..7])),
        "{said}"
    );
    let listed = held["status"]["pruneApproval"]["diff"].as_array().map(Vec::len);
    assert_eq!(listed, Some(15), "status lists the whole prune set");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(config_maps(&world, "many").await, names(0..20), "nothing deleted unapproved");

    approve(&world, &commit, "lead@example.org").await;
    let done = world
        .wait_for("many", "pruned after the approval", |a| {
            is_synced_healthy_at(a, &commit) && condition(a, "PruneApproval").is_none()
        })
        .await;
    assert_eq!(done["status"]["pruneApproval"]["approvedBy"], "lead@example.org");
    assert_eq!(config_maps(&world, "many").await, names(0..5), "exactly the approved set went");
    let records = trail.query(&AuditQuery { app: Some("many".into()), ..AuditQuery::default() });
    let approval = records
        .iter()
        .find(|r| r.action == "approve" && r.outcome == Outcome::Allowed)
        .expect("the approval is in the audit trail");
    assert_eq!(approval.actor.user, "lead@example.org");
    assert!(approval.message.contains("deletion of 15 objects"), "{}", approval.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_small_deletion_goes_through_unapproved() {
    let world = twenty_config_maps(None, None).await;
    let commit = delete_config_maps(&world, 18..20);
    let done = world.wait_synced_healthy("many", &commit).await;
    assert!(done["status"]["pruneApproval"].is_null());
    assert_eq!(config_maps(&world, "many").await, names(0..18));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_raised_threshold_lets_a_large_deletion_through() {
    let world = twenty_config_maps(None, Some(json!({"maxObjects": 20}))).await;
    let commit = delete_config_maps(&world, 5..20);
    let done = world
        .wait_for("many", "pruned", |a| {
            is_synced_healthy_at(a, &commit)
                && a["status"]["inventory"].as_array().map(Vec::len) == Some(5)
        })
        .await;
    assert!(condition(&done, "PruneApproval").is_none());
    assert_eq!(config_maps(&world, "many").await, names(0..5));
}

/// The argocd-example-apps `apps` chart as it is, with the example apps it names beside it.
async fn app_of_apps_world() -> World {
    let options = Options {
        argo_applications: ferry_engine::argo::ArgoApplications::Install,
        ..Options::default()
    };
    World::start_with(
        |repo| {
            for dir in ["apps", "guestbook", "helm-guestbook", "kustomize-guestbook"] {
                repo.copy_in(&corpus(&format!("argocd-example-apps/{dir}")), dir).expect("copy");
            }
        },
        options,
    )
    .await
}

/// The parent's values: its children come from the test's git daemon, into the embedded cluster.
fn apps_values(world: &World, children: &[&str]) -> Value {
    let applications: Vec<Value> = children
        .iter()
        .map(|name| match *name {
            "helm-guestbook" => json!({"name": name, "tool": {"helm": {"releaseName": name}}}),
            _ => json!({"name": name}),
        })
        .collect();
    json!({
        "config": {"spec": {
            "destination": {"server": "https://kubernetes.default.svc"},
            "source": {"repoURL": world.repo_url(), "targetRevision": "main"}}},
        "applications": applications,
    })
}

async fn argo_app(world: &World, name: &str) -> Option<kube::api::DynamicObject> {
    let ar = ferry_engine::argo::api_resource();
    let api: Api<kube::api::DynamicObject> =
        Api::namespaced_with(world.client.clone(), "argocd", &ar);
    api.get_opt(name).await.expect("get an Argo CD Application")
}

async fn wait_argo_app(world: &World, name: &str, what: &str, check: impl Fn(&Value) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut last = Value::Null;
    while std::time::Instant::now() < deadline {
        let app = argo_app(world, name).await.map(|a| serde_json::to_value(a).expect("json"));
        last = app.unwrap_or(Value::Null);
        if check(&last) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {name} to be {what}; last seen: {:#}", last["status"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn argocd_example_apps_app_of_apps_deploys_its_children_and_prunes_a_removed_one() {
    let world = app_of_apps_world().await;
    let head = world.head();
    let children = ["guestbook", "helm-guestbook", "kustomize-guestbook"];
    let mut spec = automated_spec(&world.repo_url(), "apps", "argocd");
    // Inline `values` (JSON is YAML): the embedded cluster's schema pruning empties a
    // `valuesObject` today.
    spec["source"]["helm"] = json!({"values": apps_values(&world, &children).to_string()});
    let parent = world.create_app("apps", spec.clone()).await;
    for child in children {
        wait_argo_app(&world, &format!("example.{child}"), "Synced+Healthy", |a| {
            is_synced_healthy_at(a, &head)
        })
        .await;
    }
    world.wait_synced_healthy("apps", &head).await;
    let deployments: Api<Deployment> = Api::namespaced(world.client.clone(), "kustomize-guestbook");
    let deployment = "kustomize-guestbook-ui";
    assert!(deployments.get_opt(deployment).await.expect("get").is_some());

    // One child leaves the values: its Application is pruned, and with it (cascade finalizer)
    // what it deployed.
    let patch = json!({"spec": {"source": {"helm": {"values":
        apps_values(&world, &children[..2]).to_string()}}}});
    parent.patch("apps", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("patch");
    wait_argo_app(&world, "example.kustomize-guestbook", "pruned", Value::is_null).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while deployments.get_opt(deployment).await.expect("get").is_some() {
        assert!(std::time::Instant::now() < deadline, "the child's Deployment is deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(argo_app(&world, "example.guestbook").await.is_some(), "the other children stay");
    world.wait_synced_healthy("apps", &head).await;
}
