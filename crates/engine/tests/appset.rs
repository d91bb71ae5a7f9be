//! ApplicationSets against the embedded cluster and a real git daemon: a directory per app in a
//! monorepo becomes an Application that syncs; a commit adding a directory adds exactly one app;
//! a commit removing many waits for an approval of exactly those deletions; a generator error
//! deletes nothing; a RollingSync syncs its steps in order.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use ferry_engine::Application;
use ferry_engine::appset::{ANNOTATION_APPROVE_DELETION, ApplicationSet, LABEL_APPLICATION_SET};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::*;

const NS: &str = "ferry";

fn config_map(name: &str, color: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  color: {color}\n")
}

/// A git-directories set over `apps/*` of the world's repository, one app per directory
/// deploying into namespace `fleet`.
fn directories_set(world: &World) -> Value {
    json!({
        "generators": [{"git": {"repoURL": world.repo_url(), "revision": "main",
                                "directories": [{"path": "apps/*"}, {"path": "apps/skip", "exclude": true}]}}],
        "template": {
            "metadata": {"name": "dir-{{path.basename}}"},
            "spec": {"source": {"repoURL": world.repo_url(), "targetRevision": "main", "path": "{{path}}"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "fleet"},
                     "syncPolicy": {"automated": {"prune": true, "selfHeal": true},
                                    "syncOptions": ["CreateNamespace=true"]}}
        }
    })
}

async fn create_set(world: &World, name: &str, spec: Value) -> Api<ApplicationSet> {
    world.create_namespace(NS).await;
    let api: Api<ApplicationSet> = Api::namespaced(world.client.clone(), NS);
    let set: ApplicationSet = serde_json::from_value(json!({
        "apiVersion": "ferry.dev/v1alpha1", "kind": "ApplicationSet",
        "metadata": {"name": name, "namespace": NS}, "spec": spec
    }))
    .expect("a valid ApplicationSet");
    api.create(&PostParams::default(), &set).await.expect("ApplicationSet created");
    api
}

async fn apps_of(world: &World, set: &str) -> Vec<Application> {
    let api: Api<Application> = Api::namespaced(world.client.clone(), NS);
    let lp = ListParams::default().labels(&format!("{LABEL_APPLICATION_SET}={set}"));
    let mut apps = api.list(&lp).await.expect("list apps").items;
    apps.sort_by_key(|a| a.metadata.name.clone());
    apps
}

fn names(apps: &[Application]) -> BTreeSet<String> {
    apps.iter().filter_map(|a| a.metadata.name.clone()).collect()
}

fn synced_healthy_at(app: &Application, revision: &str) -> bool {
    ferry_testkit::world::is_synced_healthy_at(&serde_json::to_value(app).expect("json"), revision)
}

