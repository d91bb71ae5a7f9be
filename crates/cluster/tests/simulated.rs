//! The simulated workloads' failure modes and pod logs, observed through real `kubectl` (issue
//! 14, items 5 and 8): before them, every image ran Healthy, every hook Job succeeded and
//! `kubectl logs` had nothing to read.

mod common;

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Kubectl, eventually};
use serde_json::Value;

fn deployment(name: &str, image: &str, annotations: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}, annotations: {{{annotations}}}}}\n    spec:\n      containers: [{{name: main, image: \"{image}\"}}]\n"
    )
}

/// The first pod of `app` once the simulated kubelet has given it container statuses.
fn started_pod(k: &Kubectl, app: &str) -> Value {
    let mut pod = Value::Null;
    let seen = eventually(Duration::from_secs(20), || {
        let pods = k.json(&["get", "pods", "-l", &format!("app={app}")]);
        pod = pods["items"][0].clone();
        pod["status"]["containerStatuses"][0].is_object()
    });
    assert!(seen, "no started pod for {app}: {pod}");
    pod
}

fn waiting_reason(pod: &Value) -> &str {
    pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kubectl_logs_reads_deterministic_lines_of_a_simulated_container() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], &deployment("web", "nginx:1.25", ""));
    let pod = started_pod(&k, "web");
    let name = pod["metadata"]["name"].as_str().expect("a pod name").to_owned();
    assert!(eventually(Duration::from_secs(10), || {
        k.ok(&["logs", &name]).contains("container main is ready")
    }));
    let logs = k.ok(&["logs", &name, "-c", "main"]);
    assert_eq!(
        logs,
        format!(
            "[ferry-sim] pulled image \"nginx:1.25\"\n[ferry-sim] started container main in pod {name}\n[ferry-sim] container main is ready\n"
        )
    );
    assert_eq!(k.ok(&["logs", &name, "--tail=1"]), "[ferry-sim] container main is ready\n");
    assert!(
        k.ok(&["logs", &name, "--timestamps"]).split(' ').next().is_some_and(|t| t.ends_with('Z'))
    );
    let wrong = k.run(&["logs", &name, "-c", "nope"]);
    assert!(!wrong.status.success());
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("container nope is not valid for pod"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_followed_log_streams_until_the_container_ends() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], &deployment("web", "nginx:1.25", ""));
    let pod = started_pod(&k, "web");
    let name = pod["metadata"]["name"].as_str().expect("a pod name").to_owned();
    // A running container: the stream stays open, then ends when the pod is deleted.
    let mut follow = k.command(&["logs", "-f", &name]);
    let child = follow.stdout(Stdio::piped()).spawn().expect("kubectl logs -f starts");
    std::thread::sleep(Duration::from_millis(800));
    // Deleting the Deployment deletes the pod (garbage collection), which ends the stream; a
    // watchdog ends kubectl if it does not, so the test fails instead of hanging.
    let pid = child.id().to_string();
    let ended = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watched = ended.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(20));
        // Only while our kubectl still runs: its pid is not reused before it is reaped.
        if !watched.load(std::sync::atomic::Ordering::SeqCst) {
            let _ = Command::new("kill").arg(&pid).status();
        }
    });
    k.ok(&["delete", "deployment", "web", "--wait=false"]);
    let out = child.wait_with_output().expect("kubectl logs -f ends once the pod is gone");
    ended.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(out.status.success(), "kubectl logs -f ended on its own, not by the watchdog");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("started container main"), "{text}");

    let job = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: once, namespace: default}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: busybox:1.36}]\n";
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], job);
    k.ok(&["wait", "--for=condition=complete", "job/once", "--timeout=20s"]);
    let logs = k.ok(&["logs", "-f", "job/once"]);
    assert!(logs.ends_with("[ferry-sim] container c completed\n"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn annotations_make_a_pod_crash_never_become_ready_or_fail_its_job() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let crash = deployment("crash", "nginx:1.25", "sim.ferry.dev/crash: \"true\"");
    let never = deployment("never", "nginx:1.25", "sim.ferry.dev/ready: never");
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], &format!("{crash}---\n{never}"));
    let pod = started_pod(&k, "crash");
    assert_eq!(waiting_reason(&pod), "CrashLoopBackOff", "{pod}");
    assert_eq!(pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"], 1);
    let name = pod["metadata"]["name"].as_str().expect("a pod name");
    assert!(k.ok(&["logs", name]).contains("exited with code 1 (sim.ferry.dev/crash: \"true\")"));

    let pod = started_pod(&k, "never");
    assert_eq!(pod["status"]["phase"], "Running");
    assert_eq!(pod["status"]["containerStatuses"][0]["ready"], false, "{pod}");
    std::thread::sleep(Duration::from_secs(1));
    let d = k.json(&["get", "deployment", "never"]);
    assert!(d["status"]["readyReplicas"].as_i64().unwrap_or(0) == 0, "{d}");

    let job = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: hook, namespace: default}\nspec:\n  backoffLimit: 0\n  template:\n    metadata: {annotations: {sim.ferry.dev/job: fail}}\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: busybox:1.36}]\n";
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], job);
    k.ok(&["wait", "--for=condition=failed", "job/hook", "--timeout=20s"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_image_on_an_invalid_host_or_missing_from_a_local_registry_cannot_be_pulled() {
    let registry = LocalRegistry::start();
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let invalid = deployment("invalid", "doesnotexist.invalid/nope:0", "");
    let missing = deployment("missing", &format!("{}/app:v9", registry.host), "");
    let closed = deployment("closed", &format!("127.0.0.1:{}/app:v1", free_port()), "");
    k.ok_stdin(
        &["apply", "--server-side", "-f", "-"],
        &format!("{invalid}---\n{missing}---\n{closed}"),
    );
    for (app, says) in [
        ("invalid", "no such host"),
        ("missing", "not found (manifest unknown)"),
        ("closed", "dial tcp"),
    ] {
        let pod = started_pod(&k, app);
        assert_eq!(waiting_reason(&pod), "ErrImagePull", "{app}: {pod}");
        let message = pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains(says), "{app}: {message}");
        let name = pod["metadata"]["name"].as_str().expect("a pod name");
        let logs = k.run(&["logs", name]);
        let err = String::from_utf8_lossy(&logs.stderr);
        assert!(err.contains("is waiting to start: trying and failing to pull image"), "{err}");
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// Debian's `docker-registry` on a free loopback port, with no images; killed on drop.
struct LocalRegistry {
    child: Child,
    host: String,
    _dir: tempfile::TempDir,
}

impl LocalRegistry {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .expect("writable");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("docker-registry is required (apt-get install docker-registry): {e}")
            });
        let registry = Self { child, host: format!("127.0.0.1:{port}"), _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
