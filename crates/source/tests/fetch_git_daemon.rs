//! Fetching, resolving, reading trees and change sets against a real `git daemon`.
#![allow(clippy::unwrap_used)] // tests may unwrap: a failure is the test failing

mod common;

use std::collections::BTreeSet;

use common::{GitDaemon, Sandbox};
use ferry_source::{
    CacheError, CommitId, Credentials, Limits, RepoCache, RepoPath, RepoUrl, Tree, affected,
};

struct World {
    sandbox: Sandbox,
    work: std::path::PathBuf,
    daemon: GitDaemon,
    url: RepoUrl,
    cache: RepoCache,
}

fn world() -> World {
    let sandbox = Sandbox::new();
    let work = sandbox.work_repo("guestbook", "argocd-example-apps/guestbook");
    sandbox.git(&work, &["tag", "-a", "v1.0.0", "-m", "first"]);
    sandbox.commit_file(&work, "apps/extra.yaml", "kind: ConfigMap\n", "second");
    sandbox.git(&work, &["tag", "v1.2.0"]);
    sandbox.commit_file(&work, "apps/extra.yaml", "kind: ConfigMap\ndata: {}\n", "third");
    sandbox.git(&work, &["tag", "v2.0.0-rc.1"]);
    sandbox.git(&work, &["branch", "release"]);
    sandbox.publish(&work, "guestbook");
    let daemon = common::daemon(&sandbox);
    let url = RepoUrl::parse(&daemon.url("guestbook.git")).unwrap();
    let cache = RepoCache::new(sandbox.path().join("cache"), Limits::default()).unwrap();
    World { sandbox, work, daemon, url, cache }
}

fn rev_parse(w: &World, rev: &str) -> String {
    w.sandbox.git(&w.work, &["rev-parse", &format!("{rev}^{{commit}}")])
}

#[tokio::test]
async fn branches_tags_short_shas_and_semver_ranges_resolve_to_what_git_says() {
    let w = world();
    let none = Credentials::None;
    let cases = [
        ("main", rev_parse(&w, "main")),
        ("HEAD", rev_parse(&w, "HEAD")),
        ("release", rev_parse(&w, "release")),
        ("v1.0.0", rev_parse(&w, "v1.0.0")),
        ("^1", rev_parse(&w, "v1.2.0")),
        (">=1.0 <1.2", rev_parse(&w, "v1.0.0")),
        ("1.x", rev_parse(&w, "v1.2.0")),
    ];
    for (revision, expected) in cases {
        let outcome = w.cache.fetch(&w.url, &none, revision).await.unwrap();
        assert_eq!(outcome.commit.as_str(), expected, "revision {revision}");
    }
    let first = rev_parse(&w, "v1.0.0");
    let outcome = w.cache.fetch(&w.url, &none, &first[..8]).await.unwrap();
    assert_eq!(outcome.commit.as_str(), first);
    assert_eq!(
        w.cache.resolve_local(&w.url, "v1.2.0").await.unwrap().as_str(),
        rev_parse(&w, "v1.2.0")
    );
}

#[tokio::test]
async fn a_fetched_tree_reads_blobs_with_git_object_ids() {
    let w = world();
    let outcome = w.cache.fetch(&w.url, &Credentials::None, "main").await.unwrap();
    let tree = w.cache.tree(&w.url, &outcome.commit).unwrap();
    let path = RepoPath::new("apps/guestbook-ui-deployment.yaml").unwrap();
    let bytes = tree.read(&path, 1 << 20).unwrap();
    assert_eq!(bytes, std::fs::read(w.work.join("apps/guestbook-ui-deployment.yaml")).unwrap());
    let entry = tree.stat(&path).unwrap().unwrap();
    assert_eq!(
        entry.id.unwrap(),
        w.sandbox.git(&w.work, &["rev-parse", "HEAD:apps/guestbook-ui-deployment.yaml"])
    );
    let dir = tree.stat(&RepoPath::new("apps").unwrap()).unwrap().unwrap();
    assert_eq!(dir.id.unwrap(), w.sandbox.git(&w.work, &["rev-parse", "HEAD:apps"]));
    let names: Vec<String> = tree
        .list(&RepoPath::new("apps").unwrap())
        .unwrap()
        .into_iter()
        .map(|e| e.path.file_name().to_owned())
        .collect();
    let expected = w.sandbox.git(&w.work, &["ls-tree", "--name-only", "HEAD", "apps/"]);
    let expected: Vec<String> =
        expected.lines().map(|l| l.rsplit('/').next().unwrap().to_owned()).collect();
    assert_eq!(names, expected);
    assert_eq!(tree.revision().unwrap(), outcome.commit.to_string());
}

#[tokio::test]
async fn a_second_fetch_with_nothing_new_transfers_nothing() {
    let w = world();
    let first = w.cache.fetch(&w.url, &Credentials::None, "main").await.unwrap();
    assert!(first.changed());
    assert!(first.bytes > 0);
    let again = w.cache.fetch(&w.url, &Credentials::None, "main").await.unwrap();
    assert_eq!(again.commit, first.commit);
    assert!(!again.changed());
    assert_eq!(again.bytes, 0);
}

