//! What each generator yields, as data: a parameter set is a JSON object (nested as Go templates
//! see it: `.path.basename`); [`flatten`] gives the fasttemplate keys (`path.basename`,
//! `path[0]`, `metadata.labels.env`). Pure: the directory and file listings, the file bytes and
//! the clusters are passed in.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::select::{self, SelectError};
use super::{ClustersGenerator, GitPath, LabelSelector};
use crate::application::{IN_CLUSTER_NAME, IN_CLUSTER_SERVER};

/// One parameter set.
pub type Params = Map<String, Value>;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamsError {
    #[error("list element {index} is not an object of parameters (it is {found})")]
    NotAnObject { index: usize, found: String },
    #[error("git generator path {pattern:?} is not a valid glob: {message}")]
    Glob { pattern: String, message: String },
    #[error(
        "file {path} is not valid {format}: {message}; fix the file (parameters files are JSON objects, YAML mappings, or lists of them)"
    )]
    Malformed { path: String, format: &'static str, message: String },
    #[error("file {path} holds {found}, not an object or a list of objects")]
    FileShape { path: String, found: String },
    #[error("clusters generator selector: {0}")]
    Selector(#[from] SelectError),
    #[error("merge generator: mergeKeys is empty; name the parameters that join the generators")]
    NoMergeKeys,
}

fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(_) => "a number".into(),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// The `list` generator: each element is a parameter set.
pub fn list(elements: &[Value]) -> Result<Vec<Params>, ParamsError> {
    let mut out = Vec::with_capacity(elements.len());
    for (index, e) in elements.iter().enumerate() {
        match e {
            Value::Object(m) => out.push(m.clone()),
            other => return Err(ParamsError::NotAnObject { index, found: kind(other) }),
        }
    }
    Ok(out)
}

/// A glob set from `path` entries (`*` stays within one path segment, `**` crosses them).
struct Globs {
    include: globset::GlobSet,
    exclude: globset::GlobSet,
}

impl Globs {
    fn new(paths: &[GitPath]) -> Result<Self, ParamsError> {
        let (mut include, mut exclude) =
            (globset::GlobSetBuilder::new(), globset::GlobSetBuilder::new());
        for p in paths {
            let pattern = p.path.trim_matches('/');
            let glob = globset::GlobBuilder::new(pattern).literal_separator(true).build().map_err(
                |e| ParamsError::Glob { pattern: p.path.clone(), message: e.to_string() },
            )?;
            if p.exclude {
                exclude.add(glob)
            } else {
                include.add(glob)
            };
        }
        let build = |b: globset::GlobSetBuilder| {
            b.build()
                .map_err(|e| ParamsError::Glob { pattern: String::new(), message: e.to_string() })
        };
        Ok(Self { include: build(include)?, exclude: build(exclude)? })
    }

    fn matches(&self, path: &str) -> bool {
        self.include.is_match(path) && !self.exclude.is_match(path)
    }
}

/// The git `directories` generator over every directory of the tree (paths relative to its
/// root, without slashes at either end): one set per directory an include glob matches and no
/// exclude glob does, in path order.
pub fn directories(all: &[String], patterns: &[GitPath]) -> Result<Vec<Params>, ParamsError> {
    let globs = Globs::new(patterns)?;
    let mut dirs: Vec<&String> = all.iter().filter(|d| globs.matches(d)).collect();
    dirs.sort();
    Ok(dirs.into_iter().map(|d| path_params(d, None)).collect())
}

/// Which of `all` (file paths) the git `files` generator reads.
pub fn matching_files<'a>(
    all: &'a [String],
    patterns: &[GitPath],
) -> Result<Vec<&'a String>, ParamsError> {
    let globs = Globs::new(patterns)?;
    let mut files: Vec<&String> = all.iter().filter(|f| globs.matches(f)).collect();
    files.sort();
    Ok(files)
}

/// The parameter sets of one file of the git `files` generator: the file's keys plus `path`
/// (its directory: `path.path`, `path.basename`, `path.filename`, `path.segments`, …).
pub fn file(path: &str, bytes: &[u8]) -> Result<Vec<Params>, ParamsError> {
    let text = String::from_utf8_lossy(bytes);
    let json = path.ends_with(".json");
    let value: Value = if json {
        serde_json::from_str(&text).map_err(|e| ParamsError::Malformed {
            path: path.to_owned(),
            format: "JSON",
            message: e.to_string(),
        })?
    } else {
        serde_saphyr::from_str(&text).map_err(|e| ParamsError::Malformed {
            path: path.to_owned(),
            format: "YAML",
            message: e.to_string(),
        })?
    };
    let sets = match value {
        Value::Object(m) => vec![m],
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::Object(m) => Ok(m),
                other => Err(ParamsError::FileShape { path: path.to_owned(), found: kind(&other) }),
            })
            .collect::<Result<_, _>>()?,
        other => return Err(ParamsError::FileShape { path: path.to_owned(), found: kind(&other) }),
    };
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    let base = path_params(dir, Some(name));
    Ok(sets
        .into_iter()
        .map(|mut m| {
            m.extend(base.clone());
            m
        })
        .collect())
}

