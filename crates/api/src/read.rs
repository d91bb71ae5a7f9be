//! Read endpoints. They answer from the engine's caches: listing apps makes no API call.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_engine::Application;
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use crate::access::Caller;
use crate::dto::*;
use crate::error::ApiError;
use crate::query::ListQuery;
use crate::state::ApiState;

/// The app `namespace/name` as the engine last saw it.
pub(crate) fn find(
    state: &ApiState,
    namespace: &str,
    name: &str,
) -> Result<Arc<Application>, ApiError> {
    state
        .engine
        .applications()
        .into_iter()
        .find(|a| a.namespace().as_deref() == Some(namespace) && a.name_any() == name)
        .ok_or_else(|| ApiError::NotFound {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
}

/// Lists the apps the caller may `get` (Argo CD's list filters the same way), filtered, sorted
/// and paged on the server ([`crate::query`]).
pub(crate) async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<std::collections::BTreeMap<String, String>>,
) -> Result<Json<AppList>, ApiError> {
    let query = ListQuery::parse(&params)
        .map_err(|e| ApiError::BadRequest { message: e.to_string(), hint: e.hint() })?;
    let page = query.run(visible_summaries(&state, &caller));
    Ok(Json(AppList {
        items: page.items,
        total: page.total,
        counts: page.counts,
        facets: page.facets,
    }))
}

/// The summaries of the apps `caller` may `get`.
pub(crate) fn visible_summaries(state: &ApiState, caller: &Caller) -> Vec<AppSummary> {
    let policy = state.access.policy();
    let grants = policy.grants(&caller.subjects());
    let records = state.engine.repo_records();
    state
        .engine
        .applications()
        .iter()
        .filter(|a| {
            let object =
                format!("{}/{}/{}", a.project(), a.namespace().unwrap_or_default(), a.name_any());
            grants.allows("applications", "get", &object)
        })
        .map(|a| AppSummary::new(a.as_ref(), &records))
        .collect()
}

/// The Application object itself, as `kubectl get -o json` shows it, without managedFields;
/// when its repository record verified it unchanged at a later commit than its status says,
/// `status.sync.verifiedRevision` and `status.sync.verifiedAt` (added here, not stored) say so.
pub(crate) async fn get(
    State(state): State<ApiState>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut app = find(&state, &namespace, &name)?.as_ref().clone();
    app.metadata.managed_fields = None;
    let records = state.engine.repo_records();
    let at = ferry_engine::records::effective_in(&app, &records);
    let verified = at.checked_at.map(|when| (at.revision.to_owned(), when.to_owned()));
    let mut value = serde_json::to_value(&app).unwrap_or_default();
    if let Some((revision, when)) = verified
        && let Some(sync) = value.pointer_mut("/status/sync").and_then(|s| s.as_object_mut())
    {
        sync.insert("verifiedRevision".into(), revision.into());
        sync.insert("verifiedAt".into(), when.into());
    }
    Ok(Json(value))
}

pub(crate) async fn resources(
    State(state): State<ApiState>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<ResourceList>, ApiError> {
    let app = find(&state, &namespace, &name)?;
    let items = app
        .status
        .as_ref()
        .map(|s| s.resources.iter().map(ResourceDto::from).collect())
        .unwrap_or_default();
    Ok(Json(ResourceList { items }))
}

pub(crate) async fn diff(
    State(state): State<ApiState>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<DiffList>, ApiError> {
    find(&state, &namespace, &name)?;
    let items = state
        .engine
        .diffs(&namespace, &name)
        .iter()
        // An object in sync is listed when ignore rules hide a difference: shown greyed.
        .filter(|d| !d.in_sync() || !d.ignored.is_empty())
        .map(ObjectDiffDto::from)
        .collect();
    Ok(Json(DiffList { items }))
}

pub(crate) async fn history(
    State(state): State<ApiState>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<HistoryList>, ApiError> {
    let app = find(&state, &namespace, &name)?;
    let status = app.status.clone().unwrap_or_default();
    // Only the newest entry of the revision synced now is what runs now (a revision synced
    // twice has two entries).
    let current =
        status.history.iter().rev().find(|h| h.revision == status.sync.revision).map(|h| h.id);
    let mut items: Vec<HistoryDto> =
        status.history.iter().map(|h| HistoryDto::new(h, Some(h.id) == current)).collect();
    items.sort_by_key(|h| std::cmp::Reverse(h.id));
    Ok(Json(HistoryList { items }))
}

pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when the cluster answers a list of Applications: the CRD is installed and the engine's
/// client works.
pub(crate) async fn readyz(State(state): State<ApiState>) -> Response {
    let api: Api<Application> = Api::all(state.engine.client().clone());
    let params = ListParams::default().limit(1);
    let probe = tokio::time::timeout(Duration::from_secs(2), api.list_metadata(&params));
    let (code, message) = match probe.await {
        Ok(Ok(_)) => (StatusCode::OK, "the cluster answers and the engine is running".to_owned()),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the cluster refused a list of Applications: {e}"),
        ),
        Err(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "the cluster did not answer within 2s".to_owned())
        }
    };
    let body = Readiness {
        ready: code == StatusCode::OK,
        message,
        applications: state.engine.applications().len(),
    };
    (code, Json(body)).into_response()
}
