//! Sharded replicas: several engines, each with its own identity, share the apps of one
//! embedded cluster through shard Leases. Every app is reconciled, a dead replica's shards are
//! taken over within seconds, a joining replica gets its share, and the reconcile journal shows
//! no app reconciled by two replicas at once.

mod replicas;

use std::collections::BTreeSet;
use std::time::Duration;

use replicas::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_share_the_apps_and_each_app_is_reconciled_by_one_of_them() {
    let mut fleet = Fleet::start().await;
    for replica in ["replica-a", "replica-b", "replica-c"] {
        fleet.add_replica(replica).await;
    }
    fleet.wait_balanced(Duration::from_secs(15)).await;
    fleet.create_apps(&[(0, "5"), (1, "99")]).await;
    let apps = fleet.wait_all_synced(&fleet.head()).await;

    let by_app = fleet.reconcilers(0);
    assert_eq!(by_app.len(), APPS, "every app was reconciled: {by_app:?}");
    assert!(by_app.values().all(|r| r.len() == 1), "each by one replica: {by_app:?}");
    let used: BTreeSet<&String> = by_app.values().flatten().collect();
    assert_eq!(used.len(), 3, "the apps are spread over the three replicas: {by_app:?}");
    let pinned = &by_app["ferry/app-0"];
    let holder = fleet.replicas.iter().find(|(_, e)| e.held_shards().contains(&5)).expect("held");
    assert!(pinned.contains(&holder.0), "app-0 is labelled into shard 5, held by {}", holder.0);
    let bad = apps.iter().find(|a| a["metadata"]["name"] == "app-1").expect("app-1");
    let condition = bad["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "InvalidShardLabel"))
        .unwrap_or_else(|| panic!("app-1's label 99 is reported: {}", bad["status"]));
    assert!(
        condition["message"].as_str().is_some_and(|m| m.contains("from 0 to 7")),
        "{condition}"
    );
    fleet.assert_no_overlap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_replicas_shards_are_taken_over_within_seconds_and_its_apps_still_sync() {
    let mut fleet = Fleet::start().await;
    fleet.add_replica("replica-a").await;
    fleet.add_replica("replica-b").await;
    fleet.wait_balanced(Duration::from_secs(15)).await;
    fleet.create_apps(&[]).await;
    fleet.wait_all_synced(&fleet.head()).await;

    fleet.kill("replica-b").await;
    let took = fleet.wait_balanced(Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(6), "taken over in {took:?}");
    let since = now_us();
    let revision = fleet.change_every_app("two");
    fleet.wait_all_synced(&revision).await;
    let by_app = fleet.reconcilers(since);
    assert!(
        by_app.values().all(|r| r.iter().all(|id| id == "replica-a")),
        "the survivor reconciles every app: {by_app:?}"
    );
    fleet.assert_no_overlap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_joining_replica_gets_its_share_and_no_app_is_reconciled_twice_at_once() {
    let mut fleet = Fleet::start().await;
    fleet.add_replica("replica-a").await;
    fleet.wait_balanced(Duration::from_secs(10)).await;
    fleet.create_apps(&[]).await;
    fleet.wait_all_synced(&fleet.head()).await;

    // A change is rolling out while the second replica joins: shards move mid-work.
    let revision = fleet.change_every_app("two");
    fleet.add_replica("replica-b").await;
    let took = fleet.wait_balanced(Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(5), "rebalanced in {took:?}");
    fleet.wait_all_synced(&revision).await;

    let since = now_us();
    let revision = fleet.change_every_app("three");
    fleet.wait_all_synced(&revision).await;
    let by_app = fleet.reconcilers(since);
    let used: BTreeSet<&String> = by_app.values().flatten().collect();
    assert_eq!(used.len(), 2, "both replicas reconcile after the rebalance: {by_app:?}");
    fleet.assert_no_overlap();
}
