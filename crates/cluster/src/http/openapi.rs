//! OpenAPI documents as far as kubectl needs them: v3 per group/version, with the PATCH
//! operations that tell kubectl the server validates fields itself (`fieldValidation`).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{Shared, json_response};
use crate::error::ApiError;
use crate::resources::ResourceType;

pub async fn v2() -> Response {
    // kubectl only reads v2 when v3 is missing; a 404 makes it use v3 (which is served).
    ApiError::new(404, "NotFound", "the OpenAPI v2 document is not served; use /openapi/v3")
        .into_response()
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
            let hash = fnv(&kinds.join(","));
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
    json!({"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")})
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
    // No schemas: kubectl then computes strategic merge patches from its compiled-in types,
    // which carry the real merge keys, and uses JSON merge patches for custom resources.
    let schemas = Map::new();
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
            "components": {"schemas": schemas},
        }),
    )
}
