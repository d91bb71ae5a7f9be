//! Jsonnet with jrsonnet. Every import is resolved through the [`Tree`](ferry_source::Tree) before
//! evaluation starts (Jsonnet imports are string literals, so the import graph is static): relative
//! to the importing file, then in the library paths, all inside the repository. An absolute path or
//! one that climbs out of the repository is an error naming the importing file.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use ferry_source::{EntryKind, RepoPath};
use jrsonnet_evaluator::async_import::{AsyncImportResolver, ResolvedImportResolver, async_import};
use jrsonnet_evaluator::manifest::{JsonFormat, manifest_json_ex};
use jrsonnet_evaluator::tla::TlaArg;
use jrsonnet_evaluator::trace::PathResolver;
use jrsonnet_evaluator::{AsPathLike, IStr, ResolvePath, SourcePath, State, apply_tla};
use jrsonnet_ir::SourceFile;
use serde_json::Value;

use crate::error::RenderError;
use crate::materialize::Reader;
use crate::options::{JsonnetOptions, JsonnetVar};

/// Evaluates `file` with the app's TLAs, ext vars and library paths. The output (an object, or an
/// array of objects, nested arrays flattened) comes back as a list of values in order.
pub(crate) fn evaluate(
    reader: &mut Reader<'_>,
    file: &RepoPath,
    opts: &JsonnetOptions,
) -> Result<Vec<Value>, RenderError> {
    let fail = |message: String| RenderError::Jsonnet { file: file.clone(), message };
    let mut libs = Vec::new();
    for lib in &opts.libs {
        let path = RepoPath::new(lib.trim_start_matches("./"))
            .map_err(|_| RenderError::OutsideTree { file: file.clone(), reference: lib.clone() })?;
        libs.push(path);
    }
    for var in opts.tlas.iter().chain(&opts.ext_vars) {
        // Code arguments are evaluated outside the import graph resolved below; an import in them
        // could not be checked against the tree, so it is refused.
        if var.code && var.value.contains("import") {
            return Err(fail(format!(
                "the code of {:?} uses import, which is not supported in TLA or ext var code; \
                 import from a file in the repository instead",
                var.name
            )));
        }
    }

    let initializer = jrsonnet_stdlib::ContextInitializer::new(PathResolver::Absolute);
    for var in opts.ext_vars.iter().filter(|v| !v.code) {
        initializer.add_ext_str(var.name.as_str().into(), var.value.as_str().into());
    }
    // The initializer shares its settings with this handle, so code ext vars evaluated below
    // (they need the state and its stdlib) still reach `std.extVar`.
    let settings = initializer.clone();
    let mut builder = State::builder();
    builder.import_resolver(ResolvedImportResolver::new()).context_initializer(initializer);
    let state = builder.build();
    let Some(_entered) = state.try_enter() else {
        return Err(fail("another Jsonnet evaluation is running on this thread".into()));
    };
    // Code arguments are evaluated as snippets up front: jrsonnet would otherwise load them
    // through the import resolver, which only knows files of the tree.
    let snippet = |var: &JsonnetVar| {
        state
            .evaluate_snippet_with(
                format!("<code of {}>", var.name),
                var.value.as_str(),
                state.context_initializer(),
            )
            .map_err(|e| fail(format!("code of {:?}: {}", var.name, format_error(&e))))
    };
    for var in opts.ext_vars.iter().filter(|v| v.code) {
        settings.add_ext_var(var.name.as_str().into(), snippet(var)?);
    }
    // IStr's interior mutability is its interning refcount, not its hash or equality.
    #[allow(clippy::mutable_key_type)]
    let mut tlas = std::collections::HashMap::<IStr, TlaArg>::new();
    for var in &opts.tlas {
        let arg = if var.code {
            TlaArg::Val(snippet(var)?)
        } else {
            TlaArg::String(var.value.as_str().into())
        };
        tlas.insert(var.name.as_str().into(), arg);
    }

    let resolver =
        TreeResolver { reader: std::cell::RefCell::new(reader), libs, entry: file.clone() };
    let entry = block_on(async_import(state.clone(), &resolver, &Path::new(file.as_str())))?;
    let value = state.import_resolved(entry).map_err(|e| fail(format_error(&e)))?;
    let value = apply_tla(&tlas, value).map_err(|e| fail(format_error(&e)))?;
    let json =
        manifest_json_ex(&value, &JsonFormat::default()).map_err(|e| fail(format_error(&e)))?;
    let value: Value =
        serde_json::from_str(&json).map_err(|e| fail(format!("output is not JSON: {e}")))?;
    let mut out = Vec::new();
    flatten(value, &mut out);
    Ok(out)
}