#[tokio::test]
async fn an_incremental_fetch_reports_exactly_the_changed_paths_and_affected_watchers() {
    let w = world();
    let first = w.cache.fetch(&w.url, &Credentials::None, "main").await.unwrap();
    let new_head =
        w.sandbox.commit_file(&w.work, "apps/guestbook-ui-svc.yaml", "kind: Service\n", "edit svc");
    w.sandbox.publish(&w.work, "guestbook");
    let second = w.cache.fetch(&w.url, &Credentials::None, "main").await.unwrap();
    assert_eq!(second.commit.as_str(), new_head);
    assert_eq!(second.previous.as_ref(), Some(&first.commit));
    assert!(second.changed());
    let changed = w.cache.changed_paths(&w.url, &first.commit, &second.commit).unwrap();
    let expected: BTreeSet<RepoPath> =
        [RepoPath::new("apps/guestbook-ui-svc.yaml").unwrap()].into();
    assert_eq!(changed, expected);
    let git_says =
        w.sandbox.git(&w.work, &["diff", "--name-only", first.commit.as_str(), &new_head]);
    assert_eq!(git_says, "apps/guestbook-ui-svc.yaml");
    let watchers =
        vec![("guestbook", vec!["apps/**".to_owned()]), ("other", vec!["other/**".to_owned()])];
    assert_eq!(affected(&changed, &watchers).unwrap(), vec!["guestbook"]);
}

#[tokio::test]
async fn a_failed_fetch_is_an_error_not_an_empty_tree() {
    let w = world();
    let missing = RepoUrl::parse(&w.daemon.url("does-not-exist.git")).unwrap();
    let err = w.cache.fetch(&missing, &Credentials::None, "main").await.unwrap_err();
    assert!(matches!(err, CacheError::Git(_)), "{err}");
    let err = w.cache.fetch(&w.url, &Credentials::None, "no-such-branch").await.unwrap_err();
    assert!(err.to_string().contains("no-such-branch"), "{err}");
    let never_fetched = CommitId::parse(&"0".repeat(40)).unwrap();
    assert!(w.cache.tree(&w.url, &never_fetched).is_err());
}

#[tokio::test]
async fn symlinks_inside_the_tree_are_followed_and_escaping_ones_refused() {
    let w = world();
    std::os::unix::fs::symlink("guestbook-ui-svc.yaml", w.work.join("apps/link.yaml")).unwrap();
    std::os::unix::fs::symlink("../../etc/passwd", w.work.join("apps/evil.yaml")).unwrap();
    std::os::unix::fs::symlink("apps", w.work.join("alias")).unwrap();
    w.sandbox.git(&w.work, &["add", "-A"]);
    w.sandbox.git(&w.work, &["commit", "-q", "-m", "links"]);
    w.sandbox.publish(&w.work, "guestbook");
    let outcome = w.cache.fetch(&w.url, &Credentials::None, "main").await.unwrap();
    let tree = w.cache.tree(&w.url, &outcome.commit).unwrap();
    let svc = std::fs::read(w.work.join("apps/guestbook-ui-svc.yaml")).unwrap();
    assert_eq!(tree.read(&RepoPath::new("apps/link.yaml").unwrap(), 1 << 20).unwrap(), svc);
    assert_eq!(tree.read(&RepoPath::new("alias/link.yaml").unwrap(), 1 << 20).unwrap(), svc);
    let err = tree.read(&RepoPath::new("apps/evil.yaml").unwrap(), 1 << 20).unwrap_err();
    assert!(matches!(err, ferry_source::TreeError::SymlinkEscapes { .. }), "{err}");
}

#[tokio::test]
async fn many_repositories_fetch_in_parallel_through_one_cache() {
    let w = world();
    let other = w.sandbox.work_repo("podinfo", "podinfo/kustomize");
    w.sandbox.publish(&other, "podinfo");
    let podinfo = RepoUrl::parse(&w.daemon.url("podinfo.git")).unwrap();
    let (a, b, c) = tokio::join!(
        w.cache.fetch(&w.url, &Credentials::None, "main"),
        w.cache.fetch(&podinfo, &Credentials::None, "main"),
        w.cache.fetch(&w.url, &Credentials::None, "v1.0.0"),
    );
    assert_eq!(a.unwrap().commit.as_str(), rev_parse(&w, "main"));
    assert_eq!(b.unwrap().commit.as_str(), w.sandbox.git(&other, &["rev-parse", "HEAD"]));
    assert_eq!(c.unwrap().commit.as_str(), rev_parse(&w, "v1.0.0"));
}

#[tokio::test]
async fn local_paths_and_file_urls_fetch_like_a_server() {
    let w = world();
    let bare = w.sandbox.served().join("guestbook.git");
    let expected = rev_parse(&w, "v1.0.0");
    for spelling in [bare.display().to_string(), format!("file://{}", bare.display())] {
        let url = RepoUrl::parse(&spelling).unwrap();
        let outcome = w.cache.fetch(&url, &Credentials::None, "v1.0.0").await.unwrap();
        assert_eq!(outcome.commit.as_str(), expected, "{spelling}");
    }
}

#[tokio::test]
async fn sixty_commits_fetched_one_by_one_are_each_readable_and_packs_stay_few() {
    let w = world();
    let path = RepoPath::new("apps/counter.yaml").unwrap();
    for round in 0..60 {
        let content = format!("round: {round}\n");
        w.sandbox.commit_file(&w.work, "apps/counter.yaml", &content, &format!("round {round}"));
        w.sandbox.publish(&w.work, "guestbook");
        let outcome = w.cache.fetch(&w.url, &Credentials::None, "main").await.unwrap();
        let tree = w.cache.tree(&w.url, &outcome.commit).unwrap_or_else(|e| {
            panic!("round {round}: the commit just fetched cannot be read: {e}")
        });
        assert_eq!(tree.read(&path, 1 << 10).unwrap(), content.as_bytes(), "round {round}");
    }
    let packs = std::fs::read_dir(w.sandbox.path().join("cache"))
        .unwrap()
        .filter_map(Result::ok)
        .flat_map(|repo| std::fs::read_dir(repo.path().join("objects/pack")).into_iter().flatten())
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".pack"))
        .count();
    assert!(packs <= 16, "{packs} packs after 60 fetches: they are not merged");
}
