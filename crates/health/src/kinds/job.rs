//! Job: Complete, Failed (or about to fail), suspended, or still running.

use serde_json::Value;

use crate::object::{bool_at, condition, count_at};
use crate::status::Health;

pub(crate) fn health(obj: &Value) -> Health {
    // `FailureTarget` is set (since 1.31) as soon as the controller decided the Job failed,
    // before its pods are gone and `Failed` is written: judging then avoids a Progressing blip.
    for failed_type in ["Failed", "FailureTarget"] {
        if let Some(failed) = condition(obj, failed_type)
            && failed.is_true()
        {
            return Health::degraded(format!("the Job failed: {}", failed.explanation()));
        }
    }
    if let Some(complete) = condition(obj, "Complete")
        && complete.is_true()
    {
        let succeeded = count_at(obj, &["status", "succeeded"]);
        return Health::healthy(format!("the Job completed ({succeeded} pods succeeded)"));
    }
    if bool_at(obj, &["spec", "suspend"])
        || condition(obj, "Suspended").is_some_and(|suspended| suspended.is_true())
    {
        return Health::suspended("the Job is suspended");
    }
    let active = count_at(obj, &["status", "active"]);
    Health::progressing(format!("the Job is running ({active} active pods)"))
}
