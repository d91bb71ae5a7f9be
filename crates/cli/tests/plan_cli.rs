//! `ferry plan` (issue 21): what merging a pull request would do to the live cluster — the real
//! `ferry` binary against the embedded cluster, a real git daemon and an in-process engine that
//! has synced three apps of one repository.

mod support;

use support::*;

const DEPLOY: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: NAME
spec:
  replicas: 1
  selector:
    matchLabels: {app: NAME}
  template:
    metadata:
      labels: {app: NAME}
    spec:
      containers:
        - name: main
          image: registry.example/NAME:1.0
"#;

const SERVICE: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: NAME
spec:
  selector: {app: NAME}
  ports:
    - port: 80
"#;

/// A repository with apps `web`, `db` and `cache` under `apps/`, each a Deployment and a
/// Service, synced by the engine.
async fn three_apps() -> World {
    let world = World::start(|repo| {
        for app in ["web", "db", "cache"] {
            repo.write(&format!("apps/{app}/deploy.yaml"), &DEPLOY.replace("NAME", app))
                .expect("the step works");
            repo.write(&format!("apps/{app}/service.yaml"), &SERVICE.replace("NAME", app))
                .expect("the step works");
        }
    })
    .await;
    let url = world.repo_url();
    for app in ["web", "db", "cache"] {
        world.create_app(app, automated_spec(&url, &format!("apps/{app}"), app)).await;
    }
    let head = world.head();
    for app in ["web", "db", "cache"] {
        world.wait_synced_healthy(app, &head).await;
    }
    world
}

/// Commits `change` on a new branch `name` and returns to `main`.
fn branch(world: &World, name: &str, change: impl FnOnce(&Repo)) {
    world.repo.git(&["checkout", "-q", "-b", name]).expect("the step works");
    change(&world.repo);
    world.repo.commit(&format!("{name}: the change under review")).expect("the step works");
    world.repo.git(&["checkout", "-q", "main"]).expect("the step works");
}

async fn plan(world: &World, head: &str, format: &str) -> Run {
    let url = world.repo_url();
    world.ferry(&["plan", "--repo", &url, "--base", "main", "--head", head, "-o", format]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_branch_that_scales_one_app_and_removes_its_service_plans_exactly_that() {
    let world = three_apps().await;
    branch(&world, "scale-web", |repo| {
        repo.edit("apps/web/deploy.yaml", "replicas: 1", "replicas: 3").expect("the step works");
        repo.git(&["rm", "-q", "apps/web/service.yaml"]).expect("the step works");
    });

    let run = plan(&world, "scale-web", "json").await;
    assert_eq!(run.code, 1, "a change exits 1:\n{}\n{}", run.stdout, run.stderr);
    let planned = run.json();
    let apps = planned["apps"].as_array().expect("the step works");
    assert_eq!(apps.len(), 1, "only web changes: {planned:#}");
    let web = &apps[0];
    assert_eq!(web["app"], "ferry/web");
    assert_eq!(web["create"], serde_json::json!([]));
    let update = web["update"].as_array().expect("the step works");
    assert_eq!(update.len(), 1, "{web:#}");
    assert_eq!(update[0]["object"], "Deployment web/web");
    let diff = update[0]["diff"].as_str().expect("the step works");
    assert!(
        diff.contains("replicas") && diff.contains('3'),
        "the diff shows the new replicas:\n{diff}"
    );
    assert_eq!(
        web["prune"],
        serde_json::json!([{"apiVersion": "v1", "object": "Service web/web"}])
    );
    let unaffected: Vec<(&str, &str)> = planned["unaffected"]
        .as_array()
        .expect("the step works")
        .iter()
        .map(|u| (u["app"].as_str().expect("the step works"), u["reason"].as_str().unwrap_or("?")))
        .collect();
    assert!(unaffected.contains(&("ferry/db", "untouched")), "{unaffected:?}");
    assert!(unaffected.contains(&("ferry/cache", "untouched")), "{unaffected:?}");

    let md = plan(&world, "scale-web", "markdown").await;
    assert_eq!(md.code, 1);
    assert!(md.stdout.contains("| update | `apps/v1` `Deployment web/web` |"), "{}", md.stdout);
    assert!(md.stdout.contains("| prune | `v1` `Service web/web` |"), "{}", md.stdout);
    assert!(!md.stdout.contains("ferry/db"), "nothing for the other apps:\n{}", md.stdout);

    // Planning wrote nothing: the live Deployment still has one replica.
    let live = world.ferry(&["app", "get", "web", "-o", "json"]).await.json();
    assert_eq!(live["status"]["sync"]["status"], "Synced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_secret_is_planned_with_its_values_masked() {
    let world = three_apps().await;
    branch(&world, "add-secret", |repo| {
        repo.write(
            "apps/db/secret.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db-password\nstringData:\n  password: hunter2-canary\n",
        )
        .expect("the step works");
    });
    let run = plan(&world, "add-secret", "text").await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("create v1 Secret db/db-password"), "{}", run.stdout);
    assert!(!run.stdout.contains("hunter2-canary"), "the value never shows:\n{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_head_that_does_not_render_exits_2_and_says_why_and_a_quiet_change_exits_0() {
    let world = three_apps().await;
    branch(&world, "broken", |repo| {
        repo.write("apps/cache/deploy.yaml", "apiVersion: apps/v1\nkind: [unclosed\n")
            .expect("the step works");
    });
    let run = plan(&world, "broken", "text").await;
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("app ferry/cache"), "{}", run.stdout);
    assert!(run.stdout.contains("does not render"), "{}", run.stdout);
    assert!(run.stdout.contains("apps/cache/deploy.yaml"), "the file is named:\n{}", run.stdout);

    branch(&world, "docs", |repo| {
        repo.write("README.md", "# config\n").expect("the step works");
    });
    let quiet = plan(&world, "docs", "json").await;
    assert_eq!(quiet.code, 0, "{}\n{}", quiet.stdout, quiet.stderr);
    assert_eq!(quiet.json()["apps"], serde_json::json!([]));

    let missing = plan(&world, "no-such-branch", "text").await;
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("no-such-branch"), "{}", missing.stderr);
}
