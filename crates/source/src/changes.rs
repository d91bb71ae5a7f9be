//! Change sets: which paths differ between two commits, and which watchers care.
//!
//! The diff walks both trees together and skips every subtree whose object id is equal on both
//! sides, so a one-file commit in a 5,000-file repository reads only the trees on that file's
//! path.

use std::collections::BTreeSet;

use gix::ObjectId;
use globset::{Glob, GlobSetBuilder};

use crate::tree::RepoPath;

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("reading tree {path} ({id}) for the change set: {message}")]
    Git { path: String, id: String, message: String },
    #[error("watcher {watcher}: glob {glob:?} is invalid: {source}")]
    Glob {
        watcher: String,
        glob: String,
        #[source]
        source: globset::Error,
    },
    #[error("change set has more than {limit} paths")]
    TooMany { limit: usize },
}

/// Upper bound on a change set, so a huge rewrite cannot exhaust memory; callers treat
/// [`ChangeError::TooMany`] as "everything changed".
pub const MAX_CHANGED_PATHS: usize = 1_000_000;

type Entries = Vec<(Vec<u8>, gix::object::tree::EntryMode, ObjectId)>;

fn entries(repo: &gix::Repository, id: ObjectId, path: &str) -> Result<Entries, ChangeError> {
    let err = |e: &dyn std::fmt::Display| ChangeError::Git {
        path: path.to_owned(),
        id: id.to_string(),
        message: e.to_string(),
    };
    let tree = repo.find_tree(id).map_err(|e| err(&e))?;
    let decoded = tree.decode().map_err(|e| err(&e))?;
    Ok(decoded.entries.iter().map(|e| (e.filename.to_vec(), e.mode, e.oid.to_owned())).collect())
}

fn join(prefix: &str, name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    if prefix.is_empty() { name.into_owned() } else { format!("{prefix}/{name}") }
}

fn insert(out: &mut BTreeSet<RepoPath>, path: String) -> Result<(), ChangeError> {
    if out.len() >= MAX_CHANGED_PATHS {
        return Err(ChangeError::TooMany { limit: MAX_CHANGED_PATHS });
    }
    // Tree entry names never contain `/`, `.` or `..`, so this cannot fail on git data; fall back
    // to skipping rather than panicking if a corrupt tree says otherwise.
    if let Ok(p) = RepoPath::new(&path) {
        out.insert(p);
    }
    Ok(())
}

/// Every file path below tree `id` (used when a whole directory appears or disappears).
fn all_files(
    repo: &gix::Repository,
    id: ObjectId,
    prefix: &str,
    out: &mut BTreeSet<RepoPath>,
) -> Result<(), ChangeError> {
    for (name, mode, oid) in entries(repo, id, prefix)? {
        let path = join(prefix, &name);
        if mode.is_tree() {
            all_files(repo, oid, &path, out)?;
        } else {
            insert(out, path)?;
        }
    }
    Ok(())
}

/// Paths of files (blobs, symlinks, submodules) that differ between the trees `from` and `to`:
/// added, removed, modified, or whose mode changed. A file replaced by a directory lists both.
pub fn diff_trees(
    repo: &gix::Repository,
    from: ObjectId,
    to: ObjectId,
) -> Result<BTreeSet<RepoPath>, ChangeError> {
    let mut out = BTreeSet::new();
    diff_into(repo, Some(from), Some(to), "", &mut out)?;
    Ok(out)
}

fn diff_into(
    repo: &gix::Repository,
    from: Option<ObjectId>,
    to: Option<ObjectId>,
    prefix: &str,
    out: &mut BTreeSet<RepoPath>,
) -> Result<(), ChangeError> {
    if from == to {
        return Ok(());
    }
    let a = match from {
        Some(id) => entries(repo, id, prefix)?,
        None => Vec::new(),
    };
    let b = match to {
        Some(id) => entries(repo, id, prefix)?,
        None => Vec::new(),
    };
    let mut left: std::collections::BTreeMap<&[u8], _> =
        a.iter().map(|(n, m, o)| (n.as_slice(), (*m, *o))).collect();
    for (name, mode, oid) in &b {
        let path = join(prefix, name);
        match left.remove(name.as_slice()) {
            Some((m, o)) if m == *mode && o == *oid => {}
            Some((m, o)) => match (m.is_tree(), mode.is_tree()) {
                (true, true) => diff_into(repo, Some(o), Some(*oid), &path, out)?,
                (true, false) => {
                    all_files(repo, o, &path, out)?;
                    insert(out, path)?;
                }
                (false, true) => {
                    insert(out, path.clone())?;
                    all_files(repo, *oid, &path, out)?;
                }
                (false, false) => insert(out, path)?,
            },
            None if mode.is_tree() => all_files(repo, *oid, &path, out)?,
            None => insert(out, path)?,
        }
    }
    for (name, (mode, oid)) in left {
        let path = join(prefix, name);
        if mode.is_tree() {
            all_files(repo, oid, &path, out)?;
        } else {
            insert(out, path)?;
        }
    }
    Ok(())
}

/// The ids of watchers with at least one glob matching at least one changed path, in the order
/// given. Globs are matched against repository paths (`apps/web/**`, `**/*.yaml`); a watcher with
/// a bad glob is an error naming it.
pub fn affected<W: Clone + std::fmt::Display>(
    changed: &BTreeSet<RepoPath>,
    watchers: &[(W, Vec<String>)],
) -> Result<Vec<W>, ChangeError> {
    let mut hit = Vec::new();
    for (id, globs) in watchers {
        let mut builder = GlobSetBuilder::new();
        for glob in globs {
            let g = globset::GlobBuilder::new(glob)
                .literal_separator(true)
                .build()
                .or_else(|_| Glob::new(glob))
                .map_err(|source| ChangeError::Glob {
                    watcher: id.to_string(),
                    glob: glob.clone(),
                    source,
                })?;
            builder.add(g);
        }
        let set = builder.build().map_err(|source| ChangeError::Glob {
            watcher: id.to_string(),
            glob: globs.join(","),
            source,
        })?;
        if changed.iter().any(|p| set.is_match(p.as_str())) {
            hit.push(id.clone());
        }
    }
    Ok(hit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(paths: &[&str]) -> BTreeSet<RepoPath> {
        paths.iter().map(|p| RepoPath::new(p).unwrap()).collect()
    }

    #[test]
    fn only_watchers_whose_globs_match_a_changed_path_are_affected() {
        let changed = set(&["apps/web/deploy.yaml", "README.md"]);
        let watchers = vec![
            ("web", vec!["apps/web/**".to_owned()]),
            ("db", vec!["apps/db/**".to_owned()]),
            ("docs", vec!["*.md".to_owned()]),
            ("nested-md", vec!["apps/*.md".to_owned()]),
        ];
        assert_eq!(affected(&changed, &watchers).unwrap(), vec!["web", "docs"]);
    }

    #[test]
    fn a_single_star_does_not_cross_directories() {
        let changed = set(&["apps/web/deploy.yaml"]);
        let watchers = vec![
            ("shallow", vec!["apps/*".to_owned()]),
            ("deep", vec!["apps/**/*.yaml".to_owned()]),
        ];
        assert_eq!(affected(&changed, &watchers).unwrap(), vec!["deep"]);
    }

    #[test]
    fn a_bad_glob_names_its_watcher() {
        let err = affected(&set(&["a"]), &[("broken", vec!["a/[".to_owned()])]).unwrap_err();
        assert!(err.to_string().contains("broken"), "{err}");
    }
}
