//! What the server does to a custom resource before validating it, in kube-apiserver's order:
//! prune fields the schema does not declare, drop nulls the schema does not allow (unless a
//! default replaces them), then apply the schema's defaults.

use serde_json::Value;

use super::check::child;
use super::schema::Node;

/// Fields every object (and every embedded resource) keeps whatever its schema says.
const OBJECT_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Removes undeclared fields from `v`, returning their paths (for `fieldValidation`).
/// With `nulls`, also removes nulls where the schema is not `nullable` and has no default.
pub fn prune(node: &Node, v: &mut Value, path: &str, nulls: bool, removed: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            let root = path.is_empty();
            let keep_object_fields = root || node.embedded;
            m.retain(|k, val| {
                if let Some(p) = node.properties.get(k) {
                    let drop_null = nulls && val.is_null() && !p.nullable && p.default.is_none();
                    return !drop_null;
                }
                if node.additional.is_some() || node.preserve_unknown {
                    return true;
                }
                if keep_object_fields && OBJECT_FIELDS.contains(&k.as_str()) {
                    return true;
                }
                removed.push(child(path, k));
                false
            });
            for (k, val) in m.iter_mut() {
                // The root's metadata is ObjectMeta, checked by the generic rules, not the schema.
                if root && k == "metadata" {
                    continue;
                }
                if let Some(p) = node.properties.get(k) {
                    prune(p, val, &child(path, k), nulls, removed);
                } else if let Some(a) = &node.additional {
                    prune(a, val, &format!("{path}[{k}]"), nulls, removed);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = &node.items {
                for (i, val) in items.iter_mut().enumerate() {
                    prune(item, val, &format!("{path}[{i}]"), nulls, removed);
                }
            }
        }
        _ => {}
    }
}

/// Sets the schema's defaults on missing (or null, non-nullable) fields, deepest included.
pub fn apply_defaults(node: &Node, v: &mut Value, root: bool) {
    match v {
        Value::Object(m) => {
            for (k, p) in &node.properties {
                let Some(d) = &p.default else { continue };
                match m.get(k) {
                    None => {
                        m.insert(k.clone(), d.clone());
                    }
                    Some(Value::Null) if !p.nullable => {
                        m.insert(k.clone(), d.clone());
                    }
                    Some(_) => {}
                }
            }
            for (k, val) in m.iter_mut() {
                if root && k == "metadata" {
                    continue;
                }
                if let Some(p) = node.properties.get(k) {
                    apply_defaults(p, val, false);
                } else if let Some(a) = &node.additional {
                    apply_defaults(a, val, false);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = &node.items {
                for val in items.iter_mut() {
                    apply_defaults(item, val, false);
                }
            }
        }
        _ => {}
    }
}
