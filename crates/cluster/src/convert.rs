//! Versions of one stored kind that present different fields: core/v1 `Event` and
//! `events.k8s.io/v1` `Event` share one storage (as on a real server), kept in the core form.
//!
//! Writes through the events API are converted to the core form before admission, and every
//! read through it is converted back, so `kubectl get events` shows what kube-rs's `Recorder`
//! posted and the other way round.

use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::resources::ResourceType;

/// (events.k8s.io/v1 field, core/v1 field) pairs that differ only by name.
const RENAMED: &[(&str, &str)] = &[
    ("note", "message"),
    ("regarding", "involvedObject"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

/// Longest `note` the events API accepts, like kube-apiserver.
const NOTE_MAX: usize = 1024;

/// Whether `rt` is the `events.k8s.io` view of the core Event storage.
pub fn is_events_api(rt: &ResourceType) -> bool {
    rt.group == "events.k8s.io" && rt.plural == "events"
}

fn is_core_event(rt: &ResourceType) -> bool {
    rt.group.is_empty() && rt.plural == "events"
}

fn rename(obj: &Value, api_version: &str, to_core: bool) -> Value {
    let Some(fields) = obj.as_object() else { return obj.clone() };
    let mut out = Map::with_capacity(fields.len());
    for (k, v) in fields {
        let renamed = RENAMED.iter().find_map(|(events, core)| {
            let (from, to) = if to_core { (events, core) } else { (core, events) };
            (k == from).then_some(*to)
        });
        out.insert(renamed.unwrap_or(k).to_string(), v.clone());
    }
    out.insert("apiVersion".into(), json!(api_version));
    out.insert("kind".into(), json!("Event"));
    Value::Object(out)
}

/// An events.k8s.io/v1 Event in the core/v1 form it is stored in.
pub fn to_core(event: &Value) -> Value {
    rename(event, "v1", true)
}

/// A stored core/v1 Event as events.k8s.io/v1 presents it.
pub fn to_events(core: &Value) -> Value {
    rename(core, "events.k8s.io/v1", false)
}

/// The stored object as the version `rt` presents it (apiVersion, kind and renamed fields).
pub fn present(rt: &ResourceType, obj: &Value) -> Value {
    let stored_core = obj.get("apiVersion").and_then(Value::as_str) == Some("v1");
    if is_events_api(rt) && stored_core {
        return to_events(obj);
    }
    if is_core_event(rt) && !stored_core && obj.get("apiVersion").is_some() {
        return to_core(obj);
    }
    let mut o = obj.clone();
    o["apiVersion"] = json!(rt.api_version());
    o["kind"] = json!(rt.kind);
    o
}

/// The events API's own rules for a new Event (the core API is laxer, as on a real server).
pub fn validate_new_event(event: &Value) -> Result<(), ApiError> {
    let name = event.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let text = |k: &str| event.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let mut causes = Vec::new();
    for field in ["eventTime", "reportingController", "reportingInstance", "action", "reason"] {
        if text(field).is_none() {
            causes.push((field.to_string(), "Required value".to_string()));
        }
    }
    if let Some(t) = text("type")
        && t != "Normal"
        && t != "Warning"
    {
        causes
            .push(("type".into(), format!("Unsupported value: {t:?}: must be Normal or Warning")));
    }
    if text("note").is_some_and(|n| n.len() > NOTE_MAX) {
        causes.push(("note".into(), format!("Too long: may not be more than {NOTE_MAX} bytes")));
    }
    if let Some(series) = event.get("series").filter(|s| !s.is_null()) {
        if series.get("count").and_then(Value::as_u64).is_none_or(|c| c < 2) {
            causes.push(("series.count".into(), "should be at least 2".into()));
        }
        if series.get("lastObservedTime").is_none_or(Value::is_null) {
            causes.push(("series.lastObservedTime".into(), "Required value".into()));
        }
    }
    let ns = event.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
    if let Some(regarding_ns) = event.pointer("/regarding/namespace").and_then(Value::as_str)
        && !regarding_ns.is_empty()
        && !ns.is_empty()
        && regarding_ns != ns
    {
        causes.push(("regarding.namespace".into(), "does not match event.namespace".into()));
    }
    if causes.is_empty() { Ok(()) } else { Err(ApiError::invalid("Event", name, causes)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_events_api_event_round_trips_through_the_core_form() {
        let ev = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "web.1", "namespace": "shop"},
            "note": "synced", "regarding": {"kind": "Deployment", "name": "web"},
            "reportingController": "ferry", "reportingInstance": "ferry-0", "action": "Sync",
            "reason": "Synced", "type": "Normal", "eventTime": "2026-01-01T00:00:00.000000Z",
            "deprecatedCount": 3});
        let core = to_core(&ev);
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(core["message"], "synced");
        assert_eq!(core["involvedObject"]["name"], "web");
        assert_eq!(core["reportingComponent"], "ferry");
        assert_eq!(core["count"], 3);
        assert!(core.get("note").is_none());
        assert_eq!(to_events(&core), ev);
    }

    #[test]
    fn an_events_api_event_without_its_required_fields_is_invalid_naming_them() {
        let ev = json!({"metadata": {"name": "x", "namespace": "shop"}, "type": "Odd"});
        let err = validate_new_event(&ev).expect_err("required fields are missing");
        assert_eq!(err.code, 422);
        for field in ["eventTime", "reportingController", "action", "reason", "type"] {
            assert!(err.message.contains(field), "{field} is named in {}", err.message);
        }
    }
}
