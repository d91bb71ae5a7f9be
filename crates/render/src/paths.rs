//! Resolving a path an app names (a values file, a base, an import) against the directory it is
//! named in, without ever leaving the repository.

use ferry_source::RepoPath;

/// `reference` as written in a file of `dir`, as a repository path; `None` when it is absolute,
/// a URL, or climbs above the repository root.
///
/// # Guarantees
/// A returned path has no `.`/`..`/empty components and no leading `/`: reading it through a
/// [`ferry_source::Tree`] can only reach the tree.
pub fn resolve_in_repo(dir: &RepoPath, reference: &str) -> Option<RepoPath> {
    if reference.starts_with('/') || reference.contains("://") || reference.contains('\0') {
        return None;
    }
    dir.join(reference).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_inside_the_repository_or_not_at_all() {
        let dir = RepoPath::new("apps/web").unwrap();
        assert_eq!(resolve_in_repo(&dir, "../db/v.yaml").unwrap().as_str(), "apps/db/v.yaml");
        assert_eq!(resolve_in_repo(&dir, "./a//b.yaml").unwrap().as_str(), "apps/web/a/b.yaml");
        for bad in ["../../../x", "/etc/passwd", "https://h/v.yaml", "a/../../../../b"] {
            assert_eq!(resolve_in_repo(&dir, bad), None, "{bad}");
        }
    }
}
