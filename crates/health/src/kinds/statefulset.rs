//! StatefulSet: readiness, partitioned rolling updates and the OnDelete strategy.

use serde_json::Value;

use crate::object::{count_at, generation_not_observed, int_at, str_at};
use crate::status::Health;

pub(crate) fn health(obj: &Value) -> Health {
    if let Some(waiting) = generation_not_observed(obj, "StatefulSet", false) {
        return waiting;
    }
    let desired = int_at(obj, &["spec", "replicas"]).unwrap_or(1);
    let ready = count_at(obj, &["status", "readyReplicas"]);
    if ready < desired {
        return Health::progressing(format!("waiting for pods: {ready} of {desired} are ready"));
    }
    let strategy = str_at(obj, &["spec", "updateStrategy", "type"]).unwrap_or("RollingUpdate");
    if strategy == "OnDelete" {
        // With OnDelete the controller never replaces pods by itself, so a revision mismatch is
        // expected until someone deletes them: judge readiness only.
        return Health::healthy(format!(
            "{ready} pods are ready (OnDelete: pods are updated when deleted)"
        ));
    }
    let updated = count_at(obj, &["status", "updatedReplicas"]);
    if let Some(partition) = int_at(obj, &["spec", "updateStrategy", "rollingUpdate", "partition"])
        && partition > 0
    {
        // Pods with an ordinal below the partition stay on the old revision on purpose.
        let expected = (desired - partition).max(0);
        if updated < expected {
            return Health::progressing(format!(
                "waiting for the partitioned rollout: {updated} of {expected} pods above partition {partition} are updated"
            ));
        }
        return Health::healthy(format!(
            "partitioned rollout complete: {updated} pods updated, {partition} held back by the partition"
        ));
    }
    let current_revision = str_at(obj, &["status", "currentRevision"]).unwrap_or("");
    let update_revision = str_at(obj, &["status", "updateRevision"]).unwrap_or("");
    if !update_revision.is_empty() && current_revision != update_revision {
        return Health::progressing(format!(
            "waiting for the rolling update: {updated} of {desired} pods run revision {update_revision}"
        ));
    }
    Health::healthy(format!("{ready} of {desired} pods are ready"))
}
