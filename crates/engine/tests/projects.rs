//! Projects, approvals and sync windows against the embedded cluster and a real git daemon:
//! a project's rule stops a sync before anything is applied, an approval-gated revision waits
//! for an approval of exactly that revision by someone other than its author, and a deny window
//! holds automated syncs and says when it opens.

mod support;

use std::time::Duration;

use ferry_engine::approval::{ANNOTATION_APPROVE, ApprovalRequest};
use ferry_engine::audit::{AuditQuery, AuditTrail, Outcome};
use ferry_engine::project::Project;
use k8s_openapi::api::core::v1::{ConfigMap, Event};
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::*;

const CONFIG_MAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n";
const CLUSTER_ROLE: &str = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: tenant-reader\nrules:\n- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: [get]\n";

fn condition<'a>(app: &'a Value, type_: &str) -> Option<&'a Value> {
    app["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

fn has_condition(app: &Value, type_: &str, reason: &str) -> bool {
    condition(app, type_).is_some_and(|c| c["reason"] == reason)
}

fn message(app: &Value, type_: &str) -> String {
    condition(app, type_).and_then(|c| c["message"].as_str()).unwrap_or_default().to_owned()
}

async fn create_project(world: &World, name: &str, spec: Value) -> Api<Project> {
    world.create_namespace("ferry").await;
    let api: Api<Project> = Api::namespaced(world.client.clone(), "ferry");
    let project: Project = serde_json::from_value(json!({
        "apiVersion": "ferry.dev/v1alpha1", "kind": "Project",
        "metadata": {"name": name, "namespace": "ferry"}, "spec": spec
    }))
    .expect("a valid Project");
    api.create(&PostParams::default(), &project).await.expect("Project created");
    api
}

fn app_spec(world: &World, project: &str, namespace: &str) -> Value {
    let mut spec = automated_spec(&world.repo_url(), "app", namespace);
    spec["project"] = json!(project);
    spec
}

async fn config_map_exists(world: &World, namespace: &str) -> bool {
    let api: Api<ConfigMap> = Api::namespaced(world.client.clone(), namespace);
    api.get_opt("settings").await.expect("get").is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_project_that_forbids_cluster_roles_stops_the_app_before_anything_is_applied() {
    let world = World::start(|repo| {
        repo.write("app/cm.yaml", CONFIG_MAP).expect("write");
        repo.write("app/role.yaml", CLUSTER_ROLE).expect("write");
    })
    .await;
    let projects = create_project(
        &world,
        "tenant",
        json!({"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "tenant-*"}],
               "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"}]}),
    )
    .await;
    world.create_app("tenant-app", app_spec(&world, "tenant", "tenant-a")).await;
    let app = world
        .wait_for("tenant-app", "refused by its project", |a| {
            has_condition(a, "ProjectPermitted", "ResourceNotPermitted")
        })
        .await;
    let said = message(&app, "ProjectPermitted");
    assert!(said.contains("ClusterRole") && said.contains("tenant-reader"), "{said}");
    assert!(said.contains("clusterResourceWhitelist") && said.contains("tenant"), "{said}");
    assert!(said.contains("Nothing in the cluster was changed"), "{said}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let roles: Api<ClusterRole> = Api::all(world.client.clone());
    assert!(roles.get_opt("tenant-reader").await.expect("get").is_none(), "no ClusterRole");
    assert!(!config_map_exists(&world, "tenant-a").await, "nothing else applied either");
    assert!(app["status"]["inventory"].is_null(), "no inventory recorded");

    // Allowing the kind in the project lets the very same commit through.
    let patch = json!({"spec": {"clusterResourceWhitelist": [
        {"group": "", "kind": "Namespace"}, {"group": "rbac.authorization.k8s.io", "kind": "ClusterRole"}]}});
    projects.patch("tenant", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("patch");
    world.wait_synced_healthy("tenant-app", &world.head()).await;
    assert!(roles.get_opt("tenant-reader").await.expect("get").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_naming_a_missing_project_or_a_forbidden_destination_applies_nothing() {
    let world = World::start(|repo| repo.write("app/cm.yaml", CONFIG_MAP).expect("write")).await;
    create_project(
        &world,
        "tenant",
        json!({"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "tenant-*"}]}),
    )
    .await;
    world.create_app("lost", app_spec(&world, "nonexistent", "lost")).await;
    world.create_app("astray", app_spec(&world, "tenant", "kube-public")).await;
    let lost = world
        .wait_for("lost", "missing its project", |a| {
            has_condition(a, "ProjectPermitted", "ProjectNotFound")
        })
        .await;
    assert!(message(&lost, "ProjectPermitted").contains("\"nonexistent\""));
    let astray = world
        .wait_for("astray", "refused its destination", |a| {
            has_condition(a, "ProjectPermitted", "DestinationNotPermitted")
        })
        .await;
    assert!(message(&astray, "ProjectPermitted").contains("destinations"));
    assert_eq!(lost["status"]["sync"]["status"], "Unknown");
    assert!(
        !config_map_exists(&world, "lost").await && !config_map_exists(&world, "kube-public").await
    );
}

async fn approve(world: &World, name: &str, revision: &str, approver: &str) {
    let api: Api<ferry_engine::Application> = Api::namespaced(world.client.clone(), "ferry");
    let value = ApprovalRequest::new(revision, approver).annotation_value();
    let patch = json!({"metadata": {"annotations": {ANNOTATION_APPROVE: value}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.expect("approval asked");
}

async fn approval_refused(world: &World, name: &str, reason: &str) -> Value {
    world
        .wait_for(name, &format!("refusing an approval ({reason})"), |a| {
            has_condition(a, "ApprovalRefused", reason)
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_approval_gated_revision_waits_and_syncs_only_once_someone_else_approves_it() {
    let trail = AuditTrail::in_memory(1_000);
    let options = Options { audit: Some(trail.clone()), ..Options::default() };
    let world =
        World::start_with(|repo| repo.write("app/cm.yaml", CONFIG_MAP).expect("write"), options)
            .await;
    let mut spec = app_spec(&world, "default", "gated");
    spec["syncPolicy"]["approval"] = json!({"required": true, "allowSelfApproval": false});
    world.create_app("gated", spec).await;
    let first = world.head();
    let app = world
        .wait_for("gated", "awaiting approval", |a| {
            a["status"]["approval"]["phase"] == "AwaitingApproval"
                && a["status"]["approval"]["revision"] == first.as_str()
        })
        .await;
    let diff = app["status"]["approval"]["diff"].to_string();
    assert!(diff.contains("ConfigMap gated/settings: missing from the cluster"), "{diff}");
    assert!(message(&app, "AwaitingApproval").contains("ferry app approve gated --revision"));
    assert!(!config_map_exists(&world, "gated").await, "nothing applied before the approval");

    // The author may not approve their own commit.
    approve(&world, "gated", &first, ferry_testkit::git::AUTHOR_EMAIL).await;
    approval_refused(&world, "gated", "SelfApprovalForbidden").await;
    // A new commit arrives: an approval of the first one does not approve it.
    let second = world
        .repo
        .commit_file("app/cm.yaml", &CONFIG_MAP.replace("blue", "green"), "green")
        .expect("commit");
    world
        .wait_for("gated", "awaiting the new revision", |a| {
            a["status"]["approval"]["revision"] == second.as_str()
        })
        .await;
    approve(&world, "gated", &first, "lead@example.org").await;
    approval_refused(&world, "gated", "WrongRevision").await;
    assert!(!config_map_exists(&world, "gated").await);

    approve(&world, "gated", &second[..12], "lead@example.org").await;
    let app = world.wait_synced_healthy("gated", &second).await;
    let entry =
        app["status"]["history"].as_array().and_then(|h| h.last()).cloned().unwrap_or_default();
    assert_eq!(entry["revision"], second.as_str());
    assert_eq!(entry["approvedBy"], "lead@example.org");
    assert!(entry["author"].as_str().unwrap_or("").contains(ferry_testkit::git::AUTHOR_EMAIL));
    let events: Api<Event> = Api::namespaced(world.client.clone(), "ferry");
    let listed = events.list(&ListParams::default()).await.expect("events");
    let approved = listed.items.iter().find(|e| e.reason.as_deref() == Some("Approved"));
    assert!(
        approved.and_then(|e| e.message.as_deref()).is_some_and(|m| m.contains("lead@example.org")),
        "an Event names the approver"
    );

    // The audit trail has the refusals, the approval and the sync it let through, with the
    // approver and the commit's author.
    let records = trail.query(&AuditQuery { app: Some("gated".into()), ..AuditQuery::default() });
    let approvals: Vec<_> = records.iter().filter(|r| r.action == "approve").collect();
    assert!(
        approvals
            .iter()
            .any(|r| r.outcome == Outcome::Denied
                && r.actor.user == ferry_testkit::git::AUTHOR_EMAIL),
        "the self-approval is recorded as denied: {approvals:?}"
    );
    let allowed = approvals.iter().find(|r| r.outcome == Outcome::Allowed).expect("an approval");
    assert_eq!(allowed.actor.user, "lead@example.org");
    assert!(allowed.message.contains(ferry_testkit::git::AUTHOR_EMAIL), "{}", allowed.message);
    let sync = records
        .iter()
        .filter_map(|r| r.sync.as_ref())
        .find(|s| s.revision == second && !s.dry_run)
        .expect("the approved revision's sync is recorded");
    assert_eq!(sync.trigger.kind, "approval");
    assert_eq!(sync.trigger.user.as_deref(), Some("lead@example.org"));
    let author = sync.commit.as_ref().map(|c| c.author.clone()).unwrap_or_default();
    assert!(author.contains(ferry_testkit::git::AUTHOR_EMAIL), "{author}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deny_window_holds_automated_syncs_says_when_it_opens_and_lets_manual_syncs_through() {
    let world = World::start(|repo| repo.write("app/cm.yaml", CONFIG_MAP).expect("write")).await;
    create_project(
        &world,
        "frozen",
        // CreateNamespace=true makes a Namespace: a cluster-scoped kind the project must allow.
        json!({"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}],
               "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"}],
               "syncWindows": [{"kind": "deny", "schedule": "0 0 * * *", "duration": "24h",
                                "applications": ["*"], "manualSync": true}]}),
    )
    .await;
    world.create_app("frozen-app", app_spec(&world, "frozen", "frozen")).await;
    let app = world
        .wait_for("frozen-app", "held by the deny window", |a| {
            has_condition(a, "SyncWindowClosed", "SyncWindowClosed")
        })
        .await;
    let said = message(&app, "SyncWindowClosed");
    assert!(said.contains("deny window \"0 0 * * *\"") && said.contains("opens at"), "{said}");
    let windows = &app["status"]["syncWindows"];
    assert_eq!(windows["automated"], false);
    assert_eq!(windows["manual"], true);
    assert!(
        windows["nextOpening"].as_str().is_some_and(|t| t.ends_with("T00:00:00Z")),
        "{windows}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!config_map_exists(&world, "frozen").await, "nothing applied in the window");

    world.request_sync("frozen-app").await;
    world.wait_synced_healthy("frozen-app", &world.head()).await;
    assert!(config_map_exists(&world, "frozen").await);
}

/// A namespace with a ServiceAccount `deployer` that may only manage ConfigMaps there.
async fn tenant_namespace(world: &World, namespace: &str) {
    world.create_namespace(namespace).await;
    let objects = [
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "deployer", "namespace": namespace}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
               "metadata": {"name": "configmaps", "namespace": namespace},
               "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "deployer-configmaps", "namespace": namespace},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "configmaps"},
               "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": namespace}]}),
    ];
    for object in objects {
        let object: kube::api::DynamicObject = serde_json::from_value(object).expect("an object");
        let gvk = kube::api::GroupVersionKind::try_from(object.types.as_ref().expect("types"))
            .expect("gvk");
        let (resource, _) = kube::discovery::pinned_kind(&world.client, &gvk).await.expect("kind");
        let api: Api<kube::api::DynamicObject> =
            Api::namespaced_with(world.client.clone(), namespace, &resource);
        api.create(&PostParams::default(), &object).await.expect("created");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_app_is_applied_as_its_service_account_and_gets_forbidden_for_other_kinds() {
    let world = World::start(|repo| {
        repo.write("app/cm.yaml", CONFIG_MAP).expect("write");
    })
    .await;
    tenant_namespace(&world, "tenant-sa").await;
    create_project(
        &world,
        "sa",
        json!({"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "tenant-*"}],
               "destinationServiceAccounts": [{"server": "*", "namespace": "tenant-*",
                                               "defaultServiceAccount": "deployer"}]}),
    )
    .await;
    let mut spec = app_spec(&world, "sa", "tenant-sa");
    spec["syncPolicy"]["syncOptions"] = json!([]);
    world.create_app("tenant", spec).await;
    world.wait_synced_healthy("tenant", &world.head()).await;
    assert!(config_map_exists(&world, "tenant-sa").await, "a kind the tenant may manage");

    let service =
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n";
    world.repo.commit_file("app/svc.yaml", service, "a Service").expect("commit");
    let app = world
        .wait_for("tenant", "refused by the tenant's RBAC", |a| {
            a["status"]["operationState"]["phase"] == "Failed"
        })
        .await;
    let said = app["status"]["operationState"]["message"].as_str().unwrap_or("").to_owned();
    assert!(said.contains("system:serviceaccount:tenant-sa:deployer"), "names the tenant: {said}");
    assert!(said.to_lowercase().contains("forbidden"), "says it was forbidden: {said}");
    let services: Api<k8s_openapi::api::core::v1::Service> =
        Api::namespaced(world.client.clone(), "tenant-sa");
    assert!(
        services.get_opt("web").await.expect("get").is_none(),
        "not created with Ferry's rights"
    );
}
