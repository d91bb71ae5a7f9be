//! Namespace: Active, or Terminating while its contents are deleted.

use serde_json::Value;

use crate::object::str_at;
use crate::status::Health;

pub(crate) fn health(obj: &Value) -> Health {
    match str_at(obj, &["status", "phase"]) {
        Some("Terminating") => Health::progressing("the namespace is terminating"),
        _ => Health::healthy(""),
    }
}
