//! Kubernetes Events on the Application: a courtesy to people, never in a reconcile's way.
//!
//! Ferry posts events.k8s.io/v1 Events itself rather than through kube-runtime's `Recorder`:
//! that recorder folds every event with the same reason into one series and keeps the first
//! note, so "automated sync of a3040ed started" stood for four different syncs. Here an event
//! repeats (its `series.count` grows) only when its type, reason and note are all the same.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::EventType;
use kube::{Client, Resource as _, ResourceExt};

use crate::application::Application;
use crate::controller::Inner;

/// How long posting one Event may take before it is given up.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest note an Event carries (the API server refuses longer ones).
const MAX_NOTE: usize = 1000;

/// How long a posted event may be continued as a series (as kube's recorders keep them).
const SERIES_TTL: Duration = Duration::from_secs(6 * 60);

/// What makes two events the same event seen again.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    regarding: String,
    type_: &'static str,
    reason: String,
    note: String,
}

struct Posted {
    namespace: String,
    name: String,
    count: i32,
    at: Instant,
}

/// Posts Events with series that mean what they say.
#[derive(Clone)]
pub struct Recorder {
    client: Client,
    controller: String,
    posted: Arc<Mutex<HashMap<Key, Posted>>>,
}

impl Recorder {
    pub fn new(client: Client, controller: impl Into<String>) -> Self {
        Self { client, controller: controller.into(), posted: Arc::default() }
    }

    /// Posts one event about `regarding`, or counts it again when the same one was posted
    /// within [`SERIES_TTL`].
    pub async fn publish(
        &self,
        regarding: &ObjectReference,
        type_: EventType,
        reason: &str,
        note: &str,
    ) -> Result<(), kube::Error> {
        let type_ = match type_ {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        };
        let key = Key {
            regarding: regarding.uid.clone().unwrap_or_default(),
            type_,
            reason: reason.to_owned(),
            note: note.to_owned(),
        };
        let now = jiff::Timestamp::now();
        let again = self.again(&key);
        match again {
            Some((namespace, name, count)) => {
                let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
                let series = EventSeries { count, last_observed_time: MicroTime(now) };
                let patch = serde_json::json!({ "series": series });
                api.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await?;
            }
            None => {
                let namespace = regarding.namespace.clone().unwrap_or_else(|| "default".into());
                let event = self.event(regarding, type_, reason, note, now);
                let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
                let created = api.create(&PostParams::default(), &event).await?;
                let mut posted = self.posted.lock().unwrap_or_else(|p| p.into_inner());
                posted.insert(
                    key,
                    Posted { namespace, name: created.name_any(), count: 1, at: Instant::now() },
                );
            }
        }
        Ok(())
    }

    /// The event to continue and its new count, when `key` was posted recently.
    fn again(&self, key: &Key) -> Option<(String, String, i32)> {
        let mut posted = self.posted.lock().unwrap_or_else(|p| p.into_inner());
        posted.retain(|_, p| p.at.elapsed() < SERIES_TTL);
        let p = posted.get_mut(key)?;
        p.count += 1;
        p.at = Instant::now();
        Some((p.namespace.clone(), p.name.clone(), p.count))
    }

    fn event(
        &self,
        regarding: &ObjectReference,
        type_: &str,
        reason: &str,
        note: &str,
        now: jiff::Timestamp,
    ) -> Event {
        let base = regarding.name.clone().unwrap_or_else(|| self.controller.clone());
        Event {
            metadata: ObjectMeta {
                name: Some(format!("{base}.{:x}", now.as_nanosecond())),
                namespace: regarding.namespace.clone(),
                ..Default::default()
            },
            action: Some(reason.to_owned()),
            reason: Some(reason.to_owned()),
            note: Some(note.to_owned()),
            type_: Some(type_.to_owned()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.controller.clone()),
            ..Default::default()
        }
    }
}

/// Posts an Event on the Application from a task of its own, so a slow, failing or missing
/// events API never delays or fails a reconcile.
pub(crate) async fn publish(
    inner: &Inner,
    app: &Application,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let recorder = inner.recorder.clone();
    let reference = app.object_ref(&());
    let app_name = app.name_any();
    let reason = reason.to_owned();
    let note = truncate(&note, MAX_NOTE);
    tokio::spawn(async move {
        let posted = recorder.publish(&reference, type_, &reason, &note);
        match tokio::time::timeout(EVENT_TIMEOUT, posted).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::debug!(app = %app_name, %reason, error = %e, "could not post event")
            }
            Err(_) => tracing::debug!(app = %app_name, %reason, "posting an event timed out"),
        }
    });
}

/// `s` cut to at most `max` bytes on a character boundary, with an ellipsis when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_short_notes_and_cuts_long_ones_on_a_character_boundary() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("ééé", 3), "é…");
    }
}
