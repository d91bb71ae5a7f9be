//! Any other kind: the conventions most controllers follow (kstatus): `status.observedGeneration`
//! and the `Stalled` / `Reconciling` / `Ready` / `Available` conditions.

use serde_json::Value;

use crate::object::{at, condition, generation_not_observed, int_at};
use crate::status::Health;

pub(crate) fn health(obj: &Value) -> Health {
    // Objects without a status (ConfigMap, Secret, RBAC, …) have nothing to wait for.
    let has_status =
        at(obj, &["status"]).and_then(Value::as_object).is_some_and(|status| !status.is_empty());
    if !has_status {
        return Health::healthy("");
    }
    if let Some(waiting) = generation_not_observed(obj, "resource", true) {
        return waiting;
    }
    // kstatus: Stalled=True means the controller gave up until something changes.
    if let Some(stalled) = condition(obj, "Stalled")
        && stalled.is_true()
    {
        return Health::degraded(format!("stalled: {}", stalled.explanation()));
    }
    if let Some(reconciling) = condition(obj, "Reconciling")
        && reconciling.is_true()
    {
        return Health::progressing(format!("reconciling: {}", reconciling.explanation()));
    }
    let generation = int_at(obj, &["metadata", "generation"]);
    for type_ in ["Ready", "Available"] {
        let Some(cond) = condition(obj, type_) else {
            continue;
        };
        if let (Some(generation), Some(observed)) = (generation, cond.observed_generation)
            && observed < generation
        {
            return Health::progressing(format!(
                "waiting for the controller to report {type_} for generation {generation} (it reported generation {observed})"
            ));
        }
        if cond.is_false() {
            // The controller observed this generation, is not reconciling, and says "not
            // ready": that is its verdict, like Argo CD's checks for Flux and cert-manager.
            return Health::degraded(format!(
                "not {}: {}",
                type_.to_lowercase(),
                cond.explanation()
            ));
        }
        if !cond.is_true() {
            return Health::progressing(format!(
                "{type_} is {}: {}",
                if cond.status.is_empty() { "unset" } else { cond.status },
                cond.explanation()
            ));
        }
    }
    match condition(obj, "Ready") {
        Some(ready) => Health::healthy(format!("ready: {}", ready.explanation())),
        None => Health::healthy(""),
    }
}
