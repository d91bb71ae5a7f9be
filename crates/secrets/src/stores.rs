//! The file formats `sops` reads and writes: YAML (any number of documents, each with the same
//! `sops` map), JSON, dotenv (`KEY=value` lines, metadata flattened into `sops_…` keys) and
//! binary (the whole file as the one value `data` of a JSON document).

use crate::error::SopsError;
use crate::node::{Key, Node};

/// A file format, chosen by extension as `sops` chooses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
    Dotenv,
    Binary,
}

impl Format {
    /// `.yaml`/`.yml` → YAML, `.json` → JSON, `.env` → dotenv, anything else binary.
    pub fn from_path(path: &str) -> Format {
        let name = path.rsplit('/').next().unwrap_or(path);
        let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
        match ext {
            "yaml" | "yml" => Format::Yaml,
            "json" => Format::Json,
            "env" => Format::Dotenv,
            _ => Format::Binary,
        }
    }

    /// The name `sops` gives the format (`--input-type`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Dotenv => "dotenv",
            Format::Binary => "binary",
        }
    }

    /// Whether `bytes` may be a SOPS file of this format: a cheap look for the metadata key,
    /// so that plain files are not parsed twice. A `true` is confirmed by parsing.
    pub fn sniff(self, bytes: &[u8]) -> bool {
        let has_line = |prefix: &[u8]| {
            bytes.starts_with(prefix)
                || bytes.windows(prefix.len() + 1).any(|w| w[0] == b'\n' && &w[1..] == prefix)
        };
        match self {
            Format::Yaml => has_line(b"sops:"),
            Format::Dotenv => has_line(b"sops_mac=") || has_line(b"sops_version="),
            Format::Json | Format::Binary => bytes.windows(6).any(|w| w == b"\"sops\""),
        }
    }
}

/// A parsed file: its documents (without metadata) and the `sops` map, if any.
pub struct Parsed {
    pub documents: Vec<Node>,
    pub metadata: Option<Node>,
}

/// Parses a file of `format` (plain or encrypted).
pub fn parse(format: Format, bytes: &[u8]) -> Result<Parsed, SopsError> {
    let mut documents = match format {
        Format::Yaml => parse_yaml(bytes)?,
        Format::Json | Format::Binary => vec![parse_json(format, bytes)?],
        Format::Dotenv => vec![parse_dotenv(bytes)?],
    };
    let mut metadata = None;
    for doc in &mut documents {
        // A list or scalar document carries no metadata (and `encrypt` refuses it).
        if !matches!(doc, Node::Map(_)) {
            continue;
        }
        let found = match format {
            Format::Dotenv => take_flat_metadata(doc)?,
            _ => doc.remove("sops"),
        };
        if found.is_some() {
            metadata = metadata.or(found);
        }
    }
    Ok(Parsed { documents, metadata })
}

fn parse_yaml(bytes: &[u8]) -> Result<Vec<Node>, SopsError> {
    let text = std::str::from_utf8(bytes).map_err(|e| SopsError::Parse {
        format: "yaml",
        message: format!("not UTF-8 at byte {}", e.valid_up_to()),
    })?;
    let mut options = serde_saphyr::Options::default();
    let mut budget = serde_saphyr::Budget::default();
    // Aliases may not grow a document past a few times its size (billion-laughs guard).
    budget.max_total_scalar_bytes = text.len().saturating_mul(4).saturating_add(1024);
    options.budget = Some(budget);
    options.with_snippet = false;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    let docs: Vec<Node> =
        serde_saphyr::from_str_multiple_with_options(text, options).map_err(|e| {
            SopsError::Parse { format: "yaml", message: e.without_snippet().to_string() }
        })?;
    Ok(docs.into_iter().filter(|d| *d != Node::Null).collect())
}

fn parse_json(format: Format, bytes: &[u8]) -> Result<Node, SopsError> {
    serde_json::from_slice(bytes).map_err(|e| SopsError::Parse {
        format: format.name(),
        message: format!("invalid JSON at line {}: {e}", e.line()),
    })
}

