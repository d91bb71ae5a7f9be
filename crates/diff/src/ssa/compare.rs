//! Which fields an operation added, removed or modified.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::fieldset::{FieldSet, FieldSetError, fields_of_subtree, item_key};
use crate::path::{OrdValue, Path, PathElement, values_equal};
use crate::schema::{ListKind, Node, Shape};

/// The fields that differ between two versions of an object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparison {
    /// In the new version only (with everything under them).
    pub added: FieldSet,
    /// In the old version only (with everything under them).
    pub removed: FieldSet,
    /// In both, with different values.
    pub modified: FieldSet,
}

impl Comparison {
    /// Added or modified fields: what a writer now decides.
    pub fn changed(&self) -> FieldSet {
        self.added.union(&self.modified)
    }

    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.modified.is_empty()
    }
}

/// Compares two versions of an object under `node`.
pub fn compare(old: &Value, new: &Value, node: &Node) -> Result<Comparison, FieldSetError> {
    let mut c = Comparison::default();
    both(old, new, node, &mut Vec::new(), &mut c)?;
    Ok(c)
}

fn both(
    old: &Value,
    new: &Value,
    node: &Node,
    path: &mut Vec<PathElement>,
    c: &mut Comparison,
) -> Result<(), FieldSetError> {
    match (node.shape(old), node.shape(new)) {
        (Shape::Object(n), Shape::Object(_)) => {
            let (Value::Object(a), Value::Object(b)) = (old, new) else { return Ok(()) };
            fields(a, b, n, path, c)
        }
        (Shape::List(l), Shape::List(_)) => {
            let (Value::Array(a), Value::Array(b)) = (old, new) else { return Ok(()) };
            let at = Path(path.clone()).to_string();
            let key = |it: &Value| -> Result<PathElement, FieldSetError> {
                match &l.kind {
                    ListKind::Map(keys) => item_key(it, keys, &at),
                    _ => Ok(PathElement::Value(OrdValue(it.clone()))),
                }
            };
            let mut olds = BTreeMap::new();
            for it in a {
                olds.insert(key(it)?, it);
            }
            let mut news = BTreeMap::new();
            for it in b {
                news.insert(key(it)?, it);
            }
            for (pe, o) in &olds {
                path.push(pe.clone());
                match news.get(pe) {
                    Some(n) => {
                        if let (Value::Object(x), Value::Object(y)) = (o, n) {
                            fields(x, y, &l.elem, path, c)?;
                        }
                    }
                    None => c.removed.extend(&item_subtree(o, &l.elem, path)?),
                }
                path.pop();
            }
            for (pe, n) in &news {
                if !olds.contains_key(pe) {
                    path.push(pe.clone());
                    c.added.extend(&item_subtree(n, &l.elem, path)?);
                    path.pop();
                }
            }
            Ok(())
        }
        _ => {
            if !values_equal(old, new) {
                c.modified.insert(&Path(path.clone()));
            }
            Ok(())
        }
    }
}

/// An associative-list or set item with everything under it.
fn item_subtree(
    item: &Value,
    elem: &Node,
    path: &[PathElement],
) -> Result<FieldSet, FieldSetError> {
    let at = Path(path.to_vec());
    match item {
        Value::Object(m) => {
            let mut set = FieldSet::new();
            set.insert(&at);
            for (k, v) in m {
                let p = at.child(PathElement::Field(k.clone()));
                set.extend(&fields_of_subtree(v, elem.field(k).0, &p)?);
            }
            Ok(set)
        }
        _ => Ok([at].into_iter().collect()),
    }
}

fn fields(
    a: &Map<String, Value>,
    b: &Map<String, Value>,
    node: &Node,
    path: &mut Vec<PathElement>,
    c: &mut Comparison,
) -> Result<(), FieldSetError> {
    for (k, old) in a {
        let cn = node.field(k).0;
        path.push(PathElement::Field(k.clone()));
        match b.get(k) {
            Some(new) => both(old, new, cn, path, c)?,
            None => c.removed.extend(&fields_of_subtree(old, cn, &Path(path.clone()))?),
        }
        path.pop();
    }
    for (k, new) in b {
        if !a.contains_key(k) {
            path.push(PathElement::Field(k.clone()));
            let sub = fields_of_subtree(new, node.field(k).0, &Path(path.clone()))?;
            c.added.extend(&sub);
            path.pop();
        }
    }
    Ok(())
}
