//! Shapes of custom resources from a CRD's `openAPIV3Schema`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{
    List, ListKind, MapKey, Node, ObjectType, PatchStrategy, SchemaError, Struct, builtin,
};

const MAX_SCHEMA_DEPTH: usize = 64;

/// The shape described by an OpenAPI v3 schema (`x-kubernetes-list-type`,
/// `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`, `x-kubernetes-preserve-unknown-fields`).
pub fn node_from_openapi(schema: &Value) -> Result<Node, SchemaError> {
    convert(schema, "", 0)
}

fn convert(s: &Value, at: &str, depth: usize) -> Result<Node, SchemaError> {
    if depth > MAX_SCHEMA_DEPTH {
        return Err(SchemaError::TooDeep { path: at.to_string(), max: MAX_SCHEMA_DEPTH });
    }
    let preserve =
        s.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true);
    if s.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true) {
        return Ok(Node::Scalar);
    }
    let ty = s.get("type").and_then(Value::as_str).unwrap_or("");
    match ty {
        "object" | ""
            if s.get("properties").is_some() || s.get("additionalProperties").is_some() =>
        {
            let atomic = s.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic");
            if let Some(props) = s.get("properties").and_then(Value::as_object) {
                let mut fields = BTreeMap::new();
                let mut defaults = BTreeMap::new();
                for (name, sub) in props {
                    fields.insert(name.clone(), convert(sub, &format!("{at}.{name}"), depth + 1)?);
                    if let Some(d) = sub.get("default") {
                        defaults.insert(name.clone(), d.clone());
                    }
                }
                let rest = if preserve { Node::Untyped } else { Node::Loose };
                return Ok(Node::Struct(Struct { fields, atomic, rest: Box::new(rest), defaults }));
            }
            let elem = match s.get("additionalProperties") {
                Some(ap @ Value::Object(_)) => convert(ap, &format!("{at}.*"), depth + 1)?,
                _ => Node::Untyped,
            };
            Ok(Node::Map { elem: Box::new(elem), atomic })
        }
        "object" | "" => Ok(Node::Untyped),
        "array" => {
            let items = s.get("items").cloned().unwrap_or(Value::Null);
            let elem = if items.is_object() {
                convert(&items, &format!("{at}[]"), depth + 1)?
            } else {
                Node::Untyped
            };
            let kind = match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("set") => ListKind::Set,
                Some("map") => {
                    let keys = s
                        .get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .filter(|k| !k.is_empty())
                        .ok_or_else(|| SchemaError::MapListWithoutKeys { path: at.to_string() })?;
                    ListKind::Map(
                        keys.iter()
                            .filter_map(Value::as_str)
                            .map(|k| MapKey {
                                name: k.to_string(),
                                default: items
                                    .pointer(&format!("/properties/{k}/default"))
                                    .cloned(),
                            })
                            .collect(),
                    )
                }
                _ => ListKind::Atomic,
            };
            Ok(Node::List(List { kind, elem: Box::new(elem), patch: PatchStrategy::Replace }))
        }
        _ => Ok(Node::Scalar),
    }
}

/// `(apiVersion, kind, shape)` for every version a CRD serves.
pub(super) fn crd_types(crd: &Value) -> Result<Vec<(String, String, ObjectType)>, SchemaError> {
    let name =
        crd.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("<unnamed>").to_string();
    if crd.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition") {
        return Err(SchemaError::NotACrd { name });
    }
    let missing =
        |field, expected| SchemaError::MissingField { crd: name.clone(), field, expected };
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .ok_or_else(|| missing("spec.group", "string"))?;
    let kind = crd
        .pointer("/spec/names/kind")
        .and_then(Value::as_str)
        .ok_or_else(|| missing("spec.names.kind", "string"))?;
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .ok_or_else(|| missing("spec.versions", "list"))?;
    let mut out = Vec::new();
    for v in versions {
        let vname = v
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| missing("spec.versions[].name", "string"))?;
        let mut root = match v.pointer("/schema/openAPIV3Schema") {
            Some(s) => convert(s, "", 0)?,
            None => Node::Untyped,
        };
        // metadata is always ObjectMeta, whatever the CRD says about it.
        let meta = builtin::metadata_node();
        match &mut root {
            Node::Struct(s) => {
                s.fields.insert("metadata".to_string(), meta);
            }
            other => {
                let rest = std::mem::replace(other, Node::Untyped);
                *other = Node::Struct(Struct {
                    fields: [("metadata".to_string(), meta)].into_iter().collect(),
                    atomic: false,
                    rest: Box::new(rest),
                    defaults: BTreeMap::new(),
                });
            }
        }
        let status_subresource = v.pointer("/subresources/status").is_some();
        out.push((
            format!("{group}/{vname}"),
            kind.to_string(),
            ObjectType { root, status_subresource, strategic_merge: false },
        ));
    }
    Ok(out)
}
