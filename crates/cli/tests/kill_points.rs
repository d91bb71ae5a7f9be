//! The kill-point matrix: `ferry controller` runs in its own process and SIGKILLs itself at each
//! step of a sync (`FERRY_KILL_POINT`: after the plan, after the planned inventory, mid-hook,
//! mid-apply, between waves, mid-prune, after the executor, around status writes), at the 1st,
//! 2nd and 3rd pass of that step, while it syncs a commit that changes objects in three waves with
//! a PreSync and a PostSync hook and prunes two. Restarted without the kill point it must converge
//! with no orphan, no wrongful delete and no hook left that its delete policy forbids.

mod support;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use ferry_apply::killpoint;
use ferry_testkit::world::is_synced_healthy_at;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use support::*;

fn wave(kind: &str, api: &str, name: &str, wave: i32, extra: &str) -> String {
    format!(
        "apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n  annotations:\n    argocd.argoproj.io/sync-wave: \"{wave}\"\n{extra}"
    )
}

fn config_map(name: &str, w: i32, value: &str) -> String {
    wave("ConfigMap", "v1", name, w, &format!("data:\n  value: \"{value}\"\n"))
}

fn hook(name: &str, phase: &str, policy: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n  annotations:\n    argocd.argoproj.io/hook: {phase}\n    argocd.argoproj.io/hook-delete-policy: {policy}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: run\n        image: busybox:1.36\n"
    )
}

const DEPLOYMENT: &str = "spec:\n  replicas: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n";
const SERVICE: &str = "spec:\n  selector: {app: web}\n  ports:\n  - port: 80\n";

fn first_commit(repo: &Repo) {
    let files = [
        ("app/early.yaml", config_map("early", -1, "1")),
        ("app/web.yaml", wave("Deployment", "apps/v1", "web", 0, DEPLOYMENT)),
        ("app/svc.yaml", wave("Service", "v1", "web", 0, SERVICE)),
        ("app/late.yaml", config_map("late", 1, "1")),
        ("app/old-a.yaml", config_map("old-a", 0, "1")),
        ("app/old-b.yaml", config_map("old-b", 1, "1")),
        ("app/migrate.yaml", hook("migrate", "PreSync", "BeforeHookCreation")),
        ("app/notify.yaml", hook("notify", "PostSync", "HookSucceeded")),
    ];
    for (path, text) in files {
        repo.write(path, &text).expect("write");
    }
}

/// The second commit: two objects go, two change, one is new.
fn second_commit(repo: &Repo) -> String {
    std::fs::remove_file(repo.dir.join("app/old-a.yaml")).expect("rm");
    std::fs::remove_file(repo.dir.join("app/old-b.yaml")).expect("rm");
    repo.write("app/early.yaml", &config_map("early", -1, "2")).expect("write");
    repo.write("app/late.yaml", &config_map("late", 1, "2")).expect("write");
    repo.write("app/new.yaml", &config_map("new", 1, "2")).expect("write");
    repo.commit("change, add, prune").expect("commit")
}

/// `ferry controller` in its own process against the world's cluster.
fn controller(world: &World, kill_at: Option<&str>) -> tokio::process::Child {
    let kubeconfig = world.cluster.kubeconfig_path().display().to_string();
    let data = world.tmp.path().join("controller");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"));
    cmd.args(["controller", "--kubeconfig", &kubeconfig, "--no-leader-election"])
        .args(["--listen", "127.0.0.1:0", "--poll-interval", "1s"])
        .arg("--data-dir")
        .arg(&data)
        .env_remove("KUBECONFIG")
        .env_remove(killpoint::ENV)
        .env("HOME", world.tmp.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(point) = kill_at {
        cmd.env(killpoint::ENV, point);
    }
    cmd.spawn().expect("ferry controller starts")
}

async fn wait_synced(client: &Client, revision: &str, deadline: Duration) -> Result<(), String> {
    let apps: Api<ferry_engine::Application> = Api::namespaced(client.clone(), "ferry");
    let end = Instant::now() + deadline;
    let mut last = String::new();
    while Instant::now() < end {
        if let Ok(app) = apps.get("shop").await {
            let value = serde_json::to_value(&app).unwrap_or_default();
            if is_synced_healthy_at(&value, revision)
                && value["status"]["operationState"]["phase"] == "Succeeded"
            {
                return Ok(());
            }
            last = value["status"].to_string();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("not Synced+Healthy at {revision}: {last}"))
}

async fn names<K>(client: &Client) -> BTreeSet<String>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), "shop");
    let list = api.list(&ListParams::default()).await.expect("list");
    list.items
        .iter()
        .filter(|o| o.meta().deletion_timestamp.is_none())
        .map(|o| o.name_any())
        .collect()
}

