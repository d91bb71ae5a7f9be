//! `ferry cluster serve`: run the server until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::{Cluster, ClusterConfig, ClusterError};

/// Serves until interrupted; prints the URL and kubeconfig path on stdout once ready.
pub async fn serve_command(
    data_dir: PathBuf,
    listen: SocketAddr,
    kubeconfig: Option<PathBuf>,
    event_ttl: std::time::Duration,
) -> Result<(), ClusterError> {
    let mut config = ClusterConfig::default()
        .data_dir(data_dir)
        .listen(listen)
        .event_ttl(event_ttl)
        .simulator_delay(std::time::Duration::from_secs(1));
    if let Some(k) = kubeconfig {
        config = config.kubeconfig_path(k);
    }
    let cluster = Cluster::start(config).await?;
    println!("{}", cluster.url());
    println!("kubeconfig: {}", cluster.kubeconfig_path().display());
    wait_for_signal().await;
    eprintln!("stopping");
    cluster.shutdown().await
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
