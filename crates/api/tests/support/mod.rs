//! The API tests' fixtures: `ferry-testkit`'s world (a repository served by a real
//! `git daemon`, the embedded cluster, a running engine) with the API router over it.

#![allow(dead_code, unused_imports)]

use std::ops::Deref;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use ferry_api::{ApiState, ApiStateBuilder};
use ferry_testkit::world::is_synced_healthy_at;
pub use ferry_testkit::world::{automated_spec, guestbook_spec};
pub use ferry_testkit::{Repo, corpus};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// How the world is set up.
pub struct Options {
    pub poll_interval: Duration,
    pub configure: Box<dyn FnOnce(ApiStateBuilder) -> ApiStateBuilder>,
}

impl Default for Options {
    fn default() -> Self {
        Self { poll_interval: Duration::from_millis(500), configure: Box::new(|b| b) }
    }
}

/// The test kit's world and the API state over its engine; torn down on drop.
pub struct World {
    world: ferry_testkit::world::World,
    pub state: ApiState,
}

impl Deref for World {
    type Target = ferry_testkit::world::World;

    fn deref(&self) -> &Self::Target {
        &self.world
    }
}

impl World {
    pub async fn start(setup: impl FnOnce(&Repo)) -> Self {
        Self::start_with(setup, Options::default()).await
    }

    /// A world whose repository holds Argo CD's guestbook example at `guestbook/`.
    pub async fn guestbook(options: Options) -> Self {
        Self::start_with(
            |repo| {
                repo.copy_in(&corpus("argocd-example-apps/guestbook"), "guestbook")
                    .expect("copy the guestbook example")
            },
            options,
        )
        .await
    }

    /// `setup` fills the repository before the first commit.
    pub async fn start_with(setup: impl FnOnce(&Repo), options: Options) -> Self {
        let kit = ferry_testkit::world::Options {
            poll_interval: options.poll_interval,
            ..Default::default()
        };
        let mut world = ferry_testkit::world::World::start_with(setup, kit).await;
        let registry = std::mem::take(&mut world.registry);
        let state = (options.configure)(ApiState::builder(world.engine.clone(), registry)).build();
        Self { world, state }
    }

    pub fn router(&self) -> Router {
        ferry_api::router(self.state.clone())
    }

    /// Waits until `check` holds for what the API answers at `path`, or fails with the last answer.
    pub async fn wait_api(&self, path: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut last = Value::Null;
        while Instant::now() < deadline {
            let (status, body) = self.get(path).await;
            if status == StatusCode::OK {
                if check(&body) {
                    return body;
                }
                last = body;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "timed out waiting for {what} at {path}; last answer:\n{}",
            serde_json::to_string_pretty(&last).unwrap_or_default()
        );
    }

    /// Waits until the app is Synced and Healthy at `revision`, as the API reports it.
    pub async fn wait_synced_healthy(&self, name: &str, revision: &str) -> Value {
        let rev = revision.to_owned();
        self.wait_api(
            &format!("/api/v1/applications/ferry/{name}"),
            &format!("{name} Synced+Healthy at {revision}"),
            move |a| is_synced_healthy_at(a, &rev),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        send(self.router(), Request::get(path).body(Body::empty()).expect("request")).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let request = Request::post(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        send(self.router(), request).await
    }
}

/// Sends one request through the router; the body as JSON (or a JSON string for text).
pub async fn send(router: Router, request: Request<Body>) -> (StatusCode, Value) {
    let (status, text) = send_text(router, request).await;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

pub async fn send_text(router: Router, request: Request<Body>) -> (StatusCode, String) {
    let response = router.oneshot(request).await.expect("the router always answers");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("a body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// Fails the test with promtool's complaints unless `text` passes `promtool check metrics`.
pub fn assert_promtool_accepts(text: &str) {
    use std::io::Write;
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (install the Debian package `prometheus`)");
    promtool.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write to promtool");
    let out = promtool.wait_with_output().expect("promtool finishes");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
