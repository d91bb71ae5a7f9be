//! Validation of a value against a compiled schema node, collecting every field error with the
//! path and words kube-apiserver uses (`spec.x in body should match '…'`).

use serde_json::{Value, json};

use super::field::{FieldError, Kind, type_name};
use super::schema::{Node, Ty};

/// The path of a child field (`spec` + `source` = `spec.source`).
pub fn child(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

fn in_body(path: &str) -> &str {
    if path.is_empty() { "body" } else { path }
}

fn is_integer(v: &Value) -> bool {
    match v {
        Value::Number(n) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

fn type_ok(node: &Node, v: &Value) -> bool {
    if node.int_or_string {
        return is_integer(v) || v.is_string();
    }
    match node.ty {
        None => true,
        Some(Ty::Object) => v.is_object(),
        Some(Ty::Array) => v.is_array(),
        Some(Ty::String) => v.is_string(),
        Some(Ty::Integer) => is_integer(v),
        Some(Ty::Number) => v.is_number(),
        Some(Ty::Boolean) => v.is_boolean(),
    }
}

fn type_error(node: &Node, v: &Value, path: &str) -> FieldError {
    let want =
        if node.int_or_string { "integer,string" } else { node.ty.map_or("object", Ty::name) };
    let actual = type_name(v);
    FieldError {
        kind: Kind::TypeInvalid,
        ..FieldError::invalid(
            path,
            &json!(actual),
            format!("{} in body must be of type {want}: {actual:?}", in_body(path)),
        )
    }
}

/// Checks `v` against `node` and then, unless a value has the wrong type or an unsupported
/// value (kube-apiserver's "blocking" errors, which would make rules fail confusingly), runs
/// the CEL rules.
pub fn validate(node: &Node, v: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    check(node, v, old, "", errs);
    let blocking = errs.iter().any(|e| matches!(e.kind, Kind::TypeInvalid | Kind::NotSupported));
    if !blocking {
        rules(node, v, old, "", errs);
    }
}

/// Evaluates the CEL rules of `node` and its children on `v`.
fn rules(node: &Node, v: &Value, old: Option<&Value>, path: &str, errs: &mut Vec<FieldError>) {
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                let old_v = old.and_then(|o| o.get(k));
                if let Some(p) = node.properties.get(k) {
                    rules(p, val, old_v, &child(path, k), errs);
                } else if let Some(a) = &node.additional {
                    rules(a, val, old_v, &format!("{path}[{k}]"), errs);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = &node.items {
                for (i, val) in items.iter().enumerate() {
                    rules(item, val, None, &format!("{path}[{i}]"), errs);
                }
            }
        }
        _ => {}
    }
    for rule in &node.rules {
        errs.extend(rule.check(v, old, path));
    }
}

/// Checks `v` (and its children) against `node`; `old` is the stored value at the same path.
fn check(node: &Node, v: &Value, old: Option<&Value>, path: &str, errs: &mut Vec<FieldError>) {
    if v.is_null() {
        if !node.nullable && (node.ty.is_some() || node.int_or_string) {
            errs.push(type_error(node, v, path));
        }
        return;
    }
    if !type_ok(node, v) {
        errs.push(type_error(node, v, path));
        return;
    }
    if !node.enumeration.is_empty() && !node.enumeration.contains(v) {
        let allowed: Vec<String> = node
            .enumeration
            .iter()
            .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string))
            .collect();
        errs.push(FieldError::not_supported(path, v, &allowed));
    }
    match v {
        Value::Object(m) => check_object(node, m, old, path, errs),
        Value::Array(items) => check_array(node, items, path, errs),
        Value::String(s) => check_string(node, s, v, path, errs),
        Value::Number(n) => check_number(node, n.as_f64().unwrap_or_default(), v, path, errs),
        _ => {}
    }
    check_combinators(node, v, old, path, errs);
}

fn check_object(
    node: &Node,
    m: &serde_json::Map<String, Value>,
    old: Option<&Value>,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    for r in &node.required {
        if !m.contains_key(r) {
            errs.push(FieldError::required(child(path, r), ""));
        }
    }
    if node.embedded && !m.is_empty() {
        for k in ["apiVersion", "kind"] {
            if m.get(k).and_then(Value::as_str).is_none_or(str::is_empty) {
                errs.push(FieldError::required(child(path, k), "must not be empty"));
            }
        }
    }
    let b = &node.bounds;
    let n = m.len() as u64;
    if let Some(max) = b.max_properties.filter(|max| n > *max) {
        errs.push(too_many(path, n, max));
    }
    if let Some(min) = b.min_properties.filter(|min| n < *min) {
        let d = format!("{} in body should have at least {min} properties", in_body(path));
        errs.push(FieldError::invalid(path, &json!(n), d));
    }
    for (k, v) in m {
        let old_v = old.and_then(|o| o.get(k));
        if let Some(p) = node.properties.get(k) {
            check(p, v, old_v, &child(path, k), errs);
        } else if let Some(a) = &node.additional {
            check(a, v, old_v, &format!("{path}[{k}]"), errs);
        }
    }
}

