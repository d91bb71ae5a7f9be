//! get, list and watch.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};

use super::path::{Params, Target};
use super::table::{table, wants_table};
use super::watch_list::Start;
use super::{Shared, json_response};
use crate::error::ApiError;
use crate::resources::ResourceType;
use crate::selector::Selector;
use crate::store::{Event, EventType, Key};

pub fn key(t: &Target, name: &str) -> Key {
    Key {
        storage: t.rt.storage_key(),
        namespace: t.namespace.clone().unwrap_or_default(),
        name: name.to_string(),
    }
}

/// The stored object as the requested version presents it.
pub fn present(rt: &ResourceType, obj: &Value) -> Value {
    crate::convert::present(rt, obj)
}

pub fn scale_of(obj: &Value) -> Value {
    let selector = obj.pointer("/spec/selector/matchLabels").and_then(Value::as_object).map(|m| {
        m.iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(",")
    });
    let meta = &obj["metadata"];
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"]},
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {"replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector.unwrap_or_default()},
    })
}

pub fn get(
    st: &Shared,
    t: &Target,
    params: &Params,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let name = t.name.as_deref().unwrap_or_default();
    let obj = st
        .store
        .get(&key(t, name))
        .ok_or_else(|| ApiError::not_found(&t.rt.group, &t.rt.plural, name))?;
    if t.sub.as_deref() == Some("scale") {
        return Ok(json_response(200, &scale_of(&obj)));
    }
    let obj = present(&t.rt, &obj);
    if wants_table(headers) {
        let include = params.get("includeObject").unwrap_or("Metadata");
        return Ok(json_response(200, &table(&t.rt, &[&obj], include, None, None)));
    }
    Ok(json_response(200, &obj))
}

pub struct Filter {
    labels: Selector,
    fields: Selector,
}

impl Filter {
    pub fn from_params(params: &Params) -> Result<Filter, ApiError> {
        let labels = Selector::parse(params.get("labelSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let fields = Selector::parse(params.get("fieldSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(Filter { labels, fields })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.matches_labels(obj) && self.fields.matches_fields(obj)
    }

    /// Matches `obj` as `rt` presents it: field selectors name the fields of the requested version.
    pub fn matches_as(&self, rt: &ResourceType, obj: &Value) -> bool {
        if crate::convert::is_events_api(rt) && !self.fields.is_empty() {
            return self.matches(&present(rt, obj));
        }
        self.matches(obj)
    }
}

fn encode_continue(ns: &str, name: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"ns": ns, "n": name}).to_string())
}

fn decode_continue(token: &str) -> Result<(String, String), ApiError> {
    let bad = || ApiError::bad_request(format!("the continue token {token:?} is not valid"));
    let bytes =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    Ok((
        v["ns"].as_str().ok_or_else(bad)?.to_string(),
        v["n"].as_str().ok_or_else(bad)?.to_string(),
    ))
}

pub fn list(
    st: &Shared,
    t: &Target,
    params: &Params,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let filter = Filter::from_params(params)?;
    let (items, rv) = st.store.list(&t.rt.storage_key(), t.namespace.as_deref());
    let after = params.get("continue").map(decode_continue).transpose()?;
    let limit = params.get("limit").and_then(|l| l.parse::<usize>().ok()).filter(|l| *l > 0);
    let ns_name = |o: &Value| {
        (
            o.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string(),
        )
    };
    let mut selected: Vec<&std::sync::Arc<Value>> = Vec::new();
    let mut cont = None;
    let mut remaining = 0usize;
    for o in items.iter() {
        if let Some(a) = &after
            && ns_name(o) <= *a
        {
            continue;
        }
        if !filter.matches_as(&t.rt, o) {
            continue;
        }
        if let Some(l) = limit
            && selected.len() >= l
        {
            remaining += 1;
            continue;
        }
        selected.push(o);
    }
    if remaining > 0
        && let Some(last) = selected.last()
    {
        let (ns, n) = ns_name(last);
        cont = Some(encode_continue(&ns, &n));
    }
    if wants_table(headers) {
        let presented: Vec<Value> = selected.iter().map(|o| present(&t.rt, o)).collect();
        let refs: Vec<&Value> = presented.iter().collect();
        let include = params.get("includeObject").unwrap_or("Metadata");
        return Ok(json_response(200, &table(&t.rt, &refs, include, Some(rv.to_string()), cont)));
    }
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some(c) = cont {
        meta["continue"] = json!(c);
        meta["remainingItemCount"] = json!(remaining);
    }
    Ok(list_response(&t.rt, &meta, &selected))
}

