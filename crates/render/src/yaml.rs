//! The YAML/JSON loader: bytes of one file → its non-empty documents as JSON values, read the way
//! kubectl reads them (sigs.k8s.io/yaml: YAML 1.1 scalars — `yes`/`on`/`y` are booleans, `012` is
//! octal — converted to JSON), with hard caps on size, nesting, documents and alias expansion.
//!
//! # Caveats
//! Mapping keys stay strings as written; kubectl turns a plain `on:` key into `"true"`. Manifests do
//! not use such keys.

use ferry_source::RepoPath;
use serde_json::Value;
use serde_saphyr::budget::BudgetBreach;

use crate::config::Limits;
use crate::error::RenderError;

/// Stack a parse needs at most (depth budget × deepest frame, with room to spare).
const PARSE_RED_ZONE: usize = 16 * 1024 * 1024;
/// Stack allocated when the current one has less than the red zone left.
const PARSE_STACK: usize = 32 * 1024 * 1024;

/// One document of a file, with its position among the file's non-empty documents.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub index: usize,
    pub value: Value,
}

/// Parses `bytes` (the content of `file`) into its documents. JSON files (`*.json`) hold one
/// value; YAML files hold any number of documents separated by `---`. Empty documents are skipped.
pub fn load_documents(
    file: &RepoPath,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Vec<Document>, RenderError> {
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(RenderError::LimitExceeded {
            file: file.clone(),
            what: "file size",
            limit: limits.max_file_bytes,
        });
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| RenderError::InvalidUtf8 { file: file.clone(), offset: e.valid_up_to() })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if file.file_name().ends_with(".json") {
        return load_json(file, text, limits);
    }
    load_yaml(file, text, limits)
}

fn load_json(file: &RepoPath, text: &str, limits: &Limits) -> Result<Vec<Document>, RenderError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    // serde_json refuses nesting beyond 128 on its own; our own cap is checked afterwards.
    let value: Value = serde_json::from_str(text).map_err(|e| RenderError::Yaml {
        file: file.clone(),
        line: Some(e.line()),
        message: format!("invalid JSON: {e}"),
    })?;
    check_depth(file, &value, limits.max_depth)?;
    Ok(if value.is_null() { Vec::new() } else { vec![Document { index: 0, value }] })
}

fn load_yaml(file: &RepoPath, text: &str, limits: &Limits) -> Result<Vec<Document>, RenderError> {
    let options = yaml_options(limits, text.len());
    // The deserializer recurses once per nesting level before the depth budget stops it; with
    // debug builds' large frames that can exceed a 2 MiB thread stack, so parse on a stack that
    // is known to be large enough (grown only when the current one is short).
    let values: Vec<Value> = stacker::maybe_grow(PARSE_RED_ZONE, PARSE_STACK, || {
        serde_saphyr::from_str_multiple_with_options(text, options)
    })
    .map_err(|e| yaml_error(file, limits, &e))?;
    let mut docs = Vec::with_capacity(values.len());
    for (index, value) in values.into_iter().enumerate() {
        if value.is_null() {
            continue;
        }
        docs.push(Document { index, value });
    }
    Ok(docs)
}

/// serde-saphyr options for kubectl-compatible YAML 1.1 reading under our caps.
pub(crate) fn yaml_options(limits: &Limits, len: usize) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_reader_input_bytes = Some(len.saturating_add(1));
    budget.max_depth = limits.max_depth;
    budget.flow_nesting_limit = limits.max_depth;
    budget.max_documents = limits.max_documents_per_file;
    // A document's node and event counts are bounded by its size; these caps only have to stop
    // alias amplification, which `alias_limits` does more precisely.
    budget.max_events = len.saturating_mul(2).saturating_add(limits.max_alias_events).max(10_000);
    budget.max_nodes = len.saturating_add(limits.max_alias_events).max(10_000);
    budget.max_total_scalar_bytes = len.saturating_add(limits.max_alias_bytes).saturating_add(1);
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = limits.max_alias_events;
    options.alias_limits.max_replay_stack_depth = 32;
    // go-yaml v2 (what kubectl uses) reads `012` as octal and `yes`/`on` as booleans.
    options.legacy_octal_numbers = true;
    options.strict_booleans = false;
    options.with_snippet = false;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    options
}

