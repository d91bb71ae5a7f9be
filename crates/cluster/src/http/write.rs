//! create, update, patch (apply, merge, JSON, strategic), delete and deletecollection.

use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::admitted::{self, Spec, Update};
use super::field_validation::{self, Mode};
use super::path::{Params, Target};
use super::read::{Filter, present, scale_of};
use super::{Shared, json_response};
use crate::convert;
use crate::error::ApiError;
use crate::resources::ResourceType;
use crate::write::admit::Op;
use crate::write::ops::{self, DeleteOptions, Propagation};

/// Nesting deeper than this is refused before any processing.
const MAX_DEPTH: usize = 100;

fn depth(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn content_type(headers: &HeaderMap) -> &str {
    headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("application/json")
}

pub fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    let ct = content_type(headers);
    if ct.starts_with("application/vnd.kubernetes.protobuf") {
        // kubectl's typed clients (create ns, create deployment, run …) always send protobuf.
        return crate::proto::decode_body(body).map_err(|e| {
            let code =
                if matches!(e, crate::proto::ProtoError::UnknownKind { .. }) { 415 } else { 400 };
            let reason = if code == 415 { "UnsupportedMediaType" } else { "BadRequest" };
            ApiError::new(code, reason, format!("the protobuf request body cannot be decoded: {e}"))
        });
    }
    if ct.contains("protobuf") || ct.contains("cbor") {
        // client-go falls back to JSON when a CBOR body gets 415.
        return Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the body content type {ct} is not supported; send JSON"),
        ));
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(json_err) if ct.contains("yaml") => {
            let text = std::str::from_utf8(body)
                .map_err(|_| ApiError::bad_request("the request body is not UTF-8"))?;
            serde_saphyr::from_str(text).map_err(|e| {
                ApiError::bad_request(format!(
                    "the request body is not valid YAML: {e} (as JSON: {json_err})"
                ))
            })?
        }
        Err(e) => {
            return Err(ApiError::bad_request(format!("the request body is not valid JSON: {e}")));
        }
    };
    if depth(&value) > MAX_DEPTH {
        return Err(ApiError::bad_request(format!(
            "the request body nests deeper than {MAX_DEPTH} levels"
        )));
    }
    Ok(value)
}

fn check_type(t: &Target, obj: &Value) -> Result<(), ApiError> {
    if let Some(av) = obj.get("apiVersion").and_then(Value::as_str)
        && av != t.rt.api_version()
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version ({})",
            t.rt.api_version()
        )));
    }
    if let Some(k) = obj.get("kind").and_then(Value::as_str)
        && k != t.rt.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({k}) does not match the expected kind ({})",
            t.rt.kind
        )));
    }
    if let (Some(body_ns), Some(path_ns)) =
        (obj.pointer("/metadata/namespace").and_then(Value::as_str), &t.namespace)
        && !body_ns.is_empty()
        && body_ns != path_ns
    {
        return Err(ApiError::bad_request(format!(
            "the namespace of the provided object ({body_ns}) does not match the namespace sent on the request ({path_ns})"
        )));
    }
    Ok(())
}

/// The field manager: `fieldManager`, else the client's user agent up to its first `/`.
fn manager(params: &Params, headers: &HeaderMap) -> String {
    if let Some(m) = params.get("fieldManager") {
        return m.to_string();
    }
    let ua = headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("unknown");
    ua.split('/').next().unwrap_or("unknown").to_string()
}

async fn pre_write(st: &Shared, t: &Target) -> Result<(), ApiError> {
    let resource = match &t.sub {
        Some(sub) => format!("{}/{sub}", t.resource_label()),
        None => t.resource_label(),
    };
    match st.faults().write_error(&resource) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The type a write is stored as: the core Event for the events API (see `convert`), else the target's.
fn stored_type(st: &Shared, t: &Target) -> ResourceType {
    if convert::is_events_api(&t.rt)
        && let Some(core) = st.registry().find("", "v1", "events")
    {
        return core.clone();
    }
    t.rt.clone()
}

/// A body sent to `t` in the form it is stored in.
pub(super) fn to_stored(t: &Target, body: Value) -> Value {
    if convert::is_events_api(&t.rt) { convert::to_core(&body) } else { body }
}

/// Unknown fields of a body for `t` under the request's `fieldValidation` (Strict fails).
fn validate_fields(
    st: &Shared,
    t: &Target,
    params: &Params,
    body: &mut Value,
) -> Result<Vec<String>, ApiError> {
    let mode = Mode::parse(params.get("fieldValidation"))?;
    match st.crd_schemas.for_type(&st.store, &t.rt) {
        Some(schema) => {
            let unknown = crate::validate::prune_unknown(&schema, body);
            field_validation::report(&t.rt, &unknown, mode)
        }
        None => field_validation::check(&t.rt, body, mode),
    }
}

/// Adds `Warning` headers (RFC 7234 code 299), which kubectl and client-go print.
fn with_warnings(mut resp: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = format!("299 - {:?}", w);
        if let Ok(v) = axum::http::HeaderValue::from_str(&text) {
            resp.headers_mut().append("warning", v);
        }
    }
    resp
}

