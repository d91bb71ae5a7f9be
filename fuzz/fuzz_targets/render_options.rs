//! Any app options (what an Application's `source` sets: the kind, directory globs and
//! recursion, Kustomize edits, Helm values, value files and parameters, Jsonnet variables and
//! library paths, `${var}` substitution) over a small fixed repository: an error or objects,
//! never a panic, and no object outside what the repository holds.
//!
//! The external tools point at a path that does not exist, so Kustomize and Helm options are
//! exercised up to the tool call (the kustomization edit, values files resolved in the tree)
//! and then fail at once instead of spawning a process per input.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use ferry_render::{Limits, RenderConfig, RenderContext, RenderOptions, RepoPath, Tools, render};
use ferry_source::FsTree;
use libfuzzer_sys::fuzz_target;

const FILES: &[(&str, &str)] = &[
    (
        "plain/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: ${V:=x}\n",
    ),
    ("plain/sub/dep.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n"),
    ("plain/notes.txt", "not a manifest"),
    ("kust/kustomization.yaml", "resources:\n- cm.yaml\nimages:\n- name: web\n  newTag: '1'\n"),
    ("kust/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: k\n"),
    ("chart/Chart.yaml", "apiVersion: v2\nname: c\nversion: 0.1.0\n"),
    ("chart/values.yaml", "replicas: 1\n"),
    ("chart/values-prod.yaml", "replicas: 3\n"),
    (
        "jsonnet/main.jsonnet",
        "function(name='n') { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: name, labels: { env: std.extVar('env') } } }\n",
    ),
    ("jsonnet/lib/util.libsonnet", "{ x: 1 }\n"),
];

fn tree() -> &'static FsTree {
    static TREE: OnceLock<FsTree> = OnceLock::new();
    TREE.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("ferry-fuzz-render-{}", std::process::id()));
        for (path, text) in FILES {
            let file = root.join(path);
            std::fs::create_dir_all(file.parent().expect("a parent")).expect("fixture dir");
            std::fs::write(file, text).expect("fixture file");
        }
        FsTree::new(&root).expect("fixture tree")
    })
}

fn context() -> RenderContext {
    let missing = PathBuf::from("/nonexistent/ferry-fuzz-tool");
    let tools = Tools { kubectl: missing.clone(), kustomize: None, helm: missing };
    let limits = Limits { max_file_bytes: 64 * 1024, max_objects: 1_000, ..Limits::default() };
    RenderContext::new("fuzz").with_namespace("ns").with_config(RenderConfig { tools, limits })
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut opts) = serde_json::from_slice::<RenderOptions>(data) else { return };
    // Jsonnet code arguments are Jsonnet programs, and evaluation is not time-bound in process:
    // a slow program is not a bug in option handling, so the fuzzer passes them as strings.
    if let Some(jsonnet) = opts.directory.as_mut().and_then(|d| d.jsonnet.as_mut()) {
        for var in jsonnet.tlas.iter_mut().chain(jsonnet.ext_vars.iter_mut()) {
            var.code = false;
        }
    }
    let ctx = context();
    for app in ["plain", "kust", "chart", "jsonnet", "missing"] {
        let path = RepoPath::new(app).expect("valid path");
        if let Ok(rendered) = render(tree(), &path, &opts, &ctx) {
            assert!(rendered.objects.len() <= 1_000, "over the object limit");
        }
    }
});
