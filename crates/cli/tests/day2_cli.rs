//! The day-2 commands an Argo CD user reaches for (issue 14): `app set/unset/patch/edit`,
//! `resources`, `manifests`, `logs`, `refresh`, `terminate-op`, `wait --sync` right after a
//! commit, `create` validation, `-o name|wide`, completion of app names and a closed pipe — the
//! real `ferry` binary against the embedded cluster, a real git daemon and an in-process engine.

mod support;

use serde_json::Value;
use support::*;

fn ok(run: &Run, what: &str) {
    assert_eq!(run.code, 0, "{what} failed:\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
}

async fn guestbook() -> World {
    World::start(|repo| {
        repo.copy_in(&corpus("argocd-example-apps/guestbook"), "guestbook")
            .expect("copy the files in")
    })
    .await
}

async fn create(world: &World, extra: &[&str]) -> Run {
    let url = world.repo_url();
    let mut args = vec![
        "app",
        "create",
        "guestbook",
        "--repo",
        &url,
        "--revision",
        "main",
        "--path",
        "guestbook",
        "--dest-namespace",
        "guestbook",
        "--sync-option",
        "CreateNamespace=true",
    ];
    args.extend_from_slice(extra);
    world.ferry(&args).await
}

async fn spec(world: &World) -> Value {
    let got = world.ferry(&["app", "get", "guestbook", "-o", "json"]).await;
    ok(&got, "app get -o json");
    got.json()["spec"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn set_unset_patch_and_edit_change_only_the_fields_they_name() {
    let world = guestbook().await;
    ok(&create(&world, &[]).await, "app create");

    let set = world
        .ferry(&[
            "app",
            "set",
            "guestbook",
            "--helm-set",
            "replicas=2",
            "--sync-option",
            "PruneLast=true",
        ])
        .await;
    ok(&set, "app set");
    assert!(
        set.stderr.contains("spec.syncPolicy.syncOptions"),
        "the change is reported:\n{}",
        set.stderr
    );
    let s = spec(&world).await;
    assert_eq!(s["source"]["helm"]["parameters"][0]["name"], "replicas");
    assert_eq!(s["source"]["path"], "guestbook", "untouched");
    assert_eq!(
        s["syncPolicy"]["syncOptions"],
        serde_json::json!(["CreateNamespace=true", "PruneLast=true"])
    );

    let unset = world
        .ferry(&[
            "app",
            "unset",
            "guestbook",
            "--helm-set",
            "replicas",
            "--sync-option",
            "PruneLast",
        ])
        .await;
    ok(&unset, "app unset");
    let s = spec(&world).await;
    assert!(s["source"]["helm"].is_null(), "the emptied helm block is gone: {s}");
    let typo = world.ferry(&["app", "unset", "guestbook", "--helm-set", "replicas"]).await;
    assert_eq!(typo.code, 2);
    assert!(typo.stderr.contains("has no Helm parameter \"replicas\""), "{}", typo.stderr);

    let json_patch =
        r#"[{"op": "replace", "path": "/spec/destination/namespace", "value": "other"}]"#;
    ok(&world.ferry(&["app", "patch", "guestbook", "--patch", json_patch]).await, "app patch");
    assert_eq!(spec(&world).await["destination"]["namespace"], "other");
    let merge = r#"{"spec": {"destination": {"namespace": "guestbook"}}}"#;
    ok(
        &world.ferry(&["app", "patch", "guestbook", "--type", "merge", "--patch", merge]).await,
        "merge patch",
    );
    assert_eq!(spec(&world).await["destination"]["namespace"], "guestbook");
    let bad = world
        .ferry(&[
            "app",
            "patch",
            "guestbook",
            "--type",
            "merge",
            "--patch",
            r#"{"spec": {"suspend": "yes"}}"#,
        ])
        .await;
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("spec.suspend"), "the field is named:\n{}", bad.stderr);

    let kubeconfig = world.cluster.kubeconfig_path().display().to_string();
    let home = world.tmp.path().join("home");
    let editor = "sed -i 's/targetRevision: main/targetRevision: HEAD/'";
    let edit = ferry_with(
        &home,
        &[("EDITOR", editor)],
        &["app", "edit", "guestbook", "--kubeconfig", &kubeconfig],
    )
    .await;
    ok(&edit, "app edit");
    assert!(edit.stderr.contains("spec.source.targetRevision: main → HEAD"), "{}", edit.stderr);
    assert_eq!(spec(&world).await["source"]["targetRevision"], "HEAD");
    let same = ferry_with(
        &home,
        &[("EDITOR", "true")],
        &["app", "edit", "guestbook", "--kubeconfig", &kubeconfig],
    )
    .await;
    ok(&same, "app edit without changes");
    assert!(same.stderr.contains("cancelled: no changes"), "{}", same.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resources_manifests_logs_and_output_formats_show_a_synced_app() {
    let world = guestbook().await;
    ok(&create(&world, &["--sync-policy", "automated"]).await, "app create");
    let first = world.head();
    world.wait_synced_healthy("guestbook", &first).await;

    let names = world.ferry(&["app", "resources", "guestbook", "-o", "name"]).await;
    ok(&names, "app resources -o name");
    assert_eq!(names.stdout, "deployment.apps/guestbook-ui\nservice/guestbook-ui\n");
    let wide = world.ferry(&["app", "resources", "guestbook", "-o", "wide"]).await;
    ok(&wide, "app resources -o wide");
    assert!(wide.stdout.starts_with("GROUP") && wide.stdout.contains("DRIFT"), "{}", wide.stdout);

    let git = world.ferry(&["app", "manifests", "guestbook"]).await;
    ok(&git, "app manifests");
    assert!(
        git.stdout.contains("kind: Deployment") && git.stdout.contains("---"),
        "{}",
        git.stdout
    );
    let live =
        world.ferry(&["app", "manifests", "guestbook", "--source", "live", "-o", "json"]).await;
    ok(&live, "app manifests --source live");
    let objects = live.json();
    assert_eq!(objects.as_array().map(Vec::len), Some(2), "{objects}");
    assert!(objects[0]["metadata"]["uid"].is_string(), "live objects come from the cluster");
    assert!(objects[0]["metadata"]["managedFields"].is_null(), "without server bookkeeping");

    let logs = world.ferry(&["app", "logs", "guestbook"]).await;
    ok(&logs, "app logs");
    assert!(logs.stdout.contains("[ferry-sim] started container guestbook-ui"), "{}", logs.stdout);
    let none = world.ferry(&["app", "logs", "guestbook", "--container", "nope"]).await;
    assert_eq!(none.code, 2);
    assert!(
        none.stderr.contains(
            "no pod of guestbook has a container \"nope\"; its containers are: guestbook-ui"
        ),
        "{}",
        none.stderr
    );

    let list = world.ferry(&["app", "list", "-o", "name"]).await;
    assert_eq!(list.stdout, "application.ferry.dev/guestbook\n");
    let wide = world.ferry(&["app", "list", "-o", "wide"]).await;
    assert!(wide.stdout.contains("DESTINATION"), "{}", wide.stdout);

    let synced = world
        .ferry(&["app", "sync", "guestbook", "--wait", "-o", "json", "--timeout", "60s"])
        .await;
    ok(&synced, "app sync --wait -o json");
    let op = synced.json();
    assert_eq!(op["phase"], "Succeeded", "{op}");
    assert!(op["changeSet"].as_array().is_some_and(|c| !c.is_empty()), "{op}");

    // Nothing runs: terminate-op says so instead of pretending.
    let idle = world.ferry(&["app", "terminate-op", "guestbook"]).await;
    assert_eq!(idle.code, 1);
    assert!(idle.stderr.contains("has no operation in progress"), "{}", idle.stderr);

    // `| head` closes the pipe early: ferry ends quietly, with no "Broken pipe" error.
    let kubeconfig = world.cluster.kubeconfig_path().display().to_string();
    let ferry = env!("CARGO_BIN_EXE_ferry");
    let piped = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{ferry}' app manifests guestbook --source live --kubeconfig '{kubeconfig}' 2>err | true; \
             echo \"exit=${{PIPESTATUS[0]}}\"; cat err"
        ))
        .current_dir(world.tmp.path())
        .env("HOME", world.tmp.path().join("home"))
        .output()
        .expect("bash runs");
    let text = String::from_utf8_lossy(&piped.stdout);
    assert!(text.starts_with("exit=0"), "{text}");
    assert!(!text.contains("Broken pipe"), "{text}");

    // Dynamic completion asks the cluster for app names.
    let home = world.tmp.path().join("home");
    let completion = ferry_with(
        &home,
        &[("COMPLETE", "bash"), ("_CLAP_COMPLETE_INDEX", "3"), ("_CLAP_IFS", "\n")],
        &["--", "ferry", "app", "get", "gu", "--kubeconfig", &kubeconfig],
    )
    .await;
    ok(&completion, "completion of app names");
    assert_eq!(completion.stdout.trim(), "guestbook", "{}", completion.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn create_refuses_a_bad_repo_path_or_destination_unless_validation_is_off() {
    let world = guestbook().await;
    let url = world.repo_url();
    let base = |repo: &str, path: &str, dest: &str| -> Vec<String> {
        [
            "app",
            "create",
            "web",
            "--repo",
            repo,
            "--path",
            path,
            "--dest-namespace",
            "web",
            "--dest-server",
            dest,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    };
    let run = |args: Vec<String>| {
        let world = &world;
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            world.ferry(&args).await
        }
    };
    let in_cluster = "https://kubernetes.default.svc";
    let unreachable = format!("git://127.0.0.1:{}/none.git", free_port().expect("a free port"));
    let repo = run(base(&unreachable, "guestbook", in_cluster)).await;
    assert_eq!(repo.code, 2);
    assert!(repo.stderr.contains("the repository cannot be read"), "{}", repo.stderr);
    assert!(repo.stderr.contains("--validate=false"), "{}", repo.stderr);

    let path = run(base(&url, "nope", in_cluster)).await;
    assert_eq!(path.code, 2);
    assert!(path.stderr.contains("app path nope does not exist"), "{}", path.stderr);

    let dest = run(base(&url, "guestbook", "https://10.9.9.9:6443")).await;
    assert_eq!(dest.code, 2);
    assert!(
        dest.stderr.contains("no cluster Secret in namespace ferry has server")
            && dest.stderr.contains("ferry cluster add"),
        "{}",
        dest.stderr
    );

    let listed = world.ferry(&["app", "list", "-o", "name"]).await;
    assert_eq!(listed.stdout, "", "nothing was created");

    let mut skip = base(&unreachable, "guestbook", in_cluster);
    skip.push("--validate=false".into());
    ok(&run(skip).await, "create --validate=false");

    let good = run(base(&url, "guestbook", in_cluster)
        .into_iter()
        .map(|a| a.replace("web", "web2"))
        .collect())
    .await;
    ok(&good, "a valid create");
    assert!(good.stderr.contains("validated: HEAD resolves to"), "{}", good.stderr);

    // A name the API server refuses is its one-line message, not a debug dump.
    let mut bad_name = base(&url, "guestbook", in_cluster);
    bad_name[2] = "Bad_Name".into();
    bad_name.push("--validate=false".into());
    let refused = run(bad_name).await;
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("the cluster refused it"), "{}", refused.stderr);
    assert!(!refused.stderr.contains("Status {"), "{}", refused.stderr);
}

/// Issue 14 item 2: `wait --sync` right after a commit must not pass on the old revision.
/// Needs the engine side of `ferry.dev/refresh-requested-at` (status.handledRequests.refresh).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wait_sync_right_after_a_commit_waits_for_the_new_revision() {
    let world = guestbook().await;
    ok(&create(&world, &["--sync-policy", "automated"]).await, "app create");
    let first = world.head();
    world.wait_synced_healthy("guestbook", &first).await;

    world
        .repo
        .write(
            "guestbook/extra.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {a: b}\n",
        )
        .expect("write the file");
    let second = world.repo.commit("add a ConfigMap").expect("commit");
    let waited =
        world.ferry(&["app", "wait", "guestbook", "--sync", "--health", "--timeout", "60s"]).await;
    ok(&waited, "app wait --sync right after a commit");
    let status =
        world.ferry(&["app", "get", "guestbook", "-o", "json"]).await.json()["status"].clone();
    assert_eq!(status["sync"]["revision"], second.as_str(), "synced to the new commit: {status}");

    let refreshed = world.ferry(&["app", "refresh", "guestbook", "--timeout", "60s"]).await;
    ok(&refreshed, "app refresh");
    assert!(refreshed.stderr.contains("guestbook refreshed: sync Synced"), "{}", refreshed.stderr);
    let short = &second[..8];
    ok(
        &world.ferry(&["app", "wait", "guestbook", "--revision", short, "--timeout", "30s"]).await,
        "wait --revision",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_shim_install_writes_a_helm_that_runs_and_keeps_a_real_one() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path().join("bin");
    let dir_arg = dir.display().to_string();
    let run = ferry_with(home.path(), &[], &["helm-shim", "install", &dir_arg]).await;
    ok(&run, "helm-shim install");
    assert!(run.stderr.contains("it runs: helm v"), "{}", run.stderr);
    assert!(run.stderr.contains("FERRY_HELM="), "{}", run.stderr);
    let version =
        std::process::Command::new(dir.join("helm")).arg("version").output().expect("runs");
    assert!(version.status.success());

    let other = home.path().join("other");
    std::fs::create_dir_all(&other).expect("mkdir");
    std::fs::write(other.join("helm"), b"\x7fELF a real helm").expect("write");
    let other_arg = other.display().to_string();
    let kept = ferry_with(home.path(), &[], &["helm-shim", "install", &other_arg]).await;
    assert_eq!(kept.code, 2);
    assert!(kept.stderr.contains("is not Ferry's shim"), "{}", kept.stderr);
}

/// Issue 14 item 8: the simulator can fail on purpose, so an app can be shown Degraded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pod_that_never_becomes_ready_degrades_the_app_and_its_logs_say_why() {
    let world = World::start(|repo| {
        repo.write(
            "web/deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 1\n  progressDeadlineSeconds: 2\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata:\n      labels: {app: web}\n      annotations: {sim.ferry.dev/ready: never}\n    spec:\n      containers: [{name: main, image: nginx:1.25}]\n",
        ).expect("write the file")
    })
    .await;
    let url = world.repo_url();
    let created = world
        .ferry(&[
            "app",
            "create",
            "web",
            "--repo",
            &url,
            "--path",
            "web",
            "--dest-namespace",
            "web",
            "--sync-policy",
            "automated",
            "--sync-option",
            "CreateNamespace=true",
        ])
        .await;
    ok(&created, "app create");
    world.wait_for("web", "Degraded", |a| a["status"]["health"]["status"] == "Degraded").await;
    let logs = world.ferry(&["app", "logs", "web"]).await;
    ok(&logs, "app logs");
    assert!(
        logs.stdout.contains("never becomes ready (sim.ferry.dev/ready: \"never\")"),
        "{}",
        logs.stdout
    );
    let waited = world.ferry(&["app", "wait", "web", "--health", "--timeout", "2s"]).await;
    assert_eq!(waited.code, 1);
    assert!(waited.stderr.contains("health Degraded"), "{}", waited.stderr);
}
