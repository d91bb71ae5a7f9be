//! HTTP endpoints of the review and TokenRequest APIs (logic in [`crate::auth::reviews`]).

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;

use super::write::parse_body;
use super::{RequestInfo, Shared, json_response};
use crate::auth::{UserInfo, reviews};
use crate::error::ApiError;

fn respond(resource: &str, result: Result<Value, ApiError>) -> Response {
    let mut resp = match result {
        Ok(v) => json_response(201, &v),
        Err(e) => e.into_response(),
    };
    resp.extensions_mut().insert(RequestInfo { verb: "POST", resource: resource.to_string() });
    resp
}

pub async fn token(
    State(st): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result =
        parse_body(&headers, &body).and_then(|b| reviews::token_request(&st, &ns, &name, &b));
    respond("serviceaccounts", result)
}

pub async fn self_subject_access_review(
    State(st): State<Shared>,
    Extension(user): Extension<UserInfo>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = parse_body(&headers, &body)
        .and_then(|b| reviews::self_subject_access_review(&st, &user, &b));
    respond("selfsubjectaccessreviews.authorization.k8s.io", result)
}

pub async fn subject_access_review(
    State(st): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result =
        parse_body(&headers, &body).and_then(|b| reviews::subject_access_review(&st, None, &b));
    respond("subjectaccessreviews.authorization.k8s.io", result)
}

pub async fn local_subject_access_review(
    State(st): State<Shared>,
    Path(ns): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = parse_body(&headers, &body)
        .and_then(|b| reviews::subject_access_review(&st, Some(&ns), &b));
    respond("localsubjectaccessreviews.authorization.k8s.io", result)
}

pub async fn self_subject_review(Extension(user): Extension<UserInfo>) -> Response {
    respond("selfsubjectreviews.authentication.k8s.io", Ok(reviews::self_subject_review(&user)))
}

pub async fn self_subject_rules_review(
    State(st): State<Shared>,
    Extension(user): Extension<UserInfo>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = parse_body(&headers, &body)
        .and_then(|b| reviews::self_subject_rules_review(&st, &user, &b));
    respond("selfsubjectrulesreviews.authorization.k8s.io", result)
}
