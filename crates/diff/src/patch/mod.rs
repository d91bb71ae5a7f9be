//! The patch formats kube-apiserver accepts besides apply: strategic merge patch
//! (`application/strategic-merge-patch+json`), JSON merge patch (`application/merge-patch+json`,
//! RFC 7386) and JSON patch (`application/json-patch+json`, RFC 6902).

mod strategic;

use serde_json::Value;

pub use strategic::strategic_merge;

/// Errors applying a patch.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// Custom resources do not support strategic merge patch (kube-apiserver answers 415).
    #[error("strategic merge patch is not supported for {kind}; use a merge patch or JSON patch")]
    StrategicMergeUnsupported { kind: String },
    /// The patch or the object is not a JSON object.
    #[error("{what} must be a JSON object")]
    NotAnObject { what: &'static str },
    /// An unknown or malformed `$` directive.
    #[error("patch at {path}: invalid directive {directive}")]
    BadDirective { path: String, directive: String },
    /// An item of a list merged by key lacks the key.
    #[error("patch at {path}: list item lacks merge key {key:?}")]
    MergeKeyMissing { path: String, key: String },
    /// The patch nests deeper than the cap.
    #[error("patch at {path} nests deeper than {max} levels")]
    TooDeep { path: String, max: usize },
    /// A JSON patch document is not a list of operations.
    #[error("invalid JSON patch document")]
    JsonPatchInvalid(#[source] serde_json::Error),
    /// A JSON patch operation failed (a `test` that does not hold, a missing path).
    #[error("JSON patch failed")]
    JsonPatchFailed(#[source] json_patch::PatchError),
}

/// `original` with an RFC 7386 merge patch applied (`null` deletes, objects merge, the rest
/// replaces).
pub fn merge_patch(original: &Value, patch: &Value) -> Value {
    let mut doc = original.clone();
    json_patch::merge(&mut doc, patch);
    doc
}

/// `original` with an RFC 6902 JSON patch applied; all operations or none.
pub fn json_patch(original: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(PatchError::JsonPatchInvalid)?;
    let mut doc = original.clone();
    json_patch::patch(&mut doc, &ops).map_err(PatchError::JsonPatchFailed)?;
    Ok(doc)
}
