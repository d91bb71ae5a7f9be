//! `POST /api/webhook[/{provider}]`: a push from a Git provider reconciles the apps of that
//! repository now instead of at the next poll.
//!
//! # Guarantees
//! - The body is capped while it is read (a `Content-Length` over the cap is refused before any
//!   byte is read); an oversized delivery is 413, never buffered whole.
//! - Authentication (HMAC or token) is the source crate's [`ferry_source::webhook::parse`], which
//!   checks it before parsing the payload; a provider without a configured secret is refused.
//! - Redeliveries (same provider delivery id) trigger nothing.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_source::webhook::{self, Headers, Provider, WebhookError, WebhookKind};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::dto::WebhookResult;
use crate::error::ApiError;
use crate::state::ApiState;

/// Provider names accepted in `/api/webhook/{provider}`.
pub const PROVIDER_NAMES: &[&str] =
    &["github", "gitlab", "gitea", "gogs", "bitbucket", "bitbucket-server", "generic"];

pub(crate) async fn any(State(state): State<ApiState>, request: Request) -> Response {
    handle(state, None, request).await.unwrap_or_else(IntoResponse::into_response)
}

pub(crate) async fn named(
    State(state): State<ApiState>,
    Path(provider): Path<String>,
    request: Request,
) -> Response {
    handle(state, Some(provider), request).await.unwrap_or_else(IntoResponse::into_response)
}

async fn handle(
    state: ApiState,
    named: Option<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let expected = match named.as_deref() {
        None => None,
        Some(name) => Some(provider_named(name).ok_or_else(|| ApiError::BadRequest {
            message: format!("unknown webhook provider {name:?}"),
            hint: format!(
                "use /api/webhook or /api/webhook/NAME with NAME one of {}",
                PROVIDER_NAMES.join(", ")
            ),
        })?),
    };
    let label = named.as_deref().unwrap_or("auto").to_owned();
    let result = receive(&state, expected, request).await;
    let outcome = match &result {
        Ok(r) => r.event.clone(),
        Err(e) => outcome_of(e).to_owned(),
    };
    state.metrics.webhook(&label, &outcome);
    let result = result?;
    let code = match result.event.as_str() {
        "push" | "pull_request" => StatusCode::ACCEPTED,
        _ => StatusCode::OK,
    };
    Ok((code, Json(result)).into_response())
}

async fn receive(
    state: &ApiState,
    expected: Option<Provider>,
    request: Request,
) -> Result<WebhookResult, ApiError> {
    let config = state.webhook_config();
    let limit = config.max_body_bytes;
    let (parts, body) = request.into_parts();
    if declared_length(&parts.headers).is_some_and(|n| n > limit) {
        return Err(ApiError::BodyTooLarge { limit });
    }
    let body = Limited::new(body, limit).collect().await.map_err(|e| {
        if e.downcast_ref::<LengthLimitError>().is_some() {
            ApiError::BodyTooLarge { limit }
        } else {
            ApiError::Body(e.to_string())
        }
    })?;
    let body = body.to_bytes();
    let headers = Headers::new(
        parts.headers.iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))),
    );
    let event = webhook::parse(&headers, &body, &config).map_err(ApiError::Webhook)?;
    if let Some(expected) = expected
        && !same_family(expected, event.provider)
    {
        return Err(ApiError::BadRequest {
            message: format!(
                "this endpoint is for {expected} webhooks but the delivery is from {}",
                event.provider
            ),
            hint: "point the provider at /api/webhook (it detects the provider) or at its own path"
                .into(),
        });
    }
    let provider = event.provider.to_string();
    match state.dedupe.lock().unwrap_or_else(|p| p.into_inner()).record(&event) {
        Ok(()) => {}
        Err(WebhookError::Duplicate { delivery, .. }) => {
            return Ok(WebhookResult {
                provider,
                event: "duplicate".into(),
                triggered: 0,
                repositories: Vec::new(),
                message: format!("delivery {delivery} was handled before; nothing to do"),
            });
        }
        Err(e) => return Err(ApiError::Webhook(e)),
    }
    let event_delivery = event.delivery.clone();
    Ok(match event.kind {
        WebhookKind::Ping => WebhookResult {
            provider,
            event: "ping".into(),
            triggered: 0,
            repositories: Vec::new(),
            message: "the signature matches Ferry's secret; the ping was received".into(),
        },
        WebhookKind::Ignored { event } => WebhookResult {
            provider,
            event: "ignored".into(),
            triggered: 0,
            repositories: Vec::new(),
            message: format!(
                "Ferry acts on pushes and pull requests only; {event:?} events are ignored"
            ),
        },
        WebhookKind::PullRequest(pr) => crate::pull_plan::start(state, event.provider, pr),
        WebhookKind::Push(push) => {
            let triggered: usize = push
                .repo_keys
                .iter()
                .map(|k| notify(state, &url_of_key(k), event_delivery.as_deref(), &push))
                .sum();
            tracing::info!(provider = %provider, repositories = ?push.repo_keys, triggered, "webhook push");
            WebhookResult {
                provider,
                event: "push".into(),
                triggered,
                message: format!("{triggered} application(s) will be reconciled now"),
                repositories: push.repo_keys,
            }
        }
    })
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

