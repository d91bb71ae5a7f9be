//! Events: kube-rs's `Recorder` posts events.k8s.io/v1 Events; the core/v1 view shows the same
//! objects (one storage, as on a real server), and `kubectl` reads them both ways.

mod common;

use common::Kubectl;
use k8s_openapi::api::core::v1::{ConfigMap, ObjectReference};
use k8s_openapi::api::events::v1::Event as EventsEvent;
use kube::Resource;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use serde_json::json;

async fn a_config_map(client: &kube::Client) -> ObjectReference {
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "settings", "namespace": "default"}, "data": {"a": "1"}
    }))
    .expect("a valid ConfigMap");
    cms.create(&PostParams::default(), &cm).await.expect("the ConfigMap is created").object_ref(&())
}

fn synced() -> Event {
    Event {
        type_: EventType::Normal,
        reason: "Synced".into(),
        note: Some("applied 3 objects".into()),
        action: "Sync".into(),
        secondary: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorder_publishes_events_that_both_event_apis_and_kubectl_show() {
    let cluster = ferry_cluster::testing::start().await;
    let client = cluster.client().await.expect("client");
    let regarding = a_config_map(&client).await;
    let reporter = Reporter { controller: "ferry-engine".into(), instance: Some("ferry-0".into()) };
    let recorder = Recorder::new(client.clone(), reporter);
    recorder.publish(&synced(), &regarding).await.expect("the first event is created");
    // The same event again becomes a merge patch that adds a series.
    recorder.publish(&synced(), &regarding).await.expect("the repeat is patched into a series");

    let events: Api<EventsEvent> = Api::namespaced(client.clone(), "default");
    let list = events.list(&ListParams::default()).await.expect("events.k8s.io lists");
    assert_eq!(list.items.len(), 1, "one event with a series: {:?}", list.items);
    let ev = &list.items[0];
    assert_eq!(ev.note.as_deref(), Some("applied 3 objects"));
    assert_eq!(ev.reporting_controller.as_deref(), Some("ferry-engine"));
    assert_eq!(ev.series.as_ref().map(|s| s.count), Some(2));
    assert_eq!(ev.regarding.as_ref().and_then(|r| r.name.as_deref()), Some("settings"));

    let core: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client, "default");
    let core_list = core
        .list(&ListParams::default().fields("involvedObject.name=settings"))
        .await
        .expect("core/v1 events list with a field selector");
    assert_eq!(core_list.items.len(), 1);
    assert_eq!(core_list.items[0].message.as_deref(), Some("applied 3 objects"));
    assert_eq!(core_list.items[0].reporting_component.as_deref(), Some("ferry-engine"));

    let k = Kubectl::new(cluster.kubeconfig_path());
    let table = k.ok(&["get", "events", "-n", "default"]);
    assert!(table.contains("applied 3 objects"), "kubectl get events shows it:\n{table}");
    let via_group = k.json(&["get", "events.events.k8s.io", "-n", "default"]);
    assert_eq!(via_group["items"][0]["apiVersion"], "events.k8s.io/v1");
    assert_eq!(via_group["items"][0]["note"], "applied 3 objects");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_events_api_event_missing_required_fields_is_invalid_and_names_them() {
    let cluster = ferry_cluster::testing::start().await;
    let client = cluster.client().await.expect("client");
    let events: Api<EventsEvent> = Api::namespaced(client, "default");
    let bare: EventsEvent =
        serde_json::from_value(json!({"metadata": {"name": "bare"}, "note": "hello"}))
            .expect("a structurally valid Event");
    let err = events.create(&PostParams::default(), &bare).await.expect_err("it is refused");
    let kube::Error::Api(status) = err else { panic!("a Status error, got {err:?}") };
    assert_eq!(status.code, 422);
    for field in ["eventTime", "reportingController", "reportingInstance", "action", "reason"] {
        assert!(status.message.contains(field), "{field} is named: {}", status.message);
    }
    assert!(events.list(&ListParams::default()).await.expect("list").items.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_deleted_once_their_newest_timestamp_is_older_than_the_event_ttl_and_watchers_see_it()
 {
    use futures::{StreamExt, TryStreamExt};
    use kube::runtime::watcher::{self, Event as Seen};

    let ttl = std::time::Duration::from_secs(3);
    let config = ferry_cluster::testing::fast_config().event_ttl(ttl);
    let cluster = ferry_cluster::testing::try_start(config).await.expect("the cluster starts");
    let client = cluster.client().await.expect("client");
    let events: Api<EventsEvent> = Api::namespaced(client.clone(), "default");
    let event = |name: &str, at: jiff::Timestamp| -> EventsEvent {
        serde_json::from_value(json!({
            "metadata": {"name": name}, "note": "applied", "reason": "Synced", "action": "Sync",
            "type": "Normal", "eventTime": at.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            "reportingController": "ferry", "reportingInstance": "ferry-0",
        }))
        .expect("a valid Event")
    };
    let now = jiff::Timestamp::now();
    let mut seen = watcher::watcher(events.clone(), watcher::Config::default()).boxed();
    events.create(&PostParams::default(), &event("posted-now", now)).await.expect("created");
    // Observed again an hour from now (a clock ahead of this one): its newest timestamp is
    // what counts, so it outlives the test.
    let later = now.checked_add(jiff::SignedDuration::from_hours(1)).expect("in range");
    events.create(&PostParams::default(), &event("seen-later", later)).await.expect("created");

    let deleted = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(change) = seen.try_next().await.expect("the watch runs") {
            if let Seen::Delete(e) = change {
                return e.metadata.name;
            }
        }
        None
    })
    .await
    .expect("an Event expires within the TTL and the sweeper's period");
    assert_eq!(deleted.as_deref(), Some("posted-now"));
    let left = events.list(&ListParams::default()).await.expect("list").items;
    let names: Vec<_> = left.iter().filter_map(|e| e.metadata.name.as_deref()).collect();
    assert_eq!(names, ["seen-later"]);
}
