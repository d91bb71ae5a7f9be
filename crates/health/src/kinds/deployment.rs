//! Deployment: the rollout logic of `kubectl rollout status` plus the progress deadline.

use serde_json::Value;

use crate::object::{bool_at, condition, count_at, generation_not_observed, int_at};
use crate::status::Health;

pub(crate) fn health(obj: &Value) -> Health {
    // A paused Deployment will not roll out until someone resumes it: that is a choice, not a
    // failure, and waiting will not change it.
    if bool_at(obj, &["spec", "paused"]) {
        return Health::suspended("the Deployment is paused");
    }
    if let Some(waiting) = generation_not_observed(obj, "Deployment", false) {
        return waiting;
    }
    if let Some(progressing) = condition(obj, "Progressing")
        && progressing.reason == "ProgressDeadlineExceeded"
    {
        return Health::degraded(format!(
            "the rollout exceeded its progress deadline: {}",
            progressing.explanation()
        ));
    }
    // `spec.replicas` defaults to 1 on the server; a manifest read before defaulting may omit it.
    let desired = int_at(obj, &["spec", "replicas"]).unwrap_or(1);
    let updated = count_at(obj, &["status", "updatedReplicas"]);
    let total = count_at(obj, &["status", "replicas"]);
    let available = count_at(obj, &["status", "availableReplicas"]);
    if updated < desired {
        return Health::progressing(format!(
            "waiting for the rollout: {updated} of {desired} replicas run the new version"
        ));
    }
    if total > updated {
        return Health::progressing(format!(
            "waiting for the rollout: {} old replicas are still terminating",
            total - updated
        ));
    }
    if available < updated {
        return Health::progressing(format!(
            "waiting for the rollout: {available} of {updated} updated replicas are available"
        ));
    }
    Health::healthy(format!("{available} of {desired} replicas are available"))
}
