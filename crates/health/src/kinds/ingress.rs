//! Ingress: healthy once the ingress controller published an address.

use serde_json::Value;

use crate::object::at;
use crate::status::Health;

pub(crate) fn health(obj: &Value) -> Health {
    let has_address = at(obj, &["status", "loadBalancer", "ingress"])
        .and_then(Value::as_array)
        .is_some_and(|ingress| !ingress.is_empty());
    if has_address {
        Health::healthy("the ingress has an address")
    } else {
        // Argo CD makes the same call: without an address traffic cannot reach it yet.
        Health::progressing("waiting for the ingress controller to publish an address")
    }
}
