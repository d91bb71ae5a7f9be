//! The parts around the REST API: the bearer token, probes, `/metrics` (checked by promtool),
//! the OpenAPI document and the web UI.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ferry_api::ApiState;
use support::*;

fn get(path: &str, token: Option<&str>) -> Request<Body> {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(Body::empty()).expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_set_the_api_needs_it_and_the_probes_do_not() {
    let world = World::start_with(
        |_| {},
        Options { configure: Box::new(|b| b.token(Some("s3cret".into()))), ..Default::default() },
    )
    .await;
    let router = world.router();
    for path in ["/api/v1/applications", "/api/openapi.json", "/metrics"] {
        let (status, body) = send(router.clone(), get(path, None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} without a token: {body}");
        assert!(body["hint"].as_str().is_some_and(|h| h.contains("Bearer")), "{body}");
        let (status, _) = send(router.clone(), get(path, Some("s3cre"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} with a wrong token");
        let (status, body) = send(router.clone(), get(path, Some("s3cret"))).await;
        assert_eq!(status, StatusCode::OK, "{path} with the token: {body}");
    }
    let request =
        Request::post("/api/v1/applications/ferry/x/sync").body(Body::empty()).expect("req");
    let (status, _) = send(router.clone(), request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "actions need the token too");
    for path in ["/healthz", "/readyz", "/"] {
        let (status, body) = send(router.clone(), get(path, None)).await;
        assert_eq!(status, StatusCode::OK, "{path} is open: {body}");
    }
    let (_, ready) = send(router.clone(), get("/readyz", None)).await;
    assert_eq!(ready["ready"], true, "{ready}");
    world.engine.shutdown().await;
}

#[test]
fn only_loopback_listeners_go_without_a_token() {
    for (addr, required) in [
        ("127.0.0.1:8080", false),
        ("[::1]:8080", false),
        ("0.0.0.0:8080", true),
        ("192.0.2.7:80", true),
        ("[::]:8080", true),
    ] {
        let addr = addr.parse().expect("an address");
        assert_eq!(ApiState::requires_token(&addr), required, "{addr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_method_and_code_and_pass_promtool() {
    let world = World::start(|_| {}).await;
    world.get("/api/v1/applications").await;
    world.get("/api/v1/applications/ferry/missing").await;
    let (status, text) = send_text(world.router(), get("/metrics", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains(r#"ferry_api_requests_total{method="GET",code="404"} 1"#),
        "the 404 is counted:\n{text}"
    );
    assert!(text.contains(r#"ferry_api_requests_total{method="GET",code="200"}"#), "{text}");
    assert!(
        text.contains("ferry_reconcile_duration_seconds"),
        "the engine's metrics are served:\n{text}"
    );
    assert!(
        text.contains(r#"route="/api/v1/applications/{namespace}/{name}""#),
        "routes, not raw paths:\n{text}"
    );

    assert_promtool_accepts(&text);
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_in_the_openapi_document_is_routed() {
    let world = World::start(|_| {}).await;
    let (status, doc) = world.get("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 15, "{paths:?}");
    for (path, ops) in paths {
        let concrete = path
            .replace("{namespace}", "ferry")
            .replace("{name}", "nope")
            .replace("{provider}", "github");
        for method in ops.as_object().expect("operations").keys() {
            if path.contains("/stream/") {
                // An event stream never ends: its headers answer for it.
                let response = tower::ServiceExt::oneshot(world.router(), get(&concrete, None))
                    .await
                    .expect("an answer");
                assert_eq!(response.status(), StatusCode::OK, "{path}");
                assert_eq!(response.headers()["content-type"], "text/event-stream", "{path}");
                continue;
            }
            let request = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&concrete)
                .body(Body::empty())
                .expect("request");
            let (status, body) = send(world.router(), request).await;
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            let unrouted =
                body["error"].as_str().is_some_and(|e| e.starts_with("no such endpoint"));
            assert!(!unrouted, "{method} {path} is documented but not routed: {body}");
        }
    }
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_is_served_from_the_binary_with_no_outside_references() {
    let world = World::start(|_| {}).await;
    let (status, html) = send_text(world.router(), get("/", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<script src="/ui/app.js">"#), "{html}");
    let mut pages = vec![html];
    for (file, kind) in [("app.js", "text/javascript"), ("style.css", "text/css")] {
        let response =
            tower::ServiceExt::oneshot(world.router(), get(&format!("/ui/{file}"), None))
                .await
                .expect("an answer");
        assert_eq!(response.status(), StatusCode::OK, "{file}");
        let content_type = response.headers()["content-type"].to_str().expect("ascii").to_owned();
        assert!(content_type.starts_with(kind), "{file}: {content_type}");
        let (_, text) = send_text(world.router(), get(&format!("/ui/{file}"), None)).await;
        pages.push(text);
    }
    for page in &pages {
        for outside in ["http://", "https://", "//cdn", "@import"] {
            assert!(
                !page.contains(outside),
                "the UI must not load anything from elsewhere ({outside})"
            );
        }
    }
    let (status, _) = send_text(world.router(), get("/ui/../Cargo.toml", None)).await;
    assert_ne!(status, StatusCode::OK);
    world.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_is_empty_not_an_error_before_any_app_exists() {
    let world = World::start(|_| {}).await;
    let (status, body) = world.get("/api/v1/applications").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"], serde_json::json!([]));
    assert_eq!(body["total"], 0);
    assert_eq!(body["counts"], serde_json::json!({"sync": {}, "health": {}}));
    world.engine.shutdown().await;
}
