//! `GET /api/v1/namespaces/{ns}/pods/{name}/log`: the pod log API, serving the simulated
//! containers' logs (`crate::simulator::container_log`): a few deterministic lines per container
//! from its status. `container`, `follow`, `tailLines`, `sinceSeconds` and `timestamps` behave as
//! on kube-apiserver; the errors are kubelet's (a container still waiting for its image has no
//! log yet).

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{RequestInfo, Shared};
use crate::error::ApiError;
use crate::simulated::{LogLine, container_log};
use crate::store::Key;

/// How often a followed log looks for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(300);

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct LogQuery {
    container: Option<String>,
    #[serde(default)]
    follow: Option<String>,
    tail_lines: Option<i64>,
    since_seconds: Option<i64>,
    #[serde(default)]
    timestamps: Option<String>,
}

fn truthy(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|v| v == "true" || v == "1")
}

pub async fn get(
    State(st): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<LogQuery>,
) -> Response {
    let mut resp = match serve(st, &ns, &name, q) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    resp.extensions_mut().insert(RequestInfo { verb: "GET", resource: "pods/log".into() });
    resp
}

fn pod(st: &Shared, ns: &str, name: &str) -> Option<std::sync::Arc<Value>> {
    st.store.get(&Key { storage: "/pods".into(), namespace: ns.into(), name: name.into() })
}

fn serve(st: Shared, ns: &str, name: &str, q: LogQuery) -> Result<Response, ApiError> {
    let p = pod(&st, ns, name).ok_or_else(|| ApiError::not_found("", "pods", name))?;
    let container = choose_container(&p, name, q.container.as_deref())?;
    let lines = container_log(&p, &container).map_err(ApiError::bad_request)?;
    let stamps = truthy(&q.timestamps);
    let since =
        q.since_seconds.map(|s| jiff::Timestamp::now() - jiff::SignedDuration::from_secs(s));
    let picked: Vec<&LogLine> = lines.iter().filter(|l| since.is_none_or(|t| l.at >= t)).collect();
    let skip = q.tail_lines.map(|n| picked.len().saturating_sub(n.max(0) as usize)).unwrap_or(0);
    let text: String = picked[skip..].iter().map(|l| l.render(stamps)).collect();
    if !truthy(&q.follow) {
        return Ok(text_response(Body::from(text)));
    }
    // Follow: what is there now, then every new line until the pod goes or its container ends.
    let (ns, name) = (ns.to_owned(), name.to_owned());
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
    let sent = lines.len();
    tokio::spawn(async move {
        if tx.send(text.into()).await.is_err() {
            return;
        }
        let mut sent = sent;
        loop {
            tokio::time::sleep(FOLLOW_POLL).await;
            let Some(p) = pod(&st, &ns, &name) else { return };
            let Ok(now) = container_log(&p, &container) else { return };
            let new: String = now.iter().skip(sent).map(|l| l.render(stamps)).collect();
            sent = now.len().max(sent);
            if !new.is_empty() && tx.send(new.into()).await.is_err() {
                return;
            }
            if now.last().is_some_and(|l| l.last) {
                return;
            }
        }
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    Ok(text_response(Body::from_stream(body)))
}

fn text_response(body: Body) -> Response {
    Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body(body)
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// The container asked for, or the only one; kube-apiserver's messages otherwise.
fn choose_container(pod: &Value, name: &str, wanted: Option<&str>) -> Result<String, ApiError> {
    let names: Vec<&str> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    match wanted {
        Some(c) if names.contains(&c) => Ok(c.to_owned()),
        Some(c) => Err(ApiError::bad_request(format!("container {c} is not valid for pod {name}"))),
        None if names.len() == 1 => Ok(names[0].to_owned()),
        None => Err(ApiError::bad_request(format!(
            "a container name must be specified for pod {name}, choose one of: [{}]",
            names.join(" ")
        ))),
    }
}
