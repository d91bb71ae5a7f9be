//! Issue 19 from the command line: `ferry token create|list|revoke`, `ferry login --token-stdin`,
//! `ferry auth can-i` and `ferry audit -o json`, with the real binary against Ferry's API served
//! on a loopback port over the embedded cluster.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::*;
use tokio::io::AsyncWriteExt;

/// The world's engine behind Ferry's API on a free loopback port, requiring a token, watching
/// the RBAC ConfigMap and the token Secrets.
async fn serve_api(world: &mut World) -> (String, tokio::task::JoinHandle<()>) {
    let registry = std::mem::take(&mut world.registry);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let state = ferry_api::ApiState::builder(world.engine.clone(), registry)
        .require_auth(true)
        .listen(addr)
        .build();
    let watch = state.watch_access(world.client.clone(), "ferry");
    let task = tokio::spawn(async move {
        tokio::select! {
            _ = ferry_api::serve(listener, state, std::future::pending::<()>()) => {}
            _ = watch => {}
        }
    });
    (format!("http://{addr}"), task)
}

/// `ferry login URL --token-stdin` with `token` on stdin.
async fn login(world: &World, url: &str, token: &str) -> Run {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["login", url, "--token-stdin"])
        .env("HOME", home(world))
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("FERRY_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ferry runs");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(token.as_bytes()).await.expect("write the token");
    drop(stdin);
    let out = child.wait_with_output().await.expect("ferry login finishes");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn home(world: &World) -> std::path::PathBuf {
    world.tmp.path().join("home")
}

/// `ferry` with the stored login (no kubeconfig: these commands ask the API).
async fn ferry_api(world: &World, args: &[&str]) -> Run {
    ferry_with(&home(world), &[], args).await
}

async fn token(world: &World, name: &str, role: &str, extra: &[&str]) -> String {
    let mut args = vec!["token", "create", name, "--role", role];
    args.extend_from_slice(extra);
    let run = world.ferry(&args).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("shown once"), "{}", run.stderr);
    run.stdout.trim().to_owned()
}

/// Retries `check` until it holds (the API learns of tokens through a watch).
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, check: impl Fn() -> F) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_readonly_login_may_not_sync_and_an_api_sync_shows_in_ferry_audit_with_author_and_user() {
    let mut world = World::start(|repo| {
        repo.copy_in(&corpus("argocd-example-apps/guestbook"), "guestbook")
            .expect("copy the guestbook in")
    })
    .await;
    world.create_namespace("ferry").await;
    world.create_app("guestbook", guestbook_spec(&world.repo_url())).await;
    world.wait_synced_healthy("guestbook", &world.head()).await;
    let (url, server) = serve_api(&mut world).await;

    let unknown = world.ferry(&["token", "create", "x", "--role", "role:nope"]).await;
    assert_eq!(unknown.code, 2, "{unknown:?}");
    assert!(unknown.stderr.contains("unknown role \"role:nope\""), "{}", unknown.stderr);

    let viewer = token(&world, "viewer", "role:readonly", &[]).await;
    let deployer = token(&world, "deployer", "role:admin", &["--expires", "30d"]).await;
    let listed = world.ferry(&["token", "list", "-o", "json"]).await;
    let rows = listed.json();
    assert_eq!(rows.as_array().map(Vec::len), Some(2), "{rows}");
    assert!(
        !listed.stdout.contains(&viewer) && !listed.stdout.contains(&deployer),
        "tokens are never listed"
    );
    assert_eq!(rows[0]["name"], "deployer");
    assert_ne!(rows[0]["expires"], "never");

    eventually("the viewer token known to the API", || async {
        login(&world, &url, &viewer).await.code == 0
    })
    .await;
    let config = home(&world).join(".config/ferry/config.json");
    let mode = std::fs::metadata(&config).expect("the login is stored").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the CLI config holds a token");
    let no =
        ferry_api(&world, &["auth", "can-i", "sync", "applications", "default/ferry/guestbook"])
            .await;
    assert_eq!((no.code, no.stdout.trim()), (1, "no"), "{no:?}");
    let yes =
        ferry_api(&world, &["auth", "can-i", "get", "applications", "default/ferry/guestbook"])
            .await;
    assert_eq!((yes.code, yes.stdout.trim()), (0, "yes"), "{yes:?}");

    let http = reqwest::Client::new();
    let sync = format!("{url}/api/v1/applications/ferry/guestbook/sync");
    let refused = http
        .post(&sync)
        .bearer_auth(&viewer)
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("answer");
    assert_eq!(refused.status().as_u16(), 403);
    let accepted = http
        .post(&sync)
        .bearer_auth(&deployer)
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("answer");
    assert_eq!(accepted.status().as_u16(), 202);

    assert_eq!(login(&world, &url, &deployer).await.code, 0);
    let mut records = serde_json::Value::Null;
    eventually("the sync in `ferry audit`", || async {
        let run =
            ferry_api(&world, &["audit", "--app", "guestbook", "--since", "1h", "-o", "json"])
                .await;
        run.code == 0
            && run.json().as_array().is_some_and(|items| {
                items.iter().any(|r| {
                    r["kind"] == "sync" && r["sync"]["trigger"]["user"] == "token:deployer"
                })
            })
    })
    .await;
    let run = ferry_api(&world, &["audit", "--app", "guestbook", "-o", "json"]).await;
    for r in run.json().as_array().expect("a list") {
        if r["kind"] == "sync" && r["sync"]["trigger"]["user"] == "token:deployer" {
            records = r.clone();
        }
    }
    assert_eq!(records["sync"]["commit"]["author"], "Ferry Test <test@ferry.invalid>", "{records}");
    assert_eq!(records["sync"]["revision"], world.head().as_str());
    assert!(
        !run.stdout.contains(&deployer) && !run.stdout.contains(&viewer),
        "no token in the audit trail"
    );
    let table = ferry_api(&world, &["audit", "--user", "token:viewer"]).await;
    assert!(table.stdout.contains("denied"), "the refused sync is in the table:\n{}", table.stdout);

    let cli_sync = world.ferry(&["app", "sync", "guestbook", "--wait", "--timeout", "60s"]).await;
    assert_eq!(cli_sync.code, 0, "{cli_sync:?}");
    let run = ferry_api(&world, &["audit", "--app", "guestbook", "-o", "json"]).await;
    let by_cli =
        run.json().as_array().expect("a list").iter().rev().find(|r| r["kind"] == "sync").cloned();
    let by_cli = by_cli.expect("the CLI's sync is recorded");
    let user = by_cli["sync"]["trigger"]["user"].as_str().unwrap_or_default().to_owned();
    assert!(user.starts_with("kube:"), "the kube user who asked: {by_cli}");

    let revoked = world.ferry(&["token", "revoke", "viewer"]).await;
    assert_eq!(revoked.code, 0, "{revoked:?}");
    eventually("the revoked token refused", || async {
        let answer =
            http.get(format!("{url}/api/v1/applications")).bearer_auth(&viewer).send().await;
        answer.is_ok_and(|a| a.status().as_u16() == 401)
    })
    .await;
    server.abort();
}