fn too_many(path: &str, n: u64, max: u64) -> FieldError {
    FieldError {
        field: path.to_string(),
        kind: Kind::TooMany,
        value: Some(n.to_string()),
        detail: format!("must have at most {max} items"),
    }
}

fn check_array(node: &Node, items: &[Value], path: &str, errs: &mut Vec<FieldError>) {
    let b = &node.bounds;
    let n = items.len() as u64;
    if let Some(max) = b.max_items.filter(|max| n > *max) {
        errs.push(too_many(path, n, max));
    }
    if let Some(min) = b.min_items.filter(|min| n < *min) {
        let d = format!("{} in body should have at least {min} items", in_body(path));
        errs.push(FieldError::invalid(path, &json!(n), d));
    }
    if let Some(item) = &node.items {
        for (i, v) in items.iter().enumerate() {
            check(item, v, None, &format!("{path}[{i}]"), errs);
        }
    }
    let key_of = |v: &Value| -> Value {
        if node.list_map_keys.is_empty() {
            return v.clone();
        }
        let keys: serde_json::Map<String, Value> = node
            .list_map_keys
            .iter()
            .map(|k| (k.clone(), v.get(k).cloned().unwrap_or(Value::Null)))
            .collect();
        Value::Object(keys)
    };
    if node.list_set || !node.list_map_keys.is_empty() {
        let mut seen: Vec<Value> = Vec::new();
        for (i, v) in items.iter().enumerate() {
            let key = key_of(v);
            if seen.contains(&key) {
                errs.push(FieldError {
                    field: format!("{path}[{i}]"),
                    kind: Kind::Duplicate,
                    value: Some(super::field::shown(&key)),
                    detail: String::new(),
                });
            } else {
                seen.push(key);
            }
        }
    }
}

fn check_string(node: &Node, s: &str, v: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(p) = &node.pattern
        && !p.regex.is_match(s)
    {
        let d = format!("{} in body should match '{}'", in_body(path), p.source);
        errs.push(FieldError::invalid(path, v, d));
    }
    let len = s.chars().count() as u64;
    if let Some(max) = node.bounds.max_length.filter(|max| len > *max) {
        errs.push(FieldError {
            field: path.to_string(),
            kind: Kind::TooLong,
            value: None,
            detail: format!("may not be longer than {max}"),
        });
    }
    if let Some(min) = node.bounds.min_length.filter(|min| len < *min) {
        let d = format!("{} in body should be at least {min} chars long", in_body(path));
        errs.push(FieldError::invalid(path, v, d));
    }
}

fn check_number(node: &Node, x: f64, v: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let b = &node.bounds;
    let at = in_body(path);
    if let Some(min) = b.minimum {
        let bad = if b.exclusive_minimum { x <= min } else { x < min };
        if bad {
            let rel = if b.exclusive_minimum { "greater than" } else { "greater than or equal to" };
            errs.push(FieldError::invalid(path, v, format!("{at} in body should be {rel} {min}")));
        }
    }
    if let Some(max) = b.maximum {
        let bad = if b.exclusive_maximum { x >= max } else { x > max };
        if bad {
            let rel = if b.exclusive_maximum { "less than" } else { "less than or equal to" };
            errs.push(FieldError::invalid(path, v, format!("{at} in body should be {rel} {max}")));
        }
    }
    if let Some(m) = b.multiple_of
        && (x / m).fract() != 0.0
    {
        errs.push(FieldError::invalid(
            path,
            v,
            format!("{at} in body should be a multiple of {m}"),
        ));
    }
}

fn passes(node: &Node, v: &Value, old: Option<&Value>, path: &str) -> bool {
    let mut errs = Vec::new();
    check(node, v, old, path, &mut errs);
    errs.is_empty()
}

fn check_combinators(
    node: &Node,
    v: &Value,
    old: Option<&Value>,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    for branch in &node.all_of {
        check(branch, v, old, path, errs);
    }
    let shown = json!(type_name(v));
    let at = in_body(path);
    if !node.any_of.is_empty() && !node.any_of.iter().any(|b| passes(b, v, old, path)) {
        let d = format!("{at} in body must validate at least one schema (anyOf)");
        errs.push(FieldError::invalid(path, &shown, d));
    }
    if !node.one_of.is_empty()
        && node.one_of.iter().filter(|b| passes(b, v, old, path)).count() != 1
    {
        let d = format!("{at} in body must validate one and only one schema (oneOf)");
        errs.push(FieldError::invalid(path, &shown, d));
    }
    if let Some(not) = &node.not
        && passes(not, v, old, path)
    {
        let d = format!("{at} in body should not validate the schema (not)");
        errs.push(FieldError::invalid(path, &shown, d));
    }
}
