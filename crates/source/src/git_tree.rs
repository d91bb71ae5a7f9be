//! A commit's tree read straight from git objects with gix: no worktree, no checkout.
//!
//! Symlinks inside the tree are followed (for directories on the way and for the final entry),
//! up to [`MAX_SYMLINK_HOPS`]; a symlink whose target leaves the tree is refused.

use std::sync::Mutex;

use gix::ObjectId;

use crate::resolve::CommitId;
use crate::tree::{EntryKind, RepoPath, Tree, TreeEntry, TreeError};

/// More hops than this is a loop (Linux stops at 40 as well).
pub const MAX_SYMLINK_HOPS: usize = 40;

/// A commit's tree in a (bare) repository.
///
/// # Guarantees
/// Entry ids are git object ids, so a subtree id names its whole content: caches may key on
/// `stat(dir).id`.
pub struct GitTree {
    repo: gix::ThreadSafeRepository,
    /// Thread-local handles are not `Sync`; a small pool avoids rebuilding one per call.
    pool: Mutex<Vec<gix::Repository>>,
    commit: CommitId,
    root: ObjectId,
}

impl std::fmt::Debug for GitTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitTree")
            .field("commit", &self.commit)
            .field("root", &self.root.to_string())
            .finish()
    }
}

/// Lookups walk from the root tree for every path, so the trees near the root are decoded over
/// and over: an object cache keeps them.
fn with_cache(mut repo: gix::Repository) -> gix::Repository {
    repo.object_cache_size_if_unset(8 << 20);
    repo
}

/// A resolved entry: where it really is and what it is.
#[derive(Clone, Copy)]
struct Node {
    mode: gix::object::tree::EntryMode,
    oid: ObjectId,
}

fn git_err(path: &RepoPath, e: impl std::fmt::Display) -> TreeError {
    TreeError::Git { path: path.clone(), message: e.to_string() }
}

impl GitTree {
    /// Opens the tree of `commit` in the repository at `git_dir`. The commit must be present.
    pub fn open(repo: gix::ThreadSafeRepository, commit: &CommitId) -> Result<Self, TreeError> {
        let root_path = RepoPath::root();
        let local = with_cache(repo.to_thread_local());
        let oid =
            ObjectId::from_hex(commit.as_str().as_bytes()).map_err(|e| git_err(&root_path, e))?;
        let root = {
            let commit_obj = local.find_commit(oid).map_err(|e| {
                git_err(&root_path, format!("commit {commit} is not in the repository: {e}"))
            })?;
            commit_obj.tree_id().map_err(|e| git_err(&root_path, e))?.detach()
        };
        Ok(Self { repo, pool: Mutex::new(vec![local]), commit: commit.clone(), root })
    }

    pub fn commit(&self) -> &CommitId {
        &self.commit
    }

    /// The id of the commit's root tree.
    pub fn root_tree_id(&self) -> String {
        self.root.to_string()
    }

    fn with_repo<T>(&self, f: impl FnOnce(&gix::Repository) -> T) -> T {
        let repo = self
            .pool
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_else(|| with_cache(self.repo.to_thread_local()));
        let out = f(&repo);
        if let Ok(mut pool) = self.pool.lock()
            && pool.len() < 8
        {
            pool.push(repo);
        }
        out
    }

