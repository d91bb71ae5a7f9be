//! Benchmark scenarios run side by side against kubectl and kpt.
//!
//! [`run`] builds a scenario's inputs (a synthetic repository served by a real `git daemon` on
//! loopback, the embedded cluster in-process), runs it and returns a [`Report`]: results as
//! data, the engine's costs apart from the cluster's, and ratios other-tool time / Ferry time.
//! `ferry bench` prints it as a table or as JSON. Speed is never asserted: quick mode (seconds)
//! is the smoke test CI runs; the full mode produces the numbers in `BENCHMARKS.md`.

pub mod manifests;
pub mod measure;
pub mod oneshot;
pub mod process;
pub mod report;
pub mod scenarios;
pub mod world;

use std::path::PathBuf;

pub use report::{Machine, Report};
pub use scenarios::{Options, Scenario, run};

/// Everything a scenario can fail on, with what it was doing.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Git(#[from] ferry_testkit::GitError),
    #[error(transparent)]
    GitServer(#[from] ferry_testkit::ServerError),
    #[error("cannot start the embedded cluster")]
    Cluster(#[source] Box<ferry_cluster::ClusterError>),
    #[error("cannot start the engine")]
    Engine(#[source] Box<ferry_engine::EngineError>),
    #[error("cannot build a tokio runtime")]
    Runtime {
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build a client from {path}: {message}")]
    Client { path: PathBuf, message: String },
    #[error("{what}")]
    Kube {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot build {what}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot {what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("timed out after {seconds} s waiting for {what}; last seen:\n{last}")]
    Timeout { what: String, seconds: u64, last: String },
    #[error("`{tool}` failed: {message}")]
    Tool { tool: String, message: String },
    #[error("{what}: {message}")]
    Ferry { what: String, message: String },
    #[error("unknown scenario {0:?}; one of: {list}", list = Scenario::names().join(", "))]
    UnknownScenario(String),
}

impl From<ferry_cluster::ClusterError> for BenchError {
    fn from(e: ferry_cluster::ClusterError) -> Self {
        BenchError::Cluster(Box::new(e))
    }
}

impl From<ferry_engine::EngineError> for BenchError {
    fn from(e: ferry_engine::EngineError) -> Self {
        BenchError::Engine(Box::new(e))
    }
}
