//! Render stage: plain YAML, Kustomize, Helm, Jsonnet into ordered objects with origins.
//!
//! `render(tree, app_path, options, context)` turns the files of one app in a source tree into the
//! objects to apply, in source order, each with the file and document it came from, plus the set
//! of repository paths the render looked at (so a commit that touches none of them leaves the app
//! alone) and content hashes. [`RenderCache`] skips renders whose inputs did not change.
//!
//! Architecture Invariant: nothing outside the tree is read. Files come only through
//! [`ferry_source::Tree`]; tools (kustomize, helm) run on a scratch copy written from the tree;
//! every path an app names (values files, kustomize bases, Jsonnet imports, library paths) is
//! resolved as a [`RepoPath`], which cannot climb out of the repository.

mod cache;
pub mod cli;
mod config;
mod detect;
mod directory;
mod error;
mod exec;
mod helm;
mod jsonnet;
mod kustomize;
mod materialize;
mod object;
mod options;
mod paths;
mod substitute;
mod tool_version;
pub mod yaml;

pub use cache::{CacheStats, Lookup, RenderCache, UNOWNED_KEYS};
pub use config::{Limits, RenderConfig, RenderContext, Tools};
pub use detect::detect_kind;
pub use error::RenderError;
pub use ferry_secrets::Keyring;
pub use ferry_source::{RepoPath, Tree};
pub use helm::{HELM_INSTALL_HINT, HELM_SHIM};
pub use kustomize::KUSTOMIZATION_FILES;
pub use materialize::materialize;
pub use object::{ObjectKey, Origin, Rendered, RenderedObject, canonical_json, content_hash};
pub use options::{
    DirectoryOptions, HelmOptions, HelmParameter, JsonnetOptions, JsonnetVar, KustomizeOptions,
    RenderOptions, SourceKind, Substitute,
};
pub use paths::resolve_in_repo;
pub use substitute::substitute_text;

use ferry_source::EntryKind;
use serde_json::Value;

use crate::materialize::Reader;

/// Renders the app at `app_path` of `tree`.
///
/// # Guarantees
/// - Objects come in source order (file order, then document order; tool output order for
///   kustomize and helm); the same inputs give byte-identical objects and the same hashes.
/// - An error is never "no objects": a missing path, a bad file or a failing tool is an `Err`.
/// - Two objects with the same group, kind, namespace and name are an error naming both origins.
pub fn render(
    tree: &dyn Tree,
    app_path: &RepoPath,
    opts: &RenderOptions,
    ctx: &RenderContext,
) -> Result<Rendered, RenderError> {
    let limits = &ctx.config.limits;
    let keys = ctx.decryption.clone().unwrap_or_default();
    let mut reader = Reader::new(tree, limits).with_keys(keys);
    let kind = detect::detect(&mut reader, app_path, opts)?;
    let pairs = match kind {
        SourceKind::Directory | SourceKind::Jsonnet => {
            let dir = opts.directory.clone().unwrap_or_default();
            directory::render(&mut reader, app_path, &dir, kind == SourceKind::Jsonnet)?
        }
        SourceKind::Kustomize => {
            let k = opts.kustomize.clone().unwrap_or_default();
            kustomize::render(&mut reader, app_path, &k, &ctx.config)?
        }
        SourceKind::Helm => {
            let h = opts.helm.clone().unwrap_or_default();
            helm::render(
                &mut reader,
                app_path,
                &h,
                &ctx.app_name,
                ctx.namespace.as_deref(),
                &ctx.config,
            )?
        }
    };
    let objects = finish(pairs, opts, limits)?;
    Ok(Rendered::new(objects, reader.read_set))
}

/// Checks, substitutes and hashes the objects; fails on duplicates.
fn finish(
    pairs: Vec<(Value, Origin)>,
    opts: &RenderOptions,
    limits: &Limits,
) -> Result<Vec<RenderedObject>, RenderError> {
    if pairs.len() > limits.max_objects {
        let file = pairs.last().map(|(_, o)| o.file.clone()).unwrap_or_default();
        return Err(RenderError::LimitExceeded {
            file,
            what: "number of objects in one render",
            limit: limits.max_objects as u64,
        });
    }
    let mut objects = Vec::with_capacity(pairs.len());
    for (value, origin) in pairs {
        let value = match &opts.substitute {
            Some(subst) => substitute::apply(value, &origin, subst, limits)?,
            None => value,
        };
        object::check_object(&value, &origin)?;
        objects.push(RenderedObject::sized(value, origin, limits.max_object_bytes)?);
    }
    object::check_duplicates(&objects)?;
    Ok(objects)
}

/// Whether the app path is a directory of the tree (following in-tree symlinks).
pub(crate) fn check_app_dir(reader: &mut Reader<'_>, app: &RepoPath) -> Result<(), RenderError> {
    match reader.stat(app)? {
        None => Err(RenderError::AppPathMissing { path: app.clone() }),
        Some(EntryKind::Dir) => Ok(()),
        Some(_) => Err(RenderError::AppPathNotDir { path: app.clone() }),
    }
}
