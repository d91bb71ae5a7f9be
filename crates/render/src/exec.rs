//! Running an external tool with a time limit, an output cap and a clean environment.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferry_source::RepoPath;

use crate::error::RenderError;

/// One tool invocation.
pub(crate) struct Invocation<'a> {
    pub tool: &'static str,
    pub program: &'a Path,
    pub args: Vec<String>,
    pub cwd: &'a Path,
    /// Extra environment (the rest is cleared except `PATH`).
    pub env: Vec<(String, String)>,
    pub app: &'a RepoPath,
    pub timeout: Duration,
    pub max_output: u64,
    pub install_hint: &'static str,
    /// The scratch copy of the tree: stripped from messages so they name repository paths.
    pub tree_root: &'a Path,
}

/// Runs the tool and returns its stdout; a non-zero exit is an error carrying stderr.
pub(crate) fn run(inv: Invocation<'_>) -> Result<Vec<u8>, RenderError> {
    let mut command = Command::new(inv.program);
    command
        .args(&inv.args)
        .current_dir(inv.cwd)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Tools find their own helpers (git for remote bases, python for wrappers) through PATH, but
    // nothing else of the caller's environment (credentials, kubeconfig) leaks in.
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    for (k, v) in &inv.env {
        command.env(k, v);
    }
    let mut child = command.spawn().map_err(|source| RenderError::ToolMissing {
        tool: inv.tool,
        path: PathBuf::from(inv.program),
        hint: inv.install_hint,
        source,
    })?;
    let stdout = child.stdout.take().expect("stdout was piped");
    let stderr = child.stderr.take().expect("stderr was piped");
    let max = inv.max_output;
    let out_thread = std::thread::spawn(move || read_capped(stdout, max));
    let err_thread = std::thread::spawn(move || read_capped(stderr, 64 * 1024));

    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= inv.timeout => {
                // Killing closes the pipes, which ends the reader threads.
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(source) => {
                let _ = child.kill();
                return Err(RenderError::WorkDir { app: inv.app.clone(), source });
            }
        }
    };
    let (stdout, overflow) = out_thread.join().unwrap_or((Vec::new(), false));
    let (stderr, _) = err_thread.join().unwrap_or((Vec::new(), false));
    let Some(status) = status else {
        return Err(RenderError::ToolTimeout {
            tool: inv.tool,
            app: inv.app.clone(),
            seconds: inv.timeout.as_secs(),
        });
    };
    if overflow {
        return Err(RenderError::ToolOutputTooLarge {
            tool: inv.tool,
            app: inv.app.clone(),
            limit: max,
        });
    }
    if !status.success() {
        let root = format!("{}/", inv.tree_root.display());
        let message = String::from_utf8_lossy(&stderr).replace(&root, "").trim().to_owned();
        let message = if message.is_empty() { format!("exited with {status}") } else { message };
        return Err(RenderError::ToolFailed { tool: inv.tool, app: inv.app.clone(), message });
    }
    Ok(stdout)
}

/// Reads up to `max` bytes, then keeps draining (so the child never blocks on a full pipe) and
/// reports the overflow.
fn read_capped(mut reader: impl Read, max: u64) -> (Vec<u8>, bool) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let mut overflow = false;
    loop {
        match reader.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if !overflow && (buf.len() + n) as u64 <= max {
                    buf.extend_from_slice(&chunk[..n]);
                } else {
                    overflow = true;
                }
            }
        }
    }
    (buf, overflow)
}