/// What is wrong with the cluster after convergence (empty: nothing).
async fn violations(client: &Client) -> Vec<String> {
    let mut found = Vec::new();
    let config_maps: BTreeSet<String> =
        names::<ConfigMap>(client).await.into_iter().filter(|n| n != "kube-root-ca.crt").collect();
    let want: BTreeSet<String> = ["early", "late", "new"].map(String::from).into();
    for orphan in config_maps.difference(&want) {
        found.push(format!("orphan ConfigMap {orphan}"));
    }
    for missing in want.difference(&config_maps) {
        found.push(format!("wrongfully missing ConfigMap {missing}"));
    }
    if !names::<Deployment>(client).await.contains("web") {
        found.push("wrongfully missing Deployment web".into());
    }
    if !names::<Service>(client).await.contains("web") {
        found.push("wrongfully missing Service web".into());
    }
    let jobs = names::<Job>(client).await;
    if jobs.contains("notify") {
        found.push("PostSync hook notify left behind although its policy is HookSucceeded".into());
    }
    let migrate = jobs.iter().filter(|j| j.starts_with("migrate")).count();
    if migrate > 1 {
        found.push(format!("{migrate} PreSync hook Jobs (BeforeHookCreation allows one)"));
    }
    found
}

/// One cell of the matrix: returns whether the controller died at the point, and violations.
async fn run_cell(point: &str, hit: usize) -> (bool, Vec<String>) {
    let world = World::start(first_commit).await;
    world.engine.shutdown().await;
    let client = world.client.clone();
    let mut spec = automated_spec(&world.repo_url(), "app", "shop");
    spec["syncPolicy"]["automated"]["prune"] = true.into();
    let mut first = controller(&world, None);
    world.create_app("shop", spec).await;
    wait_synced(&client, &world.head(), Duration::from_secs(60)).await.expect("first commit");
    first.kill().await.expect("stop the first controller");

    let second = second_commit(&world.repo);
    let mut doomed = controller(&world, Some(&format!("{point}:{hit}")));
    // It dies at the point, or converges without passing it that often (the cell is moot).
    let died = tokio::select! {
        status = doomed.wait() => {
            use std::os::unix::process::ExitStatusExt;
            status.expect("wait").signal() == Some(9)
        }
        _ = wait_synced(&client, &second, Duration::from_secs(90)) => false,
    };
    let _ = doomed.kill().await;
    let mut survivor = controller(&world, None);
    let mut found = match wait_synced(&client, &second, Duration::from_secs(90)).await {
        Ok(()) => violations(&client).await,
        Err(e) => vec![e],
    };
    survivor.kill().await.expect("stop");
    found.iter_mut().for_each(|v| *v = format!("{point}:{hit}: {v}"));
    (died, found)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sync_killed_at_any_step_converges_after_restart_without_orphans_or_wrongful_deletes() {
    let mut reached = Vec::new();
    let mut violations = Vec::new();
    for point in killpoint::POINTS {
        for hit in 1..=3 {
            let (died, found) = run_cell(point, hit).await;
            if died {
                reached.push(format!("{point}:{hit}"));
            }
            violations.extend(found);
        }
    }
    eprintln!(
        "kill points reached: {} of {} ({})",
        reached.len(),
        killpoint::POINTS.len() * 3,
        reached.join(", ")
    );
    assert!(violations.is_empty(), "after restart:\n{}", violations.join("\n"));
    for point in killpoint::POINTS {
        assert!(
            reached.iter().any(|r| r == &format!("{point}:1")),
            "the sync never passed {point}: the matrix would prove nothing there"
        );
    }
}
