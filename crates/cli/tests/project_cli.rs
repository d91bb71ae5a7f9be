//! Projects and approvals through the real `ferry` binary (issue 19): `ferry project create`,
//! `list`, `get` and `delete`, an app created into a project that requires approval, `ferry app
//! approve` as the kubeconfig's user, and the approver in `ferry app history`.

mod support;

use support::*;

const CONFIG_MAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n";

fn ok(run: &Run, what: &str) {
    assert_eq!(run.code, 0, "{what} failed:\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_in_an_approval_project_waits_until_ferry_app_approve_then_syncs() {
    let world = World::start(|repo| repo.write("app/cm.yaml", CONFIG_MAP).expect("write")).await;
    let created = world
        .ferry(&[
            "project",
            "create",
            "tenant",
            "--description",
            "team A",
            "--src",
            "*",
            "--dest",
            "*,tenant-*",
            "--allow-cluster-resource",
            "/Namespace",
            "--window",
            "deny 0 3 * * * 1m",
            "--require-approval",
        ])
        .await;
    ok(&created, "project create");
    let listed = world.ferry(&["proj", "list"]).await;
    ok(&listed, "proj list");
    assert!(
        listed.stdout.contains("tenant") && listed.stdout.contains("required"),
        "{}",
        listed.stdout
    );
    let shown = world.ferry(&["project", "get", "tenant"]).await;
    ok(&shown, "project get");
    for says in
        ["*,tenant-*", "/Namespace", "Sync Window 0", "deny \"0 3 * * *\" for 1m (UTC)", "required"]
    {
        assert!(shown.stdout.contains(says), "project get shows {says}:\n{}", shown.stdout);
    }

    let url = world.repo_url();
    let app = world
        .ferry(&[
            "app",
            "create",
            "web",
            "--repo",
            &url,
            "--revision",
            "main",
            "--path",
            "app",
            "--dest-namespace",
            "tenant-web",
            "--sync-option",
            "CreateNamespace=true",
            "--sync-policy",
            "automated",
            "--project",
            "tenant",
        ])
        .await;
    ok(&app, "app create --project tenant");
    let head = world.head();
    world
        .wait_for("web", "awaiting approval", |a| {
            a["status"]["approval"]["phase"] == "AwaitingApproval"
        })
        .await;
    let got = world.ferry(&["app", "get", "web"]).await;
    ok(&got, "app get");
    assert!(
        got.stdout.contains("Project:") && got.stdout.contains("awaiting approval"),
        "{}",
        got.stdout
    );

    let refused = world.ferry(&["project", "delete", "tenant"]).await;
    assert_ne!(refused.code, 0, "a project in use is not deleted");
    assert!(refused.stderr.contains("ferry/web"), "names the app: {}", refused.stderr);

    let approved = world.ferry(&["app", "approve", "web"]).await;
    ok(&approved, "app approve");
    let approver = approved.stdout.trim().rsplit(" approved by ").next().unwrap_or("").to_owned();
    assert!(!approver.is_empty(), "app approve names the approver: {}", approved.stdout);
    world.wait_synced_healthy("web", &head).await;
    let history = world.ferry(&["app", "history", "web", "-o", "json"]).await;
    ok(&history, "app history -o json");
    let text = history.stdout;
    assert!(text.contains(&format!("\"approvedBy\": \"{approver}\"")), "{text}");
    assert!(
        text.contains(ferry_testkit::git::AUTHOR_EMAIL),
        "the commit author is recorded: {text}"
    );

    let again = world.ferry(&["app", "approve", "web"]).await;
    assert_ne!(again.code, 0, "nothing awaits approval any more");
    assert!(again.stderr.contains("no revision awaits approval"), "{}", again.stderr);
}
