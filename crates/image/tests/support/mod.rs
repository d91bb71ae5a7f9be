//! The image tests' helpers, over `ferry-testkit`: corpus files, git repositories with an
//! isolated configuration, a real `git daemon` and a real registry.

#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};

pub use ferry_testkit::git::{AUTHOR_EMAIL, AUTHOR_NAME};
pub use ferry_testkit::{GitDaemon, Repo, corpus, registry};

pub fn copy_corpus(path: &str, to: &Path) {
    let from = corpus(path);
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).expect("create parent directory");
    }
    std::fs::copy(&from, to).unwrap_or_else(|error| panic!("copy {}: {error}", from.display()));
}

/// Runs git in `dir` (a work tree or a bare repository); its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    Repo::open(dir).git(args).unwrap_or_else(|error| panic!("{error}"))
}

/// A work tree with everything under it committed on `main`.
pub fn init_repo(dir: &Path) {
    Repo::init(dir).and_then(|repo| repo.commit("initial")).expect("git init and commit");
}

pub fn commit_all(dir: &Path, message: &str) {
    Repo::open(dir).commit(message).expect("commit");
}

/// `git diff -U0` lines that start with + or - (without the file headers).
pub fn changed_lines(dir: &Path) -> Vec<String> {
    Repo::open(dir).changed_lines().expect("git diff")
}

/// A bare repository `name` under `base`, holding one commit with `files` (path, content).
pub fn bare_repo_with(base: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    Repo::bare_with(&base.join(name), files).expect("a seeded bare repository").dir
}

pub fn clone(url: &str, to: &Path) {
    Repo::clone_from(url, to).expect("git clone");
}

/// A `git daemon` (fetch and push) serving the bare repositories under `base`.
pub fn daemon(base: &Path) -> GitDaemon {
    GitDaemon::start(base).unwrap_or_else(|error| panic!("{error}"))
}
