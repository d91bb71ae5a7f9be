//! `POST /api/webhook`: real GitHub-style deliveries reconcile the app they name, against a real
//! engine whose poller is too slow to be the one that notices.

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ferry_source::Secret;
use ferry_source::webhook::{WebhookConfig, sign};
use serde_json::{Value, json};
use support::*;

const SECRET: &str = "webhook-secret";

fn github_push(repo_url: &str, after: &str) -> Value {
    json!({
        "ref": "refs/heads/main",
        "before": "0123456789012345678901234567890123456789",
        "after": after,
        "repository": {"full_name": "test/config", "clone_url": repo_url},
        "commits": [{"id": after, "added": [], "modified": ["guestbook/guestbook-ui-deployment.yaml"], "removed": []}]
    })
}

fn delivery(path: &str, body: &[u8], signature: &str, id: &str) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header("x-github-delivery", id)
        .header("x-hub-signature-256", signature)
        .body(Body::from(body.to_vec()))
        .expect("request")
}

async fn world() -> World {
    World::guestbook(Options {
        // Only the webhook can make the engine notice a commit within the test.
        poll_interval: Duration::from_secs(3600),
        configure: Box::new(|b| {
            b.webhook(WebhookConfig {
                github_secret: Some(Secret::new(SECRET)),
                max_body_bytes: 64 << 10,
                ..Default::default()
            })
        }),
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_signed_github_push_reconciles_the_app_of_that_repository_now() {
    let world = world().await;
    let first = world.head();
    world.create_app("guestbook", guestbook_spec(&world.repo_url())).await;
    world.wait_synced_healthy("guestbook", &first).await;

    world
        .repo
        .edit("guestbook/guestbook-ui-deployment.yaml", "replicas: 1", "replicas: 2")
        .expect("edit");
    let second = world.repo.commit("two replicas").expect("commit");

    let body = github_push(&world.repo_url(), &second).to_string();
    let request = delivery("/api/webhook", body.as_bytes(), &sign(SECRET, body.as_bytes()), "d-1");
    let (status, answer) = send(world.router(), request).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["event"], "push");
    assert_eq!(answer["provider"], "GitHub");
    assert_eq!(answer["triggered"], 1, "{answer}");
    world.wait_synced_healthy("guestbook", &second).await;
    let synced = world.engine.audit().query(&Default::default());
    let by_webhook = synced
        .iter()
        .find(|r| r.sync.as_ref().is_some_and(|s| s.revision == second))
        .and_then(|r| r.sync.as_ref())
        .expect("the sync of the pushed commit is in the audit trail");
    assert_eq!(by_webhook.trigger.kind, "webhook", "{by_webhook:?}");
    assert_eq!(by_webhook.trigger.delivery.as_deref(), Some("d-1"));
    assert_eq!(by_webhook.commit.as_ref().map(|c| c.message.as_str()), Some("two replicas"));

    // The provider redelivers: nothing more to do.
    let request =
        delivery("/api/webhook/github", body.as_bytes(), &sign(SECRET, body.as_bytes()), "d-1");
    let (status, answer) = send(world.router(), request).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["event"], "duplicate");
    assert_eq!(answer["triggered"], 0);

    // A push to a repository no app uses triggers nothing.
    let body = github_push("https://github.com/someone/else.git", &second).to_string();
    let request = delivery("/api/webhook", body.as_bytes(), &sign(SECRET, body.as_bytes()), "d-2");
    let (status, answer) = send(world.router(), request).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["triggered"], 0);
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_signatures_malformed_bodies_and_oversized_bodies_are_refused() {
    let world = world().await;
    let body =
        github_push(&world.repo_url(), "89abcdef0123456789abcdef0123456789abcdef").to_string();

    let request = delivery("/api/webhook", body.as_bytes(), &sign("wrong", body.as_bytes()), "b-1");
    let (status, answer) = send(world.router(), request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert!(answer["error"].as_str().is_some_and(|e| e.contains("signature")), "{answer}");
    assert!(answer["hint"].as_str().is_some_and(|h| !h.is_empty()), "{answer}");

    let request = Request::post("/api/webhook")
        .header("x-github-event", "push")
        .body(Body::from(body.clone()))
        .expect("request");
    let (status, answer) = send(world.router(), request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an unsigned delivery: {answer}");

    let garbage = b"{not json";
    let request = delivery("/api/webhook", garbage, &sign(SECRET, garbage), "b-2");
    let (status, answer) = send(world.router(), request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");

    let request = Request::post("/api/webhook").body(Body::from("{}")).expect("request");
    let (status, answer) = send(world.router(), request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no provider headers: {answer}");

    // Over the 64 KiB cap, whether the length is declared up front or only seen while reading.
    let big = vec![b' '; 100 << 10];
    let request = delivery("/api/webhook", &big, &sign(SECRET, &big), "b-3");
    let (status, answer) = send(world.router(), request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    let chunks = futures_chunks(big.clone());
    let request = Request::post("/api/webhook")
        .header("x-github-event", "push")
        .header("x-hub-signature-256", sign(SECRET, &big))
        .body(chunks)
        .expect("request");
    let (status, answer) = send(world.router(), request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "a streamed body: {answer}");

    // A provider without a configured secret is refused, not trusted.
    let request = Request::post("/api/webhook")
        .header("x-gitlab-event", "Push Hook")
        .header("x-gitlab-token", "anything")
        .body(Body::from(body.clone()))
        .expect("request");
    let (status, answer) = send(world.router(), request).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");

    // The provider in the path must be the one that sent it.
    let request =
        delivery("/api/webhook/gitlab", body.as_bytes(), &sign(SECRET, body.as_bytes()), "b-4");
    let (status, answer) = send(world.router(), request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let request =
        delivery("/api/webhook/svn", body.as_bytes(), &sign(SECRET, body.as_bytes()), "b-5");
    let (status, _) = send(world.router(), request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    world.engine.shutdown().await;
}

/// A body with no declared length, delivered in 8 KiB chunks.
fn futures_chunks(data: Vec<u8>) -> Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        data.chunks(8 << 10).map(|c| Ok(c.to_vec())).collect();
    Body::from_stream(futures::stream::iter(chunks))
}

/// A generic delivery of a push of `repo_url`, signed with `secret`.
fn generic_push(repo_url: &str, secret: &str, id: &str) -> Request<Body> {
    let body = json!({"repo_url": repo_url, "ref": "refs/heads/main"}).to_string();
    Request::post("/api/webhook")
        .header("content-type", "application/json")
        .header("x-ferry-delivery", id)
        .header("x-ferry-signature", sign(secret, body.as_bytes()))
        .body(Body::from(body))
        .expect("request")
}

/// Writes the Secret `ferry-webhook` in the `ferry` namespace with `data`.
async fn put_webhook_secret(world: &World, data: Value) {
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::{Api, Patch, PatchParams};
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), "ferry");
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "ferry-webhook", "namespace": "ferry"}, "stringData": data});
    secrets
        .patch("ferry-webhook", &PatchParams::apply("test").force(), &Patch::Apply(secret))
        .await
        .expect("write Secret ferry-webhook");
}

/// Sends deliveries made by `make` until one is answered with `expected` (the watch on the
/// Secret takes a moment to see a change), or fails with the last answer.
async fn send_until(
    world: &World,
    what: &str,
    expected: StatusCode,
    make: impl Fn(usize) -> Request<Body>,
) -> Value {
    let mut last = (StatusCode::OK, Value::Null);
    for attempt in 0..300 {
        last = send(world.router(), make(attempt)).await;
        if last.0 == expected {
            return last.1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: expected {expected}, last answer {} {}", last.0, last.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_secret_ferry_webhook_configures_rotates_and_revokes_webhook_secrets() {
    // No secret given at start: only the Secret can open the webhook.
    let world = World::guestbook(Options {
        poll_interval: Duration::from_secs(3600),
        configure: Box::new(|b| b),
    })
    .await;
    world.create_namespace("ferry").await;
    let watch = tokio::spawn(world.state.watch_webhook_secret(world.client.clone(), "ferry"));
    let url = world.repo_url();
    let first = world.head();
    world.create_app("guestbook", guestbook_spec(&url)).await;
    world.wait_synced_healthy("guestbook", &first).await;

    let answer = send_until(&world, "no Secret yet", StatusCode::FORBIDDEN, |i| {
        generic_push(&url, "first", &format!("a-{i}"))
    })
    .await;
    assert!(answer.to_string().contains("ferry-webhook"), "the hint names the Secret: {answer}");

    put_webhook_secret(&world, json!({"generic": "first"})).await;
    world
        .repo
        .edit("guestbook/guestbook-ui-deployment.yaml", "replicas: 1", "replicas: 2")
        .expect("edit");
    let second = world.repo.commit("two replicas").expect("commit");
    let answer = send_until(&world, "the Secret's secret", StatusCode::ACCEPTED, |i| {
        generic_push(&url, "first", &format!("b-{i}"))
    })
    .await;
    assert_eq!(answer["triggered"], 1, "{answer}");
    world.wait_synced_healthy("guestbook", &second).await;

    put_webhook_secret(&world, json!({"generic": "second"})).await;
    send_until(&world, "a rotated secret refuses the old one", StatusCode::UNAUTHORIZED, |i| {
        generic_push(&url, "first", &format!("c-{i}"))
    })
    .await;
    send_until(&world, "a rotated secret accepts the new one", StatusCode::ACCEPTED, |i| {
        generic_push(&url, "second", &format!("d-{i}"))
    })
    .await;

    use k8s_openapi::api::core::v1::Secret;
    let secrets: kube::Api<Secret> = kube::Api::namespaced(world.client.clone(), "ferry");
    secrets.delete("ferry-webhook", &Default::default()).await.expect("delete the Secret");
    let answer =
        send_until(&world, "a deleted Secret closes the webhook", StatusCode::FORBIDDEN, |i| {
            generic_push(&url, "second", &format!("e-{i}"))
        })
        .await;
    assert!(!answer.to_string().contains("second"), "no secret in the answer: {answer}");
    watch.abort();
}
