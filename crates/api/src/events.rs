//! `GET .../events`: the Kubernetes Events about an Application.
//!
//! The engine records through `events.k8s.io/v1`; `kubectl` and older tools write `core/v1`. A real
//! API server shows every event through both, so both are read and merged by uid; a server that
//! lacks `events.k8s.io` (404) contributes nothing from it.

use axum::Json;
use axum::extract::{Path, State};
use k8s_openapi::api::core::v1::Event as CoreEvent;
use k8s_openapi::api::events::v1::Event as NewEvent;
use kube::api::{Api, ListParams};

use crate::dto::{EventDto, EventList};
use crate::error::ApiError;
use crate::read::find;
use crate::state::ApiState;

/// Events returned at most, newest first.
pub const MAX_EVENTS: usize = 100;

pub(crate) async fn list(
    State(state): State<ApiState>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<EventList>, ApiError> {
    find(&state, &namespace, &name)?;
    let client = state.engine.client().clone();
    let failed = |source| ApiError::Events {
        namespace: namespace.clone(),
        name: name.clone(),
        source: Box::new(source),
    };

    let core: Api<CoreEvent> = Api::namespaced(client.clone(), &namespace);
    let selector = format!("involvedObject.kind=Application,involvedObject.name={name}");
    let core_events =
        core.list(&ListParams::default().fields(&selector)).await.map_err(failed)?.items;

    let new: Api<NewEvent> = Api::namespaced(client, &namespace);
    let selector = format!("regarding.kind=Application,regarding.name={name}");
    let new_events = match new.list(&ListParams::default().fields(&selector)).await {
        Ok(list) => list.items,
        Err(kube::Error::Api(s)) if s.code == 404 => Vec::new(),
        Err(e) => return Err(failed(e)),
    };

    let mut seen = std::collections::HashSet::new();
    let mut items = Vec::new();
    for (uid, dto) in core_events
        .iter()
        // A server that ignores the field selector must not leak other objects' events.
        .filter(|e| {
            e.involved_object.kind.as_deref() == Some("Application")
                && e.involved_object.name.as_deref() == Some(name.as_str())
        })
        .map(|e| (e.metadata.uid.clone(), from_core(e)))
        .chain(
            new_events
                .iter()
                .filter(|e| {
                    e.regarding.as_ref().is_some_and(|r| {
                        r.kind.as_deref() == Some("Application")
                            && r.name.as_deref() == Some(name.as_str())
                    })
                })
                .map(|e| (e.metadata.uid.clone(), from_new(e))),
        )
    {
        if uid.as_ref().is_none_or(|u| seen.insert(u.clone())) {
            items.push(dto);
        }
    }
    items.sort_by(|a: &EventDto, b| b.last_seen.cmp(&a.last_seen));
    items.truncate(MAX_EVENTS);
    Ok(Json(EventList { items }))
}

fn from_core(e: &CoreEvent) -> EventDto {
    let last = e
        .last_timestamp
        .as_ref()
        .map(|t| t.0.to_string())
        .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
        .or_else(|| e.first_timestamp.as_ref().map(|t| t.0.to_string()))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0.to_string()))
        .unwrap_or_default();
    EventDto {
        type_: e.type_.clone().unwrap_or_else(|| "Normal".into()),
        reason: e.reason.clone().unwrap_or_default(),
        message: e.message.clone().unwrap_or_default(),
        count: e.count.unwrap_or(1),
        last_seen: last,
        source: e
            .reporting_component
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| e.source.as_ref().and_then(|s| s.component.clone()))
            .unwrap_or_default(),
    }
}

fn from_new(e: &NewEvent) -> EventDto {
    let last = e
        .series
        .as_ref()
        .map(|s| s.last_observed_time.0.to_string())
        .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
        .or_else(|| e.deprecated_last_timestamp.as_ref().map(|t| t.0.to_string()))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0.to_string()))
        .unwrap_or_default();
    EventDto {
        type_: e.type_.clone().unwrap_or_else(|| "Normal".into()),
        reason: e.reason.clone().unwrap_or_default(),
        message: e.note.clone().unwrap_or_default(),
        count: e.series.as_ref().map(|s| s.count).or(e.deprecated_count).unwrap_or(1),
        last_seen: last,
        source: e.reporting_controller.clone().unwrap_or_default(),
    }
}