/// `{"path": {"path", "basename", "basenameNormalized", "segments", ["filename", "filenameNormalized"]}}`.
pub fn path_params(dir: &str, filename: Option<&str>) -> Params {
    let shown = if dir.is_empty() { "." } else { dir };
    let basename = dir.rsplit('/').next().filter(|b| !b.is_empty()).unwrap_or(".");
    let segments: Vec<Value> =
        dir.split('/').filter(|s| !s.is_empty()).map(|s| Value::String(s.to_owned())).collect();
    let mut p = Map::new();
    p.insert("path".into(), Value::String(shown.to_owned()));
    p.insert("basename".into(), Value::String(basename.to_owned()));
    p.insert("basenameNormalized".into(), Value::String(normalize(basename)));
    p.insert("segments".into(), Value::Array(segments));
    if let Some(f) = filename {
        p.insert("filename".into(), Value::String(f.to_owned()));
        p.insert("filenameNormalized".into(), Value::String(normalize(f)));
    }
    let mut out = Map::new();
    out.insert("path".into(), Value::Object(p));
    out
}

/// Argo CD's normalisation for names: lower case, and every character a DNS-1123 name cannot
/// hold replaced by `-`.
pub fn normalize(s: &str) -> String {
    s.chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-' | '.') => c,
            _ => '-',
        })
        .collect()
}

/// A cluster as the `clusters` generator sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterInfo {
    pub name: String,
    pub server: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

impl ClusterInfo {
    /// The cluster Ferry runs in, as Argo CD names it.
    pub fn local() -> Self {
        Self {
            name: IN_CLUSTER_NAME.into(),
            server: IN_CLUSTER_SERVER.into(),
            ..Default::default()
        }
    }
}

/// The `clusters` generator: `name`, `nameNormalized`, `server`, `metadata.labels.*`,
/// `metadata.annotations.*` and `values.*` per selected cluster. The local cluster (when no
/// Secret describes it) is taken only by an empty selector, as in Argo CD.
pub fn clusters(g: &ClustersGenerator, known: &[ClusterInfo]) -> Result<Vec<Params>, ParamsError> {
    let selector = g.selector.clone().unwrap_or_default();
    let mut out = Vec::new();
    let has_local = known.iter().any(|c| c.server == IN_CLUSTER_SERVER);
    let local = (!has_local && selector == LabelSelector::default()).then(ClusterInfo::local);
    for c in known.iter().chain(local.iter()) {
        if !select::matches(&selector, &c.labels)? {
            continue;
        }
        let mut p = Map::new();
        p.insert("name".into(), Value::String(c.name.clone()));
        p.insert("nameNormalized".into(), Value::String(normalize(&c.name)));
        p.insert("server".into(), Value::String(c.server.clone()));
        let mut meta = Map::new();
        meta.insert("labels".into(), serde_json::to_value(&c.labels).unwrap_or_default());
        meta.insert("annotations".into(), serde_json::to_value(&c.annotations).unwrap_or_default());
        p.insert("metadata".into(), Value::Object(meta));
        with_values(&mut p, &g.values);
        out.push(p);
    }
    Ok(out)
}

/// Adds `values.<key>` to a set (a generator's `values`).
pub fn with_values(p: &mut Params, values: &BTreeMap<String, String>) {
    if !values.is_empty() {
        p.insert("values".into(), serde_json::to_value(values).unwrap_or_default());
    }
}

/// The `matrix` generator: every set of `a` with every set of `b` (`b`'s keys win).
pub fn matrix(a: &[Params], b: &[Params]) -> Vec<Params> {
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            let mut m = x.clone();
            deep_merge(&mut m, y);
            out.push(m);
        }
    }
    out
}

/// The `merge` generator: each set of `base`, overridden by every set of `others` whose values
/// at `keys` (flattened names, as `server` or `path.basename`) equal the base set's. Sets of
/// `others` that join no base set are dropped, as in Argo CD.
pub fn merge(
    base: &[Params],
    others: &[Vec<Params>],
    keys: &[String],
) -> Result<Vec<Params>, ParamsError> {
    if keys.is_empty() {
        return Err(ParamsError::NoMergeKeys);
    }
    let key_of = |p: &Params| {
        let flat = flatten(p);
        keys.iter().map(|k| flat.get(k).cloned()).collect::<Option<Vec<String>>>()
    };
    let mut out = Vec::with_capacity(base.len());
    for b in base {
        let mut merged = b.clone();
        if let Some(k) = key_of(b) {
            for o in others.iter().flatten() {
                if key_of(o).as_ref() == Some(&k) {
                    deep_merge(&mut merged, o);
                }
            }
        }
        out.push(merged);
    }
    Ok(out)
}

fn deep_merge(into: &mut Params, from: &Params) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => deep_merge(a, b),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The fasttemplate names of a set: nested keys joined with `.`, list items as `[i]`; the git
/// generators' `path` object reads as `path` (its path), `path.basename`, `path[0]` ….
pub fn flatten(p: &Params) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in p {
        flatten_into(&mut out, k, v);
    }
    out
}

fn flatten_into(out: &mut BTreeMap<String, String>, name: &str, v: &Value) {
    match v {
        Value::Object(m) if name == "path" && m.contains_key("basename") => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("path", v) => flatten_into(out, name, v),
                    ("segments", Value::Array(items)) => {
                        for (i, s) in items.iter().enumerate() {
                            flatten_into(out, &format!("{name}[{i}]"), s);
                        }
                    }
                    (k, v) => flatten_into(out, &format!("{name}.{k}"), v),
                }
            }
        }
        Value::Object(m) => {
            for (k, v) in m {
                flatten_into(out, &format!("{name}.{k}"), v);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten_into(out, &format!("{name}[{i}]"), item);
            }
        }
        Value::String(s) => {
            out.insert(name.to_owned(), s.clone());
        }
        Value::Null => {
            out.insert(name.to_owned(), String::new());
        }
        other => {
            out.insert(name.to_owned(), other.to_string());
        }
    }
}

#[cfg(test)]
#[path = "params_tests.rs"]
mod tests;