fn format_error(e: &jrsonnet_evaluator::Error) -> String {
    e.to_string().trim().to_owned()
}

/// Arrays (nested too) become their elements; `null` entries are dropped.
fn flatten(value: Value, out: &mut Vec<Value>) {
    match value {
        Value::Array(items) => items.into_iter().for_each(|v| flatten(v, out)),
        Value::Null => {}
        other => out.push(other),
    }
}

/// Resolves imports through the tree. Paths are carried as `SourceFile`s holding the repository
/// path, so errors and `std.thisFile` show repository paths.
struct TreeResolver<'r, 'a> {
    reader: std::cell::RefCell<&'r mut Reader<'a>>,
    libs: Vec<RepoPath>,
    entry: RepoPath,
}

impl TreeResolver<'_, '_> {
    fn repo_path_of(source: &SourcePath) -> Option<RepoPath> {
        let file = source.downcast_ref::<SourceFile>()?;
        RepoPath::new(file.path().to_str()?).ok()
    }

    fn exists(&self, path: &RepoPath) -> Result<bool, RenderError> {
        Ok(matches!(self.reader.borrow_mut().stat(path)?, Some(EntryKind::File)))
    }

    fn source(path: &RepoPath) -> SourcePath {
        SourcePath::new(SourceFile::new(PathBuf::from(path.as_str())))
    }
}

impl AsyncImportResolver for &TreeResolver<'_, '_> {
    type Error = RenderError;

    fn resolve_from(
        &self,
        from: &SourcePath,
        path: &dyn AsPathLike,
    ) -> impl Future<Output = Result<SourcePath, RenderError>> {
        let result = (|| {
            let requested = match path.as_path() {
                ResolvePath::Str(s) => s.to_owned(),
                ResolvePath::Path(p) => p.to_string_lossy().into_owned(),
            };
            let importer = TreeResolver::repo_path_of(from);
            let importer_name = importer.clone().unwrap_or_else(|| self.entry.clone());
            let outside = || RenderError::OutsideTree {
                file: importer_name.clone(),
                reference: requested.clone(),
            };
            // The entry file itself is requested from the default location.
            let Some(importer) = importer else {
                return Ok(TreeResolver::source(
                    &RepoPath::new(&requested).map_err(|_| outside())?,
                ));
            };
            let direct = crate::paths::resolve_in_repo(&importer.parent(), &requested)
                .ok_or_else(outside)?;
            if self.exists(&direct)? {
                return Ok(TreeResolver::source(&direct));
            }
            for lib in &self.libs {
                let candidate =
                    crate::paths::resolve_in_repo(lib, &requested).ok_or_else(outside)?;
                if self.exists(&candidate)? {
                    return Ok(TreeResolver::source(&candidate));
                }
            }
            Err(RenderError::Jsonnet {
                file: importer_name.clone(),
                message: format!(
                    "import {requested:?} not found next to the file or in the library paths {:?}",
                    self.libs.iter().map(RepoPath::as_str).collect::<Vec<_>>()
                ),
            })
        })();
        std::future::ready(result)
    }

    fn load_file_contents(
        &self,
        resolved: &SourcePath,
    ) -> impl Future<Output = Result<Vec<u8>, RenderError>> {
        let result = match TreeResolver::repo_path_of(resolved) {
            Some(path) => self.reader.borrow_mut().read(&path),
            None => Err(RenderError::Jsonnet {
                file: self.entry.clone(),
                message: format!("cannot load {resolved}"),
            }),
        };
        std::future::ready(result)
    }
}

/// Drives a future whose every await is immediately ready (the tree is synchronous).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}
