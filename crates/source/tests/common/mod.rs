//! Test fixtures: repositories built with real `git` under an isolated configuration, and real
//! git servers on 127.0.0.1 (ports chosen at runtime, processes stopped on drop).
#![allow(dead_code)]

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The shared corpus of real-world manifests.
pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

/// A scratch area whose `home` is used as HOME for every git command, so no user or system
/// configuration leaks in.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("home")).expect("home");
        std::fs::create_dir_all(dir.path().join("served")).expect("served");
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn served(&self) -> PathBuf {
        self.dir.path().join("served")
    }

    /// A git command in `cwd` with an isolated configuration and fixed identity.
    pub fn git_cmd(&self, cwd: &Path) -> Command {
        let mut c = Command::new("git");
        c.current_dir(cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Ferry Test")
            .env("GIT_AUTHOR_EMAIL", "test@ferry.invalid")
            .env("GIT_COMMITTER_NAME", "Ferry Test")
            .env("GIT_COMMITTER_EMAIL", "test@ferry.invalid")
            .env("GNUPGHOME", self.path().join("gnupg"));
        c
    }

    /// Runs git and returns trimmed stdout; panics with stderr on failure (test code).
    pub fn git(&self, cwd: &Path, args: &[&str]) -> String {
        let out =
            self.git_cmd(cwd).args(args).output().expect("git must be installed (apt install git)");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A work repository named `name` seeded with a corpus directory, with one commit on `main`.
    pub fn work_repo(&self, name: &str, corpus_dir: &str) -> PathBuf {
        let work = self.path().join("work").join(name);
        std::fs::create_dir_all(&work).expect("work dir");
        self.git(&work, &["init", "-q", "-b", "main"]);
        copy_dir(&corpus().join(corpus_dir), &work.join("apps"));
        self.git(&work, &["add", "-A"]);
        self.git(&work, &["commit", "-q", "-m", "seed from corpus"]);
        work
    }

    /// Writes `content` at `rel`, commits it, returns the new commit id.
    pub fn commit_file(&self, work: &Path, rel: &str, content: &str, message: &str) -> String {
        let path = work.join(rel);
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
        std::fs::write(&path, content).expect("write");
        self.git(work, &["add", "-A"]);
        self.git(work, &["commit", "-q", "-m", message]);
        self.git(work, &["rev-parse", "HEAD"])
    }

    /// Publishes `work` as bare repository `served/<name>.git` (all branches and tags).
    pub fn publish(&self, work: &Path, name: &str) -> PathBuf {
        let bare = self.served().join(format!("{name}.git"));
        if !bare.exists() {
            self.git(
                self.path(),
                &["init", "-q", "--bare", "-b", "main", bare.to_str().expect("utf-8")],
            );
        }
        self.git(
            work,
            &[
                "push",
                "-q",
                "--force",
                bare.to_str().expect("utf-8"),
                "refs/heads/*:refs/heads/*",
                "refs/tags/*:refs/tags/*",
            ],
        );
        bare
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read corpus dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Kills a whole process group: `git daemon` re-executes itself as a child (and forks one per
/// connection), so killing only the first process would leave the server running.
pub fn kill_group(child: &mut Child) {
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
    let _ = child.kill();
    let _ = child.wait();
}

pub fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early with {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{what} did not listen on port {port}");
}

/// A `git daemon` serving a directory, killed on drop.
pub struct GitDaemon {
    child: Child,
    pub port: u16,
}

impl GitDaemon {
    pub fn start(base: &Path) -> Self {
        let port = free_port();
        let mut child = Command::new("git")
            .args(["daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("git daemon must be available (apt install git)");
        wait_for_port(port, &mut child, "git daemon");
        Self { child, port }
    }

    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}.git", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}
pub mod servers;