fn provider_named(name: &str) -> Option<Provider> {
    Some(match name.to_ascii_lowercase().as_str() {
        "github" => Provider::GitHub,
        "gitlab" => Provider::GitLab,
        "gitea" => Provider::Gitea,
        "gogs" => Provider::Gogs,
        "bitbucket" | "bitbucket-cloud" => Provider::BitbucketCloud,
        "bitbucket-server" => Provider::BitbucketServer,
        "generic" | "ferry" => Provider::Generic,
        _ => return None,
    })
}

/// Gitea sends Gogs-compatible deliveries, and Bitbucket's two flavours share one secret.
fn same_family(expected: Provider, got: Provider) -> bool {
    use Provider::*;
    expected == got
        || matches!((expected, got), (Gitea, Gogs) | (Gogs, Gitea))
        || matches!(
            (expected, got),
            (BitbucketCloud, BitbucketServer) | (BitbucketServer, BitbucketCloud)
        )
}

/// Tells the engine of a push; with a delivery id, its syncs name the delivery in the audit trail.
/// The paths the push changed, when the payload lists them, put the apps under them first.
fn notify(state: &ApiState, url: &str, delivery: Option<&str>, push: &webhook::Push) -> usize {
    let commits: Vec<String> = push.refs.iter().filter_map(|r| r.after.clone()).collect();
    state.engine.notify_webhook_push(url, delivery, &commits, push.changed_paths.as_ref())
}

/// The engine matches repositories by [`ferry_source::RepoUrl::key`] (host and path, no scheme or
/// port); a URL built from a key has that same key.
fn url_of_key(key: &str) -> String {
    match key.strip_prefix("file:") {
        Some(path) => format!("file://{path}"),
        None => format!("https://{key}"),
    }
}

fn outcome_of(e: &ApiError) -> &'static str {
    match e {
        ApiError::BodyTooLarge { .. } | ApiError::Webhook(WebhookError::TooLarge { .. }) => {
            "too_large"
        }
        ApiError::Webhook(
            WebhookError::BadSignature { .. } | WebhookError::MissingSignature { .. },
        ) => "unauthorized",
        ApiError::Webhook(WebhookError::NotConfigured { .. }) => "not_configured",
        _ => "malformed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_source::RepoUrl;

    #[test]
    fn a_url_built_from_a_key_has_the_same_key() {
        for raw in [
            "https://github.com/org/repo.git",
            "git@github.com:org/repo.git",
            "git://127.0.0.1:9418/config.git",
            "file:///srv/git/demo.git",
        ] {
            let key = RepoUrl::parse(raw).expect("valid url").key();
            let back = RepoUrl::parse(&url_of_key(&key)).expect("the rebuilt url parses");
            assert_eq!(back.key(), key, "{raw}");
        }
    }

    #[test]
    fn provider_paths_name_every_provider() {
        for name in PROVIDER_NAMES {
            assert!(provider_named(name).is_some(), "{name}");
        }
        assert_eq!(provider_named("svn"), None);
    }
}