    /// Finds `path`, following symlinks in directories on the way and, when `follow_last`, at the
    /// end. Returns the real path and node, or `None` if nothing is there.
    fn lookup(
        &self,
        repo: &gix::Repository,
        path: &RepoPath,
        follow_last: bool,
    ) -> Result<Option<(RepoPath, Node)>, TreeError> {
        let mut hops = 0;
        let mut pending: Vec<String> =
            path.as_str().split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        pending.reverse();
        let mut current = RepoPath::root();
        let mut node = Node { mode: gix::object::tree::EntryKind::Tree.into(), oid: self.root };
        while let Some(name) = pending.pop() {
            if !node.mode.is_tree() {
                return Ok(None);
            }
            let tree = repo.find_tree(node.oid).map_err(|e| git_err(&current, e))?;
            let decoded = tree.decode().map_err(|e| git_err(&current, e))?;
            let Some(entry) = decoded.entries.iter().find(|e| e.filename == name.as_bytes()) else {
                return Ok(None);
            };
            let child = current.join(&name)?;
            let next = Node { mode: entry.mode, oid: entry.oid.to_owned() };
            if next.mode.is_link() && (follow_last || !pending.is_empty()) {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(TreeError::Git {
                        path: path.clone(),
                        message: "too many levels of symbolic links".into(),
                    });
                }
                let target = self.link_target(repo, &child, next.oid)?;
                let escapes =
                    || TreeError::SymlinkEscapes { path: child.clone(), target: target.clone() };
                if target.starts_with('/') {
                    return Err(escapes());
                }
                let resolved = current.join(&target).map_err(|_| escapes())?;
                // Restart from the root with the target's components ahead of what is left.
                pending.extend(
                    resolved.as_str().split('/').filter(|s| !s.is_empty()).rev().map(str::to_owned),
                );
                current = RepoPath::root();
                node = Node { mode: gix::object::tree::EntryKind::Tree.into(), oid: self.root };
                continue;
            }
            if next.mode.is_commit() {
                // A submodule: its content is not in this repository.
                return Ok(None);
            }
            current = child;
            node = next;
        }
        Ok(Some((current, node)))
    }

    fn link_target(
        &self,
        repo: &gix::Repository,
        path: &RepoPath,
        oid: ObjectId,
    ) -> Result<String, TreeError> {
        let blob = repo.find_blob(oid).map_err(|e| git_err(path, e))?;
        if blob.data.len() > 4096 {
            return Err(TreeError::TooLarge {
                path: path.clone(),
                size: blob.data.len() as u64,
                limit: 4096,
            });
        }
        String::from_utf8(blob.data.clone())
            .map_err(|_| TreeError::InvalidPath { path: path.to_string() })
    }

    /// The object id at `path` (a tree id for directories), following in-tree symlinks.
    pub fn id_of(&self, path: &RepoPath) -> Result<Option<String>, TreeError> {
        self.with_repo(|repo| Ok(self.lookup(repo, path, true)?.map(|(_, n)| n.oid.to_string())))
    }
}

impl Tree for GitTree {
    fn list(&self, dir: &RepoPath) -> Result<Vec<TreeEntry>, TreeError> {
        self.with_repo(|repo| {
            let (_, node) = self
                .lookup(repo, dir, true)?
                .ok_or_else(|| TreeError::NotFound { path: dir.clone() })?;
            if !node.mode.is_tree() {
                return Err(TreeError::Git {
                    path: dir.clone(),
                    message: "not a directory".into(),
                });
            }
            let tree = repo.find_tree(node.oid).map_err(|e| git_err(dir, e))?;
            let decoded = tree.decode().map_err(|e| git_err(dir, e))?;
            let mut out = Vec::with_capacity(decoded.entries.len());
            for entry in &decoded.entries {
                let name = std::str::from_utf8(entry.filename).map_err(|_| {
                    TreeError::InvalidPath { path: format!("{dir}/{}", entry.filename) }
                })?;
                if dir.is_root() && name == ".git" {
                    continue;
                }
                let path = dir.join(name)?;
                let kind = if entry.mode.is_tree() {
                    EntryKind::Dir
                } else if entry.mode.is_link() {
                    EntryKind::Symlink {
                        target: self.link_target(repo, &path, entry.oid.to_owned())?,
                    }
                } else if entry.mode.is_commit() {
                    continue;
                } else {
                    EntryKind::File
                };
                out.push(TreeEntry { path, kind, id: Some(entry.oid.to_string()) });
            }
            out.sort_by(|a, b| a.path.cmp(&b.path));
            Ok(out)
        })
    }

    fn read(&self, path: &RepoPath, limit: u64) -> Result<Vec<u8>, TreeError> {
        self.with_repo(|repo| {
            let (_, node) = self
                .lookup(repo, path, true)?
                .ok_or_else(|| TreeError::NotFound { path: path.clone() })?;
            if node.mode.is_tree() {
                return Err(TreeError::IsDir { path: path.clone() });
            }
            // The header gives the size without inflating the object.
            let size = repo.find_header(node.oid).map_err(|e| git_err(path, e))?.size();
            if size > limit {
                return Err(TreeError::TooLarge { path: path.clone(), size, limit });
            }
            let blob = repo.find_blob(node.oid).map_err(|e| git_err(path, e))?;
            Ok(blob.detach().data)
        })
    }

    fn stat(&self, path: &RepoPath) -> Result<Option<TreeEntry>, TreeError> {
        self.with_repo(|repo| {
            Ok(self.lookup(repo, path, true)?.map(|(_, node)| TreeEntry {
                path: path.clone(),
                kind: if node.mode.is_tree() { EntryKind::Dir } else { EntryKind::File },
                id: Some(node.oid.to_string()),
            }))
        })
    }

    fn revision(&self) -> Option<String> {
        Some(self.commit.to_string())
    }
}
