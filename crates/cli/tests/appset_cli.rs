//! `ferry appset` through the real binary: `preview` prints the apps a set file would generate
//! with no cluster and no engine; `create`, `get` and `approve` against a world, where a
//! deletion of two apps waits for `ferry appset approve`.

mod support;

use std::time::{Duration, Instant};

use ferry_testkit::GitDaemon;
use support::*;

const CONFIG_MAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n";

fn ok(run: &Run, what: &str) {
    assert_eq!(run.code, 0, "{what} failed:\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
}

fn set_yaml(url: &str) -> String {
    format!(
        r#"apiVersion: ferry.dev/v1alpha1
kind: ApplicationSet
metadata:
  name: dirs
spec:
  generators:
  - git:
      repoURL: {url}
      revision: main
      directories:
      - path: apps/*
  template:
    metadata:
      name: 'web-{{{{path.basename}}}}'
    spec:
      source:
        repoURL: {url}
        targetRevision: main
        path: '{{{{path}}}}'
      destination:
        server: https://kubernetes.default.svc
        namespace: web
      syncPolicy:
        automated:
          prune: true
        syncOptions: [CreateNamespace=true]
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_prints_the_apps_a_set_would_generate_without_a_cluster() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = Repo::init(&tmp.path().join("git/config.git")).expect("git init");
    for app in ["a", "b", "c"] {
        repo.write(&format!("apps/{app}/cm.yaml"), CONFIG_MAP).expect("write");
    }
    repo.commit("three apps").expect("commit");
    let daemon = GitDaemon::start(&tmp.path().join("git")).expect("git daemon");
    let file = tmp.path().join("set.yaml");
    std::fs::write(&file, set_yaml(&daemon.url("config.git"))).expect("write the set");
    let home = tmp.path().join("home");
    let path = file.display().to_string();

    let table = ferry_with(&home, &[], &["appset", "preview", &path]).await;
    ok(&table, "appset preview");
    for name in ["web-a", "web-b", "web-c"] {
        assert!(table.stdout.contains(name), "{}", table.stdout);
    }
    assert!(table.stderr.contains("3 Applications (nothing written)"), "{}", table.stderr);

    let json = ferry_with(&home, &[], &["appset", "preview", &path, "-o", "json"]).await;
    ok(&json, "appset preview -o json");
    let items = json.json()["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 3);
    assert_eq!(items[1]["spec"]["source"]["path"], "apps/b");
    assert_eq!(items[1]["metadata"]["labels"]["ferry.dev/application-set"], "dirs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appset_approve_lets_a_held_deletion_through() {
    let world = World::start(|repo| {
        for app in ["a", "b", "c"] {
            repo.write(&format!("apps/{app}/cm.yaml"), CONFIG_MAP).expect("write");
        }
    })
    .await;
    let file = world.tmp.path().join("set.yaml");
    std::fs::write(&file, set_yaml(&world.repo_url())).expect("write the set");
    ok(
        &world.ferry(&["appset", "create", "-f", &file.display().to_string()]).await,
        "appset create",
    );
    wait_until(&world, "three apps", |out| out.contains("web-c") && out.contains("Synced")).await;

    for app in ["a", "b"] {
        world.repo.git(&["rm", "-r", "-q", &format!("apps/{app}")]).expect("git rm");
    }
    world.repo.commit("two apps fewer").expect("commit");
    wait_until(&world, "the deletion held", |out| out.contains("2 deletions wait")).await;
    let approved = world.ferry(&["appset", "approve", "dirs"]).await;
    ok(&approved, "appset approve");
    assert!(approved.stderr.contains("web-a, web-b"), "{}", approved.stderr);
    wait_until(&world, "two apps deleted", |out| !out.contains("web-a") && out.contains("web-c"))
        .await;
    let listed = world.ferry(&["appset", "list"]).await;
    ok(&listed, "appset list");
    assert!(listed.stdout.contains("dirs") && listed.stdout.contains("OK"), "{}", listed.stdout);
}

/// Runs `ferry appset get dirs` until its output satisfies `check`.
async fn wait_until(world: &World, what: &str, check: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut last = String::new();
    while Instant::now() < deadline {
        let got = world.ferry(&["appset", "get", "dirs"]).await;
        last = format!("{}{}", got.stdout, got.stderr);
        if got.code == 0 && check(&got.stdout) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("timed out waiting for {what}; last `ferry appset get dirs`:\n{last}");
}
