//! Finding and removing values by [`Path`], with the schema naming list items.

use serde_json::Value;

use crate::fieldset::item_key;
use crate::path::{OrdValue, Path, PathElement};
use crate::schema::{ListKind, Node};

/// The index of the list item `pe` names.
pub(crate) fn find_item(items: &[Value], node: &Node, pe: &PathElement) -> Option<usize> {
    match pe {
        PathElement::Index(i) => (*i < items.len()).then_some(*i),
        PathElement::Value(v) => items.iter().position(|it| OrdValue(it.clone()) == *v),
        PathElement::Key(_) => {
            let Node::List(l) = node else { return None };
            let ListKind::Map(keys) = &l.kind else { return None };
            items.iter().position(|it| item_key(it, keys, "").ok().as_ref() == Some(pe))
        }
        PathElement::Field(_) => None,
    }
}

/// The node of the value one step below a value at `node`.
pub(crate) fn step_node<'a>(node: &'a Node, pe: &PathElement) -> &'a Node {
    match pe {
        PathElement::Field(name) => node.field(name).0,
        _ => node.items(),
    }
}

/// The value at `path`, if the object has one.
pub fn get<'a>(obj: &'a Value, node: &Node, path: &Path) -> Option<&'a Value> {
    let mut v = obj;
    let mut n = node;
    for pe in &path.0 {
        v = match (pe, v) {
            (PathElement::Field(name), Value::Object(m)) => m.get(name)?,
            (_, Value::Array(items)) => &items[find_item(items, n, pe)?],
            _ => return None,
        };
        n = step_node(n, pe);
    }
    Some(v)
}

/// The JSON pointer (RFC 6901) of `path` in this object, with list positions resolved.
pub fn pointer(obj: &Value, node: &Node, path: &Path) -> Option<String> {
    let mut v = obj;
    let mut n = node;
    let mut out = String::new();
    for pe in &path.0 {
        out.push('/');
        v = match (pe, v) {
            (PathElement::Field(name), Value::Object(m)) => {
                out.push_str(&name.replace('~', "~0").replace('/', "~1"));
                m.get(name)?
            }
            (_, Value::Array(items)) => {
                let i = find_item(items, n, pe)?;
                out.push_str(&i.to_string());
                &items[i]
            }
            _ => return None,
        };
        n = step_node(n, pe);
    }
    Some(out)
}

/// Removes the value at `path`; whether something was removed.
pub fn remove(obj: &mut Value, node: &Node, path: &Path) -> bool {
    let Some((last, parents)) = path.0.split_last() else { return false };
    let mut v = obj;
    let mut n = node;
    for pe in parents {
        v = match (pe, v) {
            (PathElement::Field(name), Value::Object(m)) => match m.get_mut(name) {
                Some(c) => c,
                None => return false,
            },
            (_, Value::Array(items)) => match find_item(items, n, pe) {
                Some(i) => &mut items[i],
                None => return false,
            },
            _ => return false,
        };
        n = step_node(n, pe);
    }
    match (last, v) {
        (PathElement::Field(name), Value::Object(m)) => m.remove(name).is_some(),
        (_, Value::Array(items)) => match find_item(items, n, last) {
            Some(i) => {
                items.remove(i);
                true
            }
            None => false,
        },
        _ => false,
    }
}
