//! Render benchmarks (not a test): `cargo run --release -p ferry-render --example render_bench`.
//! Pin to one core with `taskset -c 0` to measure on one core.
//!
//! 1. A generated 5,000-file / 10,000-manifest directory app, committed to a git repository and
//!    rendered from git objects (gix, no checkout): cold render time, peak memory (VmHWM), and the
//!    warm-cache lookup; the same from a plain directory.
//! 2. `ferry render` (the library call) vs `kubectl kustomize` alone on the corpus's sock-shop.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ferry_render::{RenderCache, RenderContext, RenderOptions, RepoPath};
use ferry_source::{FsTree, Tree};

const FILES: usize = 5_000;

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    generate(dir.path());
    let commit = commit(dir.path());
    let git_tree = {
        let repo = gix::open(dir.path()).expect("open repository").into_sync();
        ferry_source::GitTree::open(
            repo,
            &ferry_source::CommitId::parse(&commit).expect("commit id"),
        )
        .expect("open tree")
    };
    let app = RepoPath::new("app").expect("valid");
    let ctx = RenderContext::new("bench");
    let opts = RenderOptions::default();
    let dir_opts = RenderOptions {
        directory: Some(ferry_render::DirectoryOptions { recurse: true, ..Default::default() }),
        ..RenderOptions::default()
    };

    println!("# directory app: {FILES} files, {} manifests", FILES * 2);
    println!("peak RSS before rendering: {} MiB", peak_rss_mib());
    bench_tree("git objects", &git_tree, &app, &dir_opts, &ctx);
    let fs_tree = FsTree::new(dir.path()).expect("fs tree");
    bench_tree("directory", &fs_tree, &app, &dir_opts, &ctx);

    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/argocd-example-apps");
    let corpus_tree = FsTree::new(&corpus).expect("corpus");
    let shop = RepoPath::new("sock-shop").expect("valid");
    let runs = 10;
    let mut ours = Duration::ZERO;
    for _ in 0..runs {
        let t = Instant::now();
        let r = ferry_render::render(&corpus_tree, &shop, &opts, &ctx).expect("sock-shop renders");
        ours += t.elapsed();
        assert_eq!(r.objects.len(), 29);
    }
    let mut kubectl = Duration::ZERO;
    for _ in 0..runs {
        let t = Instant::now();
        let out = Command::new("kubectl")
            .arg("kustomize")
            .arg(corpus.join("sock-shop"))
            .output()
            .expect("kubectl");
        kubectl += t.elapsed();
        assert!(out.status.success());
    }
    let cache = RenderCache::new();
    cache.render(&corpus_tree, &shop, &opts, &ctx).expect("renders");
    let t = Instant::now();
    for _ in 0..runs {
        cache.render(&corpus_tree, &shop, &opts, &ctx).expect("renders");
    }
    let warm = t.elapsed();
    println!("# sock-shop (29 objects), mean of {runs}");
    println!(
        "ferry render (materialise + kubectl kustomize + parse + hash): {:.1} ms",
        ms(ours) / runs as f64
    );
    println!(
        "kubectl kustomize alone:                                     {:.1} ms",
        ms(kubectl) / runs as f64
    );
    println!(
        "ferry render, cache warm:                                    {:.2} ms",
        ms(warm) / runs as f64
    );
}

fn bench_tree(
    label: &str,
    tree: &dyn Tree,
    app: &RepoPath,
    opts: &RenderOptions,
    ctx: &RenderContext,
) {
    let t = Instant::now();
    let rendered = ferry_render::render(tree, app, opts, ctx).expect("renders");
    let cold = t.elapsed();
    assert_eq!(rendered.objects.len(), FILES * 2);
    let peak = peak_rss_mib();
    drop(rendered);
    let cache = RenderCache::new();
    cache.render(tree, app, opts, ctx).expect("renders");
    let t = Instant::now();
    let again = cache.render(tree, app, opts, ctx).expect("renders");
    let warm = t.elapsed();
    assert_eq!(cache.stats().hits, 1);
    assert_eq!(again.objects.len(), FILES * 2);
    println!("[{label}] cold render: {:.0} ms, peak RSS so far: {peak} MiB", ms(cold));
    println!("[{label}] warm cache (validate read set, no render): {:.0} ms", ms(warm));
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// VmHWM of this process in MiB (Linux).
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb / 1024)
        .unwrap_or(0)
}

/// 5,000 files in 50 directories, each a Deployment and a Service.
fn generate(root: &Path) {
    for i in 0..FILES {
        let dir = root.join(format!("app/team-{:02}", i % 50));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let text = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc-{i}\n  labels:\n    app: svc-{i}\n    tier: backend\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: svc-{i}\n  template:\n    metadata:\n      labels:\n        app: svc-{i}\n    spec:\n      containers:\n      - name: main\n        image: registry.example/svc-{i}:1.{i}\n        ports:\n        - containerPort: 8080\n        resources:\n          requests: {{cpu: 10m, memory: 32Mi}}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\nspec:\n  selector:\n    app: svc-{i}\n  ports:\n  - port: 80\n    targetPort: 8080\n"
        );
        std::fs::write(dir.join(format!("svc-{i}.yaml")), text).expect("write");
    }
}

fn commit(root: &Path) -> String {
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(root)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "bench")
            .env("GIT_AUTHOR_EMAIL", "bench@example.invalid")
            .env("GIT_COMMITTER_NAME", "bench")
            .env("GIT_COMMITTER_EMAIL", "bench@example.invalid")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "generated"]);
    git(&["rev-parse", "HEAD"])
}
