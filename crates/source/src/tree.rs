//! Read-only access to a source tree: a commit's tree read straight from git objects, or a local
//! directory (for `ferry render PATH` and `ferry diff PATH`). The render stage only sees this trait,
//! so it never learns where bytes came from and can never read outside the tree.

use std::path::{Path, PathBuf};

/// A repository-relative path with `/` separators, no leading `/`, no `.` or `..` components.
/// `""` is the root. Constructed only through [`RepoPath::new`], which refuses anything that could
/// leave the tree.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RepoPath(String);

impl RepoPath {
    /// The root of the tree.
    pub fn root() -> Self {
        Self(String::new())
    }

    /// Validates and normalises `raw` (`a//b/./c` → `a/b/c`); `..` is resolved lexically and an
    /// attempt to climb above the root is an error.
    pub fn new(raw: &str) -> Result<Self, TreeError> {
        let mut parts: Vec<&str> = Vec::new();
        if raw.starts_with('/') {
            return Err(TreeError::OutsideTree { path: raw.to_owned() });
        }
        for part in raw.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(TreeError::OutsideTree { path: raw.to_owned() });
                    }
                }
                p if p.contains('\0') || p.contains('\\') => {
                    return Err(TreeError::InvalidPath { path: raw.to_owned() });
                }
                p => parts.push(p),
            }
        }
        Ok(Self(parts.join("/")))
    }

    /// `self/rel`, where `rel` may contain `..` but must stay inside the tree.
    pub fn join(&self, rel: &str) -> Result<Self, TreeError> {
        if rel.starts_with('/') {
            return Err(TreeError::OutsideTree { path: rel.to_owned() });
        }
        if self.0.is_empty() { Self::new(rel) } else { Self::new(&format!("{}/{rel}", self.0)) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The last component (`""` for the root).
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or("")
    }

    /// The containing directory (the root's parent is the root).
    pub fn parent(&self) -> Self {
        match self.0.rfind('/') {
            Some(i) => Self(self.0[..i].to_owned()),
            None => Self::root(),
        }
    }
}

impl std::fmt::Display for RepoPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() { f.write_str(".") } else { f.write_str(&self.0) }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    /// A symlink, with its target as stored (not followed).
    Symlink {
        target: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeEntry {
    pub path: RepoPath,
    pub kind: EntryKind,
    /// Content id (git object id for git trees; `None` where not known). Equal ids mean equal
    /// content, which lets caches skip work.
    pub id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("path {path:?} leaves the repository tree")]
    OutsideTree { path: String },
    #[error("path {path:?} is not a valid repository path")]
    InvalidPath { path: String },
    #[error("{path} does not exist")]
    NotFound { path: RepoPath },
    #[error("{path} is a directory, not a file")]
    IsDir { path: RepoPath },
    #[error("{path} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { path: RepoPath, size: u64, limit: u64 },
    #[error("symlink {path} points to {target:?}, outside the repository tree")]
    SymlinkEscapes { path: RepoPath, target: String },
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("reading {path} from git objects: {message}")]
    Git { path: RepoPath, message: String },
}

/// A read-only tree of files.
///
/// # Guarantees
/// Implementations never return bytes from outside the tree: symlinks are resolved within the
/// tree (and refused when they leave it), and paths are [`RepoPath`]s.
pub trait Tree: Send + Sync {
    /// Entries directly inside `dir`, sorted by path. Symlinks are reported, not followed.
    fn list(&self, dir: &RepoPath) -> Result<Vec<TreeEntry>, TreeError>;

    /// The bytes of the file at `path`, following in-tree symlinks; files over `limit` bytes are
    /// refused without being read whole.
    fn read(&self, path: &RepoPath, limit: u64) -> Result<Vec<u8>, TreeError>;

    /// What is at `path` (following in-tree symlinks), or `None` if nothing is.
    fn stat(&self, path: &RepoPath) -> Result<Option<TreeEntry>, TreeError>;

    /// A stable identifier of this tree's content (a commit or root tree id), if known.
    fn revision(&self) -> Option<String> {
        None
    }
}

/// A local directory seen as a [`Tree`]. Symlinks are followed only when their canonical target
/// stays below the root.
#[derive(Clone, Debug)]
pub struct FsTree {
    root: PathBuf,
}

