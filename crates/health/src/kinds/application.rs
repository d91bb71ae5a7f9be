//! Application (Ferry's `ferry.dev` and Argo CD's `argoproj.io`): an app of apps is as healthy
//! as its child says, as Argo CD's own rule reads it: `status.health.status`, with its message.
//! No status yet is Progressing (the child's controller has not looked at it), and a Ferry
//! child whose `status.observedGeneration` is behind `metadata.generation` is Progressing too:
//! its health is about a spec that is no longer the one applied. A wave of children therefore
//! waits until each child has reconciled its new spec and is Healthy.

use serde_json::Value;

use crate::object::{int_at, str_at};
use crate::status::{Health, HealthStatus};

pub(crate) fn health(obj: &Value) -> Health {
    let Some(status) = str_at(obj, &["status", "health", "status"]) else {
        return Health::progressing(
            "the Application has no health yet: its controller has not reconciled it",
        );
    };
    let generation = int_at(obj, &["metadata", "generation"]);
    let observed = int_at(obj, &["status", "observedGeneration"]);
    if let (Some(generation), Some(observed)) = (generation, observed)
        && observed < generation
    {
        return Health::progressing(format!(
            "the Application's controller has not reconciled generation {generation} yet (it reported on {observed})"
        ));
    }
    let message = str_at(obj, &["status", "health", "message"]).unwrap_or_default();
    match status {
        "Healthy" => Health::new(HealthStatus::Healthy, message),
        "Suspended" => Health::new(HealthStatus::Suspended, message),
        "Progressing" => Health::new(HealthStatus::Progressing, message),
        "Missing" => Health::new(HealthStatus::Missing, message),
        "Degraded" => Health::new(HealthStatus::Degraded, message),
        "Unknown" => Health::new(HealthStatus::Unknown, message),
        other => Health::unknown(format!(
            "the Application reports health {other:?}, which Ferry does not know"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(status: Value) -> Value {
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
               "metadata": {"name": "guestbook", "generation": 2}, "status": status})
    }

    #[test]
    fn a_child_application_is_as_healthy_as_its_status_says() {
        let cases = [
            ("Healthy", HealthStatus::Healthy),
            ("Progressing", HealthStatus::Progressing),
            ("Degraded", HealthStatus::Degraded),
            ("Suspended", HealthStatus::Suspended),
            ("Missing", HealthStatus::Missing),
            ("Unknown", HealthStatus::Unknown),
            ("Sideways", HealthStatus::Unknown),
        ];
        for (reported, expected) in cases {
            let h = health(&app(json!({"health": {"status": reported, "message": "m"}})));
            assert_eq!(h.status, expected, "{reported}");
        }
    }

    #[test]
    fn a_child_with_no_status_yet_is_progressing() {
        assert_eq!(health(&app(Value::Null)).status, HealthStatus::Progressing);
    }

    #[test]
    fn a_child_that_has_not_reconciled_its_new_spec_is_progressing_whatever_it_said_before() {
        let stale = json!({"health": {"status": "Healthy"}, "observedGeneration": 1});
        assert_eq!(health(&app(stale)).status, HealthStatus::Progressing);
        let fresh = json!({"health": {"status": "Healthy"}, "observedGeneration": 2});
        assert_eq!(health(&app(fresh)).status, HealthStatus::Healthy);
    }
}
