//! The source tests' sandbox: repositories seeded from the corpus and published as bare
//! repositories under `served/`, for the servers of `ferry-testkit` to serve.
#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};

pub use ferry_testkit::http_git::HttpGit;
pub use ferry_testkit::{GitDaemon, Repo, Sshd};

/// A scratch area: `served/` holds the bare repositories, `gnupg/` the GnuPG home git signs
/// with.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("served")).expect("served");
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn served(&self) -> PathBuf {
        self.dir.path().join("served")
    }

    /// The repository in `cwd`, signing with this sandbox's GnuPG home.
    pub fn repo(&self, cwd: &Path) -> Repo {
        Repo::open(cwd).with_env("GNUPGHOME", self.path().join("gnupg"))
    }

    /// Runs git in `cwd` and returns trimmed stdout; panics with stderr on failure.
    pub fn git(&self, cwd: &Path, args: &[&str]) -> String {
        self.repo(cwd).git(args).unwrap_or_else(|error| panic!("{error}"))
    }

    /// A work repository named `name` seeded with a corpus directory, with one commit on `main`.
    pub fn work_repo(&self, name: &str, corpus_dir: &str) -> PathBuf {
        let work = self.path().join("work").join(name);
        let repo = Repo::init(&work).expect("git init");
        repo.copy_in(&ferry_testkit::corpus(corpus_dir), "apps").expect("copy the corpus");
        repo.commit("seed from corpus").expect("commit");
        work
    }

    /// Writes `content` at `rel`, commits it, returns the new commit id.
    pub fn commit_file(&self, work: &Path, rel: &str, content: &str, message: &str) -> String {
        self.repo(work).commit_file(rel, content, message).expect("commit")
    }

    /// Publishes `work` as bare repository `served/<name>.git` (all branches and tags).
    pub fn publish(&self, work: &Path, name: &str) -> PathBuf {
        let bare = self.served().join(format!("{name}.git"));
        self.repo(work).publish(&bare).expect("push to the bare repository");
        bare
    }
}

/// A `git daemon` serving the sandbox's `served/` directory.
pub fn daemon(sandbox: &Sandbox) -> GitDaemon {
    GitDaemon::start(&sandbox.served()).unwrap_or_else(|error| panic!("{error}"))
}
