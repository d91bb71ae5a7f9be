//! The document tree SOPS works on: maps keep their order (the MAC is computed in tree order, so a
//! sorted map would change it), scalars keep their type (the MAC hashes `5` and `"5"` alike, but
//! decryption gives back the type the `type:` field names).
//!
//! Hand-written rather than `serde_json::Value` because the workspace's `serde_json` sorts maps
//! (turning on `preserve_order` would change every content hash the render stage computes).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A key of a map: a name, or a comment standing between entries (dotenv only: the YAML and
/// JSON readers drop comments, which the MAC does not cover).
#[derive(Clone, Debug, PartialEq)]
pub enum Key {
    Name(String),
    Comment(String),
}

/// One node of a document.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A decrypted value that is not UTF-8 (the binary store's `data`, or `type:bytes`).
    Bytes(Vec<u8>),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

impl Node {
    /// The value of `name` in a map.
    pub fn get(&self, name: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find_map(|(k, v)| match k {
                Key::Name(n) if n == name => Some(v),
                _ => None,
            }),
            _ => None,
        }
    }

    /// Removes `name` from a map and returns its value.
    pub fn remove(&mut self, name: &str) -> Option<Node> {
        let Node::Map(entries) = self else { return None };
        let at = entries.iter().position(|(k, _)| matches!(k, Key::Name(n) if n == name))?;
        Some(entries.remove(at).1)
    }

    /// The bytes SOPS feeds into the MAC for a scalar (Go's `sops.ToBytes`); `None` for null
    /// and containers, which add nothing.
    pub fn mac_bytes(&self) -> Option<Vec<u8>> {
        match self {
            Node::Str(s) => Some(s.as_bytes().to_vec()),
            Node::Bytes(b) => Some(b.clone()),
            Node::Int(i) => Some(i.to_string().into_bytes()),
            Node::Float(f) => Some(go_float(*f).into_bytes()),
            Node::Bool(b) => Some(if *b { b"True".to_vec() } else { b"False".to_vec() }),
            Node::Null | Node::Seq(_) | Node::Map(_) => None,
        }
    }

    /// The node as JSON (maps sorted, bytes as lossy text, non-finite floats as null).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Int(i) => Value::from(*i),
            Node::Float(f) => match whole(*f) {
                Some(i) => Value::from(i),
                None => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            },
            Node::Str(s) => Value::String(s.clone()),
            Node::Bytes(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
            Node::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Node::Map(entries) => Value::Object(
                entries
                    .iter()
                    .filter_map(|(k, v)| match k {
                        Key::Name(n) => Some((n.clone(), v.to_json())),
                        Key::Comment(_) => None,
                    })
                    .collect(),
            ),
        }
    }

    /// A node from JSON (for metadata written back into a document).
    pub fn from_json(value: &serde_json::Value) -> Node {
        use serde_json::Value;
        match value {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(*b),
            Value::Number(n) => {
                n.as_i64().map_or_else(|| Node::Float(n.as_f64().unwrap_or(0.0)), Node::Int)
            }
            Value::String(s) => Node::Str(s.clone()),
            Value::Array(items) => Node::Seq(items.iter().map(Node::from_json).collect()),
            Value::Object(map) => Node::Map(
                map.iter().map(|(k, v)| (Key::Name(k.clone()), Node::from_json(v))).collect(),
            ),
        }
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest decimal that reads back the same,
/// never in exponent form. Rust's `Display` for `f64` has the same contract; only the names of
/// the non-finite values differ.
pub fn go_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{f}")
    }
}

/// A float with no fraction, as the integer `sops` prints for it (Go's encoders write the
/// float64 `1` as `1`, and JSON numbers are float64 in `sops`).
fn whole(f: f64) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: every integer below is exact.
    (f.fract() == 0.0 && f.abs() < EXACT).then_some(f as i64)
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => s.serialize_unit(),
            Node::Bool(b) => s.serialize_bool(*b),
            Node::Int(i) => s.serialize_i64(*i),
            Node::Float(f) => match whole(*f) {
                Some(i) => s.serialize_i64(i),
                None => s.serialize_f64(*f),
            },
            Node::Str(v) => s.serialize_str(v),
            Node::Bytes(b) => s.serialize_str(&String::from_utf8_lossy(b)),
            Node::Seq(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Map(entries) => {
                let names = entries.iter().filter(|(k, _)| matches!(k, Key::Name(_)));
                let mut map = s.serialize_map(Some(names.clone().count()))?;
                for (key, value) in names {
                    if let Key::Name(name) = key {
                        map.serialize_entry(name, value)?;
                    }
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML or JSON value")
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(i64::try_from(v).map_or(Node::Float(v as f64), Node::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Node, E> {
        Ok(String::from_utf8(v.to_vec()).map_or_else(|e| Node::Bytes(e.into_bytes()), Node::Str))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries: Vec<(Key, Node)> = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let name = match key {
                Node::Str(s) => s,
                Node::Int(i) => i.to_string(),
                Node::Bool(b) => b.to_string(),
                Node::Float(f) => go_float(f),
                _ => {
                    return Err(de::Error::custom(
                        "a map key is not a scalar; SOPS needs string keys",
                    ));
                }
            };
            let value = map.next_value()?;
            entries.push((Key::Name(name), value));
        }
        Ok(Node::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_formats_like_strconv() {
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(1e21), "1000000000000000000000");
        assert_eq!(go_float(1e-7), "0.0000001");
        assert_eq!(go_float(f64::INFINITY), "+Inf");
    }

    #[test]
    fn maps_keep_their_order() {
        let node: Node = serde_json::from_str(r#"{"b":1,"a":2}"#).expect("valid JSON");
        let Node::Map(entries) = node else { panic!("a map") };
        assert_eq!(entries[0].0, Key::Name("b".into()));
    }
}
