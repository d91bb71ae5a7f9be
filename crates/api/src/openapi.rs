//! The OpenAPI 3.1 document of the API, built by hand next to the routes it describes (a test
//! sends a request for every operation in it and checks that the router knows it).

use serde_json::{Map, Value, json};

/// Method, path, summary, request schema, success code and response schema.
type Operation =
    (&'static str, &'static str, &'static str, Option<&'static str>, u16, &'static str);

/// Every operation of the API. Keep in step with [`crate::router`].
pub(crate) const OPERATIONS: &[Operation] = &[
    ("get", "/healthz", "Liveness: the process answers", None, 200, "text"),
    (
        "get",
        "/readyz",
        "Readiness: the cluster answers and the engine runs",
        None,
        200,
        "Readiness",
    ),
    ("get", "/metrics", "Prometheus metrics (OpenMetrics text)", None, 200, "text"),
    ("get", "/api/openapi.json", "This document", None, 200, "object"),
    (
        "get",
        "/api/v1/applicationsets",
        "List the ApplicationSets the caller may see (RBAC `applicationsets, get, PROJECT/NAMESPACE/NAME`)",
        None,
        200,
        "object",
    ),
    (
        "get",
        "/api/v1/applicationsets/{namespace}/{name}",
        "The ApplicationSet object: generators, template, conditions, generated apps",
        None,
        200,
        "object",
    ),
    (
        "get",
        "/api/v1/applications",
        "List applications with sync and health status, filtered (namespace, project, cluster, destNamespace, repo, sync, health, label=k=v,k2, q=text), sorted (sort=name|namespace|project|cluster|destNamespace|sync|health|repo|reconciled, - for descending) and paged (offset, limit ≤ 1000) on the server, with counts by state and the values of each filter",
        None,
        200,
        "AppList",
    ),
    (
        "get",
        "/api/v1/stream/applications",
        "Server-Sent Events: one `apps` event per change, {upserts: [AppSummary], deletes: [{namespace, name}]}, for the apps the caller may get",
        None,
        200,
        "text",
    ),
    (
        "delete",
        "/api/v1/applications/{namespace}/{name}",
        "Delete the application (?cascade=true deletes its objects too); needs `applications delete`",
        None,
        202,
        "Accepted",
    ),
    (
        "get",
        "/api/v1/applications/{namespace}/{name}/tree",
        "The managed objects and what they own by owner references (Deployment → ReplicaSet → Pod), each with sync, health and a message",
        None,
        200,
        "Tree",
    ),
    (
        "get",
        "/api/v1/applications/{namespace}/{name}/object",
        "One live object of the app's tree (?group=&version=&kind=&namespace=&name=), without managedFields, Secret values masked",
        None,
        200,
        "object",
    ),
    (
        "get",
        "/api/v1/applications/{namespace}/{name}/desired",
        "What Git renders for one managed object (?group=&kind=&namespace=&name=), Secret values masked: {origin, object}; 404 when the app declares no such object",
        None,
        200,
        "object",
    ),
    (
        "get",
        "/api/v1/applications/{namespace}/{name}",
        "The Application object, status included",
        None,
        200,
        "object",
    ),
    (
        "get",
        "/api/v1/applications/{namespace}/{name}/resources",
        "Managed objects with sync, health and drift",
        None,
        200,
        "ResourceList",
    ),
    (
        "get",
        "/api/v1/applications/{namespace}/{name}/diff",
        "Field-level differences between Git and the cluster (Secret values masked)",
        None,
        200,
        "DiffList",
    ),
    (
        "get",
        "/api/v1/applications/{namespace}/{name}/history",
        "Deployed revisions, newest first",
        None,
        200,
        "HistoryList",
    ),
    (
        "get",
        "/api/v1/applications/{namespace}/{name}/events",
        "Kubernetes Events about the application, newest first",
        None,
        200,
        "EventList",
    ),
    (
        "post",
        "/api/v1/applications/{namespace}/{name}/sync",
        "Request a sync (optionally with prune, as a dry run, of selected objects only, or with force: objects whose immutable fields changed are deleted and created again)",
        Some("SyncBody"),
        202,
        "Accepted",
    ),
    (
        "post",
        "/api/v1/applications/{namespace}/{name}/rollback",
        "Roll back to a history entry or revision and pin there",
        Some("RollbackBody"),
        202,
        "Accepted",
    ),
    (
        "post",
        "/api/v1/applications/{namespace}/{name}/unpin",
        "Leave a rollback pin and follow targetRevision again",
        None,
        202,
        "Accepted",
    ),
    (
        "post",
        "/api/v1/applications/{namespace}/{name}/suspend",
        "Stop syncing and healing",
        None,
        202,
        "Accepted",
    ),
    (
        "post",
        "/api/v1/applications/{namespace}/{name}/resume",
        "Resume syncing and healing",
        None,
        202,
        "Accepted",
    ),
    (
        "post",
        "/api/v1/applications/{namespace}/{name}/refresh",
        "Compare with a fresh look at the source now",
        None,
        202,
        "Accepted",
    ),
    (
        "post",
        "/api/v1/applications/{namespace}/{name}/terminate-op",
        "Stop the sync operation in progress (409 when none runs)",
        None,
        202,
        "Accepted",
    ),
    (
        "get",
        "/api/v1/audit",
        "The audit trail: API actions and syncs (filters: app, since, user, action, limit); needs `audit get`",
        None,
        200,
        "AuditList",
    ),
    (
        "get",
        "/api/v1/notifications/log",
        "The notification delivery log, oldest first (filters: app=NAMESPACE/NAME, limit=N: the newest N); needs `notifications get`",
        None,
        200,
        "NotificationLog",
    ),
    (
        "get",
        "/api/v1/account",
        "Who the server takes the caller for, and its roles",
        None,
        200,
        "Account",
    ),
    (
        "get",
        "/api/v1/account/can-i",
        "Whether the caller may do ?action= on ?resource= ?object= (RBAC)",
        None,
        200,
        "CanI",
    ),
    (
        "post",
        "/api/v1/applications/{namespace}/{name}/approve",
        "Approve the revision awaiting approval, or {\"revision\": SHA} (409 when none awaits)",
        Some("object"),
        202,
        "Accepted",
    ),
    (
        "post",
        "/api/v1/plan",
        "What merging a change (repoURL, base, head) would do to the live clusters, app by app; needs `applications get` on every app",
        Some("PlanRequest"),
        200,
        "Plan",
    ),
    (
        "post",
        "/api/webhook",
        "A Git provider's push webhook (provider detected from headers)",
        Some("object"),
        202,
        "WebhookResult",
    ),
    (
        "post",
        "/api/webhook/{provider}",
        "A Git provider's push webhook for one provider",
        Some("object"),
        202,
        "WebhookResult",
    ),
];

/// Paths that need no bearer token even when one is configured.
const PUBLIC: &[&str] = &["/healthz", "/readyz", "/api/webhook", "/api/webhook/{provider}"];

fn schema_ref(name: &str) -> Value {
    match name {
        "text" => json!({"type": "string"}),
        "object" => json!({"type": "object"}),
        other => json!({"$ref": format!("#/components/schemas/{other}")}),
    }
}

fn string() -> Value {
    json!({"type": "string"})
}

fn object(required: &[&str], props: Value) -> Value {
    json!({"type": "object", "required": required, "properties": props})
}

/// A history entry's change set: counts by action and the changed objects (capped).
fn history_changes() -> Value {
    let count = || json!({"type": "integer"});
    let object_ref = object(
        &["action", "kind", "name"],
        json!({"action": string(), "group": string(), "kind": string(), "namespace": string(), "name": string()}),
    );
    object(
        &["created", "configured", "pruned", "unchanged"],
        json!({"created": count(), "configured": count(), "pruned": count(), "unchanged": count(),
            "other": count(), "more": count(), "objects": {"type": "array", "items": object_ref}}),
    )
}

fn list_of(item: &str) -> Value {
    object(&["items"], json!({"items": {"type": "array", "items": schema_ref(item)}}))
}

fn schemas() -> Value {
    let mut all = base_schemas();
    for more in [plan_schemas(), ui_schemas()] {
        if let (Some(all), Value::Object(more)) = (all.as_object_mut(), more) {
            all.extend(more);
        }
    }
    all
}

/// What the web UI reads beyond the base: the paged list and the resource tree.
fn ui_schemas() -> Value {
    json!({
        "AppList": object(&["items"], json!({
            "items": {"type": "array", "items": schema_ref("AppSummary")},
            "total": {"type": "integer"},
            "counts": object(&["sync", "health"], json!({"sync": {"type": "object"}, "health": {"type": "object"}})),
            "facets": {"type": "object"}
        })),
        "Tree": object(&["nodes"], json!({"nodes": {"type": "array", "items": object(&["id", "kind", "name", "managed", "health"], json!({
            "id": string(), "group": string(), "version": string(), "kind": string(), "namespace": string(), "name": string(),
            "managed": {"type": "boolean"}, "sync": string(), "health": string(), "message": string(),
            "parents": {"type": "array", "items": string()}
        }))}}))
    })
}

/// The plan's request and answer (`POST /api/v1/plan`).
fn plan_schemas() -> Value {
    let change = object(
        &["apiVersion", "object"],
        json!({"apiVersion": string(), "object": string(), "diff": string()}),
    );
    let changes = json!({"type": "array", "items": schema_ref("ObjectChange")});
    let app = object(
        &["app", "destination", "create", "update", "prune", "pruneEnabled", "violations"],
        json!({
            "app": string(), "destination": string(), "pruneEnabled": {"type": "boolean"}, "error": string(),
            "violations": {"type": "array", "items": string()},
            "create": changes.clone(), "update": changes.clone(), "prune": changes
        }),
    );
    let side = object(&["ref", "commit"], json!({"ref": string(), "commit": string()}));
    json!({
        "PlanRequest": json!({"type": "object", "additionalProperties": false, "required": ["repoURL", "base", "head"],
            "properties": {"repoURL": string(), "base": string(), "head": string()}}),
        "Plan": object(&["repoUrl", "base", "head", "changedPaths", "apps", "unaffected", "headline", "markdown", "exitCode"], json!({
            "repoUrl": string(), "changedPaths": {"type": "integer"}, "headline": string(), "markdown": string(), "exitCode": {"type": "integer"},
            "base": side.clone(), "head": side,
            "apps": {"type": "array", "items": app},
            "unaffected": {"type": "array", "items": object(&["app", "reason"], json!({"app": string(), "reason": {}}))}
        })),
        "ObjectChange": change
    })
}

fn base_schemas() -> Value {
    let health = object(&["status"], json!({"status": string(), "message": string()}));
    json!({
        "Error": object(&["error", "hint"], json!({"error": string(), "hint": string()})),
        "Health": health,
        "Sync": object(&["status", "revision"], json!({"status": {"type": "string", "enum": ["Synced", "OutOfSync", "Unknown"]}, "revision": string()})),
        "Operation": object(&["phase", "revision"], json!({"phase": string(), "message": string(), "revision": string(), "startedAt": string(), "finishedAt": string(), "dryRun": {"type": "boolean"}})),
        "AppSummary": object(&["namespace", "name", "sync", "health", "source"], json!({
            "namespace": string(), "name": string(), "project": string(), "cluster": string(), "labels": {"type": "object"},
            "sync": schema_ref("Sync"), "health": schema_ref("Health"),
            "source": object(&["repoURL", "path", "targetRevision"], json!({"repoURL": string(), "path": string(), "targetRevision": string()})),
            "destinationNamespace": string(), "autoSync": {"type": "boolean"}, "suspended": {"type": "boolean"},
            "pinned": string(), "lastOperation": schema_ref("Operation"), "reconciledAt": string(),
            "problems": {"type": "array", "items": object(&["type", "reason", "message"], json!({"type": string(), "reason": string(), "message": string()}))}
        })),
        "Resource": object(&["kind", "name", "sync", "drift"], json!({
            "group": string(), "version": string(), "kind": string(), "namespace": string(), "name": string(),
            "sync": string(), "health": schema_ref("Health"), "drift": {"type": "array", "items": string()}
        })),
        "ResourceList": list_of("Resource"),
        "ObjectDiff": object(&["apiVersion", "kind", "name", "changes"], json!({
            "apiVersion": string(), "kind": string(), "namespace": string(), "name": string(),
            "changes": {"type": "array", "items": object(&["path"], json!({
                "path": string(), "desired": {}, "live": {},
                "changedBy": object(&["manager", "operation"], json!({"manager": string(), "operation": string(), "time": string()}))
            }))},
            "ignored": {"type": "array", "items": object(&["path", "rule"], json!({
                "path": string(), "desired": {}, "live": {}, "rule": string(),
                "changedBy": object(&["manager", "operation"], json!({"manager": string(), "operation": string(), "time": string()}))
            }))}
        })),
        "DiffList": list_of("ObjectDiff"),
        "History": object(&["id", "revision", "deployedAt", "current"], json!({
            "id": {"type": "integer"}, "revision": string(), "deployedAt": string(), "repoURL": string(),
            "path": string(), "targetRevision": string(), "healthy": {"type": "boolean"}, "author": string(), "approvedBy": string(), "current": {"type": "boolean"},
            "message": string(), "changes": schema_ref("HistoryChanges")
        })),
        "HistoryChanges": history_changes(),
        "HistoryList": list_of("History"),
        "Event": object(&["type", "reason", "message", "count", "lastSeen"], json!({
            "type": string(), "reason": string(), "message": string(), "count": {"type": "integer"}, "lastSeen": string(), "source": string()
        })),
        "EventList": list_of("Event"),
        "SyncBody": json!({"type": "object", "additionalProperties": false, "properties": {"prune": {"type": "boolean"}, "dryRun": {"type": "boolean"}, "force": {"type": "boolean"},
            "resources": {"type": "array", "items": {"type": "object", "required": ["kind", "name"], "properties": {"group": string(), "kind": string(), "namespace": string(), "name": string()}}}}}),
        "RollbackBody": json!({"type": "object", "additionalProperties": false, "description": "exactly one of id or revision",
            "properties": {"id": {"type": "integer"}, "revision": string()}}),
        "Accepted": object(&["namespace", "name", "action", "message"], json!({"namespace": string(), "name": string(), "action": string(), "message": string(), "requestId": string(), "poll": string()})),
        "WebhookResult": object(&["provider", "event", "triggered", "message"], json!({
            "provider": string(), "event": {"type": "string", "enum": ["push", "pull_request", "ping", "ignored", "duplicate"]},
            "triggered": {"type": "integer"}, "repositories": {"type": "array", "items": string()}, "message": string()
        })),
        "AuditRecord": object(&["time", "kind", "action", "actor", "outcome", "message"], json!({
            "time": string(), "kind": {"type": "string", "enum": ["api", "sync", "approval"]}, "action": string(),
            "actor": object(&["user", "via"], json!({"user": string(), "groups": {"type": "array", "items": string()}, "via": string(), "address": string()})),
            "app": object(&["namespace", "name", "project"], json!({"namespace": string(), "name": string(), "project": string()})),
            "outcome": {"type": "string", "enum": ["allowed", "denied", "failed", "succeeded"]}, "message": string(),
            "request": object(&["method", "path", "status"], json!({"method": string(), "path": string(), "status": {"type": "integer"}, "permission": string()})),
            "sync": object(&["revision", "signature", "trigger", "changes", "dryRun"], json!({
                "revision": string(), "signature": string(), "dryRun": {"type": "boolean"},
                "commit": object(&["author", "committer", "message"], json!({"author": string(), "committer": string(), "authoredAt": string(), "message": string(), "signed": {"type": "boolean"}})),
                "trigger": object(&["kind"], json!({"kind": string(), "user": string(), "delivery": string()})),
                "changes": object(&["summary"], json!({"summary": string(), "objects": {"type": "array", "items": string()}}))
            }))
        })),
        "AuditList": list_of("AuditRecord"),
        "NotificationEntry": object(&["at", "app", "trigger", "service", "serviceType", "outcome", "attempts", "latencyMs"], json!({
            "at": string(), "app": string(), "trigger": string(), "service": string(), "serviceType": string(),
            "recipient": string(), "revision": string(),
            "outcome": {"type": "string", "enum": ["delivered", "failed", "error", "dropped"]},
            "attempts": {"type": "integer"}, "statusCode": {"type": "integer"}, "error": string(), "latencyMs": {"type": "integer"}
        })),
        "NotificationLog": list_of("NotificationEntry"),
        "Account": object(&["user", "groups", "roles", "via", "authRequired"], json!({
            "user": string(), "groups": {"type": "array", "items": string()}, "roles": {"type": "array", "items": string()},
            "via": string(), "authRequired": {"type": "boolean"}, "policyProblem": string()
        })),
        "CanI": object(&["allowed", "user", "resource", "action", "object"], json!({
            "allowed": {"type": "boolean"}, "user": string(), "resource": string(), "action": string(), "object": string()
        })),
        "Denied": object(&["error", "hint", "user", "resource", "action", "object"], json!({
            "error": string(), "hint": string(), "user": string(), "resource": string(), "action": string(), "object": string()
        })),
        "Readiness": object(&["ready", "message", "applications"], json!({"ready": {"type": "boolean"}, "message": string(), "applications": {"type": "integer"}})),
    })
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema_ref("Error")}}})
}

