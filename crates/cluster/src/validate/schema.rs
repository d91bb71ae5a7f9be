//! A CRD version's `openAPIV3Schema` compiled once into a tree the checks walk: patterns as
//! regexes and CEL rules as programs, so a request pays for neither.

use std::collections::BTreeMap;

use serde_json::Value;

use super::SchemaError;
use super::cel::Rule;

/// The JSON types a structural schema names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Object,
    Array,
    String,
    Integer,
    Number,
    Boolean,
}

impl Ty {
    fn parse(s: &str) -> Option<Ty> {
        Some(match s {
            "object" => Ty::Object,
            "array" => Ty::Array,
            "string" => Ty::String,
            "integer" => Ty::Integer,
            "number" => Ty::Number,
            "boolean" => Ty::Boolean,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Ty::Object => "object",
            Ty::Array => "array",
            Ty::String => "string",
            Ty::Integer => "integer",
            Ty::Number => "number",
            Ty::Boolean => "boolean",
        }
    }
}

#[derive(Debug)]
pub struct Pattern {
    pub source: String,
    pub regex: regex::Regex,
}

/// Bounds on a number, a string's length, an array's items or an object's properties.
#[derive(Debug, Default)]
pub struct Bounds {
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub exclusive_minimum: bool,
    pub exclusive_maximum: bool,
    pub multiple_of: Option<f64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub min_properties: Option<u64>,
    pub max_properties: Option<u64>,
}

/// One schema node.
#[derive(Debug, Default)]
pub struct Node {
    pub ty: Option<Ty>,
    pub nullable: bool,
    pub int_or_string: bool,
    pub preserve_unknown: bool,
    pub embedded: bool,
    pub required: Vec<String>,
    pub enumeration: Vec<Value>,
    pub pattern: Option<Pattern>,
    pub bounds: Bounds,
    pub properties: BTreeMap<String, Node>,
    /// `additionalProperties` as a schema (a map).
    pub additional: Option<Box<Node>>,
    pub items: Option<Box<Node>>,
    pub default: Option<Value>,
    pub all_of: Vec<Node>,
    pub any_of: Vec<Node>,
    pub one_of: Vec<Node>,
    pub not: Option<Box<Node>>,
    pub rules: Vec<Rule>,
    /// `x-kubernetes-list-type: set|map` lists refuse duplicates (of the `map` keys).
    pub list_set: bool,
    pub list_map_keys: Vec<String>,
}

impl Node {
    /// Whether unknown fields of an object here are kept.
    pub fn keeps_unknown(&self) -> bool {
        self.preserve_unknown
    }
}

fn u64_of(s: &Value, k: &str) -> Option<u64> {
    s.get(k).and_then(Value::as_u64)
}

fn bounds(s: &Value) -> Bounds {
    Bounds {
        minimum: s.get("minimum").and_then(Value::as_f64),
        maximum: s.get("maximum").and_then(Value::as_f64),
        exclusive_minimum: s.get("exclusiveMinimum").and_then(Value::as_bool) == Some(true),
        exclusive_maximum: s.get("exclusiveMaximum").and_then(Value::as_bool) == Some(true),
        multiple_of: s.get("multipleOf").and_then(Value::as_f64).filter(|m| *m > 0.0),
        min_length: u64_of(s, "minLength"),
        max_length: u64_of(s, "maxLength"),
        min_items: u64_of(s, "minItems"),
        max_items: u64_of(s, "maxItems"),
        min_properties: u64_of(s, "minProperties"),
        max_properties: u64_of(s, "maxProperties"),
    }
}

fn flag(s: &Value, k: &str) -> bool {
    s.get(k).and_then(Value::as_bool) == Some(true)
}

fn strings(s: &Value, k: &str) -> Vec<String> {
    s.get(k)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn branches(s: &Value, k: &str, path: &str) -> Result<Vec<Node>, SchemaError> {
    let Some(list) = s.get(k).and_then(Value::as_array) else { return Ok(vec![]) };
    list.iter().enumerate().map(|(i, b)| compile(b, &format!("{path}.{k}[{i}]"))).collect()
}

/// Compiles `schema`; `path` names it in errors (`spec.versions[0].schema.openAPIV3Schema`).
pub fn compile(schema: &Value, path: &str) -> Result<Node, SchemaError> {
    let pattern = match schema.get("pattern").and_then(Value::as_str) {
        None => None,
        Some(p) => Some(Pattern {
            source: p.to_string(),
            regex: regex::Regex::new(p).map_err(|source| SchemaError::Pattern {
                path: format!("{path}.pattern"),
                source,
            })?,
        }),
    };
    let mut properties = BTreeMap::new();
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            properties.insert(k.clone(), compile(v, &format!("{path}.properties[{k}]"))?);
        }
    }
    let sub = |k: &str| -> Result<Option<Box<Node>>, SchemaError> {
        match schema.get(k) {
            Some(v) if v.is_object() => Ok(Some(Box::new(compile(v, &format!("{path}.{k}"))?))),
            _ => Ok(None),
        }
    };
    let list_type = schema.get("x-kubernetes-list-type").and_then(Value::as_str);
    Ok(Node {
        ty: schema.get("type").and_then(Value::as_str).and_then(Ty::parse),
        nullable: flag(schema, "nullable"),
        int_or_string: flag(schema, "x-kubernetes-int-or-string"),
        preserve_unknown: flag(schema, "x-kubernetes-preserve-unknown-fields"),
        embedded: flag(schema, "x-kubernetes-embedded-resource"),
        required: strings(schema, "required"),
        enumeration: schema.get("enum").and_then(Value::as_array).cloned().unwrap_or_default(),
        pattern,
        bounds: bounds(schema),
        properties,
        additional: sub("additionalProperties")?,
        items: sub("items")?,
        default: schema.get("default").cloned(),
        all_of: branches(schema, "allOf", path)?,
        any_of: branches(schema, "anyOf", path)?,
        one_of: branches(schema, "oneOf", path)?,
        not: sub("not")?,
        rules: super::cel::compile_rules(schema, path)?,
        list_set: list_type == Some("set"),
        list_map_keys: if list_type == Some("map") {
            strings(schema, "x-kubernetes-list-map-keys")
        } else {
            vec![]
        },
    })
}
