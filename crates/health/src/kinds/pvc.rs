//! PersistentVolumeClaim: Bound, Pending (waiting for a volume) or Lost.

use serde_json::Value;

use crate::object::str_at;
use crate::status::Health;

pub(crate) fn health(obj: &Value) -> Health {
    match str_at(obj, &["status", "phase"]) {
        Some("Bound") => Health::healthy("the claim is bound to a volume"),
        Some("Pending") => Health::progressing("the claim is waiting for a volume"),
        Some("Lost") => Health::degraded("the claim lost its volume"),
        Some(other) => Health::unknown(format!("the claim is in unknown phase {other:?}")),
        None => Health::progressing("the claim has no phase yet"),
    }
}
