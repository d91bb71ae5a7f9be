//! `fieldValidation=Strict` (kubectl's default) and `Warn` for the built-in kinds: fields the
//! kind's schema does not declare are refused (or reported in a `Warning` header), naming them.

use serde_json::{Map, Value};

use super::openapi_schema;
use crate::error::ApiError;
use crate::resources::ResourceType;

/// Deeper bodies are refused earlier (`MAX_DEPTH` of the write path); this only bounds the walk.
const MAX_DEPTH: usize = 128;

fn resolve<'a>(components: &'a Map<String, Value>, schema: &'a Value) -> &'a Value {
    let name = schema
        .get("$ref")
        .or_else(|| schema.pointer("/allOf/0/$ref"))
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"));
    match name.and_then(|n| components.get(n)) {
        Some(target) => target,
        None => schema,
    }
}

/// An undeclared field: its dotted path (for messages) and JSON pointer (to drop it).
struct Unknown {
    path: String,
    pointer: String,
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn walk(
    components: &Map<String, Value>,
    schema: &Value,
    value: &Value,
    at: (&str, &str),
    depth: usize,
    unknown: &mut Vec<Unknown>,
) {
    let (path, pointer) = at;
    if depth > MAX_DEPTH {
        return;
    }
    let schema = resolve(components, schema);
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    match value {
        Value::Object(fields) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, v) in fields {
                    let here = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    let ptr = format!("{pointer}/{}", escape(k));
                    match props.get(k) {
                        Some(s) => walk(components, s, v, (&here, &ptr), depth + 1, unknown),
                        None => unknown.push(Unknown { path: here, pointer: ptr }),
                    }
                }
            } else if let Some(elem) = schema.get("additionalProperties").filter(|e| e.is_object())
            {
                for (k, v) in fields {
                    let here = (format!("{path}.{k}"), format!("{pointer}/{}", escape(k)));
                    walk(components, elem, v, (&here.0, &here.1), depth + 1, unknown);
                }
            }
        }
        Value::Array(items) => {
            if let Some(elem) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    let here = (format!("{path}[{i}]"), format!("{pointer}/{i}"));
                    walk(components, elem, v, (&here.0, &here.1), depth + 1, unknown);
                }
            }
        }
        _ => {}
    }
}

/// Fields of `obj` the schema of built-in kind `rt` does not declare (none for custom kinds).
#[cfg(test)]
fn unknown_fields(rt: &ResourceType, obj: &Value) -> Vec<String> {
    undeclared(rt, obj).into_iter().map(|u| u.path).collect()
}

/// The undeclared fields of `obj`, in document order.
fn undeclared(rt: &ResourceType, obj: &Value) -> Vec<Unknown> {
    if rt.crd.is_some() {
        return vec![];
    }
    let components = openapi_schema::components(&rt.group, &rt.version, &[rt.kind.as_str()]);
    let root = components.values().find(|c| {
        c.pointer("/x-kubernetes-group-version-kind/0/kind").and_then(Value::as_str)
            == Some(rt.kind.as_str())
    });
    let Some(root) = root else { return vec![] };
    let mut unknown = Vec::new();
    walk(&components, root, obj, ("", ""), 0, &mut unknown);
    unknown
}

/// What the request asked for: `Strict` refuses unknown fields, `Warn` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Ignore,
    Warn,
    Strict,
}

impl Mode {
    pub fn parse(param: Option<&str>) -> Result<Mode, ApiError> {
        match param {
            None | Some("Warn") => Ok(Mode::Warn),
            Some("Strict") => Ok(Mode::Strict),
            Some("Ignore") => Ok(Mode::Ignore),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation {other:?} is not valid (Ignore, Warn or Strict)"
            ))),
        }
    }
}

/// Checks `obj` under `mode`: an error for Strict, else the warnings to send back (Warn).
/// Undeclared fields are dropped, as decoding into the kind's type drops them on a real server.
pub fn check(rt: &ResourceType, obj: &mut Value, mode: Mode) -> Result<Vec<String>, ApiError> {
    let unknown = undeclared(rt, obj);
    if unknown.is_empty() {
        return Ok(vec![]);
    }
    let paths: Vec<String> = unknown.iter().map(|u| u.path.clone()).collect();
    let listed = report(rt, &paths, mode)?;
    // Deepest first, and arrays from the back, so earlier pointers stay valid.
    for u in unknown.iter().rev() {
        let Some((parent, key)) = u.pointer.rsplit_once('/') else { continue };
        let key = key.replace("~1", "/").replace("~0", "~");
        if let Some(Value::Object(m)) = obj.pointer_mut(parent) {
            m.remove(&key);
        }
    }
    Ok(listed)
}

/// The answer to undeclared fields at `paths` (already removed): an error for Strict, the
/// warnings for Warn.
pub fn report(rt: &ResourceType, paths: &[String], mode: Mode) -> Result<Vec<String>, ApiError> {
    let listed: Vec<String> = paths.iter().map(|p| format!("unknown field {p:?}")).collect();
    match mode {
        _ if listed.is_empty() => Ok(vec![]),
        Mode::Strict => Err(ApiError::bad_request(format!(
            "{} in version {:?} cannot be handled as a {}: strict decoding error: {}",
            rt.kind,
            rt.version,
            rt.kind,
            listed.join(", ")
        ))),
        Mode::Warn => Ok(listed),
        Mode::Ignore => Ok(vec![]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_named_by_their_path_and_maps_and_quantities_pass() {
        let reg = Registry::builtin();
        let rt = reg.find("apps", "v1", "deployments").expect("deployments are built in");
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"any": "thing"}},
            "spec": {"replicas": 1, "bogus": true, "template": {"spec": {"containers": [
                {"name": "c", "image": "x", "resources": {"limits": {"cpu": "1"}}, "imagePullPolice": "x"}]}}}});
        assert_eq!(
            unknown_fields(rt, &d),
            vec!["spec.bogus", "spec.template.spec.containers[0].imagePullPolice"]
        );
        let mut pruned = d.clone();
        let warned = check(rt, &mut pruned, Mode::Warn).expect("Warn does not fail");
        assert_eq!(warned.len(), 2);
        assert!(pruned["spec"].get("bogus").is_none());
        assert!(pruned.pointer("/spec/template/spec/containers/0/imagePullPolice").is_none());
        assert_eq!(pruned.pointer("/spec/template/spec/containers/0/image"), Some(&json!("x")));
        assert!(
            check(rt, &mut d.clone(), Mode::Strict)
                .is_err_and(|e| e.message.contains("spec.bogus"))
        );
    }
}
