//! The one way Ferry runs an external program (`git`, `helm`, `kustomize`, …).
//!
//! # Guarantees
//! - The environment is explicit: cleared, then `PATH`, `TMPDIR`, `HOME` (a temporary
//!   directory unless the caller names one), `LANG`/`LC_ALL=C`, `GIT_CONFIG_NOSYSTEM=1`,
//!   `GIT_CONFIG_GLOBAL=/dev/null`, `GIT_TERMINAL_PROMPT=0`, plus what the caller adds. No
//!   credential, kubeconfig or git configuration of the caller leaks in, unless a command that
//!   acts as the user asks for it ([`Program::user_git_config`]).
//! - stdin is closed, or given bytes; stdout and stderr are each capped.
//! - The program runs in its own process group. On a timeout, a cap, a caller's stop condition
//!   or the cancellation of [`Program::run_async`], the whole group is killed, and after a normal
//!   exit any process it left behind in the group is killed too: no child outlives a run.
//! - Errors name the program and the cause; the stderr they carry is masked with
//!   [`crate::url::mask_credentials`] and the caller's [`Program::secret`]s.
//!
//! # Caveats
//! A non-zero exit is not an error here: callers read [`Output::status`] and stderr, because
//! each decides differently what a failure means (git classifies it, render names the tool).

mod credential;
mod run;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use credential::{ENV_CREDENTIAL_HELPER, GitAccount};
pub use run::kill_group;

/// How much of stderr an error message keeps (the end, where tools say what went wrong).
const STDERR_TAIL: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("could not start {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("waiting for {program} failed: {source}")]
    Wait {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} did not finish within {after:?} and was stopped; its last words: {stderr}")]
    TimedOut { program: String, after: Duration, stderr: String },
    #[error("{program} wrote more than {limit} bytes to {stream}, the cap, and was stopped")]
    TooMuchOutput { program: String, stream: &'static str, limit: u64 },
    #[error("{program} was stopped: {reason}")]
    Stopped { program: String, reason: String },
}

impl ProcessError {
    /// Whether the program hit its time limit.
    pub fn is_timeout(&self) -> bool {
        matches!(self, ProcessError::TimedOut { .. })
    }
}

/// What a finished program printed, and how it exited.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// A condition polled while the program runs: `Some(reason)` stops it (its group is killed).
pub type StopWhen = Box<dyn FnMut() -> Option<String> + Send>;

/// One program to run, built like [`std::process::Command`] but with the guarantees above.
pub struct Program {
    program: PathBuf,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    home: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    max_stdout: u64,
    max_stderr: u64,
    secrets: Vec<String>,
    stop_when: Option<(Duration, StopWhen)>,
    cancelled: Option<Arc<AtomicBool>>,
    user_git_config: bool,
}

impl Program {
    /// `program` with a 60 s timeout, 64 MiB of stdout and 64 KiB of stderr.
    pub fn new(program: impl AsRef<Path>) -> Self {
        Self {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            home: None,
            stdin: None,
            timeout: Duration::from_secs(60),
            max_stdout: 64 << 20,
            max_stderr: 64 << 10,
            secrets: Vec::new(),
            stop_when: None,
            cancelled: None,
            user_git_config: false,
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Adds (or overrides) one variable on top of the isolated environment.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        self.env.extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// HOME for the program (default: the system's temporary directory).
    pub fn home(mut self, dir: impl AsRef<Path>) -> Self {
        self.home = Some(dir.as_ref().to_owned());
        self
    }

    /// Lets git read the caller's own configuration and identity, for a command that acts as
    /// the user in the user's repository (`ferry image set --commit`): HOME, XDG_CONFIG_HOME,
    /// `GIT_AUTHOR_*`, `GIT_COMMITTER_*`, `SSH_AUTH_SOCK` and `GIT_SSH_COMMAND` are kept from the
    /// caller, and `GIT_CONFIG_GLOBAL`/`GIT_CONFIG_NOSYSTEM` are not set. Never for a controller.
    pub fn user_git_config(mut self) -> Self {
        self.user_git_config = true;
        self
    }

    /// Bytes written to stdin (default: stdin is closed).
    pub fn stdin(mut self, bytes: Vec<u8>) -> Self {
        self.stdin = Some(bytes);
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn max_stdout(mut self, bytes: u64) -> Self {
        self.max_stdout = bytes;
        self
    }

    pub fn max_stderr(mut self, bytes: u64) -> Self {
        self.max_stderr = bytes;
        self
    }

    /// A value masked as `***` wherever an error would quote the program's output.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secrets.push(secret.into());
        self
    }

    /// Several values for [`Program::secret`].
    pub fn secrets<'a>(mut self, secrets: impl IntoIterator<Item = &'a String>) -> Self {
        self.secrets.extend(secrets.into_iter().cloned());
        self
    }

    /// Polls `check` every `every` while the program runs; `Some(reason)` stops it.
    pub fn stop_when(
        mut self,
        every: Duration,
        check: impl FnMut() -> Option<String> + Send + 'static,
    ) -> Self {
        self.stop_when = Some((every, Box::new(check)));
        self
    }

    /// The program's name for messages: the file name, not the whole path.
    fn name(&self) -> String {
        self.program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.program.display().to_string())
    }

    /// `text` with credentials in URLs and the caller's secrets masked.
    pub fn mask(&self, text: &str) -> String {
        let mut out = crate::url::mask_credentials(text);
        for secret in &self.secrets {
            // Shorter values would mangle ordinary words and are not worth protecting this way.
            if secret.len() >= 3 {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }

    /// The last [`STDERR_TAIL`] bytes of `stderr`, trimmed and masked.
    pub fn stderr_tail(&self, stderr: &[u8]) -> String {
        let start = stderr.len().saturating_sub(STDERR_TAIL);
        self.mask(String::from_utf8_lossy(&stderr[start..]).trim())
    }

    /// Runs on a blocking thread; dropping the future kills the program's process group.
    pub async fn run_async(mut self) -> Result<Output, ProcessError> {
        let cancelled = Arc::new(AtomicBool::new(false));
        self.cancelled = Some(cancelled.clone());
        let _guard = CancelOnDrop(cancelled);
        let name = self.name();
        tokio::task::spawn_blocking(move || self.run()).await.map_err(|join| {
            ProcessError::Stopped { program: name, reason: format!("its runner failed: {join}") }
        })?
    }
}

/// Tells a running [`Program`] to stop when the future that awaits it is dropped.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests;
