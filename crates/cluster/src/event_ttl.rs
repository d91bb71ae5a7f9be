//! Events expire, as kube-apiserver's `--event-ttl` (default one hour) makes them: an Event is
//! deleted once the newest of its timestamps (creation, first/last seen, event time, the series'
//! last observation) is older than the TTL. Watchers see the deletion, as they see etcd's lease
//! expiring. Without it a cluster that runs for weeks would keep every Event ever posted.
//!
//! kube-apiserver attaches a lease at each write; the object's own timestamps stand for that
//! write here, so the rule survives a restart of the cluster without a side table.

use std::time::Duration;

use serde_json::Value;

use crate::http::Shared;
use crate::write::ops::{self, DeleteOptions};

/// kube-apiserver's default `--event-ttl`.
pub const DEFAULT_EVENT_TTL: Duration = Duration::from_secs(60 * 60);

/// Where Events (core and events.k8s.io alike) are stored.
const STORAGE: &str = "/events";

/// The timestamps an Event's writers set to "now", in core form (events.k8s.io's
/// `deprecatedFirstTimestamp`/`deprecatedLastTimestamp` are stored under the core names).
const TIMESTAMPS: &[&str] = &[
    "/metadata/creationTimestamp",
    "/firstTimestamp",
    "/lastTimestamp",
    "/eventTime",
    "/series/lastObservedTime",
];

/// When the Event was last written, as far as its timestamps tell (`None`: none parses).
pub fn last_written(event: &Value) -> Option<jiff::Timestamp> {
    TIMESTAMPS
        .iter()
        .filter_map(|p| event.pointer(p).and_then(Value::as_str))
        .filter_map(|t| t.parse::<jiff::Timestamp>().ok())
        .max()
}

/// Whether `event` has outlived `ttl` at `now`. An Event without a readable timestamp never
/// expires: deleting what cannot be dated would be a guess.
pub fn expired(event: &Value, ttl: Duration, now: jiff::Timestamp) -> bool {
    let Some(written) = last_written(event) else { return false };
    let Ok(ttl) = jiff::SignedDuration::try_from(ttl) else { return false };
    written.checked_add(ttl).is_ok_and(|until| until <= now)
}

/// How often the sweeper looks: a quarter of the TTL, between a second and a minute.
fn period(ttl: Duration) -> Duration {
    (ttl / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Deletes the expired Events now; returns how many.
pub fn sweep(st: &Shared, now: jiff::Timestamp) -> usize {
    let Some(rt) = st.registry().find("", "v1", "events").cloned() else { return 0 };
    let (events, _) = st.store.list(STORAGE, None);
    let mut deleted = 0;
    for event in events.iter().filter(|e| expired(e, st.config.event_ttl, now)) {
        let text = |p: &str| event.pointer(p).and_then(Value::as_str).map(str::to_owned);
        let (namespace, name) = (text("/metadata/namespace"), text("/metadata/name"));
        let Some(name) = name else { continue };
        // Only the version found expired: an Event written again meanwhile lives on.
        let opts = DeleteOptions {
            resource_version: text("/metadata/resourceVersion"),
            ..DeleteOptions::default()
        };
        match ops::delete(st, &rt, namespace.as_deref(), &name, &opts) {
            Ok(_) => deleted += 1,
            Err(e) if e.code == 404 || e.code == 409 => {}
            Err(e) => {
                tracing::debug!(?namespace, name, error = %e, "an expired Event could not be deleted")
            }
        }
    }
    deleted
}

/// Sweeps expired Events until the cluster stops.
pub fn spawn(st: Shared, mut stop: tokio::sync::watch::Receiver<bool>) {
    let every = period(st.config.event_ttl);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
            let deleted = sweep(&st, jiff::Timestamp::now());
            if deleted > 0 {
                tracing::debug!(deleted, ttl = ?st.config.event_ttl, "expired Events deleted");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().expect("a timestamp")
    }

    #[test]
    fn an_event_expires_an_hour_after_its_newest_timestamp() {
        let event = json!({
            "metadata": {"creationTimestamp": "2026-12-06T10:00:00Z"},
            "eventTime": "2026-12-06T10:00:00.123456Z",
            "series": {"count": 4, "lastObservedTime": "2026-12-06T10:30:00.000000Z"},
        });
        assert_eq!(last_written(&event), Some(at("2026-12-06T10:30:00Z")));
        assert!(!expired(&event, DEFAULT_EVENT_TTL, at("2026-12-06T11:29:59Z")));
        assert!(expired(&event, DEFAULT_EVENT_TTL, at("2026-12-06T11:30:00Z")));
    }

    #[test]
    fn an_event_that_cannot_be_dated_is_kept() {
        let event = json!({"metadata": {"creationTimestamp": "yesterday"}});
        assert_eq!(last_written(&event), None);
        assert!(!expired(&event, Duration::from_secs(1), at("2100-01-01T00:00:00Z")));
    }

    #[test]
    fn the_sweeper_looks_a_quarter_ttl_apart_within_a_second_and_a_minute() {
        assert_eq!(period(DEFAULT_EVENT_TTL), Duration::from_secs(60));
        assert_eq!(period(Duration::from_secs(20)), Duration::from_secs(5));
        assert_eq!(period(Duration::from_millis(100)), Duration::from_secs(1));
    }
}
