//! Which Applications a change between two commits concerns, pure: the apps of the repository
//! that track the base revision, and among them those whose last render read a changed path.

use std::collections::BTreeSet;

use ferry_render::RepoPath;
use ferry_source::RepoUrl;

use crate::application::Application;

/// Why an app of the listed ones is not planned.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Skip {
    /// Its `spec.source.repoURL` is another repository.
    OtherRepository,
    /// It tracks another revision than the base (a tag, another branch, a pinned commit).
    OtherRevision { target_revision: String },
    /// Nothing it read at the base changed.
    Untouched,
    /// Its render is byte-identical at base and head.
    SameRender,
}

/// Whether `app` takes its manifests from `repo` (the same repository by host and path, however
/// the URL is spelled: `.git` suffix, scheme, credentials).
pub fn same_repository(app: &Application, repo: &RepoUrl) -> bool {
    RepoUrl::parse(&app.spec.source.repo_url).is_ok_and(|u| u.key() == repo.key())
}

/// Whether `app` follows the base of the change: its target revision is the base ref as given
/// (`main`, `refs/heads/main`), or resolves to the base commit (`target_commit`).
pub fn tracks_base(
    app: &Application,
    base_ref: &str,
    base_commit: &str,
    target_commit: Option<&str>,
) -> bool {
    let target = app.spec.source.target_revision.trim();
    let strip = |r: &str| -> String { r.strip_prefix("refs/heads/").unwrap_or(r).to_owned() };
    if !target.is_empty() && strip(target) == strip(base_ref) {
        return true;
    }
    target_commit.is_some_and(|c| c == base_commit)
}

/// Whether any changed path is one the render read, or lies under a directory it read (a new
/// file in a listed directory changes what the render sees).
pub fn touches(changed: &BTreeSet<RepoPath>, read: &BTreeSet<RepoPath>) -> bool {
    changed.iter().any(|c| {
        let c = c.as_str();
        read.iter().any(|r| {
            let r = r.as_str();
            r.is_empty()
                || r == "."
                || c == r
                || c.strip_prefix(r).is_some_and(|rest| rest.starts_with('/'))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(list: &[&str]) -> BTreeSet<RepoPath> {
        list.iter().map(|p| RepoPath::new(p).unwrap()).collect()
    }

    fn app(repo: &str, revision: &str) -> Application {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "ferry.dev/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "web", "namespace": "ferry"},
            "spec": {
                "source": {"repoURL": repo, "targetRevision": revision, "path": "apps/web"},
                "destination": {"namespace": "web"}
            }
        }))
        .unwrap()
    }

    #[test]
    fn a_changed_file_the_render_read_touches_the_app() {
        let read = paths(&["apps/web", "apps/web/deploy.yaml"]);
        assert!(touches(&paths(&["apps/web/deploy.yaml"]), &read));
    }

    #[test]
    fn a_new_file_in_a_listed_directory_touches_the_app() {
        let read = paths(&["apps/web", "apps/web/deploy.yaml"]);
        assert!(touches(&paths(&["apps/web/service.yaml"]), &read));
    }

    #[test]
    fn a_change_elsewhere_or_in_a_sibling_with_the_same_prefix_does_not() {
        let read = paths(&["apps/web", "apps/web/deploy.yaml"]);
        assert!(!touches(&paths(&["apps/db/deploy.yaml", "apps/web2/x.yaml", "README.md"]), &read));
    }

    #[test]
    fn the_same_repository_is_recognised_however_its_url_is_spelled() {
        let repo = RepoUrl::parse("https://git.example.com/org/config").unwrap();
        assert!(same_repository(&app("https://git.example.com/org/config.git", "main"), &repo));
        assert!(!same_repository(&app("https://git.example.com/org/other", "main"), &repo));
        assert!(!same_repository(&app("not a url", "main"), &repo));
    }

    #[test]
    fn an_app_tracks_the_base_by_ref_name_or_by_commit() {
        let a = app("https://h/r", "main");
        assert!(tracks_base(&a, "main", "abc", None));
        assert!(tracks_base(&a, "refs/heads/main", "abc", None));
        assert!(!tracks_base(&a, "develop", "abc", Some("def")));
        let pinned = app("https://h/r", "v1.2.0");
        assert!(tracks_base(&pinned, "main", "abc", Some("abc")), "the tag points at the base");
        assert!(!tracks_base(&pinned, "main", "abc", Some("def")));
    }
}
