//! `meta.k8s.io/v1 Table` output, which `kubectl get` asks for.

use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::resources::ResourceType;

pub fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.split(',').next().is_some_and(|first| first.contains("as=Table")))
}

fn age(ts: Option<&str>) -> String {
    let Some(ts) = ts else { return "<unknown>".into() };
    let Ok(t) = ts.parse::<jiff::Timestamp>() else { return "<unknown>".into() };
    let secs = jiff::Timestamp::now().as_second().saturating_sub(t.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn json_path(obj: &Value, path: &str) -> Value {
    // CRD printer columns use simple JSONPath like `.status.phase` or `.spec.replicas`.
    let mut cur = obj;
    for part in path.trim_start_matches('.').split('.') {
        if part.is_empty() {
            continue;
        }
        match cur.get(part) {
            Some(v) => cur = v,
            None => return Value::Null,
        }
    }
    match cur {
        Value::Array(_) | Value::Object(_) => Value::String(cur.to_string()),
        other => other.clone(),
    }
}

/// A computed column of a built-in kind: (name, priority, cell).
type Column = (&'static str, u8, fn(&Value) -> Value);

fn text(v: &Value, pointer: &str) -> String {
    match v.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn event_last_seen(e: &Value) -> Value {
    let ts =
        ["/series/lastObservedTime", "/lastTimestamp", "/eventTime", "/metadata/creationTimestamp"]
            .iter()
            .find_map(|p| e.pointer(p).and_then(Value::as_str).filter(|s| !s.is_empty()));
    json!(age(ts))
}

fn event_object(e: &Value) -> Value {
    json!(format!(
        "{}/{}",
        text(e, "/involvedObject/kind").to_lowercase(),
        text(e, "/involvedObject/name")
    ))
}

fn ratio(o: &Value, ready: &str, want: &str) -> Value {
    let n = |p: &str| o.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    json!(format!("{}/{}", n(ready), n(want)))
}

/// Columns real servers print for kinds `kubectl get` is most often used on (after NAME).
fn builtin_columns(rt: &ResourceType) -> &'static [Column] {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Event") => &[
            ("Last Seen", 0, event_last_seen),
            ("Type", 0, |e| json!(text(e, "/type"))),
            ("Reason", 0, |e| json!(text(e, "/reason"))),
            ("Object", 0, event_object),
            ("Message", 0, |e| json!(text(e, "/message"))),
        ],
        ("", "Pod") => &[
            ("Ready", 0, |p| {
                let statuses = p.pointer("/status/containerStatuses").and_then(Value::as_array);
                let ready = statuses.map_or(0, |s| s.iter().filter(|c| c["ready"] == true).count());
                let total =
                    p.pointer("/spec/containers").and_then(Value::as_array).map_or(0, Vec::len);
                json!(format!("{ready}/{total}"))
            }),
            ("Status", 0, |p| {
                let waiting = p
                    .pointer("/status/containerStatuses")
                    .and_then(Value::as_array)
                    .and_then(|s| s.iter().find_map(|c| c.pointer("/state/waiting/reason")))
                    .and_then(Value::as_str);
                json!(waiting.map(str::to_string).unwrap_or_else(|| text(p, "/status/phase")))
            }),
        ],
        ("apps", "Deployment") => &[
            ("Ready", 0, |d| ratio(d, "/status/readyReplicas", "/spec/replicas")),
            ("Up-to-date", 0, |d| {
                json!(d.pointer("/status/updatedReplicas").and_then(Value::as_u64).unwrap_or(0))
            }),
            ("Available", 0, |d| {
                json!(d.pointer("/status/availableReplicas").and_then(Value::as_u64).unwrap_or(0))
            }),
        ],
        ("apps", "ReplicaSet") => &[
            ("Desired", 0, |r| {
                json!(r.pointer("/spec/replicas").and_then(Value::as_u64).unwrap_or(0))
            }),
            ("Current", 0, |r| {
                json!(r.pointer("/status/replicas").and_then(Value::as_u64).unwrap_or(0))
            }),
            ("Ready", 0, |r| {
                json!(r.pointer("/status/readyReplicas").and_then(Value::as_u64).unwrap_or(0))
            }),
        ],
        ("", "Service") => &[
            ("Type", 0, |s| json!(or(text(s, "/spec/type"), "ClusterIP"))),
            ("Cluster-IP", 0, |s| json!(or(text(s, "/spec/clusterIP"), "<none>"))),
            ("External-IP", 0, service_external_ip),
            ("Port(s)", 0, service_ports),
        ],
        ("", "ConfigMap") => &[("Data", 0, |c| json!(count(c, "/data") + count(c, "/binaryData")))],
        ("", "Secret") => &[
            ("Type", 0, |s| json!(or(text(s, "/type"), "Opaque"))),
            ("Data", 0, |s| json!(count(s, "/data"))),
        ],
        ("", "Namespace") => &[("Status", 0, |n| json!(or(text(n, "/status/phase"), "Active")))],
        ("", "PersistentVolumeClaim") => &[
            ("Status", 0, |c| json!(or(text(c, "/status/phase"), "Pending"))),
            ("Volume", 0, |c| json!(text(c, "/spec/volumeName"))),
            ("Capacity", 0, |c| json!(text(c, "/status/capacity/storage"))),
        ],
        ("apps", "StatefulSet") => {
            &[("Ready", 0, |s| ratio(s, "/status/readyReplicas", "/spec/replicas"))]
        }
        ("apps", "DaemonSet") => &[
            ("Desired", 0, |d| json!(num(d, "/status/desiredNumberScheduled"))),
            ("Current", 0, |d| json!(num(d, "/status/currentNumberScheduled"))),
            ("Ready", 0, |d| json!(num(d, "/status/numberReady"))),
            ("Up-to-date", 0, |d| json!(num(d, "/status/updatedNumberScheduled"))),
            ("Available", 0, |d| json!(num(d, "/status/numberAvailable"))),
        ],
        ("batch", "Job") => &[("Completions", 0, |j| {
            let want = j.pointer("/spec/completions").and_then(Value::as_u64).unwrap_or(1);
            json!(format!("{}/{want}", num(j, "/status/succeeded")))
        })],
        ("batch", "CronJob") => &[
            ("Schedule", 0, |c| json!(text(c, "/spec/schedule"))),
            ("Suspend", 0, |c| {
                json!(
                    c.pointer("/spec/suspend")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                        .to_string()
                )
            }),
            ("Active", 0, |c| {
                json!(c.pointer("/status/active").and_then(Value::as_array).map_or(0, Vec::len))
            }),
        ],
        ("networking.k8s.io", "Ingress") => &[
            ("Class", 0, |i| json!(or(text(i, "/spec/ingressClassName"), "<none>"))),
            ("Hosts", 0, |i| {
                let hosts: Vec<String> = i
                    .pointer("/spec/rules")
                    .and_then(Value::as_array)
                    .map(|rules| rules.iter().map(|r| or(text(r, "/host"), "*")).collect())
                    .unwrap_or_default();
                json!(if hosts.is_empty() { "*".to_owned() } else { hosts.join(",") })
            }),
            ("Address", 0, |i| json!(load_balancer_addresses(i).join(","))),
        ],
        _ => &[],
    }
}

fn or(value: String, default: &str) -> String {
    if value.is_empty() { default.to_owned() } else { value }
}

fn num(o: &Value, pointer: &str) -> u64 {
    o.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

fn count(o: &Value, pointer: &str) -> usize {
    o.pointer(pointer).and_then(Value::as_object).map_or(0, serde_json::Map::len)
}

fn load_balancer_addresses(o: &Value) -> Vec<String> {
    o.pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|i| i["ip"].as_str().or(i["hostname"].as_str()))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn service_external_ip(s: &Value) -> Value {
    let mut ips = load_balancer_addresses(s);
    if let Some(external) = s.pointer("/spec/externalIPs").and_then(Value::as_array) {
        ips.extend(external.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    if !ips.is_empty() {
        return json!(ips.join(","));
    }
    json!(match text(s, "/spec/type").as_str() {
        "LoadBalancer" => "<pending>",
        "ExternalName" => return json!(text(s, "/spec/externalName")),
        _ => "<none>",
    })
}

fn service_ports(s: &Value) -> Value {
    let ports: Vec<String> = s
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|ports| {
            ports
                .iter()
                .map(|p| {
                    let port = p["port"].as_u64().unwrap_or(0);
                    let protocol = p["protocol"].as_str().unwrap_or("TCP");
                    match p["nodePort"].as_u64() {
                        Some(node) => format!("{port}:{node}/{protocol}"),
                        None => format!("{port}/{protocol}"),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    json!(if ports.is_empty() { "<none>".to_owned() } else { ports.join(",") })
}

/// A table of `objects` with NAME, the kind's columns (CRD printer columns or built-in ones), and AGE.
pub fn table(
    rt: &ResourceType,
    objects: &[&Value],
    include_object: &str,
    rv: Option<String>,
    cont: Option<String>,
) -> Value {
    let mut columns = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}),
    ];
    let mut extra = Vec::new();
    for c in &rt.printer_columns {
        let path = c["jsonPath"].as_str().unwrap_or_default().to_string();
        if path == ".metadata.creationTimestamp" {
            continue;
        }
        columns.push(json!({"name": c["name"], "type": c["type"], "format": c.get("format").cloned().unwrap_or(json!("")),
            "description": c.get("description").cloned().unwrap_or(json!("")), "priority": c.get("priority").cloned().unwrap_or(json!(0))}));
        extra.push(path);
    }
    let computed = builtin_columns(rt);
    for (name, priority, _) in computed {
        columns.push(json!({"name": name, "type": "string", "format": "", "description": name, "priority": priority}));
    }
    columns.push(
        json!({"name": "Age", "type": "string", "format": "", "description": "Age", "priority": 0}),
    );
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut cells = vec![o["metadata"]["name"].clone()];
            for p in &extra {
                cells.push(json_path(o, p));
            }
            for (_, _, cell) in computed {
                cells.push(cell(o));
            }
            cells.push(json!(age(o.pointer("/metadata/creationTimestamp").and_then(Value::as_str))));
            let object = match include_object {
                "None" => Value::Null,
                "Object" => (*o).clone(),
                _ => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}),
            };
            json!({"cells": cells, "object": object})
        })
        .collect();
    let mut meta = json!({});
    if let Some(rv) = rv {
        meta["resourceVersion"] = json!(rv);
    }
    if let Some(c) = cont {
        meta["continue"] = json!(c);
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": columns, "rows": rows})
}
