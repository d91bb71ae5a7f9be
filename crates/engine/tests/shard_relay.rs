//! A push told to one sharded replica (the one the Service sends webhooks to) reaches the apps
//! of every replica at once, through the relay ConfigMap every replica watches, instead of at
//! the others' next poll. Its own test binary: three replicas are enough load beside the other
//! sharding tests.

mod replicas;

use std::collections::BTreeSet;

use kube::api::Api;
use replicas::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_push_told_to_one_replica_reaches_the_apps_of_every_replica_without_waiting_for_a_poll() {
    // Polls never come within the test: only a push (relayed) moves the replicas.
    let fleet = Fleet::three_replicas_without_polls().await;

    let revision = fleet.change_every_app("two");
    let url = fleet.daemon.url("config.git");
    let (receiver, engine) = &fleet.replicas[0];
    let commits = [revision.clone()];
    engine.notify_webhook_push(&url, Some("delivery-1"), &commits, None);
    let apps = fleet.wait_all_synced(&revision).await;
    let reconcilers: BTreeSet<String> =
        fleet.reconcilers(0).into_values().flatten().filter(|r| r != receiver).collect();
    assert!(!reconcilers.is_empty(), "other replicas synced apps too: {apps:?}");

    let relays: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(fleet.client.clone(), NS);
    let relay = relays
        .get(&ferry_engine::shard::relay::relay_name(&url))
        .await
        .expect("one relay ConfigMap for the repository");
    let push = relay.data.as_ref().and_then(|d| d.get("push")).expect("the push");
    let push: ferry_engine::shard::relay::Relayed = serde_json::from_str(push).expect("parses");
    assert_eq!(
        (push.from.as_str(), push.delivery.as_deref()),
        (receiver.as_str(), Some("delivery-1"))
    );
    assert_eq!(push.commits, commits);
    fleet.assert_no_overlap();
}
