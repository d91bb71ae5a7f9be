//! The repository record with sharded replicas: each replica writes the entries of the shards
//! it holds, so after a one-line commit every other app reads as verified at the new commit,
//! whichever replica reconciles it. Its own test binary, as `shard_relay.rs`.

mod replicas;

use replicas::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_one_line_commit_pushed_to_one_replica_leaves_the_other_apps_verified_by_every_replicas_record_entries()
 {
    // Polls never come within the test: only a push (relayed) moves the replicas.
    let fleet = Fleet::three_replicas_without_polls().await;

    fleet.repo.write("apps/app-0/config.yaml", &app_file(0, "changed")).expect("write");
    let revision = fleet.repo.commit("change app-0 only").expect("commit");
    let url = fleet.daemon.url("config.git");
    fleet.replicas[0].1.notify_push(&url);
    let verified = fleet.wait_all_effective(&revision).await;
    assert_eq!(verified, APPS - 1, "every app but app-0 is verified unchanged by the record");
    fleet.assert_no_overlap();
}
