//! A git repository built with the git CLI under an isolated configuration, for tests and for
//! `ferry bench`: write and edit files, commit, publish to a bare repository.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferry_source::process::{ProcessError, Program};

/// The author and committer of every commit a [`Repo`] makes.
pub const AUTHOR_NAME: &str = "Ferry Test";
pub const AUTHOR_EMAIL: &str = "test@ferry.invalid";

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run `git {args}` (install the Debian package git): {source}")]
    Run {
        args: String,
        #[source]
        source: ProcessError,
    },
    #[error("`git {args}` in {dir} failed: {stderr}")]
    Failed { args: String, dir: PathBuf, stderr: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot edit {path}: {problem}")]
    Edit { path: PathBuf, problem: String },
}

/// A repository (work tree or bare) whose git ignores the user's and the system's
/// configuration and commits as [`AUTHOR_NAME`].
#[derive(Debug, Clone)]
pub struct Repo {
    pub dir: PathBuf,
    env: Vec<(OsString, OsString)>,
}

impl Repo {
    /// Creates an empty repository with a `main` branch in `dir` (created if missing).
    pub fn init(dir: &Path) -> Result<Self, GitError> {
        Self::create(dir, &["init", "-q", "-b", "main"])
    }

    /// Creates an empty bare repository with `main` as its HEAD.
    pub fn init_bare(dir: &Path) -> Result<Self, GitError> {
        Self::create(dir, &["init", "-q", "--bare", "-b", "main"])
    }

    fn create(dir: &Path, args: &[&str]) -> Result<Self, GitError> {
        std::fs::create_dir_all(dir)
            .map_err(|source| GitError::Write { path: dir.to_owned(), source })?;
        let repo = Self::open(dir);
        repo.git(args)?;
        Ok(repo)
    }

    /// A repository that already exists in `dir`.
    pub fn open(dir: &Path) -> Self {
        Self { dir: dir.to_owned(), env: Vec::new() }
    }

    /// Clones `url` into `dir`.
    pub fn clone_from(url: &str, dir: &Path) -> Result<Self, GitError> {
        let parent = dir.parent().unwrap_or(Path::new("."));
        Self::open(parent).git(&["clone", "--quiet", url, &dir.display().to_string()])?;
        Ok(Self::open(dir))
    }

    /// A bare repository at `bare` holding one commit with `files` (path, content).
    pub fn bare_with(bare: &Path, files: &[(&str, &str)]) -> Result<Self, GitError> {
        let seed_dir = tempfile::tempdir()
            .map_err(|source| GitError::Write { path: std::env::temp_dir(), source })?;
        let seed = Self::init(seed_dir.path())?;
        for (path, content) in files {
            seed.write(path, content)?;
        }
        seed.commit("initial")?;
        let bare_path = bare.display().to_string();
        seed.git(&["clone", "--quiet", "--bare", &seed.dir.display().to_string(), &bare_path])?;
        Ok(Self::open(bare))
    }

    /// Adds a variable to every git command of this repository (e.g. `GNUPGHOME`).
    pub fn with_env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs git in the repository; its trimmed stdout.
    pub fn git(&self, args: &[&str]) -> Result<String, GitError> {
        let shown = args.join(" ");
        let out = Program::new("git")
            .args(args)
            .current_dir(&self.dir)
            .env("GIT_AUTHOR_NAME", AUTHOR_NAME)
            .env("GIT_AUTHOR_EMAIL", AUTHOR_EMAIL)
            .env("GIT_COMMITTER_NAME", AUTHOR_NAME)
            .env("GIT_COMMITTER_EMAIL", AUTHOR_EMAIL)
            .envs(self.env.iter().cloned())
            .timeout(Duration::from_secs(300))
            .max_stdout(1 << 30)
            .run()
            .map_err(|source| GitError::Run { args: shown.clone(), source })?;
        if !out.status.success() {
            return Err(GitError::Failed {
                args: shown,
                dir: self.dir.clone(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Writes `content` to `rel` in the work tree, creating parent directories (not committed).
    pub fn write(&self, rel: &str, content: &str) -> Result<(), GitError> {
        let path = self.dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|source| GitError::Write { path: parent.to_owned(), source })?;
        }
        std::fs::write(&path, content).map_err(|source| GitError::Write { path, source })
    }

    /// Replaces `from` with `to` in the file `rel` of the work tree (not committed); `from` must
    /// occur, so that a test never commits an edit that changed nothing.
    pub fn edit(&self, rel: &str, from: &str, to: &str) -> Result<(), GitError> {
        let path = self.dir.join(rel);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| GitError::Edit { path: path.clone(), problem: e.to_string() })?;
        if !text.contains(from) {
            return Err(GitError::Edit { path, problem: format!("{from:?} does not occur") });
        }
        std::fs::write(&path, text.replace(from, to))
            .map_err(|source| GitError::Write { path, source })
    }

    /// Copies the directory `src` to `rel` in the work tree (not committed).
    pub fn copy_in(&self, src: &Path, rel: &str) -> Result<(), GitError> {
        let path = self.dir.join(rel);
        crate::copy_dir(src, &path).map_err(|source| GitError::Write { path, source })
    }

    /// Commits everything in the work tree (an empty commit when nothing changed); the new id.
    pub fn commit(&self, message: &str) -> Result<String, GitError> {
        self.git(&["add", "-A"])?;
        self.git(&["commit", "-q", "--allow-empty", "-m", message])?;
        self.git(&["rev-parse", "HEAD"])
    }

    /// Writes `content` at `rel` and commits it; the new commit id.
    pub fn commit_file(&self, rel: &str, content: &str, message: &str) -> Result<String, GitError> {
        self.write(rel, content)?;
        self.commit(message)
    }

    /// Pushes every branch and tag to the bare repository `bare` (created when missing).
    pub fn publish(&self, bare: &Path) -> Result<Repo, GitError> {
        let target = if bare.exists() { Self::open(bare) } else { Self::init_bare(bare)? };
        let path = bare.display().to_string();
        self.git(&[
            "push",
            "-q",
            "--force",
            &path,
            "refs/heads/*:refs/heads/*",
            "refs/tags/*:refs/tags/*",
        ])?;
        Ok(target)
    }

    /// `git diff -U0` lines that start with + or - (without the file headers).
    pub fn changed_lines(&self) -> Result<Vec<String>, GitError> {
        Ok(self
            .git(&["diff", "-U0"])?
            .lines()
            .filter(|line| {
                (line.starts_with('+') || line.starts_with('-'))
                    && !line.starts_with("+++")
                    && !line.starts_with("---")
            })
            .map(str::to_string)
            .collect())
    }
}
