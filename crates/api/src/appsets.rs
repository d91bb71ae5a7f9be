//! `GET /api/v1/applicationsets` and `GET /api/v1/applicationsets/{namespace}/{name}`: the
//! ApplicationSets as the engine last saw them (no cluster request). Argo CD's RBAC resource
//! `applicationsets`: a set is named `PROJECT/NAMESPACE/NAME`, its project the one its template
//! names (`default` when none); a set the caller may not get is not listed, and reads as 404.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, State};
use ferry_engine::appset::ApplicationSet;
use kube::ResourceExt;
use serde_json::{Value, json};

use crate::access::Caller;
use crate::error::ApiError;
use crate::state::ApiState;

fn object(set: &ApplicationSet) -> String {
    let project =
        set.spec.template.spec.get("project").and_then(Value::as_str).filter(|p| !p.is_empty());
    let project = project.unwrap_or(ferry_engine::application::DEFAULT_PROJECT);
    format!("{project}/{}/{}", set.namespace().unwrap_or_default(), set.name_any())
}

fn visible(state: &ApiState, caller: &Caller) -> Vec<Arc<ApplicationSet>> {
    let policy = state.access.policy();
    let grants = policy.grants(&caller.subjects());
    let mut sets: Vec<Arc<ApplicationSet>> = state
        .engine
        .application_sets()
        .into_iter()
        .filter(|s| grants.allows("applicationsets", "get", &object(s)))
        .collect();
    sets.sort_by_key(|s| (s.namespace(), s.name_any()));
    sets
}

fn shown(set: &ApplicationSet) -> Value {
    let mut set = set.clone();
    set.metadata.managed_fields = None;
    let mut v = serde_json::to_value(&set).unwrap_or_default();
    v["apiVersion"] = json!("ferry.dev/v1alpha1");
    v["kind"] = json!("ApplicationSet");
    v
}

pub(crate) async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
) -> Json<Value> {
    let items: Vec<Value> = visible(&state, &caller).iter().map(|s| shown(s)).collect();
    Json(json!({"items": items}))
}

pub(crate) async fn get(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    visible(&state, &caller)
        .iter()
        .find(|s| s.namespace().as_deref() == Some(namespace.as_str()) && s.name_any() == name)
        .map(|s| Json(shown(s)))
        .ok_or(ApiError::SetNotFound { namespace, name })
}
