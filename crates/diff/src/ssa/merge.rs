//! Merging an applied configuration into the live object.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::fieldset::{FieldSetError, item_key};
use crate::path::{OrdValue, Path, PathElement};
use crate::schema::{ListKind, Node, Shape};

/// `live` with `applied` merged in: granular objects and lists merge field by field and item
/// by item; scalars and atomic values are replaced; `null` removes a field.
pub fn merge(live: &Value, applied: &Value, node: &Node) -> Result<Value, FieldSetError> {
    merge_at(live, applied, node, &mut Vec::new())
}

fn merge_at(
    live: &Value,
    applied: &Value,
    node: &Node,
    path: &mut Vec<PathElement>,
) -> Result<Value, FieldSetError> {
    match (node.shape(live), node.shape(applied), live, applied) {
        (Shape::Object(n), Shape::Object(_), Value::Object(a), Value::Object(b)) => {
            Ok(Value::Object(merge_fields(a, b, n, path)?))
        }
        (Shape::List(l), Shape::List(_), Value::Array(a), Value::Array(b)) => {
            let at = Path(path.clone()).to_string();
            let key = |it: &Value| -> Result<PathElement, FieldSetError> {
                match &l.kind {
                    ListKind::Map(keys) => item_key(it, keys, &at),
                    _ => Ok(PathElement::Value(OrdValue(it.clone()))),
                }
            };
            let mut applied_items = BTreeMap::new();
            let mut applied_order = Vec::with_capacity(b.len());
            for it in b {
                let k = key(it)?;
                applied_order.push(k.clone());
                applied_items.insert(k, it);
            }
            // Keep the live order; applied items take the place of the live item they match,
            // and new ones come right before the next matched item (or at the end).
            let mut out = Vec::with_capacity(a.len() + b.len());
            let mut next_applied = 0;
            let mut emitted = std::collections::BTreeSet::new();
            for it in a {
                let k = key(it)?;
                match applied_items.get(&k) {
                    None => out.push(it.clone()),
                    Some(_) => {
                        while next_applied < applied_order.len() {
                            let ak = &applied_order[next_applied];
                            next_applied += 1;
                            if emitted.insert(ak.clone()) {
                                let new = applied_items[ak];
                                let merged = if ak == &k {
                                    merge_item(it, new, &l.elem, path, ak)?
                                } else {
                                    match a.iter().find(|x| key(x).ok().as_ref() == Some(ak)) {
                                        Some(old) => merge_item(old, new, &l.elem, path, ak)?,
                                        None => strip_nulls(new),
                                    }
                                };
                                out.push(merged);
                            }
                            if ak == &k {
                                break;
                            }
                        }
                    }
                }
            }
            for ak in &applied_order[next_applied..] {
                if emitted.insert(ak.clone()) {
                    let new = applied_items[ak];
                    let merged = match a.iter().find(|x| key(x).ok().as_ref() == Some(ak)) {
                        Some(old) => merge_item(old, new, &l.elem, path, ak)?,
                        None => strip_nulls(new),
                    };
                    out.push(merged);
                }
            }
            Ok(Value::Array(out))
        }
        _ => Ok(strip_nulls(applied)),
    }
}

fn merge_item(
    old: &Value,
    new: &Value,
    elem: &Node,
    path: &mut Vec<PathElement>,
    key: &PathElement,
) -> Result<Value, FieldSetError> {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            path.push(key.clone());
            let m = merge_fields(a, b, elem, path);
            path.pop();
            Ok(Value::Object(m?))
        }
        _ => Ok(strip_nulls(new)),
    }
}

fn merge_fields(
    a: &Map<String, Value>,
    b: &Map<String, Value>,
    node: &Node,
    path: &mut Vec<PathElement>,
) -> Result<Map<String, Value>, FieldSetError> {
    let mut out = Map::new();
    // Each live value is copied once: merged when applied too, as it is otherwise.
    for (k, old) in a {
        match b.get(k) {
            Some(Value::Null) => {}
            Some(new) => {
                path.push(PathElement::Field(k.clone()));
                let m = merge_at(old, new, node.field(k).0, path);
                path.pop();
                out.insert(k.clone(), m?);
            }
            None => {
                out.insert(k.clone(), old.clone());
            }
        }
    }
    for (k, new) in b {
        if !new.is_null() && !a.contains_key(k) {
            out.insert(k.clone(), strip_nulls(new));
        }
    }
    Ok(out)
}

/// A copy without `null` fields: applying `null` means "not set".
pub(crate) fn strip_nulls(v: &Value) -> Value {
    if !has_null(v) {
        return v.clone();
    }
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

fn has_null(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.values().any(has_null),
        Value::Array(a) => a.iter().any(has_null),
        _ => false,
    }
}
