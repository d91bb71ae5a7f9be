//! The scenarios, one file each, and what they share: sizes by mode and the cost window that
//! keeps the engine's numbers apart from the cluster's and the harness's.

mod apply_vs_kubectl;
mod appset;
mod commit_to_applied;
mod drift_heal;
mod engine_memory;
mod fan_out;
mod many_apps;
mod monorepo;
mod multi_cluster;
mod plan;
mod render;
mod shards;
mod soak;
mod sops;
mod steady_state;

use std::str::FromStr;
use std::time::Instant;

use ferry_cluster::RequestStats;
use serde_json::{Value, json};

use crate::measure::{CpuSample, Memory, round};
use crate::world::Stage;
use crate::{BenchError, Report};

/// A benchmark scenario (see `BENCHMARKS.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    CommitToApplied,
    FanOut,
    SteadyState,
    DriftHeal,
    MonorepoOneLine,
    Render,
    ApplyVsKubectl,
    MultiCluster,
    Sops,
    Plan,
    AppSet,
    /// Not in [`Scenario::ALL`] (`all`): an hour by default.
    Soak,
    /// Not in [`Scenario::ALL`]: the engine and the cluster as separate `ferry` processes.
    EngineMemory,
    /// Not in [`Scenario::ALL`] (`all`): 10,000 apps on 1, 2 and 4 replica processes, minutes.
    Shards,
}

impl Scenario {
    pub const ALL: [Scenario; 11] = [
        Scenario::CommitToApplied,
        Scenario::FanOut,
        Scenario::SteadyState,
        Scenario::DriftHeal,
        Scenario::MonorepoOneLine,
        Scenario::Render,
        Scenario::ApplyVsKubectl,
        Scenario::MultiCluster,
        Scenario::Sops,
        Scenario::Plan,
        Scenario::AppSet,
    ];

    /// Scenarios run only when named.
    pub const EXTRA: [Scenario; 3] = [Scenario::Soak, Scenario::EngineMemory, Scenario::Shards];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Soak => "soak",
            Scenario::EngineMemory => "engine-memory",
            Scenario::Shards => "shards",
            Scenario::CommitToApplied => "commit-to-applied",
            Scenario::FanOut => "fan-out",
            Scenario::SteadyState => "steady-state",
            Scenario::DriftHeal => "drift-heal",
            Scenario::MonorepoOneLine => "monorepo-one-line",
            Scenario::Render => "render",
            Scenario::ApplyVsKubectl => "apply-vs-kubectl",
            Scenario::MultiCluster => "multi-cluster",
            Scenario::Sops => "sops",
            Scenario::Plan => "plan",
            Scenario::AppSet => "appset",
        }
    }

    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().chain(&Self::EXTRA).map(|s| s.name()).collect()
    }
}

impl FromStr for Scenario {
    type Err = BenchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .chain(Self::EXTRA)
            .find(|x| x.name() == s)
            .ok_or_else(|| BenchError::UnknownScenario(s.to_owned()))
    }
}

/// How to run a scenario.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Small inputs, a few seconds per scenario: the CI smoke test.
    pub quick: bool,
    /// Overrides the scenario's size (apps for fan-out and monorepo, objects for the others).
    pub size: Option<usize>,
    /// Overrides the number of rounds (commit-to-applied, drift-heal) or seconds (steady-state,
    /// soak).
    pub rounds: Option<usize>,
}

impl Options {
    pub fn quick() -> Self {
        Self { quick: true, ..Self::default() }
    }

    fn pick(&self, quick: usize, full: usize) -> usize {
        if self.quick { quick } else { full }
    }
}

/// Runs one scenario to the end and returns its report.
pub fn run(scenario: Scenario, opts: &Options) -> Result<Report, BenchError> {
    let mut report = Report::new(scenario.name(), opts.quick);
    match scenario {
        Scenario::CommitToApplied => commit_to_applied::run(opts, &mut report)?,
        Scenario::FanOut => fan_out::run(opts, &mut report)?,
        Scenario::SteadyState => steady_state::run(opts, &mut report)?,
        Scenario::DriftHeal => drift_heal::run(opts, &mut report)?,
        Scenario::MonorepoOneLine => monorepo::run(opts, &mut report)?,
        Scenario::Render => render::run(opts, &mut report)?,
        Scenario::ApplyVsKubectl => apply_vs_kubectl::run(opts, &mut report)?,
        Scenario::MultiCluster => multi_cluster::run(opts, &mut report)?,
        Scenario::Sops => sops::run(opts, &mut report)?,
        Scenario::Plan => plan::run(opts, &mut report)?,
        Scenario::AppSet => appset::run(opts, &mut report)?,
        Scenario::Soak => soak::run(opts, &mut report)?,
        Scenario::EngineMemory => engine_memory::run(opts, &mut report)?,
        Scenario::Shards => shards::run(opts, &mut report)?,
    }
    report.commit = ferry_commit();
    report.date =
        jiff::Timestamp::now().round(jiff::Unit::Second).map(|t| t.to_string()).unwrap_or_default();
    Ok(report)
}

