//! `/version`, legacy discovery and aggregated discovery (apidiscovery.k8s.io/v2).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Shared, json_response};
use crate::error::ApiError;
use crate::resources::ResourceType;

const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

fn wants_aggregated(headers: &HeaderMap) -> bool {
    headers.get("accept").and_then(|v| v.to_str().ok()).is_some_and(|a| {
        a.split(',').next().is_some_and(|first| {
            first.contains("as=APIGroupDiscoveryList") && first.contains("v=v2;")
        })
    }) || headers.get("accept").and_then(|v| v.to_str().ok()).is_some_and(|a| {
        a.split(',').any(|p| p.contains("g=apidiscovery.k8s.io") && p.contains("v=v2;"))
    })
}

pub async fn version() -> Response {
    json_response(
        200,
        &json!({
            "major": "1", "minor": "33", "gitVersion": "v1.33.0-ferry", "gitCommit": "ferry",
            "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24.0",
            "compiler": "gc", "platform": "linux/amd64",
            "emulationMajor": "1", "emulationMinor": "33", "minCompatibilityMajor": "1", "minCompatibilityMinor": "32"
        }),
    )
}

fn aggregated(items: Vec<Value>) -> Response {
    let body = json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items});
    ([("content-type", AGGREGATED), ("vary", "Accept")], body.to_string()).into_response()
}

fn discovery_resource(t: &ResourceType) -> Value {
    let kind = |k: &str, g: &str, v: &str| json!({"group": g, "version": v, "kind": k});
    let mut subs = Vec::new();
    if t.status {
        subs.push(json!({"subresource": "status", "responseKind": kind(&t.kind, &t.group, &t.version), "verbs": ["get", "patch", "update"]}));
    }
    if t.scale {
        subs.push(json!({"subresource": "scale", "responseKind": kind("Scale", "autoscaling", "v1"), "verbs": ["get", "patch", "update"]}));
    }
    let mut r = json!({
        "resource": t.plural, "responseKind": kind(&t.kind, &t.group, &t.version),
        "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": t.singular, "verbs": t.verbs(),
    });
    if !t.short_names.is_empty() {
        r["shortNames"] = json!(t.short_names);
    }
    if !t.categories.is_empty() {
        r["categories"] = json!(t.categories);
    }
    if !subs.is_empty() {
        r["subresources"] = json!(subs);
    }
    r
}

fn group_item(types: &[ResourceType], group: &str) -> Value {
    let mut versions: Vec<(bool, String)> = Vec::new();
    for t in types.iter().filter(|t| t.group == group) {
        if !versions.iter().any(|(_, v)| *v == t.version) {
            versions.push((t.preferred, t.version.clone()));
        }
    }
    // The preferred version comes first: clients take it as the default.
    versions.sort_by_key(|(p, _)| !*p);
    let versions: Vec<Value> = versions
        .iter()
        .map(|(_, v)| {
            let resources: Vec<Value> = types
                .iter()
                .filter(|t| t.group == group && t.version == *v)
                .map(discovery_resource)
                .collect();
            json!({"version": v, "resources": resources, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": group}, "versions": versions})
}

pub async fn legacy_versions(State(st): State<Shared>, headers: HeaderMap) -> Response {
    if wants_aggregated(&headers) {
        let reg = st.registry();
        return aggregated(vec![group_item(reg.types(), "")]);
    }
    json_response(
        200,
        &json!({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": st.config.listen.to_string()}]
        }),
    )
}

fn api_group(types: &[ResourceType], group: &str) -> Value {
    let mut versions: Vec<Value> = Vec::new();
    let mut preferred = Value::Null;
    for t in types.iter().filter(|t| t.group == group) {
        let gv = json!({"groupVersion": t.api_version(), "version": t.version});
        if !versions.contains(&gv) {
            versions.push(gv.clone());
        }
        if t.preferred && preferred.is_null() {
            preferred = gv;
        }
    }
    if preferred.is_null() {
        preferred = versions.first().cloned().unwrap_or(Value::Null);
    }
    versions.sort_by_key(|v| v != &preferred);
    json!({"name": group, "versions": versions, "preferredVersion": preferred})
}

pub async fn groups(State(st): State<Shared>, headers: HeaderMap) -> Response {
    let reg = st.registry();
    let groups: Vec<String> = reg.groups_in_order().into_iter().filter(|g| !g.is_empty()).collect();
    if wants_aggregated(&headers) {
        return aggregated(groups.iter().map(|g| group_item(reg.types(), g)).collect());
    }
    let list: Vec<Value> = groups.iter().map(|g| api_group(reg.types(), g)).collect();
    json_response(200, &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": list}))
}

pub async fn group(State(st): State<Shared>, Path(group): Path<String>) -> Response {
    let reg = st.registry();
    if !reg.types().iter().any(|t| t.group == group) {
        return ApiError::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource (group {group})"),
        )
        .into_response();
    }
    let mut g = api_group(reg.types(), &group);
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    json_response(200, &g)
}

fn resource_list(types: &[ResourceType], group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for t in types.iter().filter(|t| t.group == group && t.version == version) {
        let mut r = json!({
            "name": t.plural, "singularName": t.singular, "namespaced": t.namespaced, "kind": t.kind,
            "verbs": t.verbs(), "storageVersionHash": "",
        });
        if !t.short_names.is_empty() {
            r["shortNames"] = json!(t.short_names);
        }
        if !t.categories.is_empty() {
            r["categories"] = json!(t.categories);
        }
        resources.push(r);
        if t.status {
            resources.push(json!({"name": format!("{}/status", t.plural), "singularName": "", "namespaced": t.namespaced,
                "kind": t.kind, "verbs": ["get", "patch", "update"]}));
        }
        if t.scale {
            resources.push(json!({"name": format!("{}/scale", t.plural), "singularName": "", "namespaced": t.namespaced,
                "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]}));
        }
    }
    if resources.is_empty() {
        return None;
    }
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

pub async fn core_resources(State(st): State<Shared>) -> Response {
    let reg = st.registry();
    match resource_list(reg.types(), "", "v1") {
        Some(list) => json_response(200, &list),
        None => ApiError::new(404, "NotFound", "the server could not find the requested resource")
            .into_response(),
    }
}

pub async fn group_version_resources(
    State(st): State<Shared>,
    Path((group, version)): Path<(String, String)>,
) -> Response {
    let reg = st.registry();
    match resource_list(reg.types(), &group, &version) {
        Some(list) => json_response(200, &list),
        None => ApiError::new(
            404,
            "NotFound",
            format!(
                "the server could not find the requested resource (GET /apis/{group}/{version})"
            ),
        )
        .into_response(),
    }
}
