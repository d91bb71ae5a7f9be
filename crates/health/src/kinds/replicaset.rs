//! ReplicaSet: available replicas, and the ReplicaFailure condition (quota, admission errors).

use serde_json::Value;

use crate::object::{condition, count_at, generation_not_observed, int_at};
use crate::status::Health;

pub(crate) fn health(obj: &Value) -> Health {
    if let Some(waiting) = generation_not_observed(obj, "ReplicaSet", false) {
        return waiting;
    }
    if let Some(failure) = condition(obj, "ReplicaFailure")
        && failure.is_true()
    {
        return Health::degraded(format!("pods cannot be created: {}", failure.explanation()));
    }
    let desired = int_at(obj, &["spec", "replicas"]).unwrap_or(1);
    let available = count_at(obj, &["status", "availableReplicas"]);
    if available < desired {
        return Health::progressing(format!(
            "waiting for pods: {available} of {desired} replicas are available"
        ));
    }
    Health::healthy(format!("{available} of {desired} replicas are available"))
}
