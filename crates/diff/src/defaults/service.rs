//! Services, Secrets, Namespaces, volumes claims, network policies, autoscalers, RBAC, webhooks.

use base64::Engine;
use serde_json::{Value, json};

use super::{default, items_mut, object_at};

pub(super) fn service(obj: &mut Value) {
    let Some(spec) = object_at(obj, "spec") else { return };
    default(spec, "type", json!("ClusterIP"));
    default(spec, "sessionAffinity", json!("None"));
    if spec.get("sessionAffinity").and_then(Value::as_str) == Some("ClientIP")
        && let Some(cfg) = object_at(spec, "sessionAffinityConfig")
        && let Some(cip) = object_at(cfg, "clientIP")
    {
        default(cip, "timeoutSeconds", json!(10800));
    }
    for p in items_mut(spec, "ports") {
        default(p, "protocol", json!("TCP"));
        let port = p.get("port").cloned();
        let unset = match p.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::Number(n)) => n.as_i64() == Some(0),
            Some(Value::String(s)) => s.is_empty(),
            _ => false,
        };
        if unset && let (Some(port), Some(m)) = (port, p.as_object_mut()) {
            m.insert("targetPort".into(), port);
        }
    }
    let ty = spec.get("type").and_then(Value::as_str).unwrap_or("ClusterIP").to_string();
    if ty == "ExternalName" {
        return;
    }
    default(spec, "internalTrafficPolicy", json!("Cluster"));
    if ty == "NodePort" || ty == "LoadBalancer" {
        default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        default(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    // Filled by the REST storage on create; a single-stack IPv4 cluster is assumed.
    default(spec, "ipFamilyPolicy", json!("SingleStack"));
    default(spec, "ipFamilies", json!(["IPv4"]));
}

/// Secret `type` defaults to `Opaque`, and `stringData` is folded into `data` (base64) the way
/// the API server stores it.
pub(super) fn secret(obj: &mut Value) {
    default(obj, "type", json!("Opaque"));
    let Some(Value::Object(string_data)) = obj.as_object_mut().and_then(|m| m.remove("stringData"))
    else {
        return;
    };
    if let Some(data) = object_at(obj, "data").and_then(Value::as_object_mut) {
        for (k, v) in string_data {
            let text = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            data.insert(k, json!(base64::engine::general_purpose::STANDARD.encode(text)));
        }
    }
}

pub(super) fn namespace(obj: &mut Value) {
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).map(str::to_string);
    if let (Some(name), Some(meta)) = (name, object_at(obj, "metadata"))
        && let Some(labels) = object_at(meta, "labels")
    {
        default(labels, "kubernetes.io/metadata.name", json!(name));
    }
    if let Some(spec) = object_at(obj, "spec") {
        default(spec, "finalizers", json!(["kubernetes"]));
    }
}

pub(super) fn pvc_spec(spec: Option<&mut Value>) {
    if let Some(s) = spec {
        default(s, "volumeMode", json!("Filesystem"));
    }
}

pub(super) fn pv(obj: &mut Value) {
    if let Some(spec) = object_at(obj, "spec") {
        default(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
        default(spec, "volumeMode", json!("Filesystem"));
    }
}

pub(super) fn network_policy(obj: &mut Value) {
    let Some(spec) = object_at(obj, "spec") else { return };
    for dir in ["ingress", "egress"] {
        for rule in items_mut(spec, dir) {
            for p in items_mut(rule, "ports") {
                default(p, "protocol", json!("TCP"));
            }
        }
    }
    let has_egress = spec.get("egress").and_then(Value::as_array).is_some_and(|e| !e.is_empty());
    let types = if has_egress { json!(["Ingress", "Egress"]) } else { json!(["Ingress"]) };
    default(spec, "policyTypes", types);
}

pub(super) fn hpa(obj: &mut Value, api_version: &str) {
    let Some(spec) = object_at(obj, "spec") else { return };
    default(spec, "minReplicas", json!(1));
    if api_version == "autoscaling/v1" {
        default(spec, "targetCPUUtilizationPercentage", json!(80));
        return;
    }
    let no_metrics = spec.get("metrics").and_then(Value::as_array).is_none_or(Vec::is_empty);
    if no_metrics && let Some(m) = spec.as_object_mut() {
        m.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        );
    }
    // Behavior is filled in only when the object sets some of it.
    if let Some(b) = spec.get_mut("behavior").filter(|b| b.is_object()) {
        if let Some(up) = object_at(b, "scaleUp") {
            default(up, "stabilizationWindowSeconds", json!(0));
            default(up, "selectPolicy", json!("Max"));
            default(
                up,
                "policies",
                json!([{"type": "Pods", "value": 4, "periodSeconds": 15},
                       {"type": "Percent", "value": 100, "periodSeconds": 15}]),
            );
        }
        if let Some(down) = object_at(b, "scaleDown") {
            default(down, "stabilizationWindowSeconds", json!(300));
            default(down, "selectPolicy", json!("Max"));
            default(
                down,
                "policies",
                json!([{"type": "Percent", "value": 100, "periodSeconds": 15}]),
            );
        }
    }
}

pub(super) fn role_binding(obj: &mut Value) {
    for s in items_mut(obj, "subjects") {
        let group = match s.get("kind").and_then(Value::as_str) {
            Some("ServiceAccount") => "",
            Some("User" | "Group") => "rbac.authorization.k8s.io",
            _ => continue,
        };
        default(s, "apiGroup", json!(group));
    }
}

pub(super) fn webhooks(obj: &mut Value, mutating: bool) {
    for w in items_mut(obj, "webhooks") {
        default(w, "failurePolicy", json!("Fail"));
        default(w, "matchPolicy", json!("Equivalent"));
        default(w, "namespaceSelector", json!({}));
        default(w, "objectSelector", json!({}));
        default(w, "timeoutSeconds", json!(10));
        if mutating {
            default(w, "reinvocationPolicy", json!("Never"));
        }
        for r in items_mut(w, "rules") {
            default(r, "scope", json!("*"));
        }
        if let Some(svc) = w.pointer_mut("/clientConfig/service") {
            default(svc, "port", json!(443));
        }
    }
}
