//! Helpers for tests in this and other crates: a cluster on a random port with a temporary data dir.

use std::time::Duration;

use crate::{Cluster, ClusterConfig, ClusterError, RunningCluster};

mod webhook;
pub use webhook::TestServer;

/// Starts a cluster with a temporary data directory, a random port and a fast simulator.
pub async fn start() -> RunningCluster {
    try_start(fast_config()).await.expect("an in-process cluster starts on a random loopback port")
}

/// The configuration `start` uses (to tweak before [`try_start`]).
pub fn fast_config() -> ClusterConfig {
    ClusterConfig::default()
        .simulator_delay(Duration::from_millis(100))
        .bookmark_interval(Duration::from_secs(1))
}

pub async fn try_start(config: ClusterConfig) -> Result<RunningCluster, ClusterError> {
    Cluster::start(config).await
}
