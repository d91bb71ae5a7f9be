//! Small readers over an object as JSON: the API server omits zero values and empty lists, so
//! every reader treats "absent" as the zero value the field would have in Go.

use serde_json::Value;

use crate::status::Health;

/// The value at a path of object keys, if every step exists.
pub(crate) fn at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |value, key| value.get(key))
}

pub(crate) fn str_at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(obj, path).and_then(Value::as_str)
}

/// An integer field; absent (or not an integer) reads as `None`.
pub(crate) fn int_at(obj: &Value, path: &[&str]) -> Option<i64> {
    at(obj, path).and_then(Value::as_i64)
}

/// A counter in `status`: the API server omits zero counters, so absent means zero.
pub(crate) fn count_at(obj: &Value, path: &[&str]) -> i64 {
    int_at(obj, path).unwrap_or(0)
}

pub(crate) fn bool_at(obj: &Value, path: &[&str]) -> bool {
    at(obj, path).and_then(Value::as_bool).unwrap_or(false)
}

/// `apiVersion` split into group and version; the core group is `""`.
pub(crate) fn group_of(api_version: &str) -> &str {
    match api_version.split_once('/') {
        Some((group, _version)) => group,
        None => "",
    }
}

/// `kind name` or `kind namespace/name` for messages.
pub(crate) fn display_name(obj: &Value) -> String {
    let kind = str_at(obj, &["kind"]).unwrap_or("object");
    let name = str_at(obj, &["metadata", "name"]).unwrap_or("<unnamed>");
    match str_at(obj, &["metadata", "namespace"]) {
        Some(namespace) => format!("{kind} {namespace}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// One entry of `status.conditions`, the shape shared by built-in kinds and `metav1.Condition`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Condition<'a> {
    pub(crate) status: &'a str,
    pub(crate) reason: &'a str,
    pub(crate) message: &'a str,
    /// `metav1.Condition` carries the generation it describes; built-in kinds do not.
    pub(crate) observed_generation: Option<i64>,
}

impl Condition<'_> {
    pub(crate) fn is_true(&self) -> bool {
        self.status == "True"
    }

    pub(crate) fn is_false(&self) -> bool {
        self.status == "False"
    }

    /// The message, or the reason when the controller left the message empty.
    pub(crate) fn explanation(&self) -> &str {
        if self.message.is_empty() { self.reason } else { self.message }
    }
}

/// The condition of a type in `status.conditions`, if the controller wrote it.
pub(crate) fn condition<'a>(obj: &'a Value, type_: &str) -> Option<Condition<'a>> {
    let conditions = at(obj, &["status", "conditions"])?.as_array()?;
    conditions.iter().find(|entry| str_at(entry, &["type"]) == Some(type_)).map(|entry| Condition {
        status: str_at(entry, &["status"]).unwrap_or(""),
        reason: str_at(entry, &["reason"]).unwrap_or(""),
        message: str_at(entry, &["message"]).unwrap_or(""),
        observed_generation: int_at(entry, &["observedGeneration"]),
    })
}

/// `Progressing` while the controller has not yet seen the latest spec.
///
/// Every status below describes the generation in `status.observedGeneration`; judging a newer
/// spec by an older status would call a rollout that has not started "healthy".
///
/// Built-in controllers always report `status.observedGeneration`, so for them absent means 0
/// (nothing observed yet). Other controllers may not report it at all (cert-manager reports it
/// per condition): pass `absent_is_unknown` to skip the check for them.
pub(crate) fn generation_not_observed(
    obj: &Value,
    what: &str,
    absent_is_unknown: bool,
) -> Option<Health> {
    let generation = int_at(obj, &["metadata", "generation"])?;
    let observed = match int_at(obj, &["status", "observedGeneration"]) {
        Some(observed) => observed,
        None if absent_is_unknown => return None,
        None => 0,
    };
    (observed < generation).then(|| {
        Health::progressing(format!(
            "waiting for the {what} controller to observe generation {generation} (it has seen {observed})"
        ))
    })
}