/// The document served at `/api/openapi.json`.
pub fn openapi() -> Value {
    let mut paths = Map::new();
    for (method, path, summary, request, code, response) in OPERATIONS {
        let mut params = Vec::new();
        for segment in path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                params.push(json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}));
            }
        }
        let content_type = match *response {
            "text" if path.contains("/stream/") => "text/event-stream",
            "text" => "text/plain",
            _ => "application/json",
        };
        let mut responses = Map::new();
        responses.insert(
            code.to_string(),
            json!({"description": summary, "content": {content_type: {"schema": schema_ref(response)}}}),
        );
        if path.contains("{name}") {
            responses.insert("404".into(), error_response("No such application"));
        }
        if *method == "post" {
            responses.insert("400".into(), error_response("The request is malformed"));
        }
        if path.starts_with("/api/webhook") {
            responses.insert("200".into(), json!({"description": "A ping, an ignored event or a redelivery", "content": {"application/json": {"schema": schema_ref("WebhookResult")}}}));
            responses.insert("401".into(), error_response("Missing or wrong signature"));
            responses
                .insert("403".into(), error_response("No secret is configured for this provider"));
            responses.insert("413".into(), error_response("The body is over the limit"));
        } else if !PUBLIC.contains(path) {
            responses.insert(
                "401".into(),
                error_response("No valid bearer token (API token, `ferry token create`, or OIDC)"),
            );
            responses.insert("403".into(), json!({"description": "The caller's roles do not allow this (RBAC); or a cross-site write; or a foreign Host on loopback", "content": {"application/json": {"schema": schema_ref("Denied")}}}));
        }
        if *method == "post" && !path.starts_with("/api/webhook") {
            responses.insert(
                "415".into(),
                error_response("A write without a bearer token must be JSON"),
            );
        }
        let mut op = json!({
            "summary": summary,
            "operationId": operation_id(method, path),
            "parameters": params,
            "responses": responses,
        });
        if PUBLIC.contains(path) {
            op["security"] = json!([]);
        }
        if let Some(request) = request {
            op["requestBody"] = json!({"required": false, "content": {"application/json": {"schema": schema_ref(request)}}});
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Ferry API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Applications, their resources, diffs, history and events; sync, rollback, suspend and resume; Git webhooks. Errors are {\"error\", \"hint\"}."
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "The server's --api-token, a token from `ferry token create`, or an OIDC ID token of the configured issuer; required when Ferry listens beyond loopback"}}
        },
        "security": [{"bearer": []}],
    })
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_owned();
    for segment in path.split('/').filter(|s| !s.is_empty() && !s.starts_with('{')) {
        let mut chars = segment.chars().filter(char::is_ascii_alphanumeric);
        if let Some(first) = chars.next() {
            id.push(first.to_ascii_uppercase());
            id.extend(chars);
        }
    }
    if path.ends_with("{name}") {
        id.push_str("One");
    }
    if path.ends_with("{provider}") {
        id.push_str("ForProvider");
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_a_unique_id_and_known_schemas() {
        let doc = openapi();
        let mut ids = std::collections::HashSet::new();
        for (method, path, ..) in OPERATIONS {
            let op = &doc["paths"][path][method];
            assert!(
                ids.insert(op["operationId"].as_str().expect("an id").to_owned()),
                "{method} {path}"
            );
        }
        let text = doc.to_string();
        for name in text.split("#/components/schemas/").skip(1) {
            let name = name.split('"').next().expect("a name");
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "schema {name} is referenced but missing"
            );
        }
    }
}
