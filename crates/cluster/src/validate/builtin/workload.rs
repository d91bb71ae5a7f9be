//! Pods, pod templates and the workloads around them, and Service ports.

use serde_json::{Value, json};

use crate::validate::check::child;
use crate::validate::field::{FieldError, Kind};

const DNS_LABEL_FMT: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn duplicate(field: String, v: &Value) -> FieldError {
    FieldError {
        field,
        kind: Kind::Duplicate,
        value: Some(crate::validate::field::shown(v)),
        detail: String::new(),
    }
}

fn port_ok(v: Option<&Value>) -> bool {
    v.and_then(Value::as_i64).is_some_and(|p| (1..=65535).contains(&p))
}

fn check_containers(spec: &Value, path: &str, key: &str, errs: &mut Vec<FieldError>) {
    let Some(list) = spec.get(key).and_then(Value::as_array) else { return };
    let mut names: Vec<&str> = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let at = format!("{}[{i}]", child(path, key));
        match c.get("name").and_then(Value::as_str) {
            None | Some("") => errs.push(FieldError::required(child(&at, "name"), "")),
            Some(n) if !is_dns_label(n) => {
                errs.push(FieldError::invalid(child(&at, "name"), &json!(n), DNS_LABEL_FMT))
            }
            Some(n) if names.contains(&n) => errs.push(duplicate(child(&at, "name"), &json!(n))),
            Some(n) => names.push(n),
        }
        if c.get("image").and_then(Value::as_str).is_none_or(str::is_empty)
            && key != "ephemeralContainers"
        {
            errs.push(FieldError::required(child(&at, "image"), ""));
        }
        for (j, p) in c.get("ports").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let field = format!("{at}.ports[{j}].containerPort");
            match p.get("containerPort") {
                None => errs.push(FieldError::required(field, "")),
                Some(v) if !port_ok(Some(v)) => {
                    errs.push(FieldError::invalid(field, v, PORT_RANGE))
                }
                Some(_) => {}
            }
        }
    }
}

/// A PodSpec at `path`; `restart` lists the restart policies the owner allows.
fn check_pod_spec(spec: Option<&Value>, path: &str, restart: &[&str], errs: &mut Vec<FieldError>) {
    let Some(spec) = spec.filter(|s| s.is_object()) else {
        errs.push(FieldError::required(child(path, "containers"), ""));
        return;
    };
    if spec.get("containers").and_then(Value::as_array).is_none_or(Vec::is_empty) {
        errs.push(FieldError::required(child(path, "containers"), ""));
    }
    check_containers(spec, path, "containers", errs);
    check_containers(spec, path, "initContainers", errs);
    let policy = spec.get("restartPolicy").cloned().unwrap_or(json!("Always"));
    if !restart.iter().any(|r| policy == *r) {
        let allowed: Vec<String> = restart.iter().map(|s| s.to_string()).collect();
        errs.push(FieldError::not_supported(child(path, "restartPolicy"), &policy, &allowed));
    }
}

pub fn check_pod(obj: &Value, errs: &mut Vec<FieldError>) {
    check_pod_spec(obj.get("spec"), "spec", &["Always", "OnFailure", "Never"], errs);
}

/// Go's `%#v` of a `map[string]string`, as the selector error shows template labels.
fn go_map(labels: Option<&serde_json::Map<String, Value>>) -> String {
    match labels {
        None => "map[string]string(nil)".into(),
        Some(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k:?}:{:?}", v.as_str().unwrap_or_default()))
                .collect();
            format!("map[string]string{{{}}}", parts.join(", "))
        }
    }
}

/// Deployment, ReplicaSet, StatefulSet and DaemonSet.
pub fn check_workload(kind: &str, obj: &Value, errs: &mut Vec<FieldError>) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    if let Some(r) = spec.get("replicas").filter(|r| r.as_i64().is_some_and(|n| n < 0)) {
        errs.push(FieldError::invalid("spec.replicas", r, "must be greater than or equal to 0"));
    }
    let labels = spec.pointer("/template/metadata/labels").and_then(Value::as_object);
    match spec.get("selector").filter(|s| s.is_object()) {
        None => errs.push(FieldError::required("spec.selector", "")),
        Some(sel) => {
            let empty = sel
                .get("matchLabels")
                .and_then(Value::as_object)
                .is_none_or(|m| m.is_empty())
                && sel.get("matchExpressions").and_then(Value::as_array).is_none_or(Vec::is_empty);
            if empty {
                let detail = format!("empty selector is invalid for {}", kind.to_lowercase());
                errs.push(FieldError {
                    field: "spec.selector".into(),
                    kind: Kind::Invalid,
                    value: Some(sel.to_string()),
                    detail,
                });
            } else if !crate::selector::label_selector_matches(sel, labels) {
                errs.push(FieldError {
                    field: "spec.template.metadata.labels".into(),
                    kind: Kind::Invalid,
                    value: Some(go_map(labels)),
                    detail: "`selector` does not match template `labels`".into(),
                });
            }
        }
    }
    check_pod_spec(spec.pointer("/template/spec"), "spec.template.spec", &["Always"], errs);
}

pub fn check_job(obj: &Value, errs: &mut Vec<FieldError>) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    check_pod_spec(
        spec.pointer("/template/spec"),
        "spec.template.spec",
        &["OnFailure", "Never"],
        errs,
    );
}

pub fn check_cron_job(obj: &Value, errs: &mut Vec<FieldError>) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    if spec.get("schedule").and_then(Value::as_str).is_none_or(str::is_empty) {
        errs.push(FieldError::required("spec.schedule", ""));
    }
    check_pod_spec(
        spec.pointer("/jobTemplate/spec/template/spec"),
        "spec.jobTemplate.spec.template.spec",
        &["OnFailure", "Never"],
        errs,
    );
}

pub fn check_service(obj: &Value, errs: &mut Vec<FieldError>) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let ty = spec.get("type").cloned().unwrap_or(json!("ClusterIP"));
    let types = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];
    if !types.iter().any(|t| ty == *t) {
        let allowed: Vec<String> = types.iter().map(|s| s.to_string()).collect();
        errs.push(FieldError::not_supported("spec.type", &ty, &allowed));
    }
    let ports = spec.get("ports").and_then(Value::as_array);
    let headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
    if ty == "ExternalName" {
        if spec.get("externalName").and_then(Value::as_str).is_none_or(str::is_empty) {
            errs.push(FieldError::required("spec.externalName", ""));
        }
    } else if !headless && ports.is_none_or(Vec::is_empty) {
        errs.push(FieldError::required("spec.ports", ""));
    }
    let list = ports.map(Vec::as_slice).unwrap_or_default();
    let mut names: Vec<&str> = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let at = format!("spec.ports[{i}]");
        let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
        if list.len() > 1 && name.is_empty() {
            errs.push(FieldError::required(child(&at, "name"), ""));
        } else if !name.is_empty() && names.contains(&name) {
            errs.push(duplicate(child(&at, "name"), &json!(name)));
        }
        names.push(name);
        if !port_ok(p.get("port")) {
            let v = p.get("port").cloned().unwrap_or(json!(0));
            errs.push(FieldError::invalid(child(&at, "port"), &v, PORT_RANGE));
        }
        let proto = p.get("protocol").cloned().unwrap_or(json!("TCP"));
        if !["TCP", "UDP", "SCTP"].iter().any(|x| proto == *x) {
            let allowed = ["SCTP".to_string(), "TCP".into(), "UDP".into()];
            errs.push(FieldError::not_supported(child(&at, "protocol"), &proto, &allowed));
        }
    }
}
