//! CustomResourceDefinition: names accepted and established (served by the API server).

use serde_json::Value;

use crate::object::{at, condition};
use crate::status::Health;

pub(crate) fn health(obj: &Value) -> Health {
    let has_conditions = at(obj, &["status", "conditions"])
        .and_then(Value::as_array)
        .is_some_and(|conditions| !conditions.is_empty());
    if !has_conditions {
        return Health::progressing("waiting for the API server to accept the definition");
    }
    if let Some(terminating) = condition(obj, "Terminating")
        && terminating.is_true()
    {
        return Health::progressing(format!(
            "the definition is being deleted: {}",
            terminating.explanation()
        ));
    }
    if let Some(names) = condition(obj, "NamesAccepted")
        && names.is_false()
    {
        return Health::degraded(format!("the names were not accepted: {}", names.explanation()));
    }
    match condition(obj, "Established") {
        Some(established) if established.is_true() => {}
        Some(established) => {
            return Health::progressing(format!(
                "not established yet: {}",
                established.explanation()
            ));
        }
        None => return Health::progressing("not established yet"),
    }
    if let Some(violations) = condition(obj, "NonStructuralSchema")
        && violations.is_true()
    {
        return Health::degraded(format!(
            "the schema is not structural: {}",
            violations.explanation()
        ));
    }
    Health::healthy("the definition is established")
}
