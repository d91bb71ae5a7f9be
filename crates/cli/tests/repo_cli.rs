//! `ferry repo add / list / remove` against a private repository behind `git http-backend` with
//! basic auth and the embedded cluster with an engine (issue 16).
#![allow(clippy::unwrap_used)] // tests may unwrap: a failure is the test failing

mod support;

use std::time::Duration;

use ferry_testkit::http_git::HttpGit;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use serde_json::Value;
use support::{FerryCli, Run, World, guestbook_spec};
use tokio::io::AsyncWriteExt;

const PASSWORD: &str = "correct-horse-battery-staple";

/// Runs `ferry` against the world's cluster with `input` on stdin.
async fn ferry_stdin(world: &World, args: &[&str], input: &str) -> Run {
    let kubeconfig = world.cluster.kubeconfig_path().display().to_string();
    let home = world.tmp.path().join("home");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .args(["--kubeconfig", &kubeconfig])
        .env_remove("KUBECONFIG")
        .env("HOME", &home)
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn source_failure(app: &Value) -> Option<String> {
    let conditions = app["status"]["conditions"].as_array()?;
    let c = conditions.iter().find(|c| c["type"] == "SourceReady" && c["status"] == "False")?;
    Some(c["message"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn ferry_repo_add_checks_the_credentials_first_and_a_failing_app_then_syncs() {
    let world = World::guestbook().await;
    let server = HttpGit::start(&world.tmp.path().join("git"), "alice", PASSWORD);
    let url = server.url("config.git");
    world.create_app("private", guestbook_spec(&url)).await;
    world
        .wait_for("private", "failing without credentials", |a| {
            source_failure(a).is_some_and(|m| m.contains("no credentials configured"))
        })
        .await;

    let add = ["repo", "add", &url, "--username", "alice", "--password-stdin"];
    let wrong = ferry_stdin(&world, &add, "not-the-password\n").await;
    assert_ne!(wrong.code, 0, "{wrong:?}");
    assert!(wrong.stderr.contains("connection check failed, nothing was saved"), "{wrong:?}");
    assert!(wrong.stderr.contains(&format!("authentication failed for {url}")), "{wrong:?}");
    assert!(!wrong.stderr.contains("not-the-password"), "{wrong:?}");
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), "ferry");
    let name = ferry_engine::repos::secret_name(&url);
    assert!(secrets.get_opt(&name).await.unwrap().is_none(), "a failed check saves nothing");

    let right = ferry_stdin(&world, &add, &format!("{PASSWORD}\n")).await;
    assert_eq!(right.code, 0, "{right:?}");
    assert!(right.stderr.contains(&format!("Secret ferry/{name}")), "{right:?}");
    let head = world.head();
    world.wait_synced_healthy("private", &head).await;

    let again = ferry_stdin(&world, &add, &format!("{PASSWORD}\n")).await;
    assert!(again.code != 0 && again.stderr.contains("--upsert"), "{again:?}");

    let diff = world.ferry(&["app", "diff", "private"]).await;
    assert_eq!(diff.code, 0, "app diff fetches with the same credentials: {diff:?}");

    let list = world.ferry(&["repo", "list", "-o", "json"]).await;
    assert_eq!(list.code, 0, "{list:?}");
    let rows = list.json();
    assert_eq!(rows[0]["url"], url.as_str());
    assert_eq!(rows[0]["type"], "git");
    assert_eq!(rows[0]["name"], name.as_str());
    assert_eq!(rows[0]["connection"], "Successful");
    assert!(!list.stdout.contains(PASSWORD));

    let removed = world.ferry(&["repo", "remove", &url]).await;
    assert_eq!(removed.code, 0, "{removed:?}");
    world
        .wait_for("private", "failing again without credentials", |a| {
            source_failure(a).is_some_and(|m| m.contains("no credentials configured"))
        })
        .await;
    let table = world.ferry(&["repo", "list"]).await;
    assert!(table.stdout.trim().lines().count() <= 1, "{table:?}");
}
