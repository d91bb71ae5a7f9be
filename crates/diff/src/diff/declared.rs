//! Comparing what the desired object declares with the live object, field by field.

use std::collections::BTreeMap;

use serde_json::Value;

use super::quantity::quantities_equal;
use crate::fieldset::{FieldSet, item_key};
use crate::path::{OrdValue, Path, PathElement, values_equal};
use crate::schema::{ListKind, Node, Shape};
use crate::walk;

/// A change found: path, desired value, live value.
pub(super) type Found = (Path, Value, Option<Value>);

/// Walks the declared set, the defaulted desired object and the live object together, so each
/// value is found once (not looked up from the root per path).
pub(super) fn compare_declared(
    set: &FieldSet,
    want: &Value,
    live: Option<&Value>,
    node: &Node,
    path: &mut Vec<PathElement>,
    out: &mut Vec<Found>,
) {
    let want_items = list_index(want, node);
    let live_items = live.and_then(|l| list_index(l, node));
    let keys: std::collections::BTreeSet<&PathElement> =
        set.members.iter().chain(set.children.keys()).collect();
    for pe in keys {
        let Some(dv) = step(want, pe, want_items.as_ref()) else { continue };
        let lv = live.and_then(|l| step(l, pe, live_items.as_ref()));
        let child_node = walk::step_node(node, pe);
        path.push(pe.clone());
        // Only members are compared; other steps lead to members below them.
        let differs = set.members.contains(pe)
            && match (child_node.shape(dv), lv) {
                // An empty or null value is what the server stores as "absent".
                (_, None) => !is_empty_value(dv),
                (Shape::Leaf, Some(lv)) => !same_value(dv, lv, path),
                // Granular containers: their parts are compared one by one.
                (Shape::Object(_), Some(lv)) => !lv.is_object(),
                (Shape::List(_), Some(lv)) => !lv.is_array(),
            };
        if differs {
            out.push((Path(path.clone()), dv.clone(), lv.cloned()));
        } else if let Some(child) = set.children.get(pe) {
            compare_declared(child, dv, lv, child_node, path, out);
        }
        path.pop();
    }
}

/// Positions of a granular list's items by the path element naming them.
fn list_index(v: &Value, node: &Node) -> Option<BTreeMap<PathElement, usize>> {
    let (Shape::List(l), Value::Array(items)) = (node.shape(v), v) else { return None };
    let mut idx = BTreeMap::new();
    for (i, it) in items.iter().enumerate() {
        let pe = match &l.kind {
            ListKind::Map(keys) => match item_key(it, keys, "") {
                Ok(pe) => pe,
                Err(_) => continue,
            },
            _ => PathElement::Value(OrdValue(it.clone())),
        };
        idx.entry(pe).or_insert(i);
    }
    Some(idx)
}

fn step<'a>(
    v: &'a Value,
    pe: &PathElement,
    items: Option<&BTreeMap<PathElement, usize>>,
) -> Option<&'a Value> {
    match (pe, v) {
        (PathElement::Field(name), Value::Object(m)) => m.get(name),
        (PathElement::Index(i), Value::Array(a)) => a.get(*i),
        (_, Value::Array(a)) => items.and_then(|ix| ix.get(pe)).and_then(|i| a.get(*i)),
        _ => None,
    }
}

/// `null`, `{}` and `[]`: what typed Go objects drop when they serialize.
fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// A copy without `null` fields, which the server treats as absent.
fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Equal as the server sees it: numbers by value, resource quantities by amount, `null` fields
/// as absent (`creationTimestamp: null` in templates).
fn same_value(a: &Value, b: &Value, path: &[PathElement]) -> bool {
    if values_equal(a, b) || values_equal(&without_nulls(a), &without_nulls(b)) {
        return true;
    }
    let quantity_field = path.iter().any(|pe| {
        matches!(pe, PathElement::Field(f) if matches!(f.as_str(), "limits" | "requests" | "hard" | "capacity" | "overhead" | "storage"))
    });
    quantity_field && quantities_equal(a, b)
}
