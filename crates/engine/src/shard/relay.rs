//! Pushes reach every replica. A webhook reaches one replica (the Service sends it to the
//! leader), which queues only the apps of the shards it holds; the other replicas' apps would
//! wait for their next poll. So the replica that receives a push relays it through the cluster:
//! one ConfigMap per repository, `ferry-push-<12 hex digits>`, labelled
//! `ferry.dev/push-relay=true`, written once per push; every replica watches them and notifies a
//! push relayed by another replica to its own shards, as if the webhook had reached it (same
//! delivery, commits and changed paths). Only sharded replicas relay or watch.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use ferry_source::RepoPath;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde::{Deserialize, Serialize};

use crate::controller::Inner;

/// The label every relayed push carries (value `"true"`).
pub const RELAY_LABEL: &str = "ferry.dev/push-relay";
/// The data key holding the push, as JSON.
const PUSH_KEY: &str = "push";
/// Most changed paths relayed; a push that changed more is relayed without them (every app is
/// looked at anyway, in no particular order), far under a ConfigMap's 1 MiB.
const MAX_PATHS: usize = 2_000;

/// A push as one replica relays it to the others.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Relayed {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
    #[serde(default)]
    pub commits: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_paths: Option<Vec<String>>,
    /// The replica that received it.
    pub from: String,
    /// Unique per push: a replica acts on each relay once.
    pub id: String,
    pub at: String,
}

impl Relayed {
    pub fn new(
        url: &str,
        delivery: Option<&str>,
        commits: &[String],
        changed: Option<&BTreeSet<RepoPath>>,
        from: &str,
    ) -> Self {
        let changed_paths = changed
            .filter(|paths| paths.len() <= MAX_PATHS)
            .map(|paths| paths.iter().map(|p| p.as_str().to_owned()).collect());
        Self {
            url: url.to_owned(),
            delivery: delivery.map(str::to_owned),
            commits: commits.to_vec(),
            changed_paths,
            from: from.to_owned(),
            id: unique_id(from),
            at: jiff::Timestamp::now().to_string(),
        }
    }

    /// The changed paths as the engine takes them (`None`: not said, or one did not parse).
    pub fn changed(&self) -> Option<BTreeSet<RepoPath>> {
        let paths = self.changed_paths.as_ref()?;
        paths.iter().map(|p| RepoPath::new(p).ok()).collect()
    }

    fn from_config_map(cm: &ConfigMap) -> Option<Self> {
        let text = cm.data.as_ref()?.get(PUSH_KEY)?;
        serde_json::from_str(text).ok()
    }
}

/// The replica's name, the time in nanoseconds and a counter: unique across replicas and pushes.
fn unique_id(from: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{from}-{}-{n}", jiff::Timestamp::now().as_nanosecond())
}

/// The relay's name for a repository URL.
pub fn relay_name(repo_url: &str) -> String {
    format!("ferry-push-{}", crate::records::url_digest(repo_url))
}

/// What a replica does with a relay it sees, given the id it last saw under that name.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// Its own, one already acted on, or one found by a (re)list: nothing.
    Ignore,
    /// A push another replica received: notify it here.
    Notify,
}

/// How old a relay found by this replica's first listing may be and still be acted on: a push
/// relayed while this replica's watch was being set up (or re-listing) is not lost.
const RECENT: std::time::Duration = std::time::Duration::from_secs(60);

fn judge(relayed: &Relayed, me: &str, last: Option<&String>, listed: bool) -> Seen {
    if relayed.from == me || last == Some(&relayed.id) {
        return Seen::Ignore;
    }
    if listed && last.is_none() {
        let at = relayed.at.parse::<jiff::Timestamp>().ok();
        let age = at.and_then(|at| jiff::Timestamp::now().duration_since(at).try_into().ok());
        if age.is_none_or(|age: std::time::Duration| age > RECENT) {
            return Seen::Ignore;
        }
    }
    Seen::Notify
}

/// Relays a push this replica received to the others (no-op without sharding). Written in
/// the background: a webhook's answer never waits for it, and a failed write costs the other
/// replicas' apps their next poll, not the push.
pub(crate) fn announce(inner: &Arc<Inner>, relayed: Relayed) {
    let Some(config) = inner.shards.config() else { return };
    let api: Api<ConfigMap> = Api::namespaced(inner.client.clone(), &config.namespace);
    let name = relay_name(&relayed.url);
    let Ok(push) = serde_json::to_string(&relayed) else { return };
    let cm = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {RELAY_LABEL: "true"}},
        "data": {PUSH_KEY: push},
    });
    tokio::spawn(async move {
        let params = PatchParams::apply("ferry-push-relay").force();
        if let Err(e) = api.patch(&name, &params, &Patch::Apply(&cm)).await {
            tracing::warn!(relay = %name, error = %e, "cannot relay a push to the other replicas; their apps see it at their next poll (Ferry needs patch on ConfigMaps in its namespace)");
        }
    });
}

