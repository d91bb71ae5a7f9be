//! Identity of an object independent of its version: group, kind, namespace, name.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The identity of an object: `group/kind namespace/name` (the API version is not part of it, so
/// `apps/v1` and a future `apps/v2` of the same Deployment are the same object).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjKey {
    #[serde(default)]
    pub group: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("object has no {field}: every manifest needs apiVersion, kind and metadata.name")]
    MissingField { field: &'static str },
    #[error("object {kind} has an invalid apiVersion {api_version:?}")]
    InvalidApiVersion { kind: String, api_version: String },
}

impl ObjKey {
    /// Reads the identity of a manifest (namespace as written; see [`ObjKey::with_namespace`]).
    pub fn of(obj: &Value) -> Result<Self, ObjectError> {
        let api_version = str_at(obj, &["apiVersion"])
            .ok_or(ObjectError::MissingField { field: "apiVersion" })?;
        let kind = str_at(obj, &["kind"]).ok_or(ObjectError::MissingField { field: "kind" })?;
        let name = str_at(obj, &["metadata", "name"])
            .or_else(|| str_at(obj, &["metadata", "generateName"]))
            .ok_or(ObjectError::MissingField { field: "metadata.name" })?;
        let (group, _version) =
            split_api_version(api_version).ok_or_else(|| ObjectError::InvalidApiVersion {
                kind: kind.to_owned(),
                api_version: api_version.to_owned(),
            })?;
        Ok(Self {
            group: group.to_owned(),
            kind: kind.to_owned(),
            namespace: str_at(obj, &["metadata", "namespace"]).unwrap_or_default().to_owned(),
            name: name.to_owned(),
        })
    }

    pub fn with_namespace(mut self, namespace: &str) -> Self {
        self.namespace = namespace.to_owned();
        self
    }

    /// `group/Kind` (or `Kind` for the core group), as users read it.
    pub fn group_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}/{}", self.group, self.kind)
        }
    }
}

impl std::fmt::Display for ObjKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.group_kind(), self.name)
        } else {
            write!(f, "{} {}/{}", self.group_kind(), self.namespace, self.name)
        }
    }
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub fn split_api_version(api_version: &str) -> Option<(&str, &str)> {
    match api_version.split_once('/') {
        Some((g, v)) if !g.is_empty() && !v.is_empty() && !v.contains('/') => Some((g, v)),
        Some(_) => None,
        None if !api_version.is_empty() => Some(("", api_version)),
        None => None,
    }
}

pub fn str_at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(obj, |v, k| v.get(k))?.as_str()
}

/// The annotation `key` of a manifest, if set.
pub fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.get("metadata")?.get("annotations")?.get(key)?.as_str()
}

pub fn label<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.get("metadata")?.get("labels")?.get(key)?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_key_of_a_core_object_has_an_empty_group() {
        let key = ObjKey::of(
            &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"x"}}),
        )
        .unwrap();
        assert_eq!(key.to_string(), "ConfigMap x/a");
        let key = ObjKey::of(
            &json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"}}),
        )
        .unwrap();
        assert_eq!(key.to_string(), "apps/Deployment web");
    }

    #[test]
    fn a_manifest_without_a_kind_is_an_error_naming_the_field() {
        let err = ObjKey::of(&json!({"apiVersion":"v1","metadata":{"name":"a"}})).unwrap_err();
        assert!(err.to_string().contains("kind"), "{err}");
        assert!(
            ObjKey::of(&json!({"apiVersion":"a/b/c","kind":"X","metadata":{"name":"a"}})).is_err()
        );
    }
}
