//! Writes part of a [`Tree`] to a scratch directory for tools that need real files (kustomize,
//! helm). Only bytes that came through the tree are written, so a tool never sees anything the
//! tree refused: symlinks become plain copies of their in-tree targets, escaping ones fail.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use ferry_secrets::{Format, Keyring};

use ferry_source::{EntryKind, RepoPath, Tree};

use crate::config::Limits;
use crate::error::RenderError;

/// Deepest directory nesting (through symlinks too) that materialising follows; a symlink loop
/// ends here instead of filling the disk.
const MAX_DIR_DEPTH: usize = 48;

/// Tracks what one render has read, against its limits.
pub(crate) struct Reader<'a> {
    pub tree: &'a dyn Tree,
    pub limits: &'a Limits,
    pub read_set: BTreeSet<RepoPath>,
    files: usize,
    bytes: u64,
    /// Keys for SOPS files: `Some` in a render (an encrypted file is decrypted, or the render
    /// fails), `None` to copy files as they are.
    keys: Option<Arc<Keyring>>,
}

/// A file's content, and whether it was decrypted on the way.
pub(crate) struct Content {
    pub bytes: Vec<u8>,
    pub decrypted: bool,
}

impl<'a> Reader<'a> {
    pub fn new(tree: &'a dyn Tree, limits: &'a Limits) -> Self {
        Self { tree, limits, read_set: BTreeSet::new(), files: 0, bytes: 0, keys: None }
    }

    /// Decrypts SOPS files with `keys` as they are read (an empty ring still finds them, and
    /// fails: an encrypted file is never used as it is).
    pub fn with_keys(mut self, keys: Arc<Keyring>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Reads a file through the tree, decrypting it when it is a SOPS file.
    pub fn read(&mut self, path: &RepoPath) -> Result<Vec<u8>, RenderError> {
        self.read_content(path).map(|c| c.bytes)
    }

    /// [`Reader::read`], saying whether the content was decrypted.
    pub fn read_content(&mut self, path: &RepoPath) -> Result<Content, RenderError> {
        let bytes = self.read_raw(path)?;
        let Some(keys) = &self.keys else { return Ok(Content { bytes, decrypted: false }) };
        let format = Format::from_path(path.as_str());
        match ferry_secrets::decrypt(format, &bytes, keys) {
            Ok(None) => Ok(Content { bytes, decrypted: false }),
            Ok(Some(plain)) => {
                let bytes = plain
                    .to_bytes()
                    .map_err(|source| RenderError::Decrypt { file: path.clone(), source })?;
                Ok(Content { bytes, decrypted: true })
            }
            Err(source) => Err(RenderError::Decrypt { file: path.clone(), source }),
        }
    }

    /// Reads a file through the tree as it is, counting it against the render's limits.
    fn read_raw(&mut self, path: &RepoPath) -> Result<Vec<u8>, RenderError> {
        self.files += 1;
        if self.files > self.limits.max_files {
            return Err(RenderError::LimitExceeded {
                file: path.clone(),
                what: "number of files read by one render",
                limit: self.limits.max_files as u64,
            });
        }
        let bytes =
            self.tree.read(path, self.limits.max_file_bytes).map_err(RenderError::tree(path))?;
        self.count_bytes(path, bytes.len() as u64)?;
        self.read_set.insert(path.clone());
        Ok(bytes)
    }

    pub fn count_bytes(&mut self, path: &RepoPath, n: u64) -> Result<(), RenderError> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > self.limits.max_total_bytes {
            return Err(RenderError::LimitExceeded {
                file: path.clone(),
                what: "total bytes read by one render",
                limit: self.limits.max_total_bytes,
            });
        }
        Ok(())
    }

    pub fn list(&mut self, dir: &RepoPath) -> Result<Vec<ferry_source::TreeEntry>, RenderError> {
        let entries = self.tree.list(dir).map_err(RenderError::tree(dir))?;
        self.read_set.insert(dir.clone());
        Ok(entries)
    }

    /// Whether `path` is a directory, a file, or absent (following in-tree symlinks).
    pub fn stat(&mut self, path: &RepoPath) -> Result<Option<EntryKind>, RenderError> {
        let entry = self.tree.stat(path).map_err(RenderError::tree(path))?;
        Ok(entry.map(|e| e.kind))
    }

    /// Copies the directory `dir` of the tree, recursively, to `dest_root/dir`.
    pub fn materialize_dir(&mut self, dir: &RepoPath, dest_root: &Path) -> Result<(), RenderError> {
        self.materialize_dir_at(dir, dest_root, 0)
    }

    fn materialize_dir_at(
        &mut self,
        dir: &RepoPath,
        dest_root: &Path,
        depth: usize,
    ) -> Result<(), RenderError> {
        if depth > MAX_DIR_DEPTH {
            return Err(RenderError::LimitExceeded {
                file: dir.clone(),
                what: "directory depth (a symlink loop?)",
                limit: MAX_DIR_DEPTH as u64,
            });
        }
        let target = dest_root.join(dir.as_str());
        std::fs::create_dir_all(&target)
            .map_err(|source| RenderError::WorkDir { app: dir.clone(), source })?;
        for entry in self.list(dir)? {
            if entry.path.file_name() == ".git" {
                continue;
            }
            let kind = match entry.kind {
                EntryKind::Symlink { .. } => match self.stat(&entry.path)? {
                    Some(kind) => kind,
                    // A dangling in-tree symlink: nothing to copy, and nothing a tool could read.
                    None => continue,
                },
                kind => kind,
            };
            match kind {
                EntryKind::Dir => self.materialize_dir_at(&entry.path, dest_root, depth + 1)?,
                _ => self.materialize_file(&entry.path, dest_root)?,
            }
        }
        Ok(())
    }

    /// Copies one file of the tree to `dest_root/path`.
    pub fn materialize_file(
        &mut self,
        path: &RepoPath,
        dest_root: &Path,
    ) -> Result<(), RenderError> {
        let content = self.read_content(path)?;
        let target = dest_root.join(path.as_str());
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|source| RenderError::WorkDir { app: path.clone(), source })?;
        }
        write_file(&target, &content)
            .map_err(|source| RenderError::WorkDir { app: path.clone(), source })
    }
}

/// Writes a materialised file; a decrypted one only its owner may read (0600), and it lives no
/// longer than the scratch directory (0700) the tool runs in.
pub(crate) fn write_file(target: &Path, content: &Content) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mode = if content.decrypted { 0o600 } else { 0o644 };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(target)?;
    file.write_all(&content.bytes)
}

/// Writes the directory `dir` of `tree` (recursively) below `dest`, at its repository path.
/// Symlinks are copied as the files they point to inside the tree; a symlink leaving the tree is
/// an error. `.git` is skipped.
pub fn materialize(
    tree: &dyn Tree,
    dir: &RepoPath,
    dest: &Path,
    limits: &Limits,
) -> Result<BTreeSet<RepoPath>, RenderError> {
    let mut reader = Reader::new(tree, limits);
    reader.materialize_dir(dir, dest)?;
    Ok(reader.read_set)
}