fn generated_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes[..5].iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

pub async fn create(
    st: &Shared,
    t: &Target,
    params: &Params,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    if t.name.is_some() {
        return Err(ApiError::method_not_allowed(format!(
            "POST is not supported on a named {}",
            t.rt.kind
        )));
    }
    pre_write(st, t).await?;
    let mut obj = parse_body(headers, body)?;
    check_type(t, &obj)?;
    let warnings = validate_fields(st, t, params, &mut obj)?;
    let name =
        obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    if name.is_empty() {
        let prefix = obj
            .pointer("/metadata/generateName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if prefix.is_empty() {
            return Err(ApiError::invalid(
                &t.rt.kind,
                "",
                vec![("metadata.name".into(), "name or generateName is required".into())],
            ));
        }
        obj["metadata"]["name"] = json!(format!("{prefix}{}", generated_suffix()));
    }
    if convert::is_events_api(&t.rt) {
        if let Some(ns) = &t.namespace {
            obj["metadata"]["namespace"] = json!(ns);
        }
        convert::validate_new_event(&obj)?;
    }
    let rt = stored_type(st, t);
    let m = manager(params, headers);
    let created = admitted::create(st, t, &rt, to_stored(t, obj), &m, params.dry_run()).await?;
    Ok(with_warnings(json_response(201, &present(&t.rt, &created)), &warnings))
}

fn op_of(t: &Target) -> Op {
    if t.sub.as_deref() == Some("status") { Op::Status } else { Op::Main }
}

fn answer(t: &Target, obj: &Value, created: bool) -> Response {
    if t.sub.as_deref() == Some("scale") {
        return json_response(200, &scale_of(obj));
    }
    json_response(if created { 201 } else { 200 }, &present(&t.rt, obj))
}

pub async fn update(
    st: &Shared,
    t: &Target,
    params: &Params,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    pre_write(st, t).await?;
    let name = t.name.clone().unwrap_or_default();
    let mut obj = parse_body(headers, body)?;
    let mut warnings = Vec::new();
    let spec = if t.sub.as_deref() == Some("scale") {
        Spec::Scale(obj)
    } else {
        check_type(t, &obj)?;
        warnings = validate_fields(st, t, params, &mut obj)?;
        let body_name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        if body_name.is_empty() {
            obj["metadata"]["name"] = json!(name);
        } else if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        Spec::Replace(to_stored(t, obj))
    };
    let m = manager(params, headers);
    let rt = stored_type(st, t);
    let write =
        Update { t, rt: &rt, name: &name, manager: &m, op: op_of(t), dry_run: params.dry_run() };
    let (obj, created) = write.run(st, spec).await?;
    Ok(with_warnings(answer(t, &obj, created), &warnings))
}