fn parse_dotenv(bytes: &[u8]) -> Result<Node, SopsError> {
    let text = String::from_utf8_lossy(bytes);
    let mut entries = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            entries.push((Key::Comment(comment.to_owned()), Node::Null));
            continue;
        }
        let (key, value) = line.split_once('=').ok_or_else(|| SopsError::Parse {
            format: "dotenv",
            message: format!("line {} has no '=' (expected KEY=value)", i + 1),
        })?;
        entries.push((Key::Name(key.to_owned()), Node::Str(value.replace("\\n", "\n"))));
    }
    Ok(Node::Map(entries))
}

/// Takes the `sops_…` keys out of a dotenv document and unflattens them (`__map_`, `__list_N`).
fn take_flat_metadata(doc: &mut Node) -> Result<Option<Node>, SopsError> {
    let Node::Map(entries) = doc else { return Ok(None) };
    // Plain files may have their own `sops_…` variables; metadata has a MAC or a version.
    let is_metadata = |k: &Key| matches!(k, Key::Name(n) if n == "sops_mac" || n == "sops_version");
    if !entries.iter().any(|(k, _)| is_metadata(k)) {
        return Ok(None);
    }
    let mut flat = Vec::new();
    entries.retain(|(k, v)| match k {
        Key::Name(name) if name.starts_with("sops_") => {
            flat.push((name["sops_".len()..].to_owned(), v.clone()));
            false
        }
        _ => true,
    });
    if flat.is_empty() {
        return Ok(None);
    }
    let mut root = serde_json::Value::Object(serde_json::Map::new());
    for (name, value) in flat {
        let text = match value {
            Node::Str(s) => s,
            _ => continue,
        };
        let value = match name.as_str() {
            "mac_only_encrypted" => serde_json::Value::Bool(text == "true"),
            _ => serde_json::Value::String(text),
        };
        insert_flat(&mut root, &name, value)?;
    }
    Ok(Some(Node::from_json(&root)))
}

