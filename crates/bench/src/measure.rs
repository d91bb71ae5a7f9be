//! What a scenario measures about the process: CPU split by who spent it, memory, percentiles.
//!
//! # Why threads, not processes
//! The embedded cluster and the engine run in this one process, each on its own tokio runtime
//! whose threads carry a name ([`ENGINE_THREADS`], [`CLUSTER_THREADS`]). Linux keeps CPU time per
//! thread in `/proc/self/task/TID/stat`, so summing by name separates the engine's CPU from the
//! cluster's without a second process, and without `unsafe` (`getrusage(RUSAGE_THREAD)` would
//! need it). Git subprocesses the engine waits for (`git fetch`, `ls-remote`) land in the
//! process's children times; the harness runs no git while a measurement window is open.
//!
//! # Caveats
//! Per-thread times tick at `CLK_TCK` (100 Hz here): 10 ms resolution. Memory cannot be split by
//! thread: RSS is the whole process (engine + cluster store + harness).

use std::path::Path;
use std::time::Duration;

/// Name of the engine runtime's threads (at most 15 bytes: Linux truncates `comm`).
pub const ENGINE_THREADS: &str = "bench-engine";
/// Name of the embedded cluster runtime's threads.
pub const CLUSTER_THREADS: &str = "bench-cluster";

/// Clock ticks per second of `/proc` times. 100 on every Linux architecture Ferry targets
/// (`sysconf(_SC_CLK_TCK)` would need `unsafe`).
const CLK_TCK: f64 = 100.0;

/// CPU seconds spent so far, by who spent them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpuSample {
    pub engine: f64,
    pub cluster: f64,
    /// Every other thread of the process: the harness, and threads that already exited.
    pub other: f64,
    /// Waited-for child processes (git for the engine, kubectl or kpt for the harness).
    pub children: f64,
}

impl CpuSample {
    /// Reads the current times of this process and its threads.
    pub fn now() -> Self {
        let (process, children) = read_stat(Path::new("/proc/self/stat"))
            .map(|f| (ticks(&f, 11) + ticks(&f, 12), ticks(&f, 13) + ticks(&f, 14)))
            .unwrap_or_default();
        let mut engine = 0.0;
        let mut cluster = 0.0;
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            for task in tasks.flatten() {
                let dir = task.path();
                let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
                let Some(fields) = read_stat(&dir.join("stat")) else { continue };
                let spent = ticks(&fields, 11) + ticks(&fields, 12);
                if name.starts_with(ENGINE_THREADS) {
                    engine += spent;
                } else if name.starts_with(CLUSTER_THREADS) {
                    cluster += spent;
                }
            }
        }
        Self { engine, cluster, other: (process - engine - cluster).max(0.0), children }
    }

    /// What was spent between `earlier` and `self`.
    pub fn since(&self, earlier: &CpuSample) -> CpuSample {
        CpuSample {
            engine: (self.engine - earlier.engine).max(0.0),
            cluster: (self.cluster - earlier.cluster).max(0.0),
            other: (self.other - earlier.other).max(0.0),
            children: (self.children - earlier.children).max(0.0),
        }
    }
}

/// Fields after the `(comm)` of a `/proc/.../stat` line, so field 3 (state) is index 0.
fn read_stat(path: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

fn ticks(fields: &[String], index: usize) -> f64 {
    fields.get(index).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / CLK_TCK
}

/// Resident memory of the whole process, in MiB.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Memory {
    pub rss_mib: f64,
    /// The high-water mark since start or since [`reset_peak`].
    pub peak_mib: f64,
    /// Of the RSS: anonymous memory (the heap) and mapped files (git packs and indexes).
    pub anon_mib: f64,
    pub file_mib: f64,
}

impl Memory {
    pub fn now() -> Self {
        let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let kib = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        Self {
            rss_mib: kib("VmRSS:") / 1024.0,
            peak_mib: kib("VmHWM:") / 1024.0,
            anon_mib: kib("RssAnon:") / 1024.0,
            file_mib: kib("RssFile:") / 1024.0,
        }
    }
}

/// Resets the peak RSS to the current RSS (`clear_refs` value 5), so a phase's own peak can be
/// read afterwards. Returns false where the kernel does not allow it.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Latency percentiles of a set of samples, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Percentiles {
    pub n: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    /// Nearest-rank percentiles; all zero for no samples.
    pub fn of(samples: &[Duration]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let i = ((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1;
            ms[i]
        };
        Self { n: ms.len(), p50_ms: rank(0.50), p99_ms: rank(0.99), max_ms: ms[ms.len() - 1] }
    }

    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({"n": self.n, "p50_ms": round(self.p50_ms), "p99_ms": round(self.p99_ms), "max_ms": round(self.max_ms)})
    }
}

/// Rounds to 0.1 for reports.
pub fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Bytes under `dir`, recursively (0 when it does not exist).
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let p = Percentiles::of(&samples);
        assert_eq!((p.n, p.p50_ms, p.p99_ms, p.max_ms), (100, 50.0, 99.0, 100.0));
        let one = Percentiles::of(&[Duration::from_millis(7)]);
        assert_eq!((one.p50_ms, one.p99_ms), (7.0, 7.0));
        assert_eq!(Percentiles::of(&[]).n, 0);
    }

    #[test]
    fn cpu_spent_on_a_named_thread_is_attributed_to_it() {
        let before = CpuSample::now();
        std::thread::Builder::new()
            .name(ENGINE_THREADS.to_owned())
            .spawn(move || {
                let started = std::time::Instant::now();
                let mut x = 0u64;
                while started.elapsed() < Duration::from_millis(300) {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                }
                // Keep the thread alive while measuring so its times are still listed.
                let after = CpuSample::now();
                assert!(after.since(&before).engine > 0.1, "{:?}", after.since(&before));
            })
            .expect("spawn")
            .join()
            .expect("the measuring thread finished");
    }

    #[test]
    fn memory_is_read_from_proc() {
        let m = Memory::now();
        assert!(m.rss_mib > 0.0 && m.peak_mib >= m.rss_mib, "{m:?}");
    }
}
