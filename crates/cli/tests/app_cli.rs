//! The `ferry` binary end to end: a real git daemon, the embedded cluster, an engine running
//! in-process, and the CLI talking to the cluster through its kubeconfig like kubectl would.

mod support;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::*;

async fn scale_by_hand(world: &World, replicas: i32) {
    let deployments: Api<Deployment> = Api::namespaced(world.client.clone(), "guestbook");
    deployments
        .patch(
            "guestbook-ui",
            &PatchParams { field_manager: Some("kubectl".into()), ..Default::default() },
            &Patch::Merge(&json!({"spec": {"replicas": replicas}})),
        )
        .await
        .expect("a live edit of the Deployment");
}

async fn live_replicas(world: &World) -> Option<i32> {
    let deployments: Api<Deployment> = Api::namespaced(world.client.clone(), "guestbook");
    deployments.get_opt("guestbook-ui").await.expect("read the Deployment")?.spec?.replicas
}

fn ok(run: &Run, what: &str) {
    assert_eq!(run.code, 0, "{what} failed:\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_is_created_waited_for_diffed_synced_rolled_back_and_deleted_through_the_cli() {
    let world = World::guestbook().await;
    let first = world.head();
    let url = world.repo_url();

    let created = world
        .ferry(&[
            "app",
            "create",
            "guestbook",
            "--repo",
            &url,
            "--revision",
            "main",
            "--path",
            "guestbook",
            "--dest-server",
            "https://kubernetes.default.svc",
            "--dest-namespace",
            "guestbook",
            "--sync-policy",
            "automated",
            "--sync-option",
            "CreateNamespace=true",
        ])
        .await;
    ok(&created, "app create");
    assert!(
        created.stderr.contains("hint: ferry app wait guestbook --health"),
        "{}",
        created.stderr
    );

    ok(
        &world.ferry(&["app", "wait", "guestbook", "--health", "--sync", "--timeout", "90s"]).await,
        "app wait",
    );

    let list = world.ferry(&["app", "list", "-o", "json"]).await;
    ok(&list, "app list -o json");
    let apps = list.json();
    assert_eq!(apps[0]["metadata"]["name"], "guestbook");
    assert_eq!(apps[0]["status"]["sync"]["status"], "Synced");
    assert_eq!(apps[0]["status"]["health"]["status"], "Healthy");
    assert_eq!(apps[0]["status"]["sync"]["revision"], first.as_str());

    let got = world.ferry(&["app", "get", "guestbook", "-o", "json"]).await;
    ok(&got, "app get -o json");
    let app = got.json();
    assert_eq!(app["apiVersion"], "ferry.dev/v1alpha1");
    assert_eq!(app["kind"], "Application");
    assert_eq!(app["spec"]["source"]["repoURL"], url.as_str());

    let table = world.ferry(&["app", "get", "guestbook"]).await;
    ok(&table, "app get");
    assert!(
        table.stdout.contains("Synced") && table.stdout.contains("guestbook-ui"),
        "{}",
        table.stdout
    );

    ok(&world.ferry(&["app", "diff", "guestbook"]).await, "app diff of a synced app");

    // A live edit is a difference (automated sync without self-heal leaves it alone).
    scale_by_hand(&world, 3).await;
    let diff = world.ferry(&["app", "diff", "guestbook"]).await;
    assert_eq!(diff.code, 1, "a drifted app differs:\n{}\n{}", diff.stdout, diff.stderr);
    assert!(diff.stdout.contains("replicas"), "the diff names the field:\n{}", diff.stdout);
    assert!(diff.stdout.contains("Deployment guestbook/guestbook-ui"), "{}", diff.stdout);

    // The same comparison from a local checkout (the PR-preview case).
    let checkout = world.repo.dir.join("guestbook").display().to_string();
    let local = world.ferry(&["diff", &checkout, "--app", "guestbook"]).await;
    assert_eq!(local.code, 1, "{}\n{}", local.stdout, local.stderr);

    // A selective sync naming an object the app does not have applies nothing and says which.
    let typo = ["app", "sync", "guestbook", "--resource", ":Service:nope", "--wait"];
    let refused = world.ferry(&typo).await;
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("`:Service:nope`"), "{}", refused.stderr);
    assert_eq!(live_replicas(&world).await, Some(3), "nothing was applied");
    let malformed = world.ferry(&["app", "sync", "guestbook", "--resource", "Service"]).await;
    assert_eq!(malformed.code, 2, "{}", malformed.stderr);
    assert!(malformed.stderr.contains("GROUP:KIND:NAME"), "{}", malformed.stderr);

    // Only the drifted Deployment, with force (nothing immutable changed: a normal apply).
    let deployment = "apps:Deployment:guestbook/guestbook-ui";
    let only = ["app", "sync", "guestbook", "--resource", deployment, "--force", "--wait"];
    let synced = world.ferry(&[&only[..], &["--timeout", "60s"]].concat()).await;
    ok(&synced, "app sync --resource --force --wait");
    assert!(synced.stdout.contains("Deployment"), "the change set:\n{}", synced.stdout);
    assert!(!synced.stdout.contains("Service"), "only the selected object:\n{}", synced.stdout);
    assert!(synced.stderr.contains("1 selected object only, with force"), "{}", synced.stderr);
    assert_eq!(live_replicas(&world).await, Some(1));
    ok(&world.ferry(&["app", "diff", "guestbook"]).await, "app diff after sync");
    ok(&world.ferry(&["diff", &checkout, "--app", "guestbook"]).await, "local diff after sync");

    // A second commit, then a rollback to the first.
    world
        .repo
        .edit("guestbook/guestbook-ui-deployment.yaml", "replicas: 1", "replicas: 2")
        .expect("edit");
    let second = world.repo.commit("two replicas").expect("commit");
    world.engine.notify_push(&url);
    world.wait_synced_healthy("guestbook", &second).await;

    let rollback = world.ferry(&["app", "rollback", "guestbook", "--timeout", "60s"]).await;
    ok(&rollback, "app rollback");
    assert_eq!(live_replicas(&world).await, Some(1), "the first revision is live again");
    let app = world.ferry(&["app", "get", "guestbook", "-o", "json"]).await.json();
    assert_eq!(app["status"]["pinned"]["revision"], first.as_str());

    let history = world.ferry(&["app", "history", "guestbook"]).await;
    ok(&history, "app history");
    assert!(history.stdout.starts_with("ID"), "{}", history.stdout);
    assert!(
        history.stdout.contains(&first) && history.stdout.contains(&second),
        "{}",
        history.stdout
    );

    // Suspended: drift stays, and waiting for Synced times out saying what it saw.
    ok(&world.ferry(&["app", "suspend", "guestbook"]).await, "app suspend");
    scale_by_hand(&world, 4).await;
    world
        .wait_for("guestbook", "OutOfSync", |a| a["status"]["sync"]["status"] == "OutOfSync")
        .await;
    let waited = world.ferry(&["app", "wait", "guestbook", "--sync", "--timeout", "3s"]).await;
    assert_eq!(waited.code, 1, "{}", waited.stderr);
    assert!(
        waited.stderr.contains(
            "timed out after 3s waiting for guestbook to be Synced; last seen: sync OutOfSync"
        ),
        "{}",
        waited.stderr
    );
    ok(&world.ferry(&["app", "resume", "guestbook"]).await, "app resume");

    // Unknown apps are named, with the next step.
    let missing = world.ferry(&["app", "get", "nope"]).await;
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("error: application \"nope\" not found in namespace \"ferry\""),
        "{}",
        missing.stderr
    );
    assert!(missing.stderr.contains("hint: ferry app list"), "{}", missing.stderr);

    let deleted =
        world.ferry(&["app", "delete", "guestbook", "--cascade", "--timeout", "60s"]).await;
    ok(&deleted, "app delete --cascade");
    assert_eq!(live_replicas(&world).await, None, "cascade delete removed the Deployment");
    let list = world.ferry(&["app", "list", "-o", "json"]).await;
    assert_eq!(list.json(), json!([]));
}