/// The measured Ferry commit: `FERRY_COMMIT` if set, else `git rev-parse --short HEAD` of the
/// source tree this was built from, with `+dirty` when it has uncommitted changes.
fn ferry_commit() -> String {
    if let Ok(c) = std::env::var("FERRY_COMMIT") {
        return c;
    }
    let dir = env!("CARGO_MANIFEST_DIR");
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(["-C", dir])
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(head) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty { format!("{head}+dirty") } else { head }
        }
        None => "unknown".to_owned(),
    }
}

/// Costs between [`Window::open`] and [`Window::close`]: CPU by who spent it, requests served.
#[derive(Clone, Debug, Default)]
pub(crate) struct Costs {
    pub seconds: f64,
    pub cpu: CpuSample,
    pub served: RequestStats,
    pub harness_requests: u64,
    pub harness_writes: u64,
}

pub(crate) struct Window {
    cpu: CpuSample,
    served: RequestStats,
    harness: (u64, u64),
    started: Instant,
}

impl Window {
    pub fn open(stage: &Stage) -> Self {
        Self {
            cpu: CpuSample::now(),
            served: stage.served(),
            harness: stage.harness_counts(),
            started: Instant::now(),
        }
    }

    pub fn close(&self, stage: &Stage) -> Costs {
        let (requests, writes) = stage.harness_counts();
        Costs {
            seconds: self.started.elapsed().as_secs_f64(),
            cpu: CpuSample::now().since(&self.cpu),
            served: stage.served().since(&self.served),
            harness_requests: requests - self.harness.0,
            harness_writes: writes - self.harness.1,
        }
    }
}

impl Costs {
    /// Adds another window's costs (rounds measured one at a time).
    pub fn add(&mut self, other: &Costs) {
        self.seconds += other.seconds;
        self.cpu.engine += other.cpu.engine;
        self.cpu.cluster += other.cpu.cluster;
        self.cpu.other += other.cpu.other;
        self.cpu.children += other.cpu.children;
        for (k, n) in &other.served.counts {
            *self.served.counts.entry(k.clone()).or_default() += n;
        }
        self.harness_requests += other.harness_requests;
        self.harness_writes += other.harness_writes;
    }

    pub fn engine_requests(&self) -> u64 {
        self.served.total().saturating_sub(self.harness_requests)
    }

    /// The engine's side: its threads, the git it ran, the requests it made.
    pub fn engine_json(&self) -> Value {
        let memory = Memory::now();
        json!({
            "cpu_s": round3(self.cpu.engine + self.cpu.children),
            "threads_cpu_s": round3(self.cpu.engine),
            "git_cpu_s": round3(self.cpu.children),
            "api_requests": self.engine_requests(),
            "api_writes": self.served.writes().saturating_sub(self.harness_writes),
            "process_rss_mib": round(memory.rss_mib),
            "process_peak_rss_mib": round(memory.peak_mib),
        })
    }

    /// The embedded cluster's side.
    pub fn cluster_json(&self, stage: &Stage) -> Value {
        json!({
            "cpu_s": round3(self.cpu.cluster),
            "requests_served": self.served.total(),
            "objects_stored": stage.cluster.object_count(),
        })
    }

    pub fn harness_json(&self) -> Value {
        json!({"api_requests": self.harness_requests, "cpu_s": round3(self.cpu.other)})
    }
}

pub(crate) fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The note every engine scenario carries, so nobody mistakes one side's cost for the other's.
pub(crate) const COST_NOTE: &str = "engine.* is the engine's threads plus the git it ran; cluster.* is the embedded API server's threads (both in this process, told apart by thread); process RSS includes the cluster's store; harness requests (creating apps, edits, checks) are subtracted from engine.api_requests";
