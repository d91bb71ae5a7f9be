//! Shared helpers for the integration tests: the corpus, the real tools (kubectl, Debian's jsonnet,
//! Helm through `ferry-testkit`'s SDK wrapper), and running a render over a directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use ferry_render::{Limits, RenderConfig, RenderContext, RenderOptions, Rendered, RepoPath};
use ferry_source::FsTree;
use ferry_testkit::Repo;
use serde_json::Value;

pub fn corpus() -> PathBuf {
    ferry_testkit::corpus_root()
}

/// The `helm` test wrapper (Helm's Go SDK via helm-python-sdk). Fails the test, saying what to
/// install, when the SDK is missing.
pub fn helm() -> PathBuf {
    ferry_testkit::helm_checked()
}

pub fn require(tool: &str, hint: &str) {
    let found = Command::new(tool).arg("--help").output().is_ok();
    assert!(found, "{tool} is required for this test: {hint}");
}

pub fn config() -> RenderConfig {
    RenderConfig::default().with_helm(helm())
}

pub fn context(app_name: &str) -> RenderContext {
    RenderContext::new(app_name).with_config(config())
}

pub fn render_dir(
    root: &Path,
    app: &str,
    opts: &RenderOptions,
    ctx: &RenderContext,
) -> Result<Rendered, ferry_render::RenderError> {
    let tree = FsTree::new(root).expect("test tree root exists");
    ferry_render::render(&tree, &RepoPath::new(app).expect("valid app path"), opts, ctx)
}

/// Parses a tool's YAML stream into objects (List kinds flattened), the same way for both sides of
/// a comparison.
pub fn parse_stream(bytes: &[u8]) -> Vec<Value> {
    let file = RepoPath::new("tool-output.yaml").expect("valid");
    let docs = ferry_render::yaml::load_documents(&file, bytes, &Limits::default())
        .expect("tool output parses");
    docs.into_iter().map(|d| d.value).collect()
}

/// Runs a command and returns stdout, failing the test with stderr when it fails.
pub fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

pub fn values(rendered: &Rendered) -> Vec<Value> {
    rendered.values().cloned().collect()
}

/// Writes `files` (path → content) below a fresh temporary directory.
pub fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, content) in files {
        let target = dir.path().join(path);
        std::fs::create_dir_all(target.parent().expect("has parent")).expect("mkdir");
        std::fs::write(target, content).expect("write");
    }
    dir
}

/// Copies a directory tree (regular files, made writable).
pub fn copy_dir(from: &Path, to: &Path) {
    ferry_testkit::copy_dir(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
}

/// A git repository in a temporary directory, built with `ferry-testkit`'s [`Repo`].
pub struct GitRepo {
    pub dir: tempfile::TempDir,
    repo: Repo,
}

impl GitRepo {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = Repo::init(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        Self { dir, repo }
    }

    /// Commits everything in the work tree and returns the commit id.
    pub fn commit_all(&self, message: &str) -> String {
        self.repo.commit(message).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The tree of `commit`, read from git objects.
    pub fn tree(&self, commit: &str) -> ferry_source::GitTree {
        let repo = gix::open(self.dir.path()).expect("open repository").into_sync();
        let id = ferry_source::CommitId::parse(commit).expect("commit id");
        ferry_source::GitTree::open(repo, &id).expect("open tree")
    }
}

#[derive(clap::Parser)]
struct RenderCmd {
    #[command(flatten)]
    args: ferry_render::cli::RenderArgs,
}

/// `ferry render ARGS…` as the binary runs it: the printed output, or the command's error.
pub fn ferry_render(argv: &[&str]) -> Result<String, ferry_render::cli::CliError> {
    use clap::Parser as _;
    let argv = std::iter::once("render").chain(argv.iter().copied());
    let cmd = RenderCmd::try_parse_from(argv).expect("the test's arguments parse");
    let mut out = Vec::new();
    ferry_render::cli::run(&cmd.args, &mut out)?;
    Ok(String::from_utf8(out).expect("render prints UTF-8"))
}
