//! `metadata.managedFields`: who owns which fields.

use std::fmt;

use serde_json::{Map, Value, json};

use crate::fieldset::{FieldSet, FieldSetError, parse_fields_v1};

/// Errors reading `metadata.managedFields`.
#[derive(Debug, thiserror::Error)]
pub enum ManagedFieldsError {
    /// `managedFields` is not a list.
    #[error("metadata.managedFields must be a list")]
    NotAList,
    /// An entry lacks a field or has a wrong value.
    #[error("metadata.managedFields[{index}]: {problem}")]
    BadEntry { index: usize, problem: String },
    /// An entry's `fieldsV1` does not parse.
    #[error("metadata.managedFields[{index}] (manager {manager:?}): invalid fieldsV1")]
    Fields {
        index: usize,
        manager: String,
        #[source]
        source: FieldSetError,
    },
}

/// Whether a manager applied its fields or wrote them with a plain update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Create, update (PUT) or patch.
    Update,
}

impl Operation {
    /// The name Kubernetes writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of `metadata.managedFields`.
#[derive(Clone, Debug, PartialEq)]
pub struct ManagerEntry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    /// RFC 3339 time of the manager's last change, when known.
    pub time: Option<String>,
    /// `""` for the main resource, `status`, `scale`, ...
    pub subresource: String,
    pub fields: FieldSet,
}

impl ManagerEntry {
    /// Whether two entries stand for the same manager (Kubernetes' manager identifier:
    /// appliers are one manager across versions, updaters are not).
    pub fn same_manager(&self, other: &ManagerEntry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == Operation::Apply || self.api_version == other.api_version)
    }

    /// The manager as kube-apiserver names it in conflict messages:
    /// `"kubectl" using apps/v1`, `"kube-controller-manager" with subresource "status" using apps/v1`.
    pub fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == Operation::Update {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".into(), json!(self.manager));
        m.insert("operation".into(), json!(self.operation.as_str()));
        m.insert("apiVersion".into(), json!(self.api_version));
        if let Some(t) = &self.time {
            m.insert("time".into(), json!(t));
        }
        m.insert("fieldsType".into(), json!("FieldsV1"));
        m.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if !self.subresource.is_empty() {
            m.insert("subresource".into(), json!(self.subresource));
        }
        Value::Object(m)
    }
}

/// The entries of an object's `metadata.managedFields` (none when absent).
pub fn managed_fields(obj: &Value) -> Result<Vec<ManagerEntry>, ManagedFieldsError> {
    let Some(mf) = obj.pointer("/metadata/managedFields") else { return Ok(Vec::new()) };
    if mf.is_null() {
        return Ok(Vec::new());
    }
    let list = mf.as_array().ok_or(ManagedFieldsError::NotAList)?;
    let mut out = Vec::with_capacity(list.len());
    for (index, e) in list.iter().enumerate() {
        let bad =
            |problem: &str| ManagedFieldsError::BadEntry { index, problem: problem.to_string() };
        let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let manager = text("manager");
        let operation = match e.get("operation").and_then(Value::as_str) {
            Some("Apply") => Operation::Apply,
            Some("Update") => Operation::Update,
            Some(other) => return Err(bad(&format!("unknown operation {other:?}"))),
            None => return Err(bad("operation is missing")),
        };
        if let Some(t) = e.get("fieldsType").and_then(Value::as_str)
            && t != "FieldsV1"
        {
            return Err(bad(&format!("unsupported fieldsType {t:?}")));
        }
        let fields = match e.get("fieldsV1") {
            Some(v) => parse_fields_v1(v).map_err(|source| ManagedFieldsError::Fields {
                index,
                manager: manager.clone(),
                source,
            })?,
            None => FieldSet::new(),
        };
        out.push(ManagerEntry {
            manager,
            operation,
            api_version: text("apiVersion"),
            time: e.get("time").and_then(Value::as_str).map(str::to_string),
            subresource: text("subresource"),
            fields,
        });
    }
    Ok(out)
}

/// `metadata.managedFields` for these entries, in kube-apiserver's order (Apply before Update,
/// then by time, manager, apiVersion, subresource); empty entries are dropped.
pub fn encode_managed_fields(entries: &[ManagerEntry]) -> Value {
    let mut sorted: Vec<&ManagerEntry> = entries.iter().filter(|e| !e.fields.is_empty()).collect();
    sorted.sort_by(|a, b| {
        a.operation
            .cmp(&b.operation)
            .then_with(|| a.time.as_deref().unwrap_or("").cmp(b.time.as_deref().unwrap_or("")))
            .then_with(|| a.manager.cmp(&b.manager))
            .then_with(|| a.api_version.cmp(&b.api_version))
            .then_with(|| a.subresource.cmp(&b.subresource))
    });
    Value::Array(sorted.into_iter().map(ManagerEntry::to_json).collect())
}