fn insert_flat(
    root: &mut serde_json::Value,
    name: &str,
    value: serde_json::Value,
) -> Result<(), SopsError> {
    use serde_json::Value;
    let bad = || SopsError::Metadata(format!("the dotenv metadata key sops_{name} is malformed"));
    let mut tokens = Vec::new();
    let mut rest = name;
    let first_end = [rest.find("__map_"), rest.find("__list_")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(rest.len());
    tokens.push(Ok(rest[..first_end].to_owned()));
    rest = &rest[first_end..];
    while !rest.is_empty() {
        let (is_list, after) = if let Some(a) = rest.strip_prefix("__map_") {
            (false, a)
        } else if let Some(a) = rest.strip_prefix("__list_") {
            (true, a)
        } else {
            return Err(bad());
        };
        let end = [after.find("__map_"), after.find("__list_")]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(after.len());
        let token = &after[..end];
        tokens.push(if is_list {
            Err(token.parse::<usize>().map_err(|_| bad())?)
        } else {
            Ok(token.to_owned())
        });
        rest = &after[end..];
    }
    let mut current = root;
    let last = tokens.len() - 1;
    for (i, token) in tokens.iter().enumerate() {
        let next_is_list = tokens.get(i + 1).is_some_and(|t| t.is_err());
        let fresh = || {
            if next_is_list { Value::Array(Vec::new()) } else { Value::Object(Default::default()) }
        };
        let slot = match (token, &mut *current) {
            (Ok(key), Value::Object(map)) => map.entry(key.clone()).or_insert_with(fresh),
            (Err(index), Value::Array(items)) => {
                if items.len() <= *index {
                    items.resize(*index + 1, Value::Null);
                }
                if items[*index].is_null() && i != last {
                    items[*index] = fresh();
                }
                &mut items[*index]
            }
            _ => return Err(bad()),
        };
        if i == last {
            *slot = value;
            return Ok(());
        }
        current = slot;
    }
    Ok(())
}

/// Writes plain documents in `format` (the metadata, if given, appended as `sops` writes it).
pub fn emit(
    format: Format,
    documents: &[Node],
    metadata: Option<&Node>,
) -> Result<Vec<u8>, SopsError> {
    let with_md = |doc: &Node| {
        let mut doc = doc.clone();
        if let (Some(md), Node::Map(entries)) = (metadata, &mut doc) {
            entries.push((Key::Name("sops".into()), md.clone()));
        }
        doc
    };
    match format {
        Format::Yaml => {
            let docs: Vec<Node> = documents.iter().map(with_md).collect();
            // As `sops` (go-yaml v3) writes YAML: four-space indentation, list items indented,
            // long lines never folded (ENC values are long), multi-line strings as `|` blocks.
            let opts = serde_saphyr::ser_options! {
                indent_step: 4,
                compact_list_indent: false,
                folded_wrap_chars: usize::MAX,
            };
            let text = if docs.len() == 1 {
                serde_saphyr::to_string_with_options(&docs[0], opts)
            } else {
                serde_saphyr::to_string_multiple_with_options(&docs, opts)
            };
            text.map(String::into_bytes).map_err(|e| SopsError::Emit(e.to_string()))
        }
        Format::Json => {
            let doc = documents.first().map(with_md).unwrap_or(Node::Map(Vec::new()));
            // Tab indentation, as `sops` writes JSON.
            let mut out = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
            let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
            serde::Serialize::serialize(&doc, &mut ser)
                .map_err(|e| SopsError::Emit(e.to_string()))?;
            out.push(b'\n');
            Ok(out)
        }
        Format::Dotenv => emit_dotenv(documents.first(), metadata),
        Format::Binary => match metadata {
            Some(_) => emit(Format::Json, documents, metadata),
            None => Ok(match documents.first().and_then(|d| d.get("data")) {
                Some(Node::Str(s)) => s.clone().into_bytes(),
                Some(Node::Bytes(b)) => b.clone(),
                _ => Vec::new(),
            }),
        },
    }
}

fn emit_dotenv(doc: Option<&Node>, metadata: Option<&Node>) -> Result<Vec<u8>, SopsError> {
    let mut out = String::new();
    if let Some(Node::Map(entries)) = doc {
        for (key, value) in entries {
            match (key, value) {
                (Key::Comment(c), _) => out.push_str(&format!("#{c}\n")),
                (Key::Name(k), Node::Seq(_) | Node::Map(_)) => {
                    return Err(SopsError::Emit(format!(
                        "{k}: a dotenv value cannot be a list or map"
                    )));
                }
                (Key::Name(k), v) => {
                    let text = v
                        .mac_bytes()
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
                    out.push_str(&format!("{k}={}\n", text.replace('\n', "\\n")));
                }
            }
        }
    }
    if let Some(md) = metadata {
        let mut flat = Vec::new();
        flatten("sops", &md.to_json(), &mut flat);
        flat.sort();
        for (k, v) in flat {
            out.push_str(&format!("{k}={}\n", v.replace('\n', "\\n")));
        }
    }
    Ok(out.into_bytes())
}

fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let sep = if prefix == "sops" { "_" } else { "__map_" };
                flatten(&format!("{prefix}{sep}{k}"), v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}__list_{i}"), v, out);
            }
        }
        Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        Value::Null => {}
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_follows_the_extension() {
        assert_eq!(Format::from_path("a/secret.enc.yaml"), Format::Yaml);
        assert_eq!(Format::from_path("x.env"), Format::Dotenv);
        assert_eq!(Format::from_path("tls.key"), Format::Binary);
    }

    #[test]
    fn dotenv_metadata_unflattens_into_lists_and_maps() {
        let text = b"A=1\nsops_age__list_0__map_recipient=age1x\nsops_age__list_0__map_enc=E\\nF\nsops_version=3.11.0\n";
        let parsed = parse(Format::Dotenv, text).expect("valid dotenv");
        let md = parsed.metadata.expect("metadata").to_json();
        assert_eq!(md["age"][0]["recipient"], "age1x");
        assert_eq!(md["age"][0]["enc"], "E\nF");
        assert_eq!(parsed.documents[0].to_json(), serde_json::json!({"A": "1"}));
    }

    #[test]
    fn a_plain_dotenv_file_may_have_sops_variables() {
        let parsed = parse(Format::Dotenv, b"sops_enabled=true\n").expect("valid dotenv");
        assert!(parsed.metadata.is_none());
        assert!(!Format::Dotenv.sniff(b"sops_enabled=true\n"));
    }

    #[test]
    fn sniffing_finds_only_top_level_metadata() {
        assert!(Format::Yaml.sniff(b"a: 1\nsops:\n  mac: x\n"));
        assert!(!Format::Yaml.sniff(b"a:\n  sops: 1\n"));
    }
}
