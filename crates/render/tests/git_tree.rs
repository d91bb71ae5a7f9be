//! Rendering from git objects (a commit's tree through gix, no checkout) gives what rendering the
//! same files from a directory gives, and the cache keys on git object ids.
#![allow(clippy::unwrap_used)] // test helpers may unwrap: a failure is the test failing

mod support;

use ferry_render::{HelmOptions, RenderCache, RenderOptions, RepoPath};
use ferry_source::FsTree;
use support::*;

fn opts_for(app: &str) -> RenderOptions {
    if app.ends_with("helm-guestbook") {
        RenderOptions {
            helm: Some(HelmOptions {
                value_files: vec!["values-production.yaml".into()],
                ..HelmOptions::default()
            }),
            ..RenderOptions::default()
        }
    } else {
        RenderOptions::default()
    }
}

#[test]
fn every_kind_renders_the_same_from_git_objects_as_from_a_directory() {
    let repo = GitRepo::new();
    copy_dir(&corpus().join("argocd-example-apps"), repo.dir.path());
    let commit = repo.commit_all("apps");
    let git_tree = repo.tree(&commit);
    let fs_tree = FsTree::new(corpus().join("argocd-example-apps")).unwrap();
    for app in [
        "guestbook",
        "sock-shop",
        "kustomize-guestbook",
        "helm-guestbook",
        "blue-green",
        "jsonnet-guestbook",
    ] {
        let path = RepoPath::new(app).unwrap();
        let ctx = context(app);
        let from_git = ferry_render::render(&git_tree, &path, &opts_for(app), &ctx)
            .unwrap_or_else(|e| panic!("{app}: {e}"));
        let from_dir = ferry_render::render(&fs_tree, &path, &opts_for(app), &ctx).unwrap();
        assert!(!from_git.objects.is_empty(), "{app}");
        assert_eq!(from_git.objects, from_dir.objects, "{app}");
        assert_eq!(from_git.hash, from_dir.hash, "{app}");
    }
}

#[test]
fn the_cache_survives_a_commit_that_does_not_touch_the_app_and_not_one_that_does() {
    let repo = GitRepo::new();
    copy_dir(&corpus().join("argocd-example-apps/sock-shop"), &repo.dir.path().join("shop"));
    copy_dir(&corpus().join("argocd-example-apps/guestbook"), &repo.dir.path().join("other"));
    let first = repo.commit_all("one");
    let cache = RenderCache::new();
    let app = RepoPath::new("shop").unwrap();
    let ctx = context("shop");
    let a = cache.render(&repo.tree(&first), &app, &RenderOptions::default(), &ctx).unwrap();
    assert_eq!(a.objects.len(), 29);

    std::fs::write(repo.dir.path().join("other/extra.yaml"), "# unrelated\n").unwrap();
    let second = repo.commit_all("two");
    let b = cache.render(&repo.tree(&second), &app, &RenderOptions::default(), &ctx).unwrap();
    assert_eq!(*a, *b, "a commit elsewhere reuses the render");

    let deployment = repo.dir.path().join("shop/base/carts-dep.yaml");
    let text = std::fs::read_to_string(&deployment).unwrap().replace("replicas: 1", "replicas: 5");
    std::fs::write(&deployment, text).unwrap();
    let third = repo.commit_all("three");
    let c = cache.render(&repo.tree(&third), &app, &RenderOptions::default(), &ctx).unwrap();
    assert_ne!(a.hash, c.hash);
    assert_eq!((cache.stats().hits, cache.stats().misses), (1, 2));
}
