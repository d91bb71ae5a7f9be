//! The API's own metrics and the `/metrics` endpoint serving them with the engine's.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::state::ApiState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    /// The route template (`/api/v1/applications/{namespace}/{name}`), never the raw path, so
    /// the number of series stays bounded whatever clients request.
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    pub provider: String,
    pub outcome: String,
}

/// `ferry_api_requests_total{method,code}`, `ferry_api_request_duration_seconds{method,route}`
/// and `ferry_api_webhooks_total{provider,outcome}`.
#[derive(Clone)]
pub struct ApiMetrics {
    pub requests: Family<RequestLabels, Counter>,
    pub duration: Family<RouteLabels, Histogram>,
    pub webhooks: Family<WebhookLabels, Counter>,
}

impl ApiMetrics {
    pub fn new(registry: &mut Registry) -> Self {
        let m = Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.0005, 4.0, 10))
            }),
            webhooks: Family::default(),
        };
        let r = registry.sub_registry_with_prefix("ferry_api");
        r.register(
            "requests",
            "HTTP requests served, by method and status code",
            m.requests.clone(),
        );
        r.register(
            "request_duration_seconds",
            "Time to answer an HTTP request, by method and route",
            m.duration.clone(),
        );
        r.register("webhooks", "Webhook deliveries, by provider and outcome", m.webhooks.clone());
        m
    }

    pub fn webhook(&self, provider: &str, outcome: &str) {
        self.webhooks
            .get_or_create(&WebhookLabels {
                provider: provider.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }
}

/// Counts every request, including the refused ones.
pub(crate) async fn track(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let code = response.status().as_u16().to_string();
    state.metrics.requests.get_or_create(&RequestLabels { method: method.clone(), code }).inc();
    state
        .metrics
        .duration
        .get_or_create(&RouteLabels { method, route })
        .observe(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: OpenMetrics for clients that ask for it, the classic Prometheus text format
/// (what `promtool check metrics` reads) otherwise.
pub(crate) async fn serve_metrics(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &state.registry) {
        tracing::warn!(error = %e, "cannot encode metrics");
        return (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n").into_response();
    }
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    let (body, content_type) = if openmetrics {
        (text, "application/openmetrics-text; version=1.0.0; charset=utf-8")
    } else {
        (crate::exposition::to_prometheus_text(&text), "text/plain; version=0.0.4; charset=utf-8")
    };
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
