//! APIService: the aggregated API is Available (its backing service answers discovery).

use serde_json::Value;

use crate::object::condition;
use crate::status::Health;

pub(crate) fn health(obj: &Value) -> Health {
    match condition(obj, "Available") {
        Some(available) if available.is_true() => Health::healthy("the API is available"),
        Some(available) => {
            Health::progressing(format!("the API is not available: {}", available.explanation()))
        }
        None => Health::progressing("waiting for the API to become available"),
    }
}
