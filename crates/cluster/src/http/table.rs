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

/// A table of `objects` with NAME, the CRD's printer columns, and AGE.
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
