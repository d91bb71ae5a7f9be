//! Masking Secret values.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::FieldChange;

/// What a masked value starts with.
pub const MASK: &str = "++++++++";

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// `++++++++ (h:1a2b3c4d)`: the value hidden, a short hash keyed by `key` so two different
/// values read differently. Without a key there is no hash: an unkeyed hash would let anyone
/// confirm a guessed value.
pub fn mask_value(value: &Value, key: &str) -> Value {
    if key.is_empty() {
        return Value::String(MASK.to_owned());
    }
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut h = Sha256::new();
    h.update(key.as_bytes());
    h.update([0u8]);
    h.update(text.as_bytes());
    let digest = h.finalize();
    let short: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    Value::String(format!("{MASK} (h:{short})"))
}

fn mask_map(v: &mut Value, key: &str) {
    match v {
        Value::Object(m) => {
            for val in m.values_mut() {
                *val = mask_value(val, key);
            }
        }
        other => *other = mask_value(other, key),
    }
}

/// Whether `obj` is a v1 Secret (the only kind whose values are masked).
pub fn is_secret(obj: &Value) -> bool {
    obj.get("apiVersion").and_then(Value::as_str) == Some("v1")
        && obj.get("kind").and_then(Value::as_str) == Some("Secret")
}

/// Masks the values of a v1 Secret's `data` and `stringData` (and the last-applied
/// annotation, which copies them), for logs, CLI output and API responses, hashed with `key`
/// (see [`mask_value`]). Other objects are untouched.
pub fn mask_secret(obj: &mut Value, key: &str) {
    if !is_secret(obj) {
        return;
    }
    for field in ["data", "stringData"] {
        if let Some(v) = obj.get_mut(field) {
            mask_map(v, key);
        }
    }
    if let Some(a) = obj.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut)
        && let Some(v) = a.get_mut(LAST_APPLIED)
    {
        *v = mask_value(v, key);
    }
}

/// Masks both sides of a change to a Secret field that can hold secret values.
pub(super) fn mask_change(mut c: FieldChange, key: &str) -> FieldChange {
    let whole = c.path == ".data" || c.path == ".stringData";
    let one = c.path.starts_with(".data.") || c.path.starts_with(".stringData.");
    let annotation = c.path == ".metadata.annotations" || c.path.contains(LAST_APPLIED);
    let root_level = c.path.is_empty();
    for side in [&mut c.desired, &mut c.live].into_iter().flatten() {
        if whole {
            mask_map(side, key);
        } else if one {
            *side = mask_value(side, key);
        } else if annotation {
            if let Some(m) = side.as_object_mut() {
                if let Some(v) = m.get_mut(LAST_APPLIED) {
                    *v = mask_value(v, key);
                }
            } else {
                *side = mask_value(side, key);
            }
        } else if root_level {
            mask_secret(side, key);
        }
    }
    c
}
