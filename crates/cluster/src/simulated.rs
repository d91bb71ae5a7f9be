//! What the simulated kubelet decides for a pod's containers, and what their logs say.
//!
//! # The rules (README: "The embedded cluster's simulated workloads")
//! - An image whose registry host ends in `.invalid` cannot be pulled (`ErrImagePull`: no such
//!   host), as on a real node.
//! - An image whose registry host is on loopback (`127.0.0.1:5000/app:v1`, `localhost:5000/…`)
//!   is looked up in that registry (`HEAD /v2/REPO/manifests/TAG`): a missing tag or an
//!   unreachable registry is `ErrImagePull`. Other registries are not contacted (this machine
//!   has no network): their images are taken as pullable.
//! - An image matching the cluster's `unpullable_images` pattern stays in `ImagePullBackOff`.
//! - Pod annotations (set them in the workload's pod template):
//!   `sim.ferry.dev/crash: "true"` — the container exits with code 1 and restarts
//!   (`CrashLoopBackOff`; a Job's pod fails);
//!   `sim.ferry.dev/ready: "never"` — the container runs but never becomes ready;
//!   `sim.ferry.dev/job: "fail"` — a Job's pod exits with code 1 (the Job fails once
//!   `backoffLimit` is exceeded, so a hook Job fails its sync).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

pub const ANNOTATION_CRASH: &str = "sim.ferry.dev/crash";
pub const ANNOTATION_READY: &str = "sim.ferry.dev/ready";
pub const ANNOTATION_JOB: &str = "sim.ferry.dev/job";

/// How long a loopback registry may take to answer before the pull counts as failed.
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(2);

/// What becomes of a pod's containers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Runs and becomes ready (a Job's pod completes).
    Runs,
    /// Runs, never ready.
    NeverReady,
    /// Exits with code 1 (restarting, or a failed Job pod).
    Crashes(&'static str),
    /// The image cannot be pulled: the image and why.
    PullFails { image: String, message: String },
}

fn annotation<'a>(pod: &'a Value, key: &str) -> &'a str {
    pod.pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The fate of `pod`, given the pull failures found for its images (`pulls`: image → why).
pub fn fate(pod: &Value, job_pod: bool, pulls: &HashMap<String, String>) -> Fate {
    for image in images(pod) {
        if let Some(message) = pulls.get(&image).cloned().or_else(|| invalid_host(&image)) {
            return Fate::PullFails { image, message };
        }
    }
    if annotation(pod, ANNOTATION_CRASH) == "true" {
        return Fate::Crashes("sim.ferry.dev/crash: \"true\"");
    }
    if job_pod && annotation(pod, ANNOTATION_JOB) == "fail" {
        return Fate::Crashes("sim.ferry.dev/job: \"fail\"");
    }
    if !job_pod && annotation(pod, ANNOTATION_READY) == "never" {
        return Fate::NeverReady;
    }
    Fate::Runs
}