/// Watches the relays and notifies the pushes other replicas received (returns at once
/// without sharding).
pub(crate) async fn follow(inner: Arc<Inner>) {
    let Some(config) = inner.shards.config().cloned() else { return };
    let api: Api<ConfigMap> = Api::namespaced(inner.client.clone(), &config.namespace);
    let selector = watcher::Config::default().labels(&format!("{RELAY_LABEL}=true"));
    let stream = watcher::watcher(api, selector).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let mut last: HashMap<String, String> = HashMap::new();
    while let Some(event) = stream.next().await {
        let (cm, listed) = match event {
            Ok(Event::Apply(cm)) => (cm, false),
            Ok(Event::InitApply(cm)) => (cm, true),
            Ok(Event::Init | Event::InitDone | Event::Delete(_)) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "watch on relayed pushes failed; retrying (pushes other replicas receive reach this one at its next poll meanwhile)");
                continue;
            }
        };
        let Some(relayed) = Relayed::from_config_map(&cm) else {
            tracing::debug!(relay = %cm.name_any(), "a relayed push that does not parse; ignored");
            continue;
        };
        let seen = judge(&relayed, &config.identity, last.get(&cm.name_any()), listed);
        last.insert(cm.name_any(), relayed.id.clone());
        if seen == Seen::Notify {
            let delivery = relayed
                .delivery
                .as_deref()
                .map(|id| crate::sync_audit::Delivery::new(id, &relayed.commits));
            let changed = relayed.changed();
            let n = crate::poll::notify_push(&inner, &relayed.url, delivery, changed.as_ref());
            tracing::debug!(repo = %relayed.url, from = %relayed.from, apps = n, "push relayed by another replica");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(from: &str, id: &str) -> Relayed {
        Relayed { from: from.into(), id: id.into(), ..Relayed::new("u", None, &[], None, "x") }
    }

    #[test]
    fn a_replica_acts_once_on_each_push_another_replica_relayed_and_never_on_a_listed_one() {
        assert_eq!(judge(&push("b", "1"), "a", None, false), Seen::Notify);
        assert_eq!(judge(&push("b", "1"), "a", Some(&"1".into()), false), Seen::Ignore);
        assert_eq!(judge(&push("b", "2"), "a", Some(&"1".into()), false), Seen::Notify);
        assert_eq!(judge(&push("a", "3"), "a", None, false), Seen::Ignore, "its own");
        // Found by a listing: a new push from a re-list, or a recent one at start, is acted on.
        assert_eq!(judge(&push("b", "4"), "a", Some(&"1".into()), true), Seen::Notify);
        assert_eq!(judge(&push("b", "5"), "a", None, true), Seen::Notify, "a recent one");
        let old = Relayed { at: "2020-01-01T00:00:00Z".into(), ..push("b", "6") };
        assert_eq!(judge(&old, "a", None, true), Seen::Ignore, "an old one found at start");
    }

    #[test]
    fn changed_paths_travel_unless_there_are_too_many() {
        let few: BTreeSet<RepoPath> =
            ["apps/a/x.yaml"].iter().map(|p| RepoPath::new(p).expect("a path")).collect();
        let relayed = Relayed::new("u", Some("d-1"), &["abc".into()], Some(&few), "a");
        let back: Relayed =
            serde_json::from_str(&serde_json::to_string(&relayed).expect("json")).expect("parse");
        assert_eq!(back.changed(), Some(few));
        assert_eq!(back.delivery.as_deref(), Some("d-1"));
        let many: BTreeSet<RepoPath> = (0..=MAX_PATHS)
            .map(|i| RepoPath::new(&format!("apps/{i}.yaml")).expect("a path"))
            .collect();
        assert_eq!(Relayed::new("u", None, &[], Some(&many), "a").changed(), None);
    }

    #[test]
    fn a_repositorys_relay_has_one_stable_name() {
        assert_eq!(relay_name("git://h/r.git"), relay_name(" git://h/r.git "));
        assert_ne!(relay_name("git://h/r.git"), relay_name("git://h/s.git"));
        assert!(relay_name("git://h/r.git").starts_with("ferry-push-"));
    }
}
