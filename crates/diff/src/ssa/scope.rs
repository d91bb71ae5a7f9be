//! Which fields a writer can own: never server-managed metadata; `.status` only through the
//! status subresource (for kinds that have one), and nothing else through it.

use serde_json::{Map, Value};

use crate::fieldset::FieldSet;
use crate::path::{Path, PathElement};
use crate::schema::ObjectType;

/// Metadata fields the server owns; they never appear in managedFields.
pub const SERVER_MANAGED_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "managedFields",
];

/// `set` without the fields a writer on `subresource` (`""` = main resource) cannot own.
pub fn scope_set(set: &FieldSet, ty: &ObjectType, subresource: &str) -> FieldSet {
    let mut out = set.clone();
    out.remove_subtree(&Path::fields(&["apiVersion"]));
    out.remove_subtree(&Path::fields(&["kind"]));
    for f in SERVER_MANAGED_METADATA {
        out.remove_subtree(&Path::fields(&["metadata", f]));
    }
    if subresource == "status" {
        let status = PathElement::field("status");
        let mut only = FieldSet::new();
        if out.members.contains(&status) {
            only.members.insert(status.clone());
        }
        if let Some(c) = out.children.get(&status) {
            only.children.insert(status, c.clone());
        }
        return only;
    }
    if subresource.is_empty() && ty.status_subresource {
        out.remove_subtree(&Path::fields(&["status"]));
    }
    out
}

/// The part of an applied configuration a writer on `subresource` may change.
pub(crate) fn scope_config(applied: Value, ty: &ObjectType, subresource: &str) -> Value {
    let Value::Object(mut out) = applied else { return applied };
    if subresource == "status" {
        let obj = out.clone();
        // Keep what identifies the object, and the status.
        out.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "status"));
        if let Some(meta) = obj.get("metadata").and_then(Value::as_object) {
            let id: Map<String, Value> = meta
                .iter()
                .filter(|(k, _)| matches!(k.as_str(), "name" | "namespace"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            out.insert("metadata".into(), Value::Object(id));
        }
    } else if subresource.is_empty() && ty.status_subresource {
        out.remove("status");
    }
    Value::Object(out)
}
