//! DaemonSet: every scheduled node runs an updated, available pod.

use serde_json::Value;

use crate::object::{count_at, generation_not_observed, str_at};
use crate::status::Health;

pub(crate) fn health(obj: &Value) -> Health {
    if let Some(waiting) = generation_not_observed(obj, "DaemonSet", false) {
        return waiting;
    }
    let desired = count_at(obj, &["status", "desiredNumberScheduled"]);
    let available = count_at(obj, &["status", "numberAvailable"]);
    let strategy = str_at(obj, &["spec", "updateStrategy", "type"]).unwrap_or("RollingUpdate");
    if strategy != "OnDelete" {
        let updated = count_at(obj, &["status", "updatedNumberScheduled"]);
        if updated < desired {
            return Health::progressing(format!(
                "waiting for the rollout: {updated} of {desired} nodes run the new version"
            ));
        }
    }
    if available < desired {
        return Health::progressing(format!(
            "waiting for pods: {available} of {desired} scheduled pods are available"
        ));
    }
    Health::healthy(format!("{available} of {desired} scheduled pods are available"))
}