#[tokio::test]
async fn a_missing_kubeconfig_is_one_line_saying_what_to_do() {
    let home = tempfile::tempdir().expect("tempdir");
    let run = ferry_with(home.path(), &[], &["app", "list"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.starts_with("error: no kubeconfig found:"), "{}", run.stderr);
    assert!(
        run.stderr.contains("hint: pass --kubeconfig PATH or set KUBECONFIG"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);

    let named =
        ferry_with(home.path(), &[], &["app", "list", "--kubeconfig", "/nonexistent/kubeconfig"])
            .await;
    assert_eq!(named.code, 2);
    assert!(
        named.stderr.contains("--kubeconfig /nonexistent/kubeconfig does not exist"),
        "{}",
        named.stderr
    );
}

#[tokio::test]
async fn an_unreachable_cluster_is_named_by_its_address() {
    let home = tempfile::tempdir().expect("tempdir");
    let port = free_port().expect("a free port");
    let kubeconfig = home.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{port}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n"
        ),
    )
    .expect("write kubeconfig");
    let path = kubeconfig.display().to_string();
    let run = ferry_with(home.path(), &[("KUBECONFIG", &path)], &["app", "get", "web"]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains(&format!("error: cannot reach the cluster at https://127.0.0.1:{port}/")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint: is the cluster running?"), "{}", run.stderr);
}

#[tokio::test]
async fn install_print_writes_yaml_with_the_crd_rbac_and_the_controller() {
    let home = tempfile::tempdir().expect("tempdir");
    let run =
        ferry_with(home.path(), &[], &["install", "--print", "--image", "example/ferry:1"]).await;
    ok(&run, "install --print");
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(&run.stdout).expect("install --print writes YAML documents");
    let crds: Vec<&str> = docs
        .iter()
        .filter(|d| d["kind"] == "CustomResourceDefinition")
        .filter_map(|d| d["metadata"]["name"].as_str())
        .collect();
    assert_eq!(
        crds,
        [
            "applications.ferry.dev",
            "projects.ferry.dev",
            "applicationsets.ferry.dev",
            "imagerepositories.image.ferry.dev",
            "imagepolicies.image.ferry.dev",
            "imageupdateautomations.image.ferry.dev"
        ],
        "the Application, Project and ApplicationSet CRDs and the image automation CRDs, in that order"
    );
    let deploy = docs.iter().find(|d| d["kind"] == "Deployment").expect("the Deployment");
    assert_eq!(deploy["spec"]["template"]["spec"]["containers"][0]["image"], "example/ferry:1");
    assert!(docs.iter().any(|d| d["kind"] == "ClusterRoleBinding"));
}

#[tokio::test]
async fn completion_prints_a_script_for_the_shell() {
    let home = tempfile::tempdir().expect("tempdir");
    let run = ferry_with(home.path(), &[], &["completion", "bash"]).await;
    ok(&run, "completion bash");
    assert!(run.stdout.contains("_ferry()"), "{}", &run.stdout[..run.stdout.len().min(300)]);
    assert!(run.stdout.contains("rollback"), "subcommands are completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_without_the_crd_says_so_and_install_applies_it_with_the_controller() {
    let cluster = ferry_cluster::testing::start().await;
    let home = tempfile::tempdir().expect("tempdir");
    let kubeconfig = cluster.kubeconfig_path().display().to_string();
    let before = ferry_with(home.path(), &[], &["app", "list", "--kubeconfig", &kubeconfig]).await;
    assert_eq!(before.code, 2);
    assert!(before.stderr.contains("the CRD is not installed"), "{}", before.stderr);
    assert!(before.stderr.contains("hint: ferry install"), "{}", before.stderr);
    let run = ferry_with(home.path(), &[], &["install", "--kubeconfig", &kubeconfig]).await;
    ok(&run, "install");
    assert!(run.stderr.contains("ferry is installed in namespace \"ferry\""), "{}", run.stderr);
    let client = cluster.client().await.expect("client");
    let deployments: Api<Deployment> = Api::namespaced(client, "ferry");
    let deploy = deployments.get("ferry-controller").await.expect("the controller Deployment");
    assert_eq!(deploy.spec.and_then(|s| s.replicas), Some(2), "one leads, one stands by");
    // Applications are served now: listing them is an empty list, not "CRD missing".
    let list =
        ferry_with(home.path(), &[], &["app", "list", "-o", "json", "--kubeconfig", &kubeconfig])
            .await;
    ok(&list, "app list after install");
    assert_eq!(list.json(), json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_secret_in_a_diff_shows_its_keys_but_never_its_values() {
    const CANARY: &str = "canary-0f1e2d3c";
    let world = World::start(|repo| {
        repo.write(
            "app/secret.yaml",
            &format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\n\
                 stringData:\n  password: {CANARY}\ndata:\n  token: Y2FuYXJ5LTBmMWUyZDNj\n"
            ),
        )
        .expect("write the Secret");
    })
    .await;
    let mut spec = automated_spec(&world.repo_url(), "app", "shop");
    spec["syncPolicy"]["automated"] = serde_json::Value::Null;
    world.create_app("shop", spec).await;

    let diff = world.ferry(&["app", "diff", "shop"]).await;
    assert_eq!(diff.code, 1, "the Secret is missing from the cluster: {diff:?}");
    assert!(diff.stdout.contains("Secret shop/db (missing from the cluster)"), "{}", diff.stdout);
    assert!(diff.stdout.contains("password: ++++++++ (h:"), "{}", diff.stdout);
    let checkout = world.repo.dir.join("app").display().to_string();
    let local = world.ferry(&["diff", &checkout, "--app", "shop"]).await;
    for run in [&diff, &local] {
        let all = format!("{}{}", run.stdout, run.stderr);
        // The canary, and its base64 as `data` holds it.
        assert!(!all.contains(CANARY) && !all.contains("Y2FuYXJ5LTBmMWUyZDNj"), "{all}");
    }
}
