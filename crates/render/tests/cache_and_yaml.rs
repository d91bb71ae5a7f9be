//! The render cache (an unchanged app is not rendered again; a change is seen) and YAML 1.1
//! scalars read exactly as kubectl reads them.
#![allow(clippy::unwrap_used)] // test helpers may unwrap: a failure is the test failing

mod support;

use std::process::Command;

use ferry_render::{RenderCache, RenderOptions, RepoPath};
use ferry_source::FsTree;
use serde_json::Value;
use support::*;

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n";

#[test]
fn an_unchanged_directory_app_is_known_unchanged_without_rendering_and_a_changed_file_is_seen() {
    let repo = repo(&[("app/a.yaml", CM), ("other/x.yaml", CM)]);
    let tree = FsTree::new(repo.path()).unwrap();
    let app = RepoPath::new("app").unwrap();
    let cache = RenderCache::new();
    let ctx = context("app");
    let defaults = RenderOptions::default();
    let first = cache.render(&tree, &app, &defaults, &ctx).unwrap();
    assert!(cache.unchanged(&tree, &app, &defaults, &ctx, &first.hash).unwrap());
    assert!(!cache.unchanged(&tree, &app, &defaults, &ctx, "another render").unwrap());

    // A file outside the read set changes: still unchanged.
    std::fs::write(repo.path().join("other/x.yaml"), CM.replace("k: v", "k: w")).unwrap();
    assert!(cache.unchanged(&tree, &app, &defaults, &ctx, &first.hash).unwrap());

    // Plain manifests are read again rather than kept twice: the same render, not a hit.
    let second = cache.render(&tree, &app, &defaults, &ctx).unwrap();
    assert_eq!(*first, *second);
    assert_eq!((cache.stats().hits, cache.stats().misses), (0, 2));

    // A file of the app changes: no longer unchanged, re-rendered with the new content.
    std::fs::write(repo.path().join("app/a.yaml"), CM.replace("k: v", "k: changed")).unwrap();
    assert!(!cache.unchanged(&tree, &app, &defaults, &ctx, &first.hash).unwrap());
    let third = cache.render(&tree, &app, &defaults, &ctx).unwrap();
    assert_eq!(third.objects[0].object["data"]["k"], "changed");
    assert_ne!(third.hash, first.hash);

    // A new file in the app directory: no longer unchanged.
    std::fs::write(repo.path().join("app/b.yaml"), CM.replace("name: a", "name: b")).unwrap();
    assert!(!cache.unchanged(&tree, &app, &defaults, &ctx, &third.hash).unwrap());
    let fourth = cache.render(&tree, &app, &defaults, &ctx).unwrap();
    assert_eq!(fourth.objects.len(), 2);

    // Different options are a different key.
    let opts = RenderOptions {
        kind: Some(ferry_render::SourceKind::Directory),
        ..RenderOptions::default()
    };
    assert!(!cache.unchanged(&tree, &app, &opts, &ctx, &fourth.hash).unwrap());
}

#[test]
fn the_cache_keeps_an_apps_current_renders_only_and_drops_a_forgotten_apps() {
    let repo = repo(&[("app/a.yaml", CM)]);
    let tree = FsTree::new(repo.path()).unwrap();
    let app = RepoPath::new("app").unwrap();
    let cache = RenderCache::new();
    let ours = context("app").with_owner("apps/app");
    let defaults = RenderOptions::default();
    let first = cache.render(&tree, &app, &defaults, &ours).unwrap();
    assert_eq!(cache.keys(), 1);

    // The app's spec changes: the renders of the old spec go with it.
    let changed = RenderOptions {
        kind: Some(ferry_render::SourceKind::Directory),
        ..RenderOptions::default()
    };
    let second = cache.render(&tree, &app, &changed, &ours).unwrap();
    assert_eq!(cache.keys(), 1);
    assert!(!cache.unchanged(&tree, &app, &defaults, &ours, &first.hash).unwrap());
    assert!(cache.unchanged(&tree, &app, &changed, &ours, &second.hash).unwrap());

    // A second app rendering the same inputs shares the key: forgetting one keeps it.
    let theirs = context("app").with_owner("team/app");
    cache.render(&tree, &app, &changed, &theirs).unwrap();
    cache.forget("apps/app");
    assert!(cache.unchanged(&tree, &app, &changed, &theirs, &second.hash).unwrap());
    cache.forget("team/app");
    assert_eq!(cache.keys(), 0);

    // Renders for no app (previews) keep the latest keys only.
    for i in 0..ferry_render::UNOWNED_KEYS + 10 {
        cache.render(&tree, &app, &defaults, &context(&format!("preview-{i}"))).unwrap();
    }
    assert_eq!(cache.keys(), ferry_render::UNOWNED_KEYS);
}

