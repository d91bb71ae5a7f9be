//! Fault injection for reliability tests: failing writes, latency, dropped watches and denied
//! deletes, set through `POST /ferry/faults` (JSON) or in-process.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiError;
use crate::http::Shared;
use crate::selector::Selector;

/// The faults in force. All off by default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    /// Status code returned instead of performing a share of writes (e.g. 500, 503, 429).
    pub write_error_code: Option<u16>,
    /// Share of writes that fail, 0.0 to 1.0 (deterministic: every 1/ratio-th write).
    pub write_error_ratio: f64,
    /// Only writes to this resource fail, as `apiserver_request_total` names it with its
    /// subresource: `configmaps`, `applications.ferry.dev/status`. All writes when unset.
    pub write_error_resource: Option<String>,
    /// Added to every resource request.
    pub latency_ms: u64,
    /// Watches end after this long (clients must resume).
    pub drop_watches_after_ms: Option<u64>,
    /// A watch resumed from a resourceVersion gets `410 Gone` ("too old resource version"), as
    /// when etcd compacted past it: clients must list again.
    pub expire_watches: bool,
    /// Deletes of objects matching this label selector are denied, like an admission webhook would.
    pub deny_delete_selector: Option<String>,
}

static WRITES: AtomicU64 = AtomicU64::new(0);

impl Faults {
    pub fn validate(&self) -> Result<(), ApiError> {
        if !(0.0..=1.0).contains(&self.write_error_ratio) {
            return Err(ApiError::bad_request("writeErrorRatio must be between 0 and 1"));
        }
        if let Some(code) = self.write_error_code
            && !(400..=599).contains(&code)
        {
            return Err(ApiError::bad_request(format!(
                "writeErrorCode {code} is not an error status"
            )));
        }
        if let Some(sel) = &self.deny_delete_selector {
            Selector::parse(sel).map_err(|e| ApiError::bad_request(e.to_string()))?;
        }
        Ok(())
    }

    /// The injected error for the next write to `resource`, if this one is chosen to fail.
    pub fn write_error(&self, resource: &str) -> Option<ApiError> {
        let code = self.write_error_code?;
        if self.write_error_resource.as_deref().is_some_and(|r| r != resource) {
            return None;
        }
        if self.write_error_ratio <= 0.0 {
            return None;
        }
        let n = WRITES.fetch_add(1, Ordering::Relaxed) as f64;
        let fails =
            ((n + 1.0) * self.write_error_ratio).floor() > (n * self.write_error_ratio).floor();
        fails.then(|| {
            let reason = match code {
                429 => "TooManyRequests",
                503 => "ServiceUnavailable",
                409 => "Conflict",
                _ => "InternalError",
            };
            ApiError::new(code, reason, format!("injected fault: write failed with {code}"))
        })
    }

    pub fn denies_delete(&self, obj: &Value) -> Option<ApiError> {
        let sel = Selector::parse(self.deny_delete_selector.as_deref()?).ok()?;
        if sel.is_empty() || !sel.matches_labels(obj) {
            return None;
        }
        let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        Some(ApiError::new(
            403,
            "Forbidden",
            format!(
                "admission webhook \"deny-delete.ferry.dev\" denied the request: deleting {name} is not allowed (labels match {:?})",
                self.deny_delete_selector.as_deref().unwrap_or_default()
            ),
        ))
    }

    pub fn latency(&self) -> Option<Duration> {
        (self.latency_ms > 0).then(|| Duration::from_millis(self.latency_ms))
    }
}

pub async fn get(State(st): State<Shared>) -> Response {
    Json(st.faults()).into_response()
}

pub async fn set(State(st): State<Shared>, body: axum::body::Bytes) -> Response {
    let faults: Faults = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => {
            return ApiError::bad_request(format!("the fault settings are not valid: {e}"))
                .into_response();
        }
    };
    if let Err(e) = faults.validate() {
        return e.into_response();
    }
    st.set_faults(faults.clone());
    Json(faults).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ratio_of_a_half_fails_every_other_write() {
        let f = Faults { write_error_code: Some(503), write_error_ratio: 0.5, ..Faults::default() };
        let failed = (0..10).filter(|_| f.write_error("configmaps").is_some()).count();
        assert_eq!(failed, 5);
    }

    #[test]
    fn a_fault_for_one_resource_leaves_writes_to_others_alone() {
        let f = Faults {
            write_error_code: Some(500),
            write_error_ratio: 1.0,
            write_error_resource: Some("applications.ferry.dev/status".into()),
            ..Faults::default()
        };
        assert!(f.write_error("applications.ferry.dev/status").is_some());
        assert!(f.write_error("applications.ferry.dev").is_none());
        assert!(f.write_error("configmaps").is_none());
    }

    #[test]
    fn deletes_are_denied_only_for_matching_labels() {
        let f = Faults { deny_delete_selector: Some("protected=true".into()), ..Faults::default() };
        let yes = serde_json::json!({"metadata": {"name": "a", "labels": {"protected": "true"}}});
        let no = serde_json::json!({"metadata": {"name": "b"}});
        assert_eq!(f.denies_delete(&yes).map(|e| e.code), Some(403));
        assert!(f.denies_delete(&no).is_none());
    }
}
