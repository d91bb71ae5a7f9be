//! Plain manifest directories (Argo CD `directory`): `*.yaml`, `*.yml`, `*.json` at the app path
//! (and below it with `recurse`), filtered by `include`/`exclude` globs matched against the path
//! relative to the app path; `*.jsonnet` files are evaluated too, as Argo CD does.

use ferry_source::{EntryKind, RepoPath};
use globset::{Glob, GlobMatcher};

use crate::error::RenderError;
use crate::jsonnet;
use crate::materialize::Reader;
use crate::object::Origin;
use crate::options::{DirectoryOptions, JsonnetOptions};
use crate::yaml;

/// Deepest recursion below the app path (symlinked directories could otherwise loop).
const MAX_DEPTH: usize = 48;

/// A manifest file found in the directory, in walk order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Manifest,
    Jsonnet,
}

/// Renders a directory app into (object, origin) pairs in file order.
pub(crate) fn render(
    reader: &mut Reader<'_>,
    app: &RepoPath,
    opts: &DirectoryOptions,
    jsonnet_only: bool,
) -> Result<Vec<(serde_json::Value, Origin)>, RenderError> {
    let include = compile(opts.include.as_deref(), "directory.include")?;
    let exclude = compile(opts.exclude.as_deref(), "directory.exclude")?;
    let mut files = Vec::new();
    walk(reader, app, opts.recurse, 0, &mut files)?;
    let default_jsonnet = JsonnetOptions::default();
    let jsonnet_opts = opts.jsonnet.as_ref().unwrap_or(&default_jsonnet);
    let mut out = Vec::new();
    for (path, kind) in files {
        let rel = relative(app, &path);
        if include.as_ref().is_some_and(|g| !g.is_match(rel)) {
            continue;
        }
        if exclude.as_ref().is_some_and(|g| g.is_match(rel)) {
            continue;
        }
        match kind {
            FileKind::Manifest if jsonnet_only => {}
            FileKind::Manifest => {
                let bytes = reader.read(&path)?;
                for doc in yaml::load_documents(&path, &bytes, reader.limits)? {
                    for value in yaml::flatten_lists(doc.value) {
                        out.push((value, Origin { file: path.clone(), document: doc.index }));
                    }
                }
            }
            FileKind::Jsonnet => {
                for (index, value) in
                    jsonnet::evaluate(reader, &path, jsonnet_opts)?.into_iter().enumerate()
                {
                    for value in yaml::flatten_lists(value) {
                        out.push((value, Origin { file: path.clone(), document: index }));
                    }
                }
            }
        }
    }
    Ok(out)
}

fn walk(
    reader: &mut Reader<'_>,
    dir: &RepoPath,
    recurse: bool,
    depth: usize,
    out: &mut Vec<(RepoPath, FileKind)>,
) -> Result<(), RenderError> {
    if depth > MAX_DEPTH {
        return Err(RenderError::LimitExceeded {
            file: dir.clone(),
            what: "directory depth (a symlink loop?)",
            limit: MAX_DEPTH as u64,
        });
    }
    for entry in reader.list(dir)? {
        let name = entry.path.file_name();
        if name == ".git" {
            continue;
        }
        let kind = match &entry.kind {
            EntryKind::Symlink { .. } if recurse || file_kind(name).is_some() => {
                // Resolving refuses a symlink that leaves the tree, naming it.
                match reader.stat(&entry.path)? {
                    Some(kind) => kind,
                    None => continue,
                }
            }
            EntryKind::Symlink { .. } => continue,
            kind => kind.clone(),
        };
        match kind {
            EntryKind::Dir if recurse => walk(reader, &entry.path, recurse, depth + 1, out)?,
            EntryKind::Dir => {}
            _ => {
                if let Some(kind) = file_kind(name) {
                    out.push((entry.path.clone(), kind));
                }
            }
        }
    }
    Ok(())
}

fn file_kind(name: &str) -> Option<FileKind> {
    if name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json") {
        Some(FileKind::Manifest)
    } else if name.ends_with(".jsonnet") {
        Some(FileKind::Jsonnet)
    } else {
        None
    }
}

fn relative<'p>(app: &RepoPath, path: &'p RepoPath) -> &'p str {
    if app.is_root() {
        return path.as_str();
    }
    path.as_str()
        .strip_prefix(app.as_str())
        .map(|s| s.trim_start_matches('/'))
        .unwrap_or(path.as_str())
}

fn compile(pattern: Option<&str>, field: &'static str) -> Result<Option<GlobMatcher>, RenderError> {
    let Some(pattern) = pattern.map(str::trim).filter(|p| !p.is_empty()) else { return Ok(None) };
    Glob::new(pattern).map(|g| Some(g.compile_matcher())).map_err(|source| RenderError::Glob {
        field,
        pattern: pattern.to_owned(),
        source,
    })
}