pub async fn patch(
    st: &Shared,
    t: &Target,
    params: &Params,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    pre_write(st, t).await?;
    let name = t.name.clone().unwrap_or_default();
    let ct = content_type(headers).split(';').next().unwrap_or_default().trim().to_string();
    let mut body = parse_body(headers, body)?;
    let m = manager(params, headers);
    let scale = t.sub.as_deref() == Some("scale");
    let mut warnings = Vec::new();
    let spec = match ct.as_str() {
        "application/apply-patch+yaml"
        | "application/apply-patch+json"
        | "application/apply-patch+cbor" => {
            if params.get("fieldManager").is_none() {
                return Err(ApiError::bad_request(
                    "PATCH with apply requires a fieldManager query parameter",
                ));
            }
            if scale {
                Spec::Scale(body)
            } else {
                check_type(t, &body)?;
                if body.get("apiVersion").is_none() || body.get("kind").is_none() {
                    return Err(ApiError::bad_request(
                        "an applied configuration must set apiVersion and kind",
                    ));
                }
                let body_name =
                    body.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
                if body_name != name {
                    return Err(ApiError::bad_request(format!(
                        "the name of the object ({body_name}) does not match the name on the URL ({name})"
                    )));
                }
                warnings = validate_fields(st, t, params, &mut body)?;
                Spec::Apply { applied: to_stored(t, body), force: params.flag("force") }
            }
        }
        "application/merge-patch+json"
        | "application/json-patch+json"
        | "application/strategic-merge-patch+json" => {
            if ct == "application/strategic-merge-patch+json" && t.rt.crd.is_some() {
                return Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    "strategic merge patch is not supported for custom resources; use a JSON merge patch",
                ));
            }
            Spec::Patch { content_type: ct.clone(), body }
        }
        other => {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!("the patch content type {other:?} is not supported"),
            ));
        }
    };
    let rt = stored_type(st, t);
    let write =
        Update { t, rt: &rt, name: &name, manager: &m, op: op_of(t), dry_run: params.dry_run() };
    let (obj, created) = write.run(st, spec).await?;
    Ok(with_warnings(answer(t, &obj, created), &warnings))
}

fn delete_options(
    params: &Params,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<DeleteOptions, ApiError> {
    let mut opts = DeleteOptions { dry_run: params.dry_run(), ..DeleteOptions::default() };
    if let Some(p) = params.get("propagationPolicy") {
        opts.propagation = Propagation::parse(p)?;
    }
    if params.get("orphanDependents") == Some("true") {
        opts.propagation = Propagation::Orphan;
    }
    if !body.is_empty() {
        let v: Value = if content_type(headers).starts_with("application/vnd.kubernetes.protobuf") {
            parse_body(headers, body)?
        } else {
            serde_json::from_slice(body).map_err(|e| {
                ApiError::bad_request(format!("the DeleteOptions body is not valid JSON: {e}"))
            })?
        };
        if let Some(p) = v.get("propagationPolicy").and_then(Value::as_str) {
            opts.propagation = Propagation::parse(p)?;
        }
        if v.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
            opts.propagation = Propagation::Orphan;
        }
        if let Some(uid) = v.pointer("/preconditions/uid").and_then(Value::as_str) {
            opts.uid = Some(uid.to_string());
        }
        if let Some(rv) = v.pointer("/preconditions/resourceVersion").and_then(Value::as_str) {
            opts.resource_version = Some(rv.to_string());
        }
        if v.get("dryRun").and_then(Value::as_array).is_some_and(|d| d.iter().any(|x| x == "All")) {
            opts.dry_run = true;
        }
    }
    Ok(opts)
}

pub async fn delete(
    st: &Shared,
    t: &Target,
    params: &Params,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    pre_write(st, t).await?;
    let name = t.name.clone().unwrap_or_default();
    let opts = delete_options(params, headers, body)?;
    let rt = stored_type(st, t);
    admitted::delete(st, t, &rt, &name, opts.dry_run).await?;
    let obj = ops::delete(st, &rt, t.namespace.as_deref(), &name, &opts)?;
    Ok(json_response(200, &present(&t.rt, &obj)))
}

pub async fn delete_collection(
    st: &Shared,
    t: &Target,
    params: &Params,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    pre_write(st, t).await?;
    let opts = delete_options(params, headers, body)?;
    let filter = Filter::from_params(params)?;
    let (items, rv) = st.store.list(&t.rt.storage_key(), t.namespace.as_deref());
    let mut deleted = Vec::new();
    for o in items.iter().filter(|o| filter.matches_as(&t.rt, o)) {
        let name = o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let ns = o.pointer("/metadata/namespace").and_then(Value::as_str);
        let mut one = t.clone();
        one.namespace = ns.map(str::to_string);
        admitted::delete(st, &one, &stored_type(st, t), name, opts.dry_run).await?;
        match ops::delete(st, &stored_type(st, t), ns, name, &opts) {
            Ok(d) => deleted.push(present(&t.rt, &d)),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(json_response(
        200,
        &json!({
            "kind": format!("{}List", t.rt.kind), "apiVersion": t.rt.api_version(),
            "metadata": {"resourceVersion": rv.to_string()}, "items": deleted,
        }),
    ))
}
