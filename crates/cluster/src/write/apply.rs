//! The one place where the server calls the server-side apply, patch and defaulting model of
//! `ferry-diff`, adapting its errors to API errors.

use ferry_diff::Schema;
use ferry_diff::ssa::{self, ApplyError, Operation, Params};
use serde_json::{Value, json};

use crate::error::ApiError;

fn apply_error(e: ApplyError) -> ApiError {
    match &e {
        ApplyError::Conflict { conflicts } => {
            let causes: Vec<Value> = conflicts
                .iter()
                .map(|c| json!({"reason": "FieldManagerConflict", "message": format!("conflict with {}", c.manager_description), "field": c.path}))
                .collect();
            ApiError::new(409, "Conflict", e.to_string()).with_details(json!({"causes": causes}))
        }
        ApplyError::Invalid { .. }
        | ApplyError::Fields { .. }
        | ApplyError::ManagedFields { .. } => ApiError::new(422, "Invalid", error_chain(&e)),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        text.push_str(": ");
        text.push_str(&s.to_string());
        cur = s.source();
    }
    text
}

/// Server-side apply of `applied` by `manager` onto `live` (None on create).
pub fn server_side_apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    subresource: Option<&str>,
    force: bool,
    now: &str,
    schema: &Schema,
) -> Result<Value, ApiError> {
    let params = Params { manager, subresource, now, force };
    ssa::apply_with(live, applied, &params, schema).map(|a| a.object).map_err(apply_error)
}

/// Records that `manager` wrote `new` (over `live`) with a create, update or patch.
pub fn track_update(
    live: Option<&Value>,
    new: Value,
    manager: &str,
    subresource: Option<&str>,
    now: &str,
    schema: &Schema,
) -> Result<Value, ApiError> {
    let params = Params { manager, subresource, now, force: false };
    ssa::update_with(live, &new, &params, Operation::Update, schema).map_err(apply_error)
}

/// Fills the fields a real API server defaults for built-in kinds.
pub fn apply_defaults(obj: &mut Value) {
    ferry_diff::apply_defaults(obj);
}

pub fn merge_patch(live: &Value, patch: &Value) -> Result<Value, ApiError> {
    if !patch.is_object() {
        return Err(ApiError::bad_request("a merge patch must be a JSON object"));
    }
    Ok(ferry_diff::merge_patch(live, patch))
}

pub fn json_patch(live: &Value, patch: &Value) -> Result<Value, ApiError> {
    ferry_diff::json_patch(live, patch).map_err(|e| match e {
        ferry_diff::PatchError::JsonPatchInvalid(_) => ApiError::bad_request(error_chain(&e)),
        _ => ApiError::new(422, "Invalid", error_chain(&e)),
    })
}

pub fn strategic_merge_patch(
    live: &Value,
    patch: &Value,
    schema: &Schema,
) -> Result<Value, ApiError> {
    ferry_diff::strategic_merge(live, patch, schema).map_err(|e| match e {
        ferry_diff::PatchError::StrategicMergeUnsupported { .. } => {
            ApiError::new(415, "UnsupportedMediaType", e.to_string())
        }
        _ => ApiError::bad_request(error_chain(&e)),
    })
}
