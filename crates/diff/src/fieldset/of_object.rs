//! The set of fields an object sets, as server-side apply counts them.

use serde_json::{Map, Value};

use super::{FieldSet, FieldSetError};
use crate::path::{OrdValue, Path, PathElement};
use crate::schema::{ListKind, MapKey, Node, Shape};

/// Deepest object nesting walked; deeper objects are rejected, not truncated.
pub const MAX_OBJECT_DEPTH: usize = 96;

/// The fields `obj` sets, as server-side apply records them for an applier: every scalar and
/// atomic value, every item of associative lists and sets, every key of granular maps, empty
/// objects and lists. Intermediate structs are not members.
pub fn fields_of(obj: &Value, node: &Node) -> Result<FieldSet, FieldSetError> {
    let mut set = FieldSet::new();
    fill(obj, node, &mut set, false, 0).map_err(FieldSetError::rooted)?;
    Ok(set)
}

/// Like [`fields_of`] for the value at `at`, but every object and list in it is a member too:
/// what an update that created this subtree touched. Paths are relative to the object root.
pub fn fields_of_subtree(obj: &Value, node: &Node, at: &Path) -> Result<FieldSet, FieldSetError> {
    let mut inner = FieldSet::new();
    fill(obj, node, &mut inner, true, at.0.len()).map_err(|e| e.under_path(at).rooted())?;
    let Some((last, parents)) = at.0.split_last() else { return Ok(inner) };
    let mut set = FieldSet::new();
    let mut here = &mut set;
    for pe in parents {
        here = here.children.entry(pe.clone()).or_default();
    }
    here.members.insert(last.clone());
    if !inner.is_empty() {
        here.children.insert(last.clone(), inner);
    }
    Ok(set)
}

/// Adds what `v` (at the path `here` stands for) sets, relative to that path.
fn fill(
    v: &Value,
    node: &Node,
    here: &mut FieldSet,
    all: bool,
    depth: usize,
) -> Result<(), FieldSetError> {
    if depth > MAX_OBJECT_DEPTH {
        return Err(FieldSetError::TooDeep {
            what: "object",
            path: String::new(),
            max: MAX_OBJECT_DEPTH,
        });
    }
    match (node.shape(v), v) {
        (Shape::Object(n), Value::Object(map)) => fill_fields(map, n, here, all, depth),
        (Shape::List(l), Value::Array(items)) => {
            for item in items {
                let pe = match &l.kind {
                    ListKind::Map(keys) => key_of(item, keys)?,
                    _ => PathElement::Value(OrdValue(item.clone())),
                };
                if here.members.contains(&pe) {
                    return Err(FieldSetError::DuplicateKey {
                        path: String::new(),
                        key: pe.to_string(),
                    });
                }
                here.members.insert(pe.clone());
                if let (ListKind::Map(_), Value::Object(m)) = (&l.kind, item) {
                    let mut sub = FieldSet::new();
                    fill_fields(m, &l.elem, &mut sub, all, depth + 1).map_err(|e| e.under(&pe))?;
                    if !sub.is_empty() {
                        here.children.insert(pe, sub);
                    }
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn fill_fields(
    map: &Map<String, Value>,
    node: &Node,
    here: &mut FieldSet,
    all: bool,
    depth: usize,
) -> Result<(), FieldSetError> {
    for (k, child) in map {
        let (cn, declared_key) = node.field(k);
        let pe = PathElement::Field(k.clone());
        let shape = cn.shape(child);
        let empty = match child {
            Value::Object(m) => m.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Null => true,
            _ => false,
        };
        if declared_key || empty || all || matches!(shape, Shape::Leaf) {
            here.members.insert(pe.clone());
        }
        if !matches!(shape, Shape::Leaf) {
            let mut sub = FieldSet::new();
            fill(child, cn, &mut sub, all, depth + 1).map_err(|e| e.under(&pe))?;
            if !sub.is_empty() {
                here.children.insert(pe, sub);
            }
        }
    }
    Ok(())
}

fn key_of(item: &Value, keys: &[MapKey]) -> Result<PathElement, FieldSetError> {
    item_key(item, keys, "")
}

/// The `k:{...}` element naming an item of an associative list.
pub fn item_key(item: &Value, keys: &[MapKey], at: &str) -> Result<PathElement, FieldSetError> {
    let map =
        item.as_object().ok_or_else(|| FieldSetError::ItemNotObject { path: at.to_string() })?;
    let mut fields = Vec::with_capacity(keys.len());
    for k in keys {
        let v = match (map.get(&k.name), &k.default) {
            (Some(v), _) if !v.is_null() => v.clone(),
            (_, Some(d)) => d.clone(),
            _ => {
                return Err(FieldSetError::MissingKey {
                    path: at.to_string(),
                    key: k.name.clone(),
                });
            }
        };
        fields.push((k.name.clone(), OrdValue(v)));
    }
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(PathElement::Key(fields))
}
