//! OpenAPI documents as far as kubectl needs them: v3 per group/version, with the PATCH
//! operations that tell kubectl the server validates fields itself (`fieldValidation`), and
//! the component schemas of the built-in kinds (`kubectl explain`, client-side apply).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{Shared, json_response};
use crate::error::ApiError;
use crate::resources::ResourceType;

/// The OpenAPI v2 document, without definitions: kubectl reads it (as protobuf) only to
/// validate documents that are not resources, such as a `v1 List`, and passes kinds it has
/// no schema for; the kinds themselves are validated by the server (`fieldValidation`).
pub async fn v2(headers: axum::http::HeaderMap) -> Response {
    let accept = headers.get("accept").and_then(|v| v.to_str().ok()).unwrap_or("");
    if accept.contains("protobuf") {
        // gnostic openapi_v2.Document: swagger = 1, info = 2 {title = 1, version = 2}.
        let mut body = vec![0x0a, 3];
        body.extend_from_slice(b"2.0");
        let info: Vec<u8> = [&[0x0a, 10][..], b"Kubernetes", &[0x12, 7][..], b"v1.33.0"].concat();
        body.push(0x12);
        body.push(u8::try_from(info.len()).unwrap_or(0));
        body.extend(info);
        return (
            [("content-type", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")],
            body,
        )
            .into_response();
    }
    json_response(
        200,
        &json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.33.0"},
            "paths": {}, "definitions": {}}),
    )
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") }
}

pub async fn v3_index(State(st): State<Shared>) -> Response {
    let reg = st.registry();
    let mut paths = Map::new();
    for (group, versions) in reg.group_versions() {
        for v in versions {
            let p = gv_path(&group, &v);
            // The hash changes when the set of kinds in the group/version changes, so clients refetch.
            let kinds: Vec<&str> = reg
                .types()
                .iter()
                .filter(|t| t.group == group && t.version == v)
                .map(|t| t.kind.as_str())
                .collect();
            // Salted with the schema generation, so clients drop documents cached from older servers.
            let hash = fnv(&format!("schemas-3:{}", kinds.join(",")));
            paths.insert(
                p.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={hash:016X}")}),
            );
        }
    }
    json_response(200, &json!({"paths": paths}))
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3))
}

fn query_params() -> Value {
    let p = |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}});
    json!([p("dryRun"), p("fieldManager"), p("fieldValidation"), p("force"), p("pretty")])
}

fn operations(t: &ResourceType) -> Value {
    let gvk = json!({"group": t.group, "version": t.version, "kind": t.kind});
    let op = |action: &str| {
        json!({
            "operationId": format!("{action}{}", t.kind), "parameters": query_params(),
            "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk,
            "responses": {"200": {"description": "OK"}},
        })
    };
    let mut patch = op("patch");
    // The patch types accepted; kubectl computes strategic merge patches from the served schema
    // (the same list semantics the server merges with) only when the path lists that type.
    let mut types = vec![
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
    ];
    if t.crd.is_none() {
        types.push("application/strategic-merge-patch+json");
    }
    let content: Map<String, Value> = types
        .into_iter()
        .map(|ct| (ct.to_string(), json!({"schema": {"type": "object"}})))
        .collect();
    patch["requestBody"] = json!({"content": content, "required": true});
    json!({"get": op("get"), "put": op("put"), "patch": patch, "delete": op("delete")})
}

pub async fn v3_group_version(State(st): State<Shared>, Path(path): Path<String>) -> Response {
    let segs: Vec<&str> = path.split('/').collect();
    let (group, version) = match segs.as_slice() {
        ["api", v] => ("", *v),
        ["apis", g, v] => (*g, *v),
        _ => {
            return ApiError::new(404, "NotFound", format!("no OpenAPI document for {path}"))
                .into_response();
        }
    };
    let reg = st.registry();
    let types: Vec<&ResourceType> =
        reg.types().iter().filter(|t| t.group == group && t.version == version).collect();
    if types.is_empty() {
        return ApiError::new(404, "NotFound", format!("no OpenAPI document for {path}"))
            .into_response();
    }
    let mut paths = Map::new();
    // Built-in kinds only: custom resources have none, so kubectl sends them JSON merge patches.
    let kinds: Vec<&str> =
        types.iter().filter(|t| t.crd.is_none()).map(|t| t.kind.as_str()).collect();
    let schemas = super::openapi_schema::components(group, version, &kinds);
    for t in &types {
        let base = format!("/{}", gv_path(group, version));
        let item = if t.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", t.plural)
        } else {
            format!("{base}/{}/{{name}}", t.plural)
        };
        paths.insert(item, operations(t));
    }
    json_response(
        200,
        &json!({
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.33.0"},
            "paths": paths,
            "components": {"schemas": Value::Object((*schemas).clone())},
        }),
    )
}
