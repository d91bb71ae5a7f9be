//! Strategic merge patch, as kubectl sends it (`apply` client-side, `edit`, `scale`, `label`,
//! `annotate`): lists merge by their `patchMergeKey`, and the directives `$patch`,
//! `$retainKeys`, `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>` apply.

use serde_json::{Map, Value};

use super::PatchError;
use crate::path::values_equal;
use crate::schema::{Node, PatchStrategy, Schema};

const MAX_DEPTH: usize = 96;

/// The place in messages: `.spec.template`, or `.` for the root.
fn loc(at: &str) -> String {
    if at.is_empty() { ".".to_string() } else { at.to_string() }
}
const ORDER: &str = "$setElementOrder/";
const DELETE_PRIMITIVE: &str = "$deleteFromPrimitiveList/";

/// `original` with a strategic merge patch applied.
pub fn strategic_merge(
    original: &Value,
    patch: &Value,
    schema: &Schema,
) -> Result<Value, PatchError> {
    let ty = schema.type_of(original);
    if !ty.strategic_merge {
        let kind = original.get("kind").and_then(Value::as_str).unwrap_or("<unknown>");
        return Err(PatchError::StrategicMergeUnsupported { kind: kind.to_string() });
    }
    let (Value::Object(o), Value::Object(p)) = (original, patch) else {
        return Err(PatchError::NotAnObject { what: "strategic merge patch" });
    };
    match merge_map(o, p, &ty.root, "", 0)? {
        Some(m) => Ok(Value::Object(m)),
        None => Err(PatchError::BadDirective {
            path: loc(""),
            directive: "$patch: delete on the whole object".into(),
        }),
    }
}

fn directive(p: &Map<String, Value>) -> Option<&str> {
    p.get("$patch").and_then(Value::as_str)
}

/// Merged map, or `None` when the patch deletes it.
fn merge_map(
    orig: &Map<String, Value>,
    patch: &Map<String, Value>,
    node: &Node,
    at: &str,
    depth: usize,
) -> Result<Option<Map<String, Value>>, PatchError> {
    if depth > MAX_DEPTH {
        return Err(PatchError::TooDeep { path: loc(at), max: MAX_DEPTH });
    }
    match directive(patch) {
        // kubectl empties the map rather than dropping the field.
        Some("delete") => return Ok(Some(Map::new())),
        Some("replace") => return Ok(Some(clean_map(patch))),
        Some("merge") | None => {}
        Some(other) => {
            return Err(PatchError::BadDirective {
                path: loc(at),
                directive: format!("$patch: {other}"),
            });
        }
    }
    let mut out = orig.clone();
    let mut orders = Vec::new();
    let mut deletions = Vec::new();
    for (k, pv) in patch {
        if let Some(field) = k.strip_prefix(ORDER) {
            orders.push((field.to_string(), pv));
            continue;
        }
        if let Some(field) = k.strip_prefix(DELETE_PRIMITIVE) {
            deletions.push((field.to_string(), pv));
            continue;
        }
        if k == "$patch" || k == "$retainKeys" {
            continue;
        }
        let child_at = format!("{at}.{k}");
        let cn = node.field(k).0;
        if pv.is_null() {
            out.remove(k);
            continue;
        }
        let merged = match (orig.get(k), pv) {
            (Some(Value::Object(o)), Value::Object(p)) => {
                merge_map(o, p, cn, &child_at, depth + 1)?.map(Value::Object)
            }
            (Some(Value::Array(o)), Value::Array(p)) => {
                Some(Value::Array(merge_list(o, p, cn, &child_at, depth + 1)?))
            }
            (None, Value::Object(p)) if directive(p) == Some("delete") => None,
            (_, other) => Some(clean(other)),
        };
        match merged {
            Some(v) => {
                out.insert(k.clone(), v);
            }
            None => {
                out.remove(k);
            }
        }
    }
    for (field, values) in deletions {
        let values = values.as_array().ok_or_else(|| PatchError::BadDirective {
            path: loc(at),
            directive: format!("{DELETE_PRIMITIVE}{field} must be a list"),
        })?;
        if let Some(Value::Array(list)) = out.get_mut(&field) {
            list.retain(|x| !values.iter().any(|v| values_equal(v, x)));
        }
    }
    for (field, order) in orders {
        let order = order.as_array().ok_or_else(|| PatchError::BadDirective {
            path: loc(at),
            directive: format!("{ORDER}{field} must be a list"),
        })?;
        let key = match node.field(&field).0.patch_strategy() {
            PatchStrategy::MergeKey(k) => Some(k.clone()),
            _ => None,
        };
        let original = orig.get(&field).and_then(Value::as_array).cloned().unwrap_or_default();
        if let Some(Value::Array(list)) = out.get_mut(&field) {
            *list = order_items(std::mem::take(list), order, key.as_deref(), &original);
        }
    }
    if let Some(retain) = patch.get("$retainKeys") {
        let keys = retain.as_array().ok_or_else(|| PatchError::BadDirective {
            path: loc(at),
            directive: "$retainKeys must be a list".into(),
        })?;
        out.retain(|k, _| keys.iter().any(|r| r.as_str() == Some(k)));
    }
    Ok(Some(out))
}

