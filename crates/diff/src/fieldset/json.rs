//! `fieldsV1` encoding: `{"f:spec":{"f:replicas":{}},"f:metadata":{"f:labels":{".":{},"f:app":{}}}}`.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::{FieldSet, FieldSetError};
use crate::path::{OrdValue, PathElement};

/// Deepest `fieldsV1` nesting accepted; real objects stay far below it.
pub const MAX_FIELDS_DEPTH: usize = 64;

/// Parses the text of a `fieldsV1` document.
pub fn parse_fields_v1_str(text: &str) -> Result<FieldSet, FieldSetError> {
    let v: Value = serde_json::from_str(text).map_err(FieldSetError::Json)?;
    parse_fields_v1(&v)
}

/// Parses a `fieldsV1` value.
pub fn parse_fields_v1(v: &Value) -> Result<FieldSet, FieldSetError> {
    let mut set = FieldSet::new();
    parse_into(v, &mut set, 0).map_err(FieldSetError::rooted)?;
    Ok(set)
}

/// Errors carry an empty path that callers prefix on the way out, so parsing never formats
/// paths unless something is wrong.
fn parse_into(v: &Value, set: &mut FieldSet, depth: usize) -> Result<(), FieldSetError> {
    if depth > MAX_FIELDS_DEPTH {
        return Err(FieldSetError::TooDeep {
            what: "fieldsV1",
            path: String::new(),
            max: MAX_FIELDS_DEPTH,
        });
    }
    let map = v.as_object().ok_or_else(|| FieldSetError::NotAnObject {
        path: String::new(),
        found: kind_name(v).to_string(),
    })?;
    for (key, child) in map {
        if key == "." {
            continue;
        }
        let pe = parse_element(key).ok_or_else(|| FieldSetError::BadElement {
            path: String::new(),
            element: key.clone(),
        })?;
        let obj = child.as_object().ok_or_else(|| FieldSetError::NotAnObject {
            path: pe.to_string(),
            found: kind_name(child).to_string(),
        })?;
        if obj.is_empty() || obj.contains_key(".") {
            set.members.insert(pe.clone());
        }
        if obj.keys().any(|k| k != ".") {
            let mut sub = FieldSet::new();
            parse_into(child, &mut sub, depth + 1).map_err(|e| e.under(&pe))?;
            set.children.insert(pe, sub);
        }
    }
    Ok(())
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn parse_element(key: &str) -> Option<PathElement> {
    let (prefix, rest) = key.split_at_checked(2)?;
    match prefix {
        "f:" => Some(PathElement::Field(rest.to_string())),
        "v:" => serde_json::from_str::<Value>(rest).ok().map(|v| PathElement::Value(OrdValue(v))),
        "i:" => rest.parse::<usize>().ok().map(PathElement::Index),
        "k:" => {
            let Value::Object(m) = serde_json::from_str::<Value>(rest).ok()? else { return None };
            let mut fields: Vec<(String, OrdValue)> =
                m.into_iter().map(|(k, v)| (k, OrdValue(v))).collect();
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            Some(PathElement::Key(fields))
        }
        _ => None,
    }
}

/// The `fieldsV1` key of a path element, as Kubernetes writes it.
pub fn element_key(pe: &PathElement) -> String {
    match pe {
        PathElement::Field(name) => format!("f:{name}"),
        PathElement::Value(v) => format!("v:{}", v.0),
        PathElement::Index(i) => format!("i:{i}"),
        PathElement::Key(fields) => {
            let parts: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), v.0))
                .collect();
            format!("k:{{{}}}", parts.join(","))
        }
    }
}

impl FieldSet {
    /// Members and the roots of non-empty children, in serialization order.
    fn keys(&self) -> BTreeSet<&PathElement> {
        let live_children = self.children.iter().filter(|(_, c)| !c.is_empty()).map(|(k, _)| k);
        self.members.iter().chain(live_children).collect()
    }

    /// The `fieldsV1` text, byte for byte in Kubernetes' order (fields, keys, values, indices;
    /// `.` first).
    pub fn to_fields_v1_string(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out, false);
        out
    }

    fn write_json(&self, out: &mut String, with_dot: bool) {
        out.push('{');
        let mut first = true;
        if with_dot {
            out.push_str("\".\":{}");
            first = false;
        }
        let keys = self.keys();
        for pe in keys {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&Value::String(element_key(pe)).to_string());
            out.push(':');
            match self.children.get(pe).filter(|c| !c.is_empty()) {
                Some(child) => child.write_json(out, self.members.contains(pe)),
                None => out.push_str("{}"),
            }
        }
        out.push('}');
    }

    /// The `fieldsV1` value (key order then follows `serde_json`'s map).
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        let keys = self.keys();
        for pe in keys {
            let mut inner = match self.children.get(pe).filter(|c| !c.is_empty()) {
                Some(child) => match child.to_fields_v1() {
                    Value::Object(m) => m,
                    _ => Map::new(),
                },
                None => Map::new(),
            };
            if !inner.is_empty() && self.members.contains(pe) {
                inner.insert(".".to_string(), Value::Object(Map::new()));
            }
            map.insert(element_key(pe), Value::Object(inner));
        }
        Value::Object(map)
    }
}
