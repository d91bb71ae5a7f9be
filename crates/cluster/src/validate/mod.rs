//! Validation as kube-apiserver does it, beyond names and immutable fields (`write::validate`):
//! custom resources against their CRD's structural schema (pruning, defaults, types, bounds,
//! CEL rules), and the built-in kinds' own rules (`builtin`).
//!
//! # Guarantees
//! - A CRD's schemas are compiled once per CRD resourceVersion (`CrdSchemas`), never per request.
//! - A CRD whose patterns or CEL rules do not compile is refused with the field named.
//! - Errors are 422 `Invalid` Status bodies worded like the real server's, one cause per field.
//! # Caveats
//! - `format` is not checked, CEL rules have no cost budget, and transition rules see `oldSelf`
//!   only through object fields (not list items), unlike the real server.

pub mod builtin;
mod cache;
mod cel;
mod check;
pub mod field;
mod schema;
mod shape;

use serde_json::Value;

pub use cache::{CrdSchemas, compile_crd};
pub use schema::Node;

use crate::error::ApiError;
use crate::resources::ResourceType;

/// A CRD schema that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("{path}: the pattern cannot be compiled: {source}")]
    Pattern {
        path: String,
        #[source]
        source: regex::Error,
    },
    #[error("{path}: the rule {rule:?} does not compile: {message}")]
    Rule { path: String, rule: String, message: String },
}

impl SchemaError {
    pub fn path(&self) -> &str {
        match self {
            SchemaError::Pattern { path, .. } | SchemaError::Rule { path, .. } => path,
        }
    }
}

/// Prunes, defaults and validates custom resource `obj` (of `rt`) before it is stored.
pub fn custom_resource(
    schema: Option<&Node>,
    rt: &ResourceType,
    old: Option<&Value>,
    mut obj: Value,
) -> Result<Value, ApiError> {
    let Some(schema) = schema else { return Ok(obj) };
    shape::prune(schema, &mut obj, "", true, &mut Vec::new());
    shape::apply_defaults(schema, &mut obj, true);
    let mut errs = Vec::new();
    check::validate(schema, &obj, old, &mut errs);
    if errs.is_empty() {
        return Ok(obj);
    }
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    Err(field::invalid(&rt.group, &rt.kind, name, &errs))
}

/// Removes the fields of a request body the schema does not declare, naming them.
pub fn prune_unknown(schema: &Node, body: &mut Value) -> Vec<String> {
    let mut removed = Vec::new();
    shape::prune(schema, body, "", false, &mut removed);
    removed
}

#[cfg(test)]
mod tests;
