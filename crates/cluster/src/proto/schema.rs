//! The field table of the Kubernetes messages (`schema.txt`), parsed once on first use.

use std::collections::HashMap;
use std::sync::OnceLock;

const TABLE: &str = include_str!("schema.txt");

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    Str,
    I32,
    I64,
    Bool,
    Bytes,
    Double,
    Message(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Single,
    Repeated,
    /// `map<string, T>`.
    Map,
    /// A Go embedded struct: its fields appear in the parent's JSON.
    Inline,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub json: String,
    pub ty: Type,
    pub shape: Shape,
}

pub struct Schema {
    pub messages: HashMap<String, HashMap<u32, Field>>,
    /// Lower-cased name to name: kinds spell acronyms differently (CSIDriver, CsiDriver).
    lower: HashMap<String, String>,
}

fn parse_type(text: &str) -> Type {
    match text {
        "s" => Type::Str,
        "i32" => Type::I32,
        "i64" => Type::I64,
        "b" => Type::Bool,
        "y" => Type::Bytes,
        "d" => Type::Double,
        other => Type::Message(other.trim_start_matches('M').to_string()),
    }
}

fn parse() -> Schema {
    let mut messages = HashMap::new();
    let mut lower = HashMap::new();
    for line in TABLE.lines().filter(|l| !l.trim().is_empty()) {
        let mut parts = line.split(' ');
        let Some(name) = parts.next() else { continue };
        let mut fields = HashMap::new();
        for f in parts.filter(|p| !p.is_empty()) {
            let mut it = f.splitn(3, ':');
            let (Some(tag), Some(json), Some(ty)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            let Ok(tag) = tag.parse::<u32>() else { continue };
            let (shape, ty) = match ty.as_bytes().first() {
                Some(b'*') => (Shape::Repeated, &ty[1..]),
                Some(b'%') => (Shape::Map, &ty[1..]),
                Some(b'^') => (Shape::Inline, &ty[1..]),
                _ => (Shape::Single, ty),
            };
            fields.insert(tag, Field { json: json.to_string(), ty: parse_type(ty), shape });
        }
        lower.insert(name.to_lowercase(), name.to_string());
        messages.insert(name.to_string(), fields);
    }
    Schema { messages, lower }
}

pub fn get() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(parse)
}

/// The table's spelling of a message name, matched case-insensitively.
pub fn canonical(name: &str) -> Option<String> {
    get().lower.get(&name.to_lowercase()).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_knows_object_meta_and_embedded_volume_sources() {
        let s = get();
        let meta = &s.messages["apimachinery.pkg.apis.meta.v1.ObjectMeta"];
        assert_eq!(meta[&1].json, "name");
        assert_eq!(meta[&11].shape, Shape::Map);
        let volume = &s.messages["api.core.v1.Volume"];
        assert_eq!(volume[&2].shape, Shape::Inline);
        assert_eq!(s.messages["api.core.v1.PodSpec"][&13].json, "hostIPC");
    }
}
