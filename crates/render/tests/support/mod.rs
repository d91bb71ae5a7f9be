//! Shared helpers for the integration tests: the corpus, the real tools (kubectl, Debian's jsonnet,
//! Helm through the SDK wrapper next to this file), and running a render over a directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use ferry_render::{Limits, RenderConfig, RenderContext, RenderOptions, Rendered, RepoPath};
use ferry_source::FsTree;
use serde_json::Value;

pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .canonicalize()
        .expect("the corpus is at ../shared/corpus")
}

/// The `helm` test wrapper (Helm's Go SDK via helm-python-sdk). Fails the test, saying what to
/// install, when the SDK is missing.
pub fn helm() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/helm");
    let out = Command::new(&path).arg("version").output().expect("python3 runs tests/support/helm");
    assert!(
        out.status.success(),
        "the helm test wrapper needs python3 and `pip install helm-python-sdk`: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
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

/// Copies a directory tree (regular files only).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
            let mut perms = std::fs::metadata(&target).expect("meta").permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&target, perms).expect("chmod");
        }
    }
}

/// A git repository in a temporary directory, built with the git CLI under an isolated config.
pub struct GitRepo {
    pub dir: tempfile::TempDir,
}

impl GitRepo {
    pub fn new() -> Self {
        require("git", "apt-get install git");
        let repo = Self { dir: tempfile::tempdir().expect("temp dir") };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub fn git(&self, args: &[&str]) -> String {
        let out = run(Command::new("git")
            .args(args)
            .current_dir(self.dir.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid"));
        String::from_utf8(out).expect("git prints UTF-8").trim().to_owned()
    }

    /// Commits everything in the work tree and returns the commit id.
    pub fn commit_all(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// The tree of `commit`, read from git objects.
    pub fn tree(&self, commit: &str) -> ferry_source::GitTree {
        let repo = gix::open(self.dir.path()).expect("open repository").into_sync();
        let id = ferry_source::CommitId::parse(commit).expect("commit id");
        ferry_source::GitTree::open(repo, &id).expect("open tree")
    }
}
