//! `POST /api/v1/plan`: what merging a change would do to the live clusters (`ferry plan`
//! inside the engine, with its repository cache, credentials and cluster connections). Reads
//! only; the answer is the plan as JSON plus its Markdown (a PR comment) and headline.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use ferry_engine::plan::{PlanRequest, markdown};
use serde_json::Value;

use crate::error::ApiError;
use crate::state::ApiState;

const EXAMPLE: &str =
    r#"{"repoURL": "https://git.example.com/org/config.git", "base": "main", "head": "pr-42"}"#;

pub(crate) async fn plan(
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let invalid = |why: String| ApiError::BadRequest {
        message: format!("the plan request is not valid: {why}"),
        hint: format!("send JSON like {EXAMPLE}"),
    };
    let req: PlanRequest = serde_json::from_slice(&body).map_err(|e| invalid(e.to_string()))?;
    for (field, value) in [("repoURL", &req.repo_url), ("base", &req.base), ("head", &req.head)] {
        if value.trim().is_empty() {
            return Err(invalid(format!("{field} is empty")));
        }
    }
    let planned = state.engine().plan(&req).await.map_err(|e| ApiError::Plan(Box::new(e)))?;
    let mut answer = serde_json::to_value(&planned).unwrap_or_default();
    answer["headline"] = Value::String(planned.headline());
    answer["markdown"] = Value::String(markdown(&planned));
    answer["exitCode"] = Value::from(planned.exit_code());
    Ok(Json(answer))
}
