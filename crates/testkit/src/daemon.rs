//! A real `git daemon` serving every repository under a base directory, fetch and push.

use std::path::Path;
use std::process::Command;

use crate::server::{Server, ServerError, start_on_free_port};

/// `git daemon --export-all --enable=receive-pack` on 127.0.0.1 and a port chosen at runtime.
/// [`GitDaemon::stop`] (an outage) and `Drop` end it with its whole process group, so no
/// `git-daemon` or `upload-pack` child outlives a test or a benchmark.
pub struct GitDaemon {
    server: Server,
    pub port: u16,
}

impl GitDaemon {
    pub fn start(base: &Path) -> Result<Self, ServerError> {
        let server = start_on_free_port("git daemon", "install the Debian package git", |port| {
            let mut command = Command::new("git");
            command
                .args(["daemon", "--reuseaddr", "--export-all", "--enable=receive-pack"])
                .arg("--listen=127.0.0.1")
                .arg(format!("--port={port}"))
                .arg(format!("--base-path={}", base.display()))
                .arg(base)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("HOME", std::env::temp_dir())
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1");
            command
        })?;
        let port = server.port;
        Ok(Self { server, port })
    }

    /// `git://127.0.0.1:PORT/REPO` for the repository directory `repo` under the base (name it
    /// with its `.git` suffix when it has one).
    pub fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }

    /// Stops the server (an outage): the port refuses connections when this returns.
    pub fn stop(&mut self) {
        self.server.stop();
    }
}