fn yaml_error(file: &RepoPath, limits: &Limits, err: &serde_saphyr::Error) -> RenderError {
    let line = err.location().map(|l| l.line() as usize).filter(|l| *l > 0);
    let inner = err.without_snippet();
    let message = inner.to_string();
    match budget_breach(inner) {
        Some(BudgetBreach::Depth { .. }) => {
            RenderError::TooDeep { file: file.clone(), line, limit: limits.max_depth }
        }
        Some(BudgetBreach::Documents { .. }) => RenderError::LimitExceeded {
            file: file.clone(),
            what: "number of YAML documents",
            limit: limits.max_documents_per_file as u64,
        },
        Some(_) => RenderError::AliasBudget { file: file.clone(), line, message },
        None if is_alias_limit(inner) => {
            RenderError::AliasBudget { file: file.clone(), line, message }
        }
        // The scanner's own nesting guard fires before the budget for flow collections.
        None if message.contains("recursion limit exceeded") => {
            RenderError::TooDeep { file: file.clone(), line, limit: limits.max_depth }
        }
        None => RenderError::Yaml { file: file.clone(), line, message },
    }
}

fn budget_breach(err: &serde_saphyr::Error) -> Option<&BudgetBreach> {
    match err {
        serde_saphyr::Error::Budget { breach, .. } => Some(breach),
        serde_saphyr::Error::AliasError { error, .. } => budget_breach(error),
        _ => None,
    }
}

fn is_alias_limit(err: &serde_saphyr::Error) -> bool {
    match err {
        serde_saphyr::Error::AliasReplayLimitExceeded { .. }
        | serde_saphyr::Error::AliasExpansionLimitExceeded { .. }
        | serde_saphyr::Error::AliasReplayStackDepthExceeded { .. }
        | serde_saphyr::Error::AliasReplayCounterOverflow { .. } => true,
        serde_saphyr::Error::AliasError { error, .. } => is_alias_limit(error),
        _ => false,
    }
}

fn check_depth(file: &RepoPath, value: &Value, limit: usize) -> Result<(), RenderError> {
    fn depth(value: &Value) -> usize {
        match value {
            Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    if depth(value) > limit {
        return Err(RenderError::TooDeep { file: file.clone(), line: None, limit });
    }
    Ok(())
}

/// Turns the documents of one file into objects: a `kind: *List` document with `items` is
/// flattened into its items (as kubectl does), every other document must be an object.
pub(crate) fn flatten_lists(value: Value) -> Vec<Value> {
    match value {
        Value::Object(mut map)
            if map.get("kind").and_then(Value::as_str).is_some_and(|k| k.ends_with("List"))
                && map.get("items").is_some_and(Value::is_array) =>
        {
            match map.remove("items") {
                Some(Value::Array(items)) => items.into_iter().flat_map(flatten_lists).collect(),
                _ => Vec::new(),
            }
        }
        other => vec![other],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(text: &str) -> Result<Vec<Value>, RenderError> {
        let file = RepoPath::new("x.yaml").unwrap();
        load_documents(&file, text.as_bytes(), &Limits::default())
            .map(|docs| docs.into_iter().map(|d| d.value).collect())
    }

    #[test]
    fn empty_documents_are_skipped_and_the_rest_keep_their_order() {
        let docs = load("---\n---\na: 1\n---\n# only a comment\n---\nb: 2\n").unwrap();
        assert_eq!(docs, vec![json!({"a": 1}), json!({"b": 2})]);
    }

    #[test]
    fn invalid_utf8_is_refused_naming_the_file_and_offset() {
        let file = RepoPath::new("apps/bad.yaml").unwrap();
        let err = load_documents(&file, b"a: \xff\xfe\n", &Limits::default()).unwrap_err();
        assert!(matches!(err, RenderError::InvalidUtf8 { offset: 3, .. }), "{err}");
        assert!(err.to_string().contains("apps/bad.yaml"), "{err}");
    }

    #[test]
    fn a_syntax_error_names_the_file_and_line() {
        let err = load("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, RenderError::Yaml { line: Some(_), .. }), "{text}");
        assert!(text.starts_with("x.yaml:"), "{text}");
    }

    #[test]
    fn lists_are_flattened_into_their_items() {
        let list = json!({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
            {"apiVersion": "v1", "kind": "ConfigMapList", "items": [
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}]}]});
        let names: Vec<_> =
            flatten_lists(list).iter().map(|o| o["metadata"]["name"].clone()).collect();
        assert_eq!(names, vec![json!("a"), json!("b")]);
    }
}
