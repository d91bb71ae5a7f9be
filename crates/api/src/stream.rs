//! `GET /api/v1/stream/applications`: Server-Sent Events with the apps that changed, so the UI
//! updates a list of 5,000 apps in place instead of reloading it.
//!
//! Each connection compares the engine's cache (no API call) with what it last sent, by
//! resourceVersion, once per [`TICK`], and sends one `apps` event per tick that saw changes:
//! `{"upserts": [AppSummary…], "deletes": [{"namespace", "name"}…]}`. The first tick sends
//! nothing: the client has just loaded its page. Apps the caller may not `get` are never sent.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Extension, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use kube::ResourceExt;
use serde::Serialize;

use crate::access::Caller;
use crate::dto::AppSummary;
use crate::state::ApiState;

/// How often a connection looks for changes: often enough to feel live, rare enough that
/// comparing 5,000 resourceVersions costs nothing.
pub const TICK: Duration = Duration::from_millis(500);

#[derive(Debug, Serialize)]
struct Changes {
    upserts: Vec<AppSummary>,
    deletes: Vec<Gone>,
}

#[derive(Debug, Serialize)]
struct Gone {
    namespace: String,
    name: String,
}

/// What a connection sent last: (namespace, name) → resourceVersion and the revision shown (a
/// repository record moves an app's revision without a new resourceVersion).
type Seen = HashMap<(String, String), String>;

pub(crate) async fn applications(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let seen = snapshot(&state, &caller).0;
    let stream =
        futures::stream::unfold((state, caller, seen), |(state, caller, seen)| async move {
            loop {
                tokio::time::sleep(TICK).await;
                let (now, apps) = snapshot(&state, &caller);
                let records = state.engine.repo_records();
                let changes = changes(&seen, &now, apps, &records);
                if changes.upserts.is_empty() && changes.deletes.is_empty() {
                    continue;
                }
                let event = Event::default()
                    .event("apps")
                    .json_data(&changes)
                    .unwrap_or_else(|_| Event::default().comment("changes did not serialize"));
                return Some((Ok(event), (state, caller, now)));
            }
        });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// The apps the caller may see now, with their resourceVersions.
fn snapshot(
    state: &ApiState,
    caller: &Caller,
) -> (Seen, HashMap<(String, String), std::sync::Arc<ferry_engine::Application>>) {
    let policy = state.access.policy();
    let grants = policy.grants(&caller.subjects());
    let records = state.engine.repo_records();
    let mut seen = Seen::new();
    let mut apps = HashMap::new();
    for app in state.engine.applications() {
        let namespace = app.namespace().unwrap_or_default();
        let object = format!("{}/{}/{}", app.project(), namespace, app.name_any());
        if !grants.allows("applications", "get", &object) {
            continue;
        }
        let key = (namespace, app.name_any());
        let revision = ferry_engine::records::effective_in(&app, &records).revision.to_owned();
        seen.insert(
            key.clone(),
            format!("{}@{revision}", app.resource_version().unwrap_or_default()),
        );
        apps.insert(key, app);
    }
    (seen, apps)
}

/// What changed from `before` to `now` (pure but for the summaries it builds).
fn changes(
    before: &Seen,
    now: &Seen,
    apps: HashMap<(String, String), std::sync::Arc<ferry_engine::Application>>,
    records: &crate::dto::Records,
) -> Changes {
    let mut upserts: Vec<AppSummary> = now
        .iter()
        .filter(|(key, version)| before.get(*key) != Some(version))
        .filter_map(|(key, _)| apps.get(key).map(|a| AppSummary::new(a.as_ref(), records)))
        .collect();
    upserts.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    let mut deletes: Vec<Gone> = before
        .keys()
        .filter(|key| !now.contains_key(*key))
        .map(|(namespace, name)| Gone { namespace: namespace.clone(), name: name.clone() })
        .collect();
    deletes.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    Changes { upserts, deletes }
}
