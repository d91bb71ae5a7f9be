//! Test helpers: corpus files, git repositories with an isolated configuration, and a real
//! `git daemon` on 127.0.0.1 with a port chosen at runtime.

#![allow(dead_code)]

pub mod registry;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const AUTHOR_NAME: &str = "Ferry Test";
pub const AUTHOR_EMAIL: &str = "ferry-test@example.invalid";

pub fn corpus(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus").join(path)
}

pub fn copy_corpus(path: &str, to: &Path) {
    let from = corpus(path);
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).expect("create parent directory");
    }
    std::fs::copy(&from, to).unwrap_or_else(|error| panic!("copy {}: {error}", from.display()));
}

/// Runs git with a configuration isolated from the machine's (no global or system files).
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            &format!("user.name={AUTHOR_NAME}"),
            "-c",
            &format!("user.email={AUTHOR_EMAIL}"),
        ])
        .args(["-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .unwrap_or_else(|error| panic!("git is required (apt-get install git): {error}"));
    assert!(
        output.status.success(),
        "git {args:?} in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A work tree with everything under it committed on `main`.
pub fn init_repo(dir: &Path) {
    git(dir, &["init", "--quiet"]);
    commit_all(dir, "initial");
}

pub fn commit_all(dir: &Path, message: &str) {
    git(dir, &["add", "--all"]);
    git(dir, &["commit", "--quiet", "-m", message]);
}

/// `git diff -U0` lines that start with + or - (without the file headers).
pub fn changed_lines(dir: &Path) -> Vec<String> {
    git(dir, &["diff", "-U0"])
        .lines()
        .filter(|line| {
            (line.starts_with('+') || line.starts_with('-'))
                && !line.starts_with("+++")
                && !line.starts_with("---")
        })
        .map(str::to_string)
        .collect()
}

/// A `git daemon` serving bare repositories under `base`, killed on drop.
pub struct GitDaemon {
    child: Child,
    pub port: u16,
    pub base: PathBuf,
}

impl GitDaemon {
    pub fn start(base: &Path) -> GitDaemon {
        // The port is free when we ask; the daemon binds it right after. Retry if another
        // process took it in between.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("a free port")
                .port();
            let child = Command::new("git")
                .args([
                    "daemon",
                    "--reuseaddr",
                    "--export-all",
                    "--enable=receive-pack",
                    "--listen=127.0.0.1",
                ])
                .arg(format!("--port={port}"))
                .arg(format!("--base-path={}", base.display()))
                .arg(base)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|error| {
                    panic!(
                        "git daemon is required (apt-get install git-daemon-run or git): {error}"
                    )
                });
            let mut daemon = GitDaemon { child, port, base: base.to_path_buf() };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return daemon;
                }
                if let Ok(Some(_)) = daemon.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = daemon.child.kill();
        }
        panic!("git daemon did not start on 127.0.0.1");
    }

    pub fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bare repository `name` under `base`, holding one commit with `files` (path, content).
pub fn bare_repo_with(base: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let seed = base.join(format!("{name}-seed"));
    std::fs::create_dir_all(&seed).expect("create seed");
    for (path, content) in files {
        let file = seed.join(path);
        std::fs::create_dir_all(file.parent().expect("has parent")).expect("create dirs");
        std::fs::write(file, content).expect("write seed file");
    }
    init_repo(&seed);
    let bare = base.join(name);
    git(
        base,
        &[
            "clone",
            "--quiet",
            "--bare",
            seed.to_str().expect("utf-8"),
            bare.to_str().expect("utf-8"),
        ],
    );
    std::fs::remove_dir_all(&seed).expect("remove seed");
    bare
}

pub fn clone(url: &str, to: &Path) {
    git(to.parent().expect("has parent"), &["clone", "--quiet", url, to.to_str().expect("utf-8")]);
}
