//! Pods, pod templates, containers, probes and volumes.

use serde_json::{Value, json};

use super::{default, items_mut, object_at};

/// `Always` for `:latest` or untagged images, else `IfNotPresent` (a digest without a tag
/// counts as tagged).
pub fn image_pull_policy(image: &str) -> &'static str {
    let (name, digest) = match image.split_once('@') {
        Some((n, _)) => (n, true),
        None => (image, false),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    let tag = last.split_once(':').map(|(_, t)| t);
    match (tag, digest) {
        (Some("latest"), _) | (None, false) => "Always",
        _ => "IfNotPresent",
    }
}

/// Defaults of a `PodSpec` (also inside workload templates).
pub fn apply_pod_spec_defaults(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "restartPolicy", json!("Always"));
    default(spec, "schedulerName", json!("default-scheduler"));
    default(spec, "securityContext", json!({}));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    let host_network = spec.get("hostNetwork").and_then(Value::as_bool) == Some(true);
    for key in ["containers", "initContainers", "ephemeralContainers"] {
        for c in items_mut(spec, key) {
            container(c, host_network);
        }
    }
    for v in items_mut(spec, "volumes") {
        volume(v);
    }
}

fn container(c: &mut Value, host_network: bool) {
    if !c.is_object() {
        return;
    }
    let image = c.get("image").and_then(Value::as_str).unwrap_or("").to_string();
    default(c, "imagePullPolicy", json!(image_pull_policy(&image)));
    default(c, "terminationMessagePath", json!("/dev/termination-log"));
    default(c, "terminationMessagePolicy", json!("File"));
    default(c, "resources", json!({}));
    for p in items_mut(c, "ports") {
        default(p, "protocol", json!("TCP"));
        if host_network && let Some(cp) = p.get("containerPort").cloned() {
            default(p, "hostPort", cp);
        }
    }
    for e in items_mut(c, "env") {
        if let Some(fr) = e.pointer_mut("/valueFrom/fieldRef") {
            default(fr, "apiVersion", json!("v1"));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).filter(|p| p.is_object()) {
            default(p, "timeoutSeconds", json!(1));
            default(p, "periodSeconds", json!(10));
            default(p, "successThreshold", json!(1));
            default(p, "failureThreshold", json!(3));
            handler(p);
        }
    }
    if let Some(lc) = c.get_mut("lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = lc.get_mut(hook) {
                handler(h);
            }
        }
    }
}

fn handler(h: &mut Value) {
    if let Some(g) = h.get_mut("httpGet").filter(|g| g.is_object()) {
        default(g, "scheme", json!("HTTP"));
    }
    if let Some(g) = h.get_mut("grpc").filter(|g| g.is_object()) {
        default(g, "service", json!(""));
    }
}

fn volume(v: &mut Value) {
    for source in ["configMap", "secret", "downwardAPI", "projected"] {
        if let Some(s) = v.get_mut(source).filter(|s| s.is_object()) {
            default(s, "defaultMode", json!(420));
            for item in items_mut(s, "items") {
                if let Some(fr) = item.get_mut("fieldRef") {
                    default(fr, "apiVersion", json!("v1"));
                }
            }
            for src in items_mut(s, "sources") {
                if let Some(t) = src.get_mut("serviceAccountToken") {
                    default(t, "expirationSeconds", json!(3600));
                }
                if let Some(d) = src.get_mut("downwardAPI") {
                    for item in items_mut(d, "items") {
                        if let Some(fr) = item.get_mut("fieldRef") {
                            default(fr, "apiVersion", json!("v1"));
                        }
                    }
                }
            }
        }
    }
    if let Some(h) = v.get_mut("hostPath").filter(|h| h.is_object()) {
        default(h, "type", json!(""));
    }
    if let Some(spec) = v.pointer_mut("/ephemeral/volumeClaimTemplate/spec") {
        default(spec, "volumeMode", json!("Filesystem"));
    }
}

/// Pods get the pod-spec defaults plus `enableServiceLinks` and requests copied from limits.
pub(super) fn pod(obj: &mut Value) {
    let Some(spec) = object_at(obj, "spec") else { return };
    apply_pod_spec_defaults(spec);
    default(spec, "enableServiceLinks", json!(true));
    for key in ["containers", "initContainers"] {
        for c in items_mut(spec, key) {
            let Some(limits) = c.pointer("/resources/limits").and_then(Value::as_object).cloned()
            else {
                continue;
            };
            if let Some(res) = object_at(c, "resources")
                && let Some(req) = object_at(res, "requests")
            {
                for (k, v) in limits {
                    default(req, &k, v);
                }
            }
        }
    }
}