impl FsTree {
    pub fn new(root: impl AsRef<Path>) -> Result<Self, TreeError> {
        let root = root.as_ref();
        let root = root
            .canonicalize()
            .map_err(|source| TreeError::Io { path: root.display().to_string(), source })?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves `path` to a filesystem path whose canonical form stays under the root.
    fn resolve(&self, path: &RepoPath) -> Result<Option<PathBuf>, TreeError> {
        let joined = self.root.join(path.as_str());
        match joined.canonicalize() {
            Ok(real) if real.starts_with(&self.root) => Ok(Some(real)),
            Ok(real) => Err(TreeError::SymlinkEscapes {
                path: path.clone(),
                target: real.display().to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(TreeError::Io { path: path.to_string(), source }),
        }
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TreeError + '_ {
        move |source| TreeError::Io { path: path.display().to_string(), source }
    }
}

impl Tree for FsTree {
    fn list(&self, dir: &RepoPath) -> Result<Vec<TreeEntry>, TreeError> {
        let real = self.resolve(dir)?.ok_or_else(|| TreeError::NotFound { path: dir.clone() })?;
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&real).map_err(Self::io(&real))? {
            let entry = entry.map_err(Self::io(&real))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(TreeError::InvalidPath { path: entry.path().display().to_string() });
            };
            if dir.is_root() && name == ".git" {
                continue;
            }
            let file_type = entry.file_type().map_err(Self::io(&entry.path()))?;
            let kind = if file_type.is_symlink() {
                let target = std::fs::read_link(entry.path()).map_err(Self::io(&entry.path()))?;
                EntryKind::Symlink { target: target.display().to_string() }
            } else if file_type.is_dir() {
                EntryKind::Dir
            } else {
                EntryKind::File
            };
            out.push(TreeEntry { path: dir.join(name)?, kind, id: None });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn read(&self, path: &RepoPath, limit: u64) -> Result<Vec<u8>, TreeError> {
        use std::io::Read;
        let real = self.resolve(path)?.ok_or_else(|| TreeError::NotFound { path: path.clone() })?;
        let meta = std::fs::metadata(&real).map_err(Self::io(&real))?;
        if meta.is_dir() {
            return Err(TreeError::IsDir { path: path.clone() });
        }
        if meta.len() > limit {
            return Err(TreeError::TooLarge { path: path.clone(), size: meta.len(), limit });
        }
        let file = std::fs::File::open(&real).map_err(Self::io(&real))?;
        let mut buf = Vec::with_capacity(meta.len() as usize);
        // The file may grow between stat and read; the take() keeps the cap honest.
        file.take(limit + 1).read_to_end(&mut buf).map_err(Self::io(&real))?;
        if buf.len() as u64 > limit {
            return Err(TreeError::TooLarge { path: path.clone(), size: buf.len() as u64, limit });
        }
        Ok(buf)
    }

    fn stat(&self, path: &RepoPath) -> Result<Option<TreeEntry>, TreeError> {
        let Some(real) = self.resolve(path)? else { return Ok(None) };
        let meta = std::fs::metadata(&real).map_err(Self::io(&real))?;
        let kind = if meta.is_dir() { EntryKind::Dir } else { EntryKind::File };
        Ok(Some(TreeEntry { path: path.clone(), kind, id: None }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_paths_are_normalised_and_cannot_climb_out() {
        assert_eq!(RepoPath::new("a//b/./c").unwrap().as_str(), "a/b/c");
        assert_eq!(RepoPath::new("a/b/../c").unwrap().as_str(), "a/c");
        assert!(matches!(RepoPath::new("../x"), Err(TreeError::OutsideTree { .. })));
        assert!(matches!(RepoPath::new("/etc/passwd"), Err(TreeError::OutsideTree { .. })));
        let base = RepoPath::new("apps/web").unwrap();
        assert_eq!(base.join("../db/x.yaml").unwrap().as_str(), "apps/db/x.yaml");
        assert!(base.join("../../../etc").is_err());
    }

    #[test]
    fn a_directory_tree_refuses_symlinks_that_leave_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "x: 1").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("evil.yaml")).unwrap();
        std::os::unix::fs::symlink("a.yaml", dir.path().join("good.yaml")).unwrap();
        let tree = FsTree::new(dir.path()).unwrap();
        assert_eq!(tree.read(&RepoPath::new("good.yaml").unwrap(), 100).unwrap(), b"x: 1");
        let err = tree.read(&RepoPath::new("evil.yaml").unwrap(), 100).unwrap_err();
        assert!(matches!(err, TreeError::SymlinkEscapes { .. }), "{err}");
    }

    #[test]
    fn files_over_the_limit_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("big.yaml"), vec![b'a'; 1000]).unwrap();
        let tree = FsTree::new(dir.path()).unwrap();
        let err = tree.read(&RepoPath::new("big.yaml").unwrap(), 10).unwrap_err();
        assert!(matches!(err, TreeError::TooLarge { size: 1000, limit: 10, .. }));
    }
}