/// Starts `ferry up` (no demo, free ports) and reads its start-up output up to the API access
/// line: the API's URL and that line.
async fn ferry_up(
    dir: &std::path::Path,
    extra: &[&str],
) -> (tokio::process::Child, String, String) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["up", "--no-demo", "--listen", "127.0.0.1:0", "--cluster-listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir)
        .args(extra)
        .env("HOME", dir)
        .env_remove("FERRY_API_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("ferry up starts");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (mut url, mut access) = (String::new(), String::new());
    let read = async {
        while let Some(line) = lines.next_line().await.expect("stdout reads") {
            if let Some(rest) = line.trim().strip_prefix("Web UI and API") {
                url = rest.trim().to_owned();
            }
            if let Some(rest) = line.trim().strip_prefix("API access") {
                access = rest.trim().to_owned();
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(120), read).await.expect("ferry up reports its API");
    (child, url, access)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferry_up_says_its_loopback_api_is_open_and_an_api_token_closes_it() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let (mut open, url, access) = ferry_up(&tmp.path().join("open"), &[]).await;
    assert!(access.starts_with("OPEN"), "{access}");
    let http = reqwest::Client::new();
    let answer = http.get(format!("{url}/api/v1/applications")).send().await.expect("answer");
    assert_eq!(answer.status().as_u16(), 200);
    open.kill().await.expect("ferry up stops");

    let token = "0123456789abcdef0123456789abcdef";
    let (mut closed, url, access) =
        ferry_up(&tmp.path().join("closed"), &["--api-token", token]).await;
    assert!(access.starts_with("authentication required"), "{access}");
    let refused = http.get(format!("{url}/api/v1/applications")).send().await.expect("answer");
    assert_eq!(refused.status().as_u16(), 401);
    let me =
        http.get(format!("{url}/api/v1/account")).bearer_auth(token).send().await.expect("answer");
    let me: serde_json::Value = me.json().await.expect("JSON");
    assert_eq!(
        (me["user"].as_str(), me["via"].as_str()),
        (Some("admin"), Some("api-token")),
        "{me}"
    );
    closed.kill().await.expect("ferry up stops");
}
