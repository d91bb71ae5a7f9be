//! Issue 21's pull-request loop: a signed GitHub `pull_request` delivery makes the engine plan
//! the PR against the live cluster, and the plan is posted as one comment (updated in place by
//! the next push to the PR) and a `ferry/plan` commit status — to a real HTTP server standing
//! in for GitHub's API, with the token of `service.github` in ferry-notifications.

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ferry_source::Secret;
use ferry_source::webhook::{WebhookConfig, sign};
use ferry_testkit::recorder::{Recorded, Recorder, Reply};
use ferry_testkit::world::APPS_NAMESPACE;
use k8s_openapi::api::core::v1::{ConfigMap, Secret as KubeSecret};
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use support::*;

const WEBHOOK_SECRET: &str = "webhook-secret";
const TOKEN: &str = "gh-token-canary";

fn pull_request(world: &World, action: &str, sha: &str) -> Value {
    json!({
        "action": action,
        "number": 42,
        "pull_request": {
            "number": 42,
            "html_url": "https://github.example/org/config/pull/42",
            "head": {"ref": "more", "sha": sha, "repo": {"full_name": "org/config"}},
            "base": {"ref": "main", "repo": {"full_name": "org/config"}}
        },
        "repository": {"full_name": "org/config", "clone_url": world.repo_url(), "html_url": "https://github.example/org/config"}
    })
}

fn delivery(body: &Value, id: &str) -> Request<Body> {
    let body = body.to_string();
    Request::post("/api/webhook")
        .header("content-type", "application/json")
        .header("x-github-event", "pull_request")
        .header("x-github-delivery", id)
        .header("x-hub-signature-256", sign(WEBHOOK_SECRET, body.as_bytes()))
        .body(Body::from(body))
        .expect("request")
}

/// `service.github` pointed at `api`, its token from the notifications Secret.
async fn configure_github(world: &World, api: &Recorder) {
    let params = PatchParams::apply("test").force();
    let maps: Api<ConfigMap> = Api::namespaced(world.client.clone(), APPS_NAMESPACE);
    let data = json!({"service.github": format!("baseUrl: {}\ntoken: $github-token\n", api.url)});
    let map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ferry-notifications"}, "data": data});
    maps.patch("ferry-notifications", &params, &Patch::Apply(&map)).await.expect("ConfigMap");
    let secrets: Api<KubeSecret> = Api::namespaced(world.client.clone(), APPS_NAMESPACE);
    let s = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ferry-notifications-secret"}, "stringData": {"github-token": TOKEN}});
    secrets.patch("ferry-notifications-secret", &params, &Patch::Apply(&s)).await.expect("Secret");
    for _ in 0..200 {
        if world.engine.notifier().config().services.contains_key("github") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the engine did not read service.github");
}

fn json_of(r: &Recorded) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pull_request_gets_one_plan_comment_and_a_ferry_plan_status() {
    let world = World::guestbook(Options {
        poll_interval: Duration::from_secs(3600),
        configure: Box::new(|b| {
            b.webhook(WebhookConfig {
                github_secret: Some(Secret::new(WEBHOOK_SECRET)),
                ..Default::default()
            })
        }),
    })
    .await;
    let first = world.head();
    world.create_app("guestbook", guestbook_spec(&world.repo_url())).await;
    world.wait_synced_healthy("guestbook", &first).await;
    let api = Recorder::start().await.expect("the API stand-in starts");
    configure_github(&world, &api).await;
    world.repo.git(&["checkout", "-q", "-b", "more"]).expect("branch");
    world
        .repo
        .edit("guestbook/guestbook-ui-deployment.yaml", "replicas: 1", "replicas: 3")
        .expect("edit");
    let head = world.repo.commit("three replicas").expect("commit");
    world.repo.git(&["checkout", "-q", "main"]).expect("back to main");

    let (status, answer) =
        send(world.router(), delivery(&pull_request(&world, "opened", &head), "pr-1")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["event"], "pull_request");
    assert_eq!(answer["triggered"], 1, "{answer}");

    let seen = api.wait_for(4, Duration::from_secs(60)).await;
    let calls: Vec<(String, String)> =
        seen.iter().map(|r| (r.method.clone(), r.path.clone())).collect();
    let statuses = format!("/repos/org/config/statuses/{head}");
    assert_eq!(
        calls,
        vec![
            ("POST".to_owned(), statuses.clone()),
            ("GET".to_owned(), "/repos/org/config/issues/42/comments?per_page=100".to_owned()),
            ("POST".to_owned(), "/repos/org/config/issues/42/comments".to_owned()),
            ("POST".to_owned(), statuses.clone()),
        ]
    );
    assert!(seen.iter().all(|r| r.header("authorization") == Some(&format!("Bearer {TOKEN}"))));
    assert_eq!(json_of(&seen[0])["state"], "pending");
    assert_eq!(json_of(&seen[0])["context"], "ferry/plan");
    let comment = json_of(&seen[2])["body"].as_str().unwrap_or_default().to_owned();
    assert!(comment.starts_with("<!-- ferry-plan -->"), "{comment}");
    assert!(
        comment.contains("| update | `apps/v1` `Deployment guestbook/guestbook-ui` |"),
        "{comment}"
    );
    let done = json_of(&seen[3]);
    assert_eq!(done["state"], "success", "{done}");
    assert!(done["description"].as_str().is_some_and(|d| d.starts_with("1 app changes")), "{done}");

    // The next push to the PR updates the same comment.
    api.reply_next([
        Reply::status(201),
        Reply::status(200).body(&json!([{"id": 7, "body": comment}]).to_string()),
        Reply::status(200),
        Reply::status(201),
    ]);
    let body = pull_request(&world, "synchronize", &head);
    let (status, _) = send(world.router(), delivery(&body, "pr-2")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let seen = api.wait_for(8, Duration::from_secs(60)).await;
    assert_eq!(
        (seen[6].method.as_str(), seen[6].path.as_str()),
        ("PATCH", "/repos/org/config/issues/comments/7"),
        "the comment is updated in place, not added again"
    );

    // A closed pull request is not planned.
    let (_, closed) =
        send(world.router(), delivery(&pull_request(&world, "closed", &head), "pr-3")).await;
    assert_eq!(closed["triggered"], 0, "{closed}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(api.count(), 8);
}
