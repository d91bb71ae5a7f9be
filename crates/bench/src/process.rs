//! Separate processes: `ferry cluster serve` and `ferry controller` as children of the bench, so
//! the memory and CPU read from `/proc` are the engine's alone (the in-process [`crate::world`]
//! shares one address space between engine and cluster and can only tell CPU apart by thread).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::BenchError;

/// The `ferry` binary to run children from: `FERRY_BIN`, else this executable when it is
/// `ferry` itself (`ferry bench`).
pub fn ferry_binary() -> Result<PathBuf, BenchError> {
    if let Some(path) = std::env::var_os("FERRY_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()
        .map_err(|source| BenchError::Io { what: "find the running executable".into(), source })?;
    if exe.file_stem().is_some_and(|s| s == "ferry") {
        return Ok(exe);
    }
    Err(BenchError::Ferry {
        what: "this scenario runs the engine and the cluster as separate processes".into(),
        message: format!(
            "{} is not the ferry binary; run it through `ferry bench`, or set FERRY_BIN to a ferry binary",
            exe.display()
        ),
    })
}

/// A child process killed when dropped.
pub struct ChildProcess {
    child: Child,
    what: &'static str,
}

impl ChildProcess {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's memory and CPU now.
    pub fn sample(&self) -> Result<ProcSample, BenchError> {
        ProcSample::of(self.pid()).ok_or_else(|| BenchError::Ferry {
            what: format!("read /proc/{} ({})", self.pid(), self.what),
            message: "the process is gone".into(),
        })
    }

    /// Fails when the process exited (it should run until dropped).
    pub fn check_running(&mut self) -> Result<(), BenchError> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(BenchError::Ferry {
                what: format!("{} exited", self.what),
                message: format!("{status}; run the same command by hand to see its output"),
            }),
            Err(source) => Err(BenchError::Io { what: format!("wait for {}", self.what), source }),
        }
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ferry cluster serve` on a free loopback port, with its state under `dir`.
pub struct ClusterProcess {
    pub process: ChildProcess,
    pub url: String,
    pub kubeconfig: PathBuf,
}

impl ClusterProcess {
    pub fn start(ferry: &Path, dir: &Path) -> Result<Self, BenchError> {
        let mut child = Command::new(ferry)
            .args(["cluster", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| BenchError::Io {
                what: "start `ferry cluster serve`".into(),
                source,
            })?;
        let stdout = child.stdout.take();
        let process = ChildProcess { child, what: "ferry cluster serve" };
        let mut lines = BufReader::new(stdout.ok_or_else(|| BenchError::Ferry {
            what: "ferry cluster serve".into(),
            message: "no stdout".into(),
        })?)
        .lines();
        let mut next = |what: &str| -> Result<String, BenchError> {
            match lines.next() {
                Some(Ok(line)) => Ok(line),
                _ => Err(BenchError::Ferry {
                    what: "ferry cluster serve".into(),
                    message: format!("exited before printing its {what}"),
                }),
            }
        };
        let url = next("URL")?;
        let kubeconfig = next("kubeconfig path")?;
        let kubeconfig = PathBuf::from(kubeconfig.trim_start_matches("kubeconfig: "));
        Ok(Self { process, url, kubeconfig })
    }
}

/// `ferry controller` against `kubeconfig` with its data under `dir`, its API on a free port, and
/// `args` (e.g. `--no-leader-election`, or the sharding flags). With `log`, its stderr (at
/// `info`) goes there; without, it is dropped (at `warn`).
pub fn start_controller(
    ferry: &Path,
    kubeconfig: &Path,
    dir: &Path,
    args: &[&str],
    log: Option<std::fs::File>,
) -> Result<ChildProcess, BenchError> {
    let (level, stderr) = match log {
        Some(file) => ("info", Stdio::from(file)),
        None => ("warn", Stdio::null()),
    };
    let child = Command::new(ferry)
        .args(["controller", "--listen", "127.0.0.1:0"])
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("KUBECONFIG")
        .env("RUST_LOG", level)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|source| BenchError::Io { what: "start `ferry controller`".into(), source })?;
    Ok(ChildProcess { child, what: "ferry controller" })
}

/// Memory and CPU of one process, from `/proc/PID/status` and `/proc/PID/stat`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcSample {
    pub rss_mib: f64,
    pub peak_mib: f64,
    /// Of the RSS: anonymous memory (the heap, stacks) and mapped files (the binary's pages
    /// read so far, git packs).
    pub anon_mib: f64,
    pub file_mib: f64,
    /// User + system CPU seconds so far.
    pub cpu_s: f64,
    pub threads: u64,
}

impl ProcSample {
    pub fn of(pid: u32) -> Option<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let field = |name: &str| -> f64 {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0)
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may hold spaces, inside parentheses).
        let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks = |i: usize| rest.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name; the kernel
        // counts them in USER_HZ, 100 on every Linux Ferry runs on.
        Some(Self {
            rss_mib: field("VmRSS:") / 1024.0,
            peak_mib: field("VmHWM:") / 1024.0,
            anon_mib: field("RssAnon:") / 1024.0,
            file_mib: field("RssFile:") / 1024.0,
            cpu_s: (ticks(11) + ticks(12)) / 100.0,
            threads: field("Threads:") as u64,
        })
    }
}

/// Waits until RSS moved less than 1 MiB over 2 s (the engine settled after a burst), at most
/// `timeout`; returns the last sample.
pub fn settled(process: &ChildProcess, timeout: Duration) -> Result<ProcSample, BenchError> {
    let end = Instant::now() + timeout;
    let mut last = process.sample()?;
    loop {
        std::thread::sleep(Duration::from_secs(2));
        let now = process.sample()?;
        if (now.rss_mib - last.rss_mib).abs() < 1.0 || Instant::now() > end {
            return Ok(now);
        }
        last = now;
    }
}
