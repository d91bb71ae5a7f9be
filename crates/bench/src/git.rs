//! The benchmark's Git side: a repository built with an isolated configuration, and a real
//! `git daemon` serving it on a loopback port chosen at runtime.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run `git {args}` (install the Debian package git)")]
    Spawn {
        args: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`git {args}` in {dir} failed: {stderr}")]
    Failed { args: String, dir: PathBuf, stderr: String },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot find a free loopback port")]
    Port(#[source] std::io::Error),
    #[error("git daemon did not listen on 127.0.0.1:{port} within {seconds} s")]
    NotListening { port: u16, seconds: u64 },
}

/// A repository with a `main` branch whose git ignores the user's and the system's configuration.
pub struct Repo {
    dir: PathBuf,
}

impl Repo {
    /// Creates an empty repository in `dir` (created if missing).
    pub fn init(dir: &Path) -> Result<Self, GitError> {
        std::fs::create_dir_all(dir)
            .map_err(|source| GitError::Write { path: dir.to_owned(), source })?;
        let repo = Self { dir: dir.to_owned() };
        repo.git(&["init", "-q", "-b", "main"])?;
        // The daemon serves this non-bare repository; pushes never happen, commits are local.
        repo.git(&["config", "gc.auto", "0"])?;
        Ok(repo)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs git in the repository and returns its trimmed stdout.
    pub fn git(&self, args: &[&str]) -> Result<String, GitError> {
        let out = Command::new("git")
            .args(args)
            .current_dir(&self.dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Ferry Bench")
            .env("GIT_AUTHOR_EMAIL", "bench@ferry.invalid")
            .env("GIT_COMMITTER_NAME", "Ferry Bench")
            .env("GIT_COMMITTER_EMAIL", "bench@ferry.invalid")
            .stdin(Stdio::null())
            .output()
            .map_err(|source| GitError::Spawn { args: args.join(" "), source })?;
        if !out.status.success() {
            return Err(GitError::Failed {
                args: args.join(" "),
                dir: self.dir.clone(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Writes `content` to `rel`, creating parent directories.
    pub fn write(&self, rel: &str, content: &str) -> Result<(), GitError> {
        let path = self.dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|source| GitError::Write { path: parent.to_owned(), source })?;
        }
        std::fs::write(&path, content).map_err(|source| GitError::Write { path, source })
    }

    /// Commits everything in the work tree; returns the new commit id.
    pub fn commit(&self, message: &str) -> Result<String, GitError> {
        self.git(&["add", "-A"])?;
        self.git(&["commit", "-q", "--allow-empty", "-m", message])?;
        self.git(&["rev-parse", "HEAD"])
    }
}

/// A real `git daemon` serving every repository under a base directory. Stopped on drop,
/// with its whole process group, so no `git-daemon` or `upload-pack` child outlives the bench.
pub struct GitDaemon {
    child: Child,
    port: u16,
}

impl GitDaemon {
    /// Starts the daemon on a free loopback port and waits until it accepts connections.
    pub fn start(base: &Path) -> Result<Self, GitError> {
        let port = free_port()?;
        let args = [
            "daemon".to_owned(),
            "--reuseaddr".to_owned(),
            "--export-all".to_owned(),
            "--listen=127.0.0.1".to_owned(),
            format!("--port={port}"),
            format!("--base-path={}", base.display()),
            base.display().to_string(),
        ];
        let child = Command::new("git")
            .args(&args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // `git daemon` forks `git-daemon` and one `upload-pack` per client: a process group
            // lets drop end them all.
            .process_group(0)
            .spawn()
            .map_err(|source| GitError::Spawn { args: args.join(" "), source })?;
        let daemon = Self { child, port };
        let wait = Duration::from_secs(10);
        let deadline = Instant::now() + wait;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                // `daemon` drops here and is killed.
                return Err(GitError::NotListening { port, seconds: wait.as_secs() });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(daemon)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `git://127.0.0.1:PORT/NAME` for a repository directory `NAME` under the base.
    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        // `unsafe` is forbidden, so the group is signalled through kill(1); `--` makes the
        // negative pid a process group rather than a signal name.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, GitError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(GitError::Port)?;
    Ok(listener.local_addr().map_err(GitError::Port)?.port())
}
