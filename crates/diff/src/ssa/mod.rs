//! A pure model of Kubernetes server-side apply and field ownership (structured-merge-diff as
//! kube-apiserver uses it): [`apply`] for `PATCH application/apply-patch+yaml`, [`update`]
//! for create, PUT and the other patches.
//!
//! # Guarantees
//! - A field whose value changes is taken from its other owners; without `force`, apply refuses
//!   with [`ApplyError::Conflict`] instead.
//! - A field an applier set before and no longer sets is removed when nobody else owns it.
//! - Server-managed metadata (uid, resourceVersion, generation, creationTimestamp,
//!   managedFields) is never owned; `.status` is owned only through the `status` subresource
//!   for kinds that have one.
//!
//! # Caveats
//! - No version conversion: entries of other apiVersions are compared as if they were the same.
//! - Not modelled: the cap of ten Update managers, union fields, kubectl's
//!   last-applied-configuration upgrade path.

mod apply;
mod compare;
mod managers;
mod merge;
mod scope;
mod update;

use serde_json::Value;

pub use apply::{apply, apply_with};
pub use compare::{Comparison, compare};
pub use managers::{
    ManagedFieldsError, ManagerEntry, Operation, encode_managed_fields, managed_fields,
};
pub use merge::merge;
pub use scope::{SERVER_MANAGED_METADATA, scope_set};
pub use update::{update, update_with};

use crate::fieldset::FieldSetError;

/// Who writes, and how.
#[derive(Clone, Debug)]
pub struct Params<'a> {
    /// The field manager (`fieldManager` query parameter).
    pub manager: &'a str,
    /// `None` for the main resource, `Some("status")`, `Some("scale")`, ...
    pub subresource: Option<&'a str>,
    /// RFC 3339 time written into the manager's entry.
    pub now: &'a str,
    /// Take fields from their other owners instead of failing (apply only).
    pub force: bool,
}

impl<'a> Params<'a> {
    /// A writer on the main resource, without force.
    pub fn new(manager: &'a str, now: &'a str) -> Self {
        Params { manager, subresource: None, now, force: false }
    }

    /// The same writer on a subresource.
    pub fn subresource(mut self, sub: &'a str) -> Self {
        self.subresource = Some(sub);
        self
    }

    /// The same writer, forcing conflicts.
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }
}

/// The result of an apply.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    /// The merged object with `metadata.managedFields` updated.
    pub object: Value,
    /// Whether anything changed, managedFields included. A no-op apply returns the live object
    /// untouched (kube-apiserver then skips the write and keeps the resourceVersion).
    pub changed: bool,
}

/// One field an apply would take from another manager.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    /// The other manager's name.
    pub manager: String,
    /// How kube-apiserver names it: `"kubectl" using apps/v1`.
    pub manager_description: String,
    /// The field, as `.spec.replicas`.
    pub path: String,
}

/// Errors of [`apply`] and [`update`].
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Other managers own fields the apply would change (HTTP 409).
    #[error("{}", conflict_message(.conflicts))]
    Conflict { conflicts: Vec<Conflict> },
    /// The object is not a JSON object with apiVersion and kind.
    #[error("{what}: {problem}")]
    Invalid { what: &'static str, problem: String },
    /// The object's fields do not fit its schema (a list item without its key, duplicates).
    #[error("{what} {name}: invalid fields")]
    Fields {
        what: &'static str,
        name: String,
        #[source]
        source: FieldSetError,
    },
    /// The live object's managedFields do not parse.
    #[error("{name}: invalid managedFields")]
    ManagedFields {
        name: String,
        #[source]
        source: ManagedFieldsError,
    },
}

impl ApplyError {
    /// Whether retrying the same request can succeed (never: conflicts need force or a change).
    pub fn is_conflict(&self) -> bool {
        matches!(self, ApplyError::Conflict { .. })
    }
}

/// kube-apiserver's conflict message.
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [c] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            c.manager_description, c.path
        );
    }
    let mut managers: Vec<&str> =
        conflicts.iter().map(|c| c.manager_description.as_str()).collect();
    managers.sort();
    managers.dedup();
    let mut lines = Vec::new();
    for m in managers {
        lines.push(format!("conflicts with {m}:"));
        for c in conflicts.iter().filter(|c| c.manager_description == m) {
            lines.push(format!("- {}", c.path));
        }
    }
    format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
}

/// `namespace/name` (or `name`) of an object, for messages.
pub(crate) fn object_name(obj: &Value) -> String {
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("<unnamed>");
    match obj.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

/// An object without `metadata.managedFields`.
pub(crate) fn without_managed_fields(obj: &Value) -> Value {
    let Value::Object(top) = obj else { return obj.clone() };
    // Copy everything but managedFields rather than copying it and then dropping it.
    let copy = top
        .iter()
        .map(|(k, v)| match (k.as_str(), v) {
            ("metadata", Value::Object(meta)) => (
                k.clone(),
                Value::Object(
                    meta.iter()
                        .filter(|(mk, _)| *mk != "managedFields")
                        .map(|(mk, mv)| (mk.clone(), mv.clone()))
                        .collect(),
                ),
            ),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    Value::Object(copy)
}

/// Writes `metadata.managedFields`.
pub(crate) fn set_managed_fields(obj: &mut Value, entries: &[ManagerEntry]) {
    let encoded = encode_managed_fields(entries);
    if let Some(o) = obj.as_object_mut() {
        let meta = o.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
        if let Some(m) = meta.as_object_mut() {
            if encoded.as_array().is_some_and(Vec::is_empty) {
                m.remove("managedFields");
            } else {
                m.insert("managedFields".into(), encoded);
            }
        }
    }
}
