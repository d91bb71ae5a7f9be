//! The data directory holds the cluster's keys and every Secret's data: whatever the umask, no
//! other local user can read it, and a directory an earlier version left world-readable is
//! narrowed on the next start.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::Kubectl;

/// Every entry under `dir` whose mode lets group or others in, with its mode.
fn open_to_others(dir: &Path) -> Vec<(String, u32)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                found.push((path.display().to_string(), mode));
            }
            if meta.is_dir() {
                stack.push(path);
            }
        }
    }
    found
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keys_tokens_the_kubeconfig_and_stored_secrets_are_readable_by_their_owner_only() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("cluster");
    let config = ferry_cluster::testing::fast_config().data_dir(&data);
    let cluster = ferry_cluster::testing::try_start(config.clone()).await.expect("cluster starts");
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok(&["create", "secret", "generic", "db", "--from-literal=password=canary-51"]);
    cluster.shutdown().await.expect("clean shutdown");

    assert_eq!(mode(&data), 0o700);
    assert!(data.join("objects.json").exists() && data.join("token").exists());
    assert_eq!(open_to_others(&data), [], "everything in the data directory is private");

    // Files an earlier version wrote 0644 in a 0755 directory are narrowed at the next start.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for file in ["objects.json", "token", "admin.key", "kubeconfig"] {
        let path = data.join(file);
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
    }
    let cluster = ferry_cluster::testing::try_start(config).await.expect("cluster restarts");
    assert_eq!(open_to_others(&data), [], "narrowed on restart");
    cluster.shutdown().await.expect("clean shutdown");
}
