//! Rendered objects as data: where each came from, its identity, and a content hash over canonical
//! JSON (keys sorted), so equal content hashes equal whatever order a tool printed keys in.

use std::collections::{BTreeSet, HashMap};

use ferry_source::RepoPath;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::RenderError;

/// Where an object came from: a file of the tree (or the app path, for tool output) and the index
/// of the document in it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Origin {
    #[serde(serialize_with = "serialize_repo_path")]
    pub file: RepoPath,
    pub document: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (document {})", self.file, self.document)
    }
}

/// One object, in source order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RenderedObject {
    pub object: Value,
    pub origin: Origin,
    /// `sha256:` of the canonical JSON of `object`.
    pub hash: String,
}

impl RenderedObject {
    pub fn new(object: Value, origin: Origin) -> Self {
        let hash = content_hash(&object);
        Self { object, origin, hash }
    }

    /// Like [`RenderedObject::new`], refusing an object whose canonical JSON is over
    /// `max_bytes` (measured on the bytes the hash is taken over: no second serialization).
    pub(crate) fn sized(
        object: Value,
        origin: Origin,
        max_bytes: usize,
    ) -> Result<Self, RenderError> {
        let mut buf = Vec::with_capacity(1024);
        write_canonical(&object, &mut buf);
        if buf.len() > max_bytes {
            let key = ObjectKey::of(&object);
            return Err(RenderError::ObjectTooLarge {
                origin,
                object: format!("{} {}", key.kind, key.name),
                bytes: buf.len(),
                limit: max_bytes,
            });
        }
        let hash = format!("sha256:{}", hex::encode(Sha256::digest(&buf)));
        Ok(Self { object, origin, hash })
    }

    /// (group, kind, namespace, name) as the API server sees identity.
    pub fn key(&self) -> ObjectKey {
        ObjectKey::of(&self.object)
    }
}

/// The result of one render.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub objects: Vec<RenderedObject>,
    /// Every repository path (files and listed directories) the render looked at.
    pub read_set: BTreeSet<RepoPath>,
    /// `sha256:` over the object hashes in order.
    pub hash: String,
}

impl Rendered {
    pub(crate) fn new(objects: Vec<RenderedObject>, read_set: BTreeSet<RepoPath>) -> Self {
        let mut hasher = Sha256::new();
        for object in &objects {
            hasher.update(object.hash.as_bytes());
            hasher.update(b"\n");
        }
        let hash = format!("sha256:{}", hex::encode(hasher.finalize()));
        Self { objects, read_set, hash }
    }

    /// The objects alone, in order.
    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.objects.iter().map(|o| &o.object)
    }
}

fn serialize_repo_path<S: serde::Serializer>(path: &RepoPath, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(path.as_str())
}

/// Identity of an object: API group (not version), kind, namespace, name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn of(object: &Value) -> Self {
        let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let group = match api_version.rsplit_once('/') {
            Some((group, _)) => group.to_owned(),
            None => String::new(),
        };
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_owned();
        let metadata = object.get("metadata");
        Self {
            group,
            kind: text(object.get("kind")),
            namespace: text(metadata.and_then(|m| m.get("namespace"))),
            name: text(metadata.and_then(|m| m.get("name"))),
        }
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let group = if self.group.is_empty() { String::new() } else { format!(".{}", self.group) };
        if self.namespace.is_empty() {
            write!(f, "{}{group} {}", self.kind, self.name)
        } else {
            write!(f, "{}{group} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Checks that `value` looks like a Kubernetes object (a mapping with `apiVersion`, `kind` and a
/// name or generateName).
pub(crate) fn check_object(value: &Value, origin: &Origin) -> Result<(), RenderError> {
    let fail = |message: String| Err(RenderError::NotAnObject { origin: origin.clone(), message });
    let Some(map) = value.as_object() else {
        return fail(format!(
            "expected a Kubernetes object (a mapping), found {}",
            type_name(value)
        ));
    };
    for field in ["apiVersion", "kind"] {
        match map.get(field) {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(other) => {
                return fail(format!(
                    "{field} must be a non-empty string, found {}",
                    type_name(other)
                ));
            }
            None => {
                return fail(format!(
                    "object has no {field}; every manifest needs apiVersion and kind"
                ));
            }
        }
    }
    let metadata = map.get("metadata");
    let named = |field: &str| {
        metadata.and_then(|m| m.get(field)).and_then(Value::as_str).is_some_and(|s| !s.is_empty())
    };
    if !named("name") && !named("generateName") {
        return fail(format!(
            "{} has no metadata.name; give it a name",
            map.get("kind").and_then(Value::as_str).unwrap_or("object")
        ));
    }
    Ok(())
}

/// Fails on the first object whose identity repeats an earlier one, naming both origins.
/// Objects with only `generateName` are exempt: the API server names each one anew.
pub(crate) fn check_duplicates(objects: &[RenderedObject]) -> Result<(), RenderError> {
    let mut seen: HashMap<ObjectKey, &Origin> = HashMap::with_capacity(objects.len());
    for object in objects {
        let key = object.key();
        if key.name.is_empty() {
            continue;
        }
        if let Some(first) = seen.get(&key) {
            return Err(RenderError::Duplicate {
                key: key.to_string(),
                first: (*first).clone(),
                second: object.origin.clone(),
            });
        }
        seen.insert(key, &object.origin);
    }
    Ok(())
}

pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// `sha256:` over canonical JSON.
pub fn content_hash(value: &Value) -> String {
    let mut buf = Vec::with_capacity(1024);
    write_canonical(value, &mut buf);
    format!("sha256:{}", hex::encode(Sha256::digest(&buf)))
}

/// JSON with object keys sorted bytewise and no whitespace. Independent of whether serde_json's
/// map keeps insertion order (a feature another crate may switch on).
pub fn canonical_json(value: &Value) -> String {
    let mut buf = Vec::new();
    write_canonical(value, &mut buf);
    String::from_utf8(buf).expect("serde_json writes UTF-8")
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, k).expect("writing to a Vec cannot fail");
                out.push(b':');
                write_canonical(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar).expect("writing to a Vec cannot fail"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_content_hash_ignores_key_order() {
        let a = json!({"a": 1, "b": {"x": [1, 2], "y": "z"}});
        let b: Value = serde_json::from_str(r#"{"b": {"y": "z", "x": [1, 2]}, "a": 1}"#).unwrap();
        assert_eq!(content_hash(&a), content_hash(&b));
        assert_ne!(content_hash(&a), content_hash(&json!({"a": 2})));
        assert_eq!(canonical_json(&b), r#"{"a":1,"b":{"x":[1,2],"y":"z"}}"#);
    }

    #[test]
    fn identity_uses_the_group_not_the_version() {
        let a = ObjectKey::of(
            &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"}}),
        );
        let b = ObjectKey::of(
            &json!({"apiVersion": "apps/v1beta1", "kind": "Deployment", "metadata": {"name": "w"}}),
        );
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "Deployment.apps w");
    }
}
