//! A body over the server's limit gets a 413 Status over HTTP/2 (what kubectl speaks), not a
//! stream reset the client cannot explain.

mod common;

use common::Kubectl;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_five_megabyte_body_over_http2_gets_a_413_status() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let big = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"big\",\"namespace\":\"default\"}},\"data\":{{\"blob\":\"{}\"}}}}",
        "x".repeat(5 * 1024 * 1024)
    );
    let out = k.run_with_stdin(&["create", "--validate=false", "-f", "-"], Some(&big));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a 5 MB body is refused");
    assert!(
        err.contains("larger than the limit") && !err.contains("stream error"),
        "kubectl shows the server's Status: {err}"
    );
    let after = k.ok(&["get", "configmaps", "-n", "default", "-o", "name"]);
    assert!(!after.contains("configmap/big"), "nothing half-written: {after}");
    k.ok(&["get", "ns", "default"]);

    // A second HTTP/2 client (curl on nghttp2), body streamed from a file.
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("big.json");
    std::fs::write(&file, &big).expect("the body is written");
    let out = std::process::Command::new("curl")
        .args(["--http2", "-sk", "-X", "POST", "-H", "Content-Type: application/json"])
        .arg("-H")
        .arg(format!("Authorization: Bearer {}", cluster.token()))
        .arg("--data-binary")
        .arg(format!("@{}", file.display()))
        .arg("-w")
        .arg("\n%{http_version} %{http_code}")
        .arg(format!("{}/api/v1/namespaces/default/configmaps", cluster.url()))
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("2 413"), "HTTP/2 answered 413: {text}");
    assert!(text.contains("\"reason\":\"RequestEntityTooLarge\""), "a Status body: {text}");
}
