//! Service: only a LoadBalancer has something to wait for (its external address).

use serde_json::Value;

use crate::object::{at, str_at};
use crate::status::Health;

pub(crate) fn health(obj: &Value) -> Health {
    if str_at(obj, &["spec", "type"]) != Some("LoadBalancer") {
        return Health::healthy("");
    }
    let has_address = at(obj, &["status", "loadBalancer", "ingress"])
        .and_then(Value::as_array)
        .is_some_and(|ingress| !ingress.is_empty());
    if has_address {
        Health::healthy("the load balancer has an address")
    } else {
        Health::progressing("waiting for the load balancer to get an address")
    }
}
