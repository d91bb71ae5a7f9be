//! Writing a subtree to a directory, only for external tools (kustomize, helm) that need files.
//!
//! Symlinks are written as the regular files or directories they point at after in-tree
//! resolution (the tree refuses ones that leave it), so nothing written can point outside `dest`.
//! `.git` is never written. Counts and sizes are capped because a tree is untrusted input
//! (symlinked directories can multiply it).

use std::path::{Path, PathBuf};

use crate::tree::{EntryKind, RepoPath, Tree, TreeError};

#[derive(Debug, thiserror::Error)]
pub enum MaterializeError {
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("materializing {dir}: more than {limit} files")]
    TooManyFiles { dir: RepoPath, limit: usize },
    #[error("materializing {dir}: more than {limit} bytes")]
    TooManyBytes { dir: RepoPath, limit: u64 },
    #[error("materializing {dir}: directories nested deeper than {limit}")]
    TooDeep { dir: RepoPath, limit: usize },
    #[error("destination {path} is not an empty directory")]
    DestinationNotEmpty { path: PathBuf },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaterializeLimits {
    pub max_files: usize,
    pub max_bytes: u64,
    pub max_file_bytes: u64,
    pub max_depth: usize,
}

impl Default for MaterializeLimits {
    fn default() -> Self {
        Self { max_files: 20_000, max_bytes: 512 << 20, max_file_bytes: 64 << 20, max_depth: 64 }
    }
}

/// What was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Materialized {
    pub files: usize,
    pub bytes: u64,
}

/// Writes the subtree at `dir` of `tree` into `dest` (created if missing, must be empty).
pub fn materialize(
    tree: &dyn Tree,
    dir: &RepoPath,
    dest: &Path,
    limits: &MaterializeLimits,
) -> Result<Materialized, MaterializeError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| MaterializeError::Io { path, source }
    };
    std::fs::create_dir_all(dest).map_err(io(dest))?;
    if std::fs::read_dir(dest).map_err(io(dest))?.next().is_some() {
        return Err(MaterializeError::DestinationNotEmpty { path: dest.to_owned() });
    }
    let mut stats = Materialized::default();
    let root = tree.stat(dir)?.ok_or_else(|| TreeError::NotFound { path: dir.clone() })?;
    if root.kind != EntryKind::Dir {
        return Err(TreeError::Git { path: dir.clone(), message: "not a directory".into() }.into());
    }
    write_dir(tree, dir, dir, dest, limits, 0, &mut stats)?;
    Ok(stats)
}

/// [`materialize`] into a fresh temporary directory, removed when the handle drops.
pub fn materialize_temp(
    tree: &dyn Tree,
    dir: &RepoPath,
    limits: &MaterializeLimits,
) -> Result<tempfile::TempDir, MaterializeError> {
    let tmp = tempfile::Builder::new()
        .prefix("ferry-src-")
        .tempdir()
        .map_err(|source| MaterializeError::Io { path: std::env::temp_dir(), source })?;
    materialize(tree, dir, tmp.path(), limits)?;
    Ok(tmp)
}

fn write_dir(
    tree: &dyn Tree,
    top: &RepoPath,
    dir: &RepoPath,
    dest: &Path,
    limits: &MaterializeLimits,
    depth: usize,
    stats: &mut Materialized,
) -> Result<(), MaterializeError> {
    if depth > limits.max_depth {
        return Err(MaterializeError::TooDeep { dir: top.clone(), limit: limits.max_depth });
    }
    for entry in tree.list(dir)? {
        let name = entry.path.file_name();
        if name == ".git" {
            continue;
        }
        let target = dest.join(name);
        // Symlinks become what they point at; `stat` follows them and refuses escapes.
        let kind = match &entry.kind {
            EntryKind::Symlink { .. } => {
                tree.stat(&entry.path)?
                    .ok_or_else(|| TreeError::NotFound { path: entry.path.clone() })?
                    .kind
            }
            other => other.clone(),
        };
        match kind {
            EntryKind::Dir => {
                std::fs::create_dir(&target)
                    .map_err(|source| MaterializeError::Io { path: target.clone(), source })?;
                write_dir(tree, top, &entry.path, &target, limits, depth + 1, stats)?;
            }
            _ => {
                stats.files += 1;
                if stats.files > limits.max_files {
                    return Err(MaterializeError::TooManyFiles {
                        dir: top.clone(),
                        limit: limits.max_files,
                    });
                }
                let bytes = tree.read(&entry.path, limits.max_file_bytes)?;
                stats.bytes += bytes.len() as u64;
                if stats.bytes > limits.max_bytes {
                    return Err(MaterializeError::TooManyBytes {
                        dir: top.clone(),
                        limit: limits.max_bytes,
                    });
                }
                std::fs::write(&target, bytes)
                    .map_err(|source| MaterializeError::Io { path: target.clone(), source })?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::FsTree;

    #[test]
    fn a_subtree_is_written_with_in_tree_symlinks_as_copies() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("app/base")).unwrap();
        std::fs::write(src.path().join("app/base/a.yaml"), "a: 1").unwrap();
        std::os::unix::fs::symlink("base/a.yaml", src.path().join("app/link.yaml")).unwrap();
        let tree = FsTree::new(src.path()).unwrap();
        let out =
            materialize_temp(&tree, &RepoPath::new("app").unwrap(), &MaterializeLimits::default())
                .unwrap();
        assert_eq!(std::fs::read_to_string(out.path().join("base/a.yaml")).unwrap(), "a: 1");
        let link = out.path().join("link.yaml");
        assert!(!link.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(link).unwrap(), "a: 1");
    }

    #[test]
    fn a_symlink_leaving_the_tree_stops_materializing() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("app")).unwrap();
        std::os::unix::fs::symlink("/etc", src.path().join("app/etc")).unwrap();
        let tree = FsTree::new(src.path()).unwrap();
        let err =
            materialize_temp(&tree, &RepoPath::new("app").unwrap(), &MaterializeLimits::default())
                .unwrap_err();
        assert!(matches!(err, MaterializeError::Tree(TreeError::SymlinkEscapes { .. })), "{err}");
    }

    #[test]
    fn a_symlink_loop_through_directories_hits_the_depth_cap() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("app")).unwrap();
        std::os::unix::fs::symlink(".", src.path().join("app/again")).unwrap();
        let tree = FsTree::new(src.path()).unwrap();
        let limits = MaterializeLimits { max_depth: 5, ..Default::default() };
        let err = materialize_temp(&tree, &RepoPath::new("app").unwrap(), &limits).unwrap_err();
        assert!(matches!(err, MaterializeError::TooDeep { .. }), "{err}");
    }

    #[test]
    fn a_non_empty_destination_is_refused() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("a.yaml"), "a: 1").unwrap();
        let dest = tempfile::tempdir().unwrap();
        std::fs::write(dest.path().join("old"), "x").unwrap();
        let tree = FsTree::new(src.path()).unwrap();
        let err = materialize(&tree, &RepoPath::root(), dest.path(), &MaterializeLimits::default())
            .unwrap_err();
        assert!(matches!(err, MaterializeError::DestinationNotEmpty { .. }));
    }
}