/// Waits until `check` holds for the set's apps.
async fn wait_apps(
    world: &World,
    set: &str,
    what: &str,
    check: impl Fn(&[Application]) -> bool,
) -> Vec<Application> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = Vec::new();
    while Instant::now() < deadline {
        last = apps_of(world, set).await;
        if check(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let statuses: Vec<String> = last
        .iter()
        .map(|a| {
            format!(
                "{:?}: {}",
                a.metadata.name,
                serde_json::to_string(&a.status).unwrap_or_default()
            )
        })
        .collect();
    panic!(
        "timed out waiting for the apps of {set} to be {what}; last seen:\n{}",
        statuses.join("\n")
    );
}

fn condition(set: &ApplicationSet, type_: &str) -> Option<(String, String)> {
    let c = set.status.as_ref()?.conditions.iter().find(|c| c.type_ == type_)?;
    Some((c.status.clone(), c.message.clone()))
}

/// Waits until the set has condition `type_` True, and returns its message.
async fn wait_condition(world: &World, set: &str, type_: &str, says: &str) -> String {
    let api: Api<ApplicationSet> = Api::namespaced(world.client.clone(), NS);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut last = None;
    while Instant::now() < deadline {
        let s = api.get(set).await.expect("get set");
        last = s.status.clone();
        if let Some((status, message)) = condition(&s, type_)
            && status == "True"
            && message.contains(says)
        {
            return message;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {set} to have {type_} saying {says:?}; last status: {last:#?}");
}

fn with_dirs(repo: &Repo, n: usize) {
    for i in 0..n {
        repo.write(&format!("apps/app{i:02}/cm.yaml"), &config_map(&format!("cm{i:02}"), "blue"))
            .expect("write");
    }
    repo.write("apps/skip/cm.yaml", &config_map("skipped", "red")).expect("write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_git_directories_set_makes_one_synced_app_per_directory_adds_one_and_holds_mass_deletion()
{
    let world = World::start(|repo| with_dirs(repo, 20)).await;
    let head = world.head();
    create_set(&world, "dirs", directories_set(&world)).await;
    let apps = wait_apps(&world, "dirs", "20 apps Synced+Healthy", |apps| {
        apps.len() == 20 && apps.iter().all(|a| synced_healthy_at(a, &head))
    })
    .await;
    assert!(!names(&apps).contains("dir-skip"), "the excluded directory has no app");

    // One more directory: exactly one Application write, the others' specs untouched.
    let generations: Vec<(String, Option<i64>)> = apps
        .iter()
        .map(|a| (a.metadata.name.clone().unwrap_or_default(), a.metadata.generation))
        .collect();
    let writes = world.engine.appset_writes();
    world
        .repo
        .commit_file("apps/app20/cm.yaml", &config_map("cm20", "blue"), "add app20")
        .expect("commit");
    let head = world.head();
    let apps = wait_apps(&world, "dirs", "21 apps", |apps| apps.len() == 21).await;
    world.wait_synced_healthy("dir-app20", &head).await;
    assert_eq!(world.engine.appset_writes() - writes, 1, "one create, no update of the others");
    for (name, generation) in generations {
        let now = apps
            .iter()
            .find(|a| a.metadata.name.as_deref() == Some(name.as_str()))
            .expect("still there");
        assert_eq!(now.metadata.generation, generation, "{name} was not rewritten");
    }

    // Fifteen directories gone in one commit: held for an approval, nothing deleted.
    for i in 0..15 {
        world.repo.git(&["rm", "-r", "-q", &format!("apps/app{i:02}")]).expect("git rm");
    }
    world.repo.commit("remove 15 apps").expect("commit");
    let said =
        wait_condition(&world, "dirs", "PruneApproval", "15 Applications would be deleted").await;
    assert!(said.contains("dir-app00") && said.contains("ferry appset approve"), "{said}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(apps_of(&world, "dirs").await.len(), 21, "nothing is deleted before the approval");

    // The approval names exactly the held list; then the 15 go.
    let sets: Api<ApplicationSet> = Api::namespaced(world.client.clone(), NS);
    let pending = sets
        .get("dirs")
        .await
        .expect("get")
        .status
        .and_then(|s| s.pending_deletion)
        .expect("pending");
    assert_eq!(pending.applications.len(), 15);
    let patch = json!({"metadata": {"annotations": {ANNOTATION_APPROVE_DELETION: pending.hash}}});
    sets.patch("dirs", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("approve");
    let left = wait_apps(&world, "dirs", "6 apps", |apps| apps.len() == 6).await;
    assert_eq!(names(&left), (15..21).map(|i| format!("dir-app{i:02}")).collect());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_generator_error_deletes_nothing_and_says_which_repository_failed() {
    let mut world = World::start(|repo| with_dirs(repo, 3)).await;
    create_set(&world, "dirs", directories_set(&world)).await;
    wait_apps(&world, "dirs", "3 apps", |apps| apps.len() == 3).await;
    world.daemon.stop();
    let said = wait_condition(&world, "dirs", "ErrorOccurred", "cannot read").await;
    assert!(
        said.contains("config.git") && said.contains("nothing was created or deleted"),
        "{said}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(apps_of(&world, "dirs").await.len(), 3, "a failed fetch is not zero directories");
}

fn files_set(world: &World) -> Value {
    json!({
        "generators": [{"git": {"repoURL": world.repo_url(), "revision": "main",
                                "files": [{"path": "envs/*/config.yaml"}]}}],
        "template": {
            "metadata": {"name": "files-{{env.name}}", "labels": {"env": "{{env.name}}"}},
            "spec": {"source": {"repoURL": world.repo_url(), "targetRevision": "main", "path": "deploy/{{path.basename}}"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "{{env.namespace}}"},
                     "syncPolicy": {"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"]}}
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_files_set_reads_parameters_from_yaml_and_a_malformed_file_is_named_and_deletes_nothing()
{
    let world = World::start(|repo| {
        for env in ["dev", "prod"] {
            repo.write(
                &format!("envs/{env}/config.yaml"),
                &format!("env:\n  name: {env}\n  namespace: files-{env}\n"),
            )
            .expect("write");
            repo.write(&format!("deploy/{env}/cm.yaml"), &config_map("settings", env))
                .expect("write");
        }
    })
    .await;
    let head = world.head();
    create_set(&world, "files", files_set(&world)).await;
    let apps = wait_apps(&world, "files", "2 apps Synced+Healthy", |apps| {
        apps.len() == 2 && apps.iter().all(|a| synced_healthy_at(a, &head))
    })
    .await;
    assert_eq!(names(&apps), ["files-dev", "files-prod"].map(String::from).into());
    assert_eq!(apps[1].spec.destination.namespace, "files-prod");

    world
        .repo
        .commit_file("envs/prod/config.yaml", "env: [unclosed\n", "break prod")
        .expect("commit");
    let said = wait_condition(&world, "files", "ErrorOccurred", "envs/prod/config.yaml").await;
    assert!(said.contains("YAML"), "{said}");
    assert_eq!(apps_of(&world, "files").await.len(), 2, "nothing deleted");
}

fn list_set(world: &World, elements: Value, name: &str) -> Value {
    json!({
        "generators": [{"list": {"elements": elements}}],
        "template": {
            "metadata": {"name": name},
            "spec": {"source": {"repoURL": world.repo_url(), "targetRevision": "main", "path": "apps/app00"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "list"}}
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invalid_or_duplicate_name_is_a_condition_that_names_it_and_nothing_is_created() {
    let world = World::start(|repo| with_dirs(repo, 1)).await;
    create_set(&world, "bad-name", list_set(&world, json!([{"n": "Bad_Name"}]), "{{n}}")).await;
    let said = wait_condition(&world, "bad-name", "ErrorOccurred", "\"Bad_Name\"").await;
    assert!(said.contains("DNS-1123"), "{said}");
    create_set(&world, "twins", list_set(&world, json!([{"n": "a"}, {"n": "a"}]), "twin-{{n}}"))
        .await;
    let said = wait_condition(&world, "twins", "ErrorOccurred", "\"twin-a\"").await;
    assert!(said.contains("parameter sets 0 and 1"), "{said}");
    assert!(
        apps_of(&world, "bad-name").await.is_empty() && apps_of(&world, "twins").await.is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rolling_sync_updates_dev_then_staging_then_prod() {
    let envs = ["dev", "staging", "prod"];
    let world = World::start(|repo| {
        for env in envs {
            repo.write(&format!("roll/{env}/cm.yaml"), &config_map(&format!("cm-{env}"), "blue"))
                .expect("write");
        }
    })
    .await;
    let spec = json!({
        "generators": [{"list": {"elements": [{"env": "dev"}, {"env": "staging"}, {"env": "prod"}]}}],
        "strategy": {"type": "RollingSync", "rollingSync": {"steps": [
            {"matchExpressions": [{"key": "env", "operator": "In", "values": ["dev"]}]},
            {"matchExpressions": [{"key": "env", "operator": "In", "values": ["staging"]}]},
            {"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}], "maxUpdate": 1}]}},
        "template": {
            "metadata": {"name": "roll-{{env}}", "labels": {"env": "{{env}}"}},
            "spec": {"source": {"repoURL": world.repo_url(), "targetRevision": "main", "path": "roll/{{env}}"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "roll-{{env}}"},
                     "syncPolicy": {"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"]}}
        }
    });
    create_set(&world, "roll", spec).await;
    let first = world.head();
    assert_eq!(observed_order(&world, &first).await, envs, "the first rollout goes step by step");
    let apps = apps_of(&world, "roll").await;
    assert!(
        apps.iter().all(|a| a.spec.sync_policy.as_ref().is_some_and(|p| p.automated.is_none())),
        "the set drives the syncs"
    );

    for env in envs {
        world.repo.edit(&format!("roll/{env}/cm.yaml"), "blue", "green").expect("edit");
    }
    world.repo.commit("green everywhere").expect("commit");
    let second = world.head();
    assert_eq!(observed_order(&world, &second).await, envs, "a new commit goes step by step");
}

/// The order in which the set's apps are first seen Synced at `revision`.
async fn observed_order(world: &World, revision: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut order: Vec<String> = Vec::new();
    while order.len() < 3 && Instant::now() < deadline {
        for app in apps_of(world, "roll").await {
            let env = app
                .metadata
                .labels
                .clone()
                .unwrap_or_default()
                .get("env")
                .cloned()
                .unwrap_or_default();
            let status = app.status.clone().unwrap_or_default();
            let synced = status.sync.revision == revision
                && status.history.iter().any(|h| h.revision == revision);
            if synced && !order.contains(&env) {
                order.push(env);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    order
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_clusters_set_follows_the_labelled_cluster_secrets_as_they_come() {
    let world = World::start(|repo| with_dirs(repo, 1)).await;
    let spec = json!({
        "generators": [{"clusters": {"selector": {"matchLabels": {"env": "prod"}}}}],
        "template": {
            "metadata": {"name": "guest-{{nameNormalized}}", "labels": {"env": "{{metadata.labels.env}}"}},
            "spec": {"source": {"repoURL": world.repo_url(), "targetRevision": "main", "path": "apps/app00"},
                     "destination": {"server": "{{server}}", "namespace": "guest"}}
        }
    });
    create_set(&world, "clusters", spec).await;
    wait_condition(&world, "clusters", "ParametersGenerated", "0 parameter sets").await;
    assert!(apps_of(&world, "clusters").await.is_empty(), "the local cluster has no labels");

    let mut secret = ferry_testkit::remote::cluster_secret(
        "cluster-eu",
        &[
            ("name", "EU_1"),
            ("server", "https://eu.example:6443"),
            ("config", r#"{"bearerToken": "t"}"#),
        ],
    );
    secret["metadata"]["labels"]["env"] = json!("prod");
    let secret: k8s_openapi::api::core::v1::Secret =
        serde_json::from_value(secret).expect("a Secret");
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(world.client.clone(), NS);
    secrets.create(&PostParams::default(), &secret).await.expect("cluster Secret created");
    let apps = wait_apps(&world, "clusters", "one app for EU_1", |apps| apps.len() == 1).await;
    assert_eq!(apps[0].metadata.name.as_deref(), Some("guest-eu-1"));
    assert_eq!(apps[0].spec.destination.server.as_deref(), Some("https://eu.example:6443"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_a_set_that_preserves_resources_deletes_its_apps_and_leaves_their_objects() {
    let world = World::start(|repo| with_dirs(repo, 2)).await;
    let mut spec = directories_set(&world);
    spec["template"]["metadata"]["finalizers"] = json!(["ferry.dev/resources-finalizer"]);
    spec["syncPolicy"] = json!({"preserveResourcesOnDeletion": true});
    let sets = create_set(&world, "keep", spec).await;
    let head = world.head();
    let apps = wait_apps(&world, "keep", "2 apps Synced+Healthy", |apps| {
        apps.len() == 2 && apps.iter().all(|a| synced_healthy_at(a, &head))
    })
    .await;
    assert!(apps.iter().all(|a| a.metadata.finalizers.is_none()), "no cascade finalizer");

    sets.delete("keep", &Default::default()).await.expect("set deleted");
    wait_apps(&world, "keep", "gone with their set", |apps| apps.is_empty()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(world.client.clone(), "fleet");
    for cm in ["cm00", "cm01"] {
        assert!(cms.get_opt(cm).await.expect("get").is_some(), "{cm} stays");
    }
}
