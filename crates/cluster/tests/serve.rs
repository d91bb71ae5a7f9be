//! `serve_command`, the body of `ferry cluster serve`, run in-process (the `ferry` binary is
//! built by another crate): it writes the kubeconfig once ready on a port picked at runtime,
//! serves kubectl, and on SIGTERM checkpoints and stops; a second run keeps the objects.
//! One test in this file: it signals its own process.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::{Kubectl, eventually};

fn terminate_self() {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .expect("kill(1) is installed (procps)");
    assert!(status.success());
}

async fn run_until_term(dir: &Path, work: impl FnOnce(&Kubectl) + Send + 'static) {
    let listen: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let kubeconfig = dir.join("kubeconfig");
    // A kubeconfig left by an earlier run names its port: wait for this run's.
    let _ = std::fs::remove_file(&kubeconfig);
    let server = tokio::spawn(ferry_cluster::serve_command(
        dir.to_path_buf(),
        listen,
        None,
        ferry_cluster::event_ttl::DEFAULT_EVENT_TTL,
    ));
    let ready = eventually(Duration::from_secs(20), || kubeconfig.exists());
    assert!(ready, "serve writes {} once it serves", kubeconfig.display());
    let k = Kubectl::new(&kubeconfig);
    tokio::task::spawn_blocking(move || work(&k)).await.expect("kubectl steps run");
    terminate_self();
    let stopped = tokio::time::timeout(Duration::from_secs(20), server).await;
    let result = stopped.expect("serve stops on SIGTERM").expect("the serve task ends");
    result.expect("serve shuts down cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serve_writes_a_kubeconfig_serves_kubectl_and_stops_on_sigterm_keeping_state() {
    let dir = tempfile::tempdir().expect("temp dir");
    run_until_term(dir.path(), |k| {
        let server = k.ok(&["config", "view", "-o", "jsonpath={.clusters[0].cluster.server}"]);
        let port: u16 = server.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0);
        assert!(server.starts_with("https://127.0.0.1:") && port != 0, "a picked port: {server}");
        let resources = k.ok(&["api-resources"]);
        assert!(resources.contains("deployments") && resources.contains("events.k8s.io"));
        k.ok(&["create", "namespace", "kept"]);
        k.ok(&["create", "configmap", "settings", "-n", "kept", "--from-literal=a=1"]);
    })
    .await;
    assert!(dir.path().join("objects.json").exists(), "shutdown writes a checkpoint");
    run_until_term(dir.path(), |k| {
        let cm = k.json(&["get", "configmap", "settings", "-n", "kept"]);
        assert_eq!(cm["data"]["a"], "1", "the object survived the restart");
    })
    .await;
}
