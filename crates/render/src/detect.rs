//! Which render kind an app is: forced by the options, implied by exactly one option block (as
//! Argo CD does), or detected from the files at the app path.

use ferry_source::{RepoPath, Tree};

use crate::config::Limits;
use crate::error::RenderError;
use crate::kustomize::KUSTOMIZATION_FILES;
use crate::materialize::Reader;
use crate::options::{RenderOptions, SourceKind};

/// The kind `render` would use for this app.
pub fn detect_kind(
    tree: &dyn Tree,
    app: &RepoPath,
    opts: &RenderOptions,
) -> Result<SourceKind, RenderError> {
    let limits = Limits::default();
    let mut reader = Reader::new(tree, &limits);
    detect(&mut reader, app, opts)
}

pub(crate) fn detect(
    reader: &mut Reader<'_>,
    app: &RepoPath,
    opts: &RenderOptions,
) -> Result<SourceKind, RenderError> {
    crate::check_app_dir(reader, app)?;
    // Listing also records the directory in the read set: adding a kustomization or a Chart.yaml
    // later changes the kind, and so must invalidate a cached render.
    let entries = reader.list(app)?;
    if let Some(kind) = opts.kind {
        return Ok(kind);
    }
    let explicit: Vec<SourceKind> = [
        (opts.helm.is_some(), SourceKind::Helm),
        (opts.kustomize.is_some(), SourceKind::Kustomize),
        (opts.directory.is_some(), SourceKind::Directory),
    ]
    .into_iter()
    .filter_map(|(set, kind)| set.then_some(kind))
    .collect();
    if let [kind] = explicit.as_slice() {
        return Ok(*kind);
    }
    let has = |name: &str| entries.iter().any(|e| e.path.file_name() == name);
    if KUSTOMIZATION_FILES.iter().any(|f| has(f)) {
        return Ok(SourceKind::Kustomize);
    }
    if has("Chart.yaml") {
        return Ok(SourceKind::Helm);
    }
    Ok(SourceKind::Directory)
}