fn merge_list(
    orig: &[Value],
    patch: &[Value],
    node: &Node,
    at: &str,
    depth: usize,
) -> Result<Vec<Value>, PatchError> {
    let is_replace = |v: &Value| v.as_object().is_some_and(|m| directive(m) == Some("replace"));
    if patch.iter().any(is_replace) {
        return Ok(patch.iter().filter(|v| !is_replace(v)).map(clean).collect());
    }
    match node.patch_strategy() {
        PatchStrategy::Replace => Ok(patch.iter().map(clean).collect()),
        PatchStrategy::MergePrimitives => {
            let mut out: Vec<Value> = Vec::with_capacity(orig.len() + patch.len());
            for v in orig.iter().chain(patch) {
                if !out.iter().any(|x| values_equal(x, v)) {
                    out.push(clean(v));
                }
            }
            Ok(order_items(out, patch, None, orig))
        }
        PatchStrategy::MergeKey(key) => {
            let key_of = |v: &Value| v.get(key).cloned();
            let mut out = orig.to_vec();
            let mut order = Vec::new();
            for item in patch {
                let Value::Object(pm) = item else {
                    return Err(PatchError::MergeKeyMissing { path: loc(at), key: key.clone() });
                };
                let kv = pm.get(key).ok_or_else(|| PatchError::MergeKeyMissing {
                    path: loc(at),
                    key: key.clone(),
                })?;
                let pos = out.iter().position(|x| key_of(x).is_some_and(|v| values_equal(&v, kv)));
                if directive(pm) == Some("delete") {
                    out.retain(|x| !key_of(x).is_some_and(|v| values_equal(&v, kv)));
                    continue;
                }
                order.push(item.clone());
                match pos {
                    Some(i) => {
                        let merged = match &out[i] {
                            Value::Object(om) => merge_map(
                                om,
                                pm,
                                node.items(),
                                &format!("{at}[{key}={kv}]"),
                                depth + 1,
                            )?,
                            _ => Some(clean_map(pm)),
                        };
                        match merged {
                            Some(m) => out[i] = Value::Object(m),
                            None => {
                                out.remove(i);
                            }
                        }
                    }
                    None => out.push(clean(item)),
                }
            }
            Ok(order_items(out, &order, Some(key), orig))
        }
    }
}

/// Orders a merged list the way kubectl does: the items `order` names (the patch's items, or
/// its `$setElementOrder`) in that order, interleaved with the other items by their positions in
/// the original list; an item new to the list goes before the original items still to place.
fn order_items(
    items: Vec<Value>,
    order: &[Value],
    key: Option<&str>,
    original: &[Value],
) -> Vec<Value> {
    let name = |v: &Value| -> Value {
        match key {
            Some(k) => v.get(k).cloned().unwrap_or(Value::Null),
            None => v.clone(),
        }
    };
    let order_pos = |v: &Value| order.iter().position(|o| values_equal(&name(o), &name(v)));
    let orig_pos = |v: &Value| original.iter().position(|o| values_equal(&name(o), &name(v)));
    let (mut named, mut server): (Vec<Value>, Vec<Value>) =
        items.into_iter().partition(|v| order_pos(v).is_some());
    named.sort_by_key(|v| order_pos(v));
    server.sort_by_key(|v| orig_pos(v).unwrap_or(usize::MAX));
    let mut out = Vec::with_capacity(named.len() + server.len());
    let (mut n, mut s) = (named.into_iter().peekable(), server.into_iter().peekable());
    loop {
        let take_server = match (n.peek(), s.peek()) {
            (None, None) => break,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(x), Some(y)) => matches!((orig_pos(y), orig_pos(x)), (Some(i), Some(j)) if i < j),
        };
        out.extend(if take_server { s.next() } else { n.next() });
    }
    out
}

/// A patch value with its directives removed, for use as a new value.
fn clean(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(clean_map(m)),
        Value::Array(a) => Value::Array(
            a.iter()
                .filter(|x| !x.as_object().is_some_and(|m| directive(m).is_some() && m.len() == 1))
                .map(clean)
                .collect(),
        ),
        other => other.clone(),
    }
}

fn clean_map(m: &Map<String, Value>) -> Map<String, Value> {
    m.iter()
        .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
        .map(|(k, v)| (k.clone(), clean(v)))
        .collect()
}