/// Whether a stored object already reads as `rt` presents it (no copy needed to answer).
fn stored_as(rt: &ResourceType, obj: &Value) -> bool {
    obj.get("apiVersion").and_then(Value::as_str) == Some(rt.api_version().as_str())
        && obj.get("kind").and_then(Value::as_str) == Some(rt.kind.as_str())
}

/// A list body written straight from the stored objects: no copy of each item, no
/// intermediate document (lists of 10k objects are the common large answer).
fn list_response(rt: &ResourceType, meta: &Value, items: &[&std::sync::Arc<Value>]) -> Response {
    let mut out: Vec<u8> = Vec::with_capacity(64 + items.len() * 512);
    let head = json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version()});
    let head = head.to_string();
    out.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
    out.extend_from_slice(b",\"metadata\":");
    let write = |out: &mut Vec<u8>, v: &Value| {
        // Serializing a Value into memory cannot fail.
        let _ = serde_json::to_writer(out, v);
    };
    write(&mut out, meta);
    out.extend_from_slice(b",\"items\":[");
    for (i, o) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if stored_as(rt, o) {
            write(&mut out, o);
        } else {
            write(&mut out, &present(rt, o));
        }
    }
    out.extend_from_slice(b"]}");
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from(out))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// What one watch sends: its type, filters and format.
struct WatchSpec {
    rt: ResourceType,
    storage: String,
    namespace: Option<String>,
    filter: Filter,
    table: bool,
    include: String,
    bookmarks: bool,
}

impl WatchSpec {
    fn line(&self, kind: &str, obj: &Value) -> bytes::Bytes {
        let object = if self.table && kind != "BOOKMARK" && kind != "ERROR" {
            table(&self.rt, &[obj], &self.include, None, None)
        } else {
            obj.clone()
        };
        let mut line = json!({"type": kind, "object": object}).to_string();
        line.push('\n');
        bytes::Bytes::from(line)
    }

    fn in_scope(&self, e: &Event) -> bool {
        e.key.storage == self.storage
            && self.namespace.as_ref().is_none_or(|ns| *ns == e.key.namespace)
    }

    /// The event as this watch reports it: selector transitions become ADDED / DELETED.
    fn translate(&self, e: &Event) -> Option<bytes::Bytes> {
        if !self.in_scope(e) {
            return None;
        }
        let now = self.filter.matches_as(&self.rt, &e.object);
        let before = e.prev.as_ref().is_some_and(|p| self.filter.matches_as(&self.rt, p));
        let kind = match (e.kind, before, now) {
            (EventType::Deleted, _, true) => "DELETED",
            (EventType::Added, _, true) => "ADDED",
            (EventType::Modified, true, true) => "MODIFIED",
            (EventType::Modified, false, true) => "ADDED",
            (EventType::Modified, true, false) => "DELETED",
            _ => return None,
        };
        let stored_as_requested = e.object.get("apiVersion").and_then(Value::as_str)
            == Some(self.rt.api_version().as_str())
            && e.object.get("kind").and_then(Value::as_str) == Some(self.rt.kind.as_str());
        if self.table || !stored_as_requested {
            return Some(self.line(kind, &present(&self.rt, &e.object)));
        }
        // Every watcher of this event shares one serialization of the object.
        let object = e.json.get_or_init(|| e.object.to_string());
        Some(bytes::Bytes::from(format!("{{\"type\":\"{kind}\",\"object\":{object}}}\n")))
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> bytes::Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        self.line(
            "BOOKMARK",
            &json!({"kind": self.rt.kind, "apiVersion": self.rt.api_version(), "metadata": meta}),
        )
    }
}

