//! Spawning, feeding, reading and reaping one [`Program`].

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Output, ProcessError, Program};

/// Sends SIGKILL to the process group `pgid` (a child started with `process_group(0)` leads a
/// group whose id is its pid). A group that is already gone is not an error.
pub fn kill_group(pgid: u32) {
    let pid = i32::try_from(pgid).ok().and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = pid {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

/// What git reads of the user's setup when [`Program::user_git_config`] asks for it.
const USER_GIT_VARS: [&str; 8] = [
    "XDG_CONFIG_HOME",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "SSH_AUTH_SOCK",
    "GIT_SSH_COMMAND",
    "GIT_SSH",
];

/// Why the wait loop ended before the program did.
enum Stop {
    Timeout,
    Cap(&'static str, u64),
    Reason(String),
}

impl Program {
    /// Runs the program to its end (or its stop) on the calling thread.
    pub fn run(mut self) -> Result<Output, ProcessError> {
        let mut child = self.spawn()?;
        let pgid = child.id();
        let stdout_full = Arc::new(AtomicBool::new(false));
        let stderr_full = Arc::new(AtomicBool::new(false));
        let stdout = reader(child.stdout.take(), self.max_stdout, stdout_full.clone());
        let stderr = reader(child.stderr.take(), self.max_stderr, stderr_full.clone());
        if let (Some(mut pipe), Some(bytes)) = (child.stdin.take(), self.stdin.take()) {
            // A program that exits without reading its input must not block us: write aside.
            std::thread::spawn(move || pipe.write_all(&bytes));
        }
        let waited = self.wait(&mut child, &stdout_full, &stderr_full);
        // Whatever happened, nothing of the group may survive (a grandchild holding the pipes
        // open would also keep the readers below waiting).
        kill_group(pgid);
        let _ = child.kill();
        let _ = child.wait();
        let stdout = stdout.join().unwrap_or_default();
        let stderr = stderr.join().unwrap_or_default();
        let program = self.name();
        // A program may exit right after overflowing, before the loop saw it: check again so
        // that truncated output is never taken for the whole.
        let waited = match waited {
            Ok(Ok(_)) if stdout_full.load(Ordering::SeqCst) => {
                Ok(Err(Stop::Cap("stdout", self.max_stdout)))
            }
            Ok(Ok(_)) if stderr_full.load(Ordering::SeqCst) => {
                Ok(Err(Stop::Cap("stderr", self.max_stderr)))
            }
            other => other,
        };
        match waited {
            Ok(Ok(status)) => Ok(Output { status, stdout, stderr }),
            Ok(Err(Stop::Timeout)) => Err(ProcessError::TimedOut {
                program,
                after: self.timeout,
                stderr: self.stderr_tail(&stderr),
            }),
            Ok(Err(Stop::Cap(stream, limit))) => {
                Err(ProcessError::TooMuchOutput { program, stream, limit })
            }
            Ok(Err(Stop::Reason(reason))) => Err(ProcessError::Stopped { program, reason }),
            Err(source) => Err(ProcessError::Wait { program, source }),
        }
    }

    fn spawn(&self) -> Result<Child, ProcessError> {
        let mut command = Command::new(&self.program);
        command.args(&self.args).env_clear();
        for key in ["PATH", "TMPDIR"] {
            if let Some(value) = std::env::var_os(key) {
                command.env(key, value);
            }
        }
        let mut home = self.home.clone();
        if self.user_git_config {
            for key in USER_GIT_VARS {
                if let Some(value) = std::env::var_os(key) {
                    command.env(key, value);
                }
            }
            home = home.or_else(|| std::env::var_os("HOME").map(Into::into));
        } else {
            command.env("GIT_CONFIG_NOSYSTEM", "1").env("GIT_CONFIG_GLOBAL", "/dev/null");
        }
        command
            .env("HOME", home.unwrap_or_else(std::env::temp_dir))
            .env("LANG", "C")
            .env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.cwd {
            command.current_dir(dir);
        }
        let stdin = if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() };
        command
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group, so that a kill reaches what it started (git's fetch-pack and
            // index-pack, helm's plugins) and not us.
            .process_group(0);
        command.spawn().map_err(|source| ProcessError::Spawn { program: self.name(), source })
    }

    /// Waits for the exit, or for the first reason to stop.
    fn wait(
        &mut self,
        child: &mut Child,
        stdout_full: &AtomicBool,
        stderr_full: &AtomicBool,
    ) -> std::io::Result<Result<std::process::ExitStatus, Stop>> {
        let started = Instant::now();
        let mut next_check = started;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(Ok(status));
            }
            if stdout_full.load(Ordering::SeqCst) {
                return Ok(Err(Stop::Cap("stdout", self.max_stdout)));
            }
            if stderr_full.load(Ordering::SeqCst) {
                return Ok(Err(Stop::Cap("stderr", self.max_stderr)));
            }
            if started.elapsed() >= self.timeout {
                return Ok(Err(Stop::Timeout));
            }
            if self.cancelled.as_ref().is_some_and(|c| c.load(Ordering::SeqCst)) {
                return Ok(Err(Stop::Reason("the caller no longer waits for it".into())));
            }
            if let Some((every, check)) = &mut self.stop_when
                && Instant::now() >= next_check
            {
                next_check = Instant::now() + *every;
                if let Some(reason) = check() {
                    return Ok(Err(Stop::Reason(reason)));
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Reads a pipe on its own thread, up to `cap` bytes; one byte more raises `full` and stops
/// reading (the wait loop then kills the group, which closes the pipe).
fn reader(
    pipe: Option<impl Read + Send + 'static>,
    cap: u64,
    full: Arc<AtomicBool>,
) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let Some(pipe) = pipe else { return out };
        let mut limited = pipe.take(cap.saturating_add(1));
        let _ = limited.read_to_end(&mut out);
        if out.len() as u64 > cap {
            out.truncate(usize::try_from(cap).unwrap_or(usize::MAX));
            full.store(true, Ordering::SeqCst);
        }
        out
    })
}
