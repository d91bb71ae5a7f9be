//! Running an external tool through `ferry_source::process` (a time limit, an output cap, a
//! clean environment, the process group killed on a stop), with errors in render's terms.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferry_source::RepoPath;
use ferry_source::process::{ProcessError, Program};

use crate::error::RenderError;

/// One tool invocation.
pub(crate) struct Invocation<'a> {
    pub tool: &'static str,
    pub program: &'a Path,
    pub args: Vec<String>,
    pub cwd: &'a Path,
    /// Extra environment on top of the runner's isolated one.
    pub env: Vec<(String, String)>,
    pub app: &'a RepoPath,
    pub timeout: Duration,
    pub max_output: u64,
    pub install_hint: &'static str,
    /// The scratch copy of the tree: stripped from messages so they name repository paths.
    pub tree_root: &'a Path,
}

/// stderr kept for an error message; more is a failure of its own (a tool that floods stderr).
const MAX_STDERR: u64 = 4 << 20;

/// Runs the tool and returns its stdout; a non-zero exit is an error carrying stderr.
pub(crate) fn run(inv: Invocation<'_>) -> Result<Vec<u8>, RenderError> {
    // Tools find their own helpers (git for remote bases, python for wrappers) through PATH, but
    // nothing else of the caller's environment (credentials, kubeconfig) leaks in: the runner
    // starts from an empty environment.
    let out = Program::new(inv.program)
        .args(&inv.args)
        .current_dir(inv.cwd)
        .envs(inv.env.iter().map(|(k, v)| (k, v)))
        .timeout(inv.timeout)
        .max_stdout(inv.max_output)
        .max_stderr(MAX_STDERR)
        .run()
        .map_err(|error| tool_error(&inv, error))?;
    if !out.status.success() {
        let root = format!("{}/", inv.tree_root.display());
        let message = String::from_utf8_lossy(&out.stderr).replace(&root, "").trim().to_owned();
        let message =
            if message.is_empty() { format!("exited with {}", out.status) } else { message };
        return Err(RenderError::ToolFailed { tool: inv.tool, app: inv.app.clone(), message });
    }
    Ok(out.stdout)
}

fn tool_error(inv: &Invocation<'_>, error: ProcessError) -> RenderError {
    let (tool, app) = (inv.tool, inv.app.clone());
    match error {
        ProcessError::Spawn { source, .. } => RenderError::ToolMissing {
            tool,
            path: PathBuf::from(inv.program),
            hint: inv.install_hint,
            source,
        },
        ProcessError::Wait { source, .. } => RenderError::WorkDir { app, source },
        ProcessError::TimedOut { .. } => {
            RenderError::ToolTimeout { tool, app, seconds: inv.timeout.as_secs() }
        }
        ProcessError::TooMuchOutput { stream: "stdout", limit, .. } => {
            RenderError::ToolOutputTooLarge { tool, app, limit }
        }
        other => RenderError::ToolFailed { tool, app, message: other.to_string() },
    }
}