pub fn watch(
    st: Shared,
    t: &Target,
    params: &Params,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let spec = WatchSpec {
        rt: t.rt.clone(),
        storage: t.rt.storage_key(),
        namespace: t.namespace.clone(),
        filter: Filter::from_params(params)?,
        table: wants_table(headers),
        include: params.get("includeObject").unwrap_or("Metadata").to_string(),
        bookmarks: params.flag("allowWatchBookmarks"),
    };
    // A watch on one object (`fieldSelector=metadata.name=x` is how clients do it) is just a filter.
    let start = super::watch_list::plan(params, st.store.resource_version())?;
    let timeout =
        params.get("timeoutSeconds").and_then(|s| s.parse::<u64>().ok()).map(Duration::from_secs);
    let bookmark_every = st.config.bookmark_interval;
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(256);

    let mut initial: Vec<bytes::Bytes> = Vec::new();
    let (mut events, mut last_rv) = match start {
        Start::Initial { end_bookmark } => {
            let (items, rv, rx) =
                st.store.list_and_subscribe(&spec.storage, spec.namespace.as_deref());
            for o in items.iter().filter(|o| spec.filter.matches_as(&spec.rt, o)) {
                initial.push(spec.line("ADDED", &present(&spec.rt, o)));
            }
            if end_bookmark {
                initial.push(spec.bookmark(rv, true));
            }
            (rx, rv)
        }
        Start::From(from) if st.faults().expire_watches => {
            let gone = ApiError::gone(format!(
                "too old resource version: {from} ({from}) (injected fault: expired watch)"
            ));
            let line = spec.line("ERROR", &gone.status_body());
            return Ok(stream_response(futures::stream::iter([Ok::<_, Infallible>(line)])));
        }
        Start::From(from) => match st.store.watch_from(from) {
            Ok((backlog, rx)) => {
                let mut last = from;
                for e in backlog {
                    last = e.rv;
                    if let Some(line) = spec.translate(&e) {
                        initial.push(line);
                    }
                }
                (rx, last.max(from))
            }
            Err(oldest) => {
                let gone = ApiError::gone(format!(
                    "too old resource version: {from} ({})",
                    oldest.saturating_sub(1)
                ));
                let line = spec.line("ERROR", &gone.status_body());
                return Ok(stream_response(futures::stream::iter([Ok::<_, Infallible>(line)])));
            }
        },
    };
    let faults_drop = st.faults_drop_after();
    tokio::spawn(async move {
        for line in initial {
            if tx.send(line).await.is_err() {
                return;
            }
        }
        let deadline = timeout.map(|d| tokio::time::Instant::now() + d);
        let drop_at = faults_drop.map(|d| tokio::time::Instant::now() + d);
        let mut tick = tokio::time::interval(bookmark_every);
        tick.tick().await;
        loop {
            let stop_at = match (deadline, drop_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let sleep = async {
                match stop_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = sleep => return,
                _ = tx.closed() => return,
                _ = tick.tick() => {
                    if spec.bookmarks && tx.send(spec.bookmark(last_rv, false)).await.is_err() {
                        return;
                    }
                }
                ev = events.recv() => match ev {
                    Ok(e) => {
                        if e.rv <= last_rv {
                            continue;
                        }
                        last_rv = e.rv;
                        if let Some(line) = spec.translate(&e)
                            && tx.send(line).await.is_err() {
                                return;
                            }
                    }
                    // Fell behind the event buffer: end the watch so the client resumes from its last version.
                    Err(_) => return,
                },
            }
        }
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    Ok(stream_response(body))
}

fn stream_response<S>(body: S) -> Response
where
    S: futures::Stream<Item = Result<bytes::Bytes, Infallible>> + Send + 'static,
{
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
