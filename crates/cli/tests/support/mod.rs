//! The CLI tests' fixtures: `ferry-testkit`'s world (a repository served by a real
//! `git daemon`, the embedded cluster, an engine in-process), and the real `ferry` binary run
//! against that cluster through its kubeconfig.

#![allow(dead_code, unused_imports)]

use std::path::Path;
use std::time::Duration;

pub use ferry_testkit::world::{World, automated_spec, guestbook_spec};
pub use ferry_testkit::{Repo, corpus, free_port};
use serde_json::Value;

/// What one run of the `ferry` binary printed, and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr)
        })
    }
}

/// Runs the built `ferry` with `args` and the given extra environment, in a clean environment
/// (no inherited KUBECONFIG; caches under `home`).
pub async fn ferry_with(home: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"));
    cmd.args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", home)
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("NO_COLOR", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(180), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("ferry {args:?} did not finish within 180s"))
        .expect("the ferry binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs the `ferry` binary against a test kit [`World`].
pub trait FerryCli {
    /// Runs `ferry` against this world's cluster (through `--kubeconfig`).
    async fn ferry(&self, args: &[&str]) -> Run;
}

impl FerryCli for World {
    async fn ferry(&self, args: &[&str]) -> Run {
        let kubeconfig = self.cluster.kubeconfig_path().display().to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&["--kubeconfig", &kubeconfig]);
        ferry_with(&self.tmp.path().join("home"), &[], &all).await
    }
}