pub fn images(pod: &Value) -> Vec<String> {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| cs.iter().filter_map(|c| c["image"].as_str()).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The registry host of an image reference, when it names one (`host.tld/…`, `host:port/…`,
/// `localhost/…`); `nginx:1.25` and `library/nginx` name none (Docker Hub).
pub fn registry_host(image: &str) -> Option<&str> {
    let (first, rest) = image.split_once('/')?;
    let is_host = first.contains('.') || first.contains(':') || first == "localhost";
    (is_host && !rest.is_empty()).then_some(first)
}

fn host_name(host: &str) -> &str {
    if let Some(v6) = host.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
}

fn invalid_host(image: &str) -> Option<String> {
    let host = host_name(registry_host(image)?);
    host.ends_with(".invalid")
        .then(|| format!("failed to pull image \"{image}\": dial tcp: lookup {host}: no such host"))
}

/// Whether the image's registry is on this machine's loopback, so that it can be asked.
pub fn loopback_registry(image: &str) -> Option<&str> {
    let host = registry_host(image)?;
    let name = host_name(host);
    let loopback =
        name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    loopback.then_some(host)
}

/// Asks a loopback registry whether it has the image; `Some(why)` when the pull would fail.
pub async fn check_pull(image: &str) -> Option<String> {
    let host = loopback_registry(image)?;
    let rest = &image[host.len() + 1..];
    let (repo, reference) = match rest.split_once('@') {
        Some((repo, digest)) => (repo, digest),
        None => match rest.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')) {
            Some((repo, tag)) => (repo, tag),
            None => (rest, "latest"),
        },
    };
    let uri = format!("http://{host}/v2/{repo}/manifests/{reference}");
    let fail = |why: String| Some(format!("failed to pull image \"{image}\": {why}"));
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<axum::body::Body>();
    let Ok(request) = axum::http::Request::head(&uri)
        .header(
            "accept",
            "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
             application/vnd.docker.distribution.manifest.list.v2+json, \
             application/vnd.docker.distribution.manifest.v2+json",
        )
        .body(axum::body::Body::empty())
    else {
        return fail(format!("invalid reference {uri}"));
    };
    match tokio::time::timeout(REGISTRY_TIMEOUT, client.request(request)).await {
        Err(_) => fail(format!("{host} did not answer within {REGISTRY_TIMEOUT:?}")),
        Ok(Err(e)) => fail(format!("dial tcp {host}: {}", root(&e))),
        Ok(Ok(r)) if r.status().is_success() => None,
        Ok(Ok(r)) if r.status().as_u16() == 404 => {
            fail(format!("{host}/{repo}:{reference}: not found (manifest unknown)"))
        }
        Ok(Ok(r)) => fail(format!("{host} answered {}", r.status())),
    }
}

fn root(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The container statuses (and pod phase) for a fate other than `Runs`.
pub fn failing_status(pod: &Value, fate: &Fate, job_pod: bool, now: &str) -> (String, Vec<Value>) {
    let name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let containers = pod.pointer("/spec/containers").and_then(Value::as_array);
    let status = |c: &Value| -> Value {
        let base =
            json!({"name": c["name"], "image": c["image"], "imageID": "", "restartCount": 0});
        let (ready, started, state, extra) = match fate {
            Fate::PullFails { message, .. } if job_pod => (
                false,
                false,
                json!({"terminated":
                {"reason": "ErrImagePull", "message": message, "exitCode": 1, "startedAt": now, "finishedAt": now}}),
                json!({}),
            ),
            Fate::PullFails { message, .. } => (
                false,
                false,
                json!({"waiting": {"reason": "ErrImagePull", "message": message}}),
                json!({}),
            ),
            Fate::Crashes(_) if job_pod => (
                false,
                false,
                json!({"terminated":
                {"reason": "Error", "exitCode": 1, "startedAt": now, "finishedAt": now}}),
                json!({}),
            ),
            Fate::Crashes(_) => (
                false,
                false,
                json!({"waiting": {"reason": "CrashLoopBackOff",
                "message": format!("back-off 10s restarting failed container={} pod={name}", c["name"].as_str().unwrap_or_default())}}),
                json!({"restartCount": 1, "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "startedAt": now, "finishedAt": now}}}),
            ),
            Fate::NeverReady | Fate::Runs => {
                (false, true, json!({"running": {"startedAt": now}}), json!({}))
            }
        };
        let mut s = base;
        s["ready"] = json!(ready);
        s["started"] = json!(started);
        s["state"] = state;
        if let (Some(s), Some(extra)) = (s.as_object_mut(), extra.as_object()) {
            s.extend(extra.clone());
        }
        s
    };
    let statuses: Vec<Value> =
        containers.map(|cs| cs.iter().map(status).collect()).unwrap_or_default();
    let phase = match fate {
        _ if job_pod => "Failed",
        Fate::PullFails { .. } => "Pending",
        _ => "Running",
    };
    (phase.to_owned(), statuses)
}

/// One line of a simulated container log.
#[derive(Clone, Debug)]
pub struct LogLine {
    pub at: jiff::Timestamp,
    pub text: String,
    /// The container has ended: no line follows this one.
    pub last: bool,
}

impl LogLine {
    pub fn render(&self, timestamps: bool) -> String {
        if timestamps { format!("{} {}\n", self.at, self.text) } else { format!("{}\n", self.text) }
    }
}

/// The log of `container` in `pod`, from its status: deterministic lines saying what the
/// simulator did (pulled, started, ready, exited). A container not started yet has no log, as
/// on a real node (the kubelet's message).
pub fn container_log(pod: &Value, container: &str) -> Result<Vec<LogLine>, String> {
    let pod_name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let status = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["name"] == container));
    let waiting_to_start = |why: &str| {
        format!("container \"{container}\" in pod \"{pod_name}\" is waiting to start: {why}")
    };
    let Some(status) = status else { return Err(waiting_to_start("ContainerCreating")) };
    let image = status["image"].as_str().unwrap_or_default();
    let state = &status["state"];
    let started = [
        &state["running"]["startedAt"],
        &state["terminated"]["startedAt"],
        &status["lastState"]["terminated"]["startedAt"],
    ]
    .iter()
    .find_map(|v| v.as_str().and_then(|s| s.parse::<jiff::Timestamp>().ok()));
    let reason = state["waiting"]["reason"].as_str().unwrap_or_default();
    if matches!(reason, "ErrImagePull" | "ImagePullBackOff") {
        return Err(waiting_to_start("trying and failing to pull image"));
    }
    let Some(at) = started else {
        return Err(waiting_to_start(if reason.is_empty() { "ContainerCreating" } else { reason }));
    };
    let line = |text: String, last: bool| LogLine { at, text, last };
    let mut lines = vec![
        line(format!("[ferry-sim] pulled image \"{image}\""), false),
        line(format!("[ferry-sim] started container {container} in pod {pod_name}"), false),
    ];
    let crashed = &status["lastState"]["terminated"];
    let terminated = &state["terminated"];
    let why = match annotation(pod, ANNOTATION_CRASH) {
        "true" => format!(" ({ANNOTATION_CRASH}: \"true\")"),
        _ if annotation(pod, ANNOTATION_JOB) == "fail" => format!(" ({ANNOTATION_JOB}: \"fail\")"),
        _ => String::new(),
    };
    if crashed.is_object() {
        let code = crashed["exitCode"].as_i64().unwrap_or(1);
        lines.push(line(
            format!("[ferry-sim] container {container} exited with code {code}{why}; restarting"),
            false,
        ));
    } else if terminated.is_object() {
        let code = terminated["exitCode"].as_i64().unwrap_or(0);
        let text = if code == 0 {
            format!("[ferry-sim] container {container} completed")
        } else {
            format!("[ferry-sim] container {container} exited with code {code}{why}")
        };
        lines.push(line(text, true));
    } else if status["ready"] == true {
        lines.push(line(format!("[ferry-sim] container {container} is ready"), false));
    } else if annotation(pod, ANNOTATION_READY) == "never" {
        lines.push(line(format!("[ferry-sim] container {container} is running but never becomes ready ({ANNOTATION_READY}: \"never\")"), false));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_hosts_are_told_apart_from_docker_hub_names() {
        assert_eq!(registry_host("nginx:1.25"), None);
        assert_eq!(registry_host("library/nginx"), None);
        assert_eq!(registry_host("127.0.0.1:5000/app:v1"), Some("127.0.0.1:5000"));
        assert_eq!(loopback_registry("localhost:5000/app"), Some("localhost:5000"));
        assert_eq!(loopback_registry("ghcr.io/x/app:v1"), None);
        assert!(
            invalid_host("doesnotexist.invalid/nope:0").is_some_and(|m| m.contains("no such host"))
        );
    }

    #[test]
    fn annotations_choose_the_fate_and_a_pull_failure_comes_first() {
        let pod = |annotations: Value| {
            json!({"metadata": {"name": "p", "annotations": annotations},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}})
        };
        let none = HashMap::new();
        assert_eq!(fate(&pod(json!({})), false, &none), Fate::Runs);
        assert_eq!(fate(&pod(json!({ANNOTATION_READY: "never"})), false, &none), Fate::NeverReady);
        assert!(matches!(
            fate(&pod(json!({ANNOTATION_CRASH: "true"})), false, &none),
            Fate::Crashes(_)
        ));
        assert!(matches!(
            fate(&pod(json!({ANNOTATION_JOB: "fail"})), true, &none),
            Fate::Crashes(_)
        ));
        assert_eq!(fate(&pod(json!({ANNOTATION_JOB: "fail"})), false, &none), Fate::Runs);
        let pulls = HashMap::from([("nginx:1.25".to_owned(), "gone".to_owned())]);
        assert!(matches!(
            fate(&pod(json!({ANNOTATION_CRASH: "true"})), false, &pulls),
            Fate::PullFails { .. }
        ));
    }
}