#[test]
fn a_kustomize_render_is_remembered_and_invalidated_by_a_change_in_its_base() {
    let repo = repo(&[
        ("base/kustomization.yaml", "resources:\n- cm.yaml\n"),
        ("base/cm.yaml", CM),
        ("overlay/kustomization.yaml", "resources:\n- ../base\nnamePrefix: prod-\n"),
    ]);
    let tree = FsTree::new(repo.path()).unwrap();
    let app = RepoPath::new("overlay").unwrap();
    let cache = RenderCache::new();
    let ctx = context("app");
    let first = cache.render(&tree, &app, &RenderOptions::default(), &ctx).unwrap();
    assert_eq!(first.objects[0].object["metadata"]["name"], "prod-a");
    assert!(first.read_set.contains(&RepoPath::new("base/cm.yaml").unwrap()));
    cache.render(&tree, &app, &RenderOptions::default(), &ctx).unwrap();
    assert_eq!(cache.stats().hits, 1);
    std::fs::write(repo.path().join("base/cm.yaml"), CM.replace("k: v", "k: new")).unwrap();
    let again = cache.render(&tree, &app, &RenderOptions::default(), &ctx).unwrap();
    assert_eq!(again.objects[0].object["data"]["k"], "new");
}

/// Scalars whose meaning differs between YAML 1.1 (kubectl) and YAML 1.2.
const SCALARS: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: scalars
values:
  on_: on
  yes_: yes
  y_: y
  n_: n
  Off_: Off
  NO_: NO
  TRUE_: TRUE
  octal: 012
  octal_o: 0o14
  hex: 0x1F
  bin: 0b101
  underscores: 1_000
  float: 1.5
  exp: 1e3
  tilde: ~
  Null_: Null
  date: 2001-12-14
  quoted_on: \"on\"
  sexagesimal: 1:20
  str_tag: !!str 12
  negative: -12
  plus: +12
  version: 1.10
  leading_dot: .5
  text: hello world
  multiline: |
    line one
    line two
  anchor: &x {a: 1}
  alias: *x
  merged:
    <<: *x
    b: 2
";

#[test]
fn yaml_scalars_are_read_as_kubectl_reads_them() {
    require("kubectl", "install kubectl 1.32");
    let repo = repo(&[("app/scalars.yaml", SCALARS)]);
    let rendered =
        render_dir(repo.path(), "app", &RenderOptions::default(), &context("app")).unwrap();
    let out = run(Command::new("kubectl")
        .args(["label", "--local", "-o", "json", "ferry-oracle=x", "-f"])
        .arg(repo.path().join("app/scalars.yaml")));
    let mut theirs: Value = serde_json::from_slice(&out).unwrap();
    theirs["metadata"].as_object_mut().unwrap().remove("labels");
    let ours = &rendered.objects[0].object;
    // Compare as numbers where kubectl's JSON has integral floats (Go prints 1000 for 1e3).
    for (key, expected) in theirs["values"].as_object().unwrap() {
        let got = &ours["values"][key];
        let same = match (got.as_f64(), expected.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => got == expected,
        };
        assert!(same, "{key}: ferry read {got}, kubectl read {expected}");
    }
    assert_eq!(
        ours["values"].as_object().unwrap().len(),
        theirs["values"].as_object().unwrap().len()
    );
}
