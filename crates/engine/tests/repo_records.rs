//! A commit to a monorepo that changes one app's render costs that app's writes and one write of
//! the repository record, not one status write per app (issue 23, the status storm); the record
//! keeps status truthful: an unchanged app reads as up to date at the new commit, a broken one
//! never does, and a restarted engine neither re-syncs nor reports past what was verified.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferry_engine::Application;
use ferry_engine::records::{RepoRecord, effective, record_name};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use support::*;

const APPS: usize = 5;

fn config_map(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: demo\ndata:\n  value: \"{value}\"\n"
    )
}

fn name(i: usize) -> String {
    format!("app{i}")
}

/// `APPS` apps, one directory each in one repository, all Synced and Healthy at the head.
async fn monorepo() -> World {
    let world = World::start(|repo| {
        for i in 0..APPS {
            let file = config_map(&format!("cm{i}"), "1");
            repo.write(&format!("app{i}/cm.yaml"), &file).expect("write the file");
        }
    })
    .await;
    let head = world.head();
    for i in 0..APPS {
        let path = name(i);
        world.create_app(&name(i), automated_spec(&world.repo_url(), &path, "demo")).await;
    }
    for i in 0..APPS {
        world.wait_synced_healthy(&name(i), &head).await;
    }
    world
}

/// Commits a change to app `i` only (or `body` as its file) and tells the engine.
fn commit_to(world: &World, i: usize, body: &str) -> String {
    world.repo.write(&format!("app{i}/cm.yaml"), body).expect("write the file");
    let revision = world.repo.commit(&format!("change app{i}")).expect("commit");
    world.engine.notify_push(&world.repo_url());
    revision
}

async fn stored(world: &World, app: &str) -> Application {
    let api: Api<Application> = Api::namespaced(world.client.clone(), "ferry");
    api.get(app).await.expect("the Application")
}

/// The repository record as `kubectl get configmap -n ferry` shows it, once it verifies `apps`
/// at `revision` (as a reader computes it from the stored Applications).
async fn record_verifying(world: &World, apps: &[String], revision: &str) -> RepoRecord {
    let api: Api<ConfigMap> = Api::namespaced(world.client.clone(), "ferry");
    let name = record_name(&world.repo_url());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let record = api
            .get_opt(&name)
            .await
            .expect("get the record")
            .map(|cm| RepoRecord::from_config_map(&cm).expect("the record Ferry wrote parses"));
        let mut all = record.is_some();
        let mut seen = Vec::new();
        for app in apps {
            let app = stored(world, app).await;
            all &= effective(&app, record.as_ref()).revision == revision;
            seen.push(app.status.map(|s| (s.sync, s.conditions)));
        }
        if all {
            return record.expect("checked above");
        }
        assert!(
            Instant::now() < deadline,
            "no record {name} verifying {apps:?} at {revision}: {record:?}, apps {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn resource_versions(world: &World, apps: &[String]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for app in apps {
        out.insert(
            app.clone(),
            stored(world, app).await.metadata.resource_version.unwrap_or_default(),
        );
    }
    out
}

/// Until no request changed anything for half a second (the apps' first reconciles are over).
async fn settle(world: &World) {
    let mut last = world.cluster.stats().writes();
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_millis(500) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = world.cluster.stats().writes();
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
    }
}

/// A counter of the engine's since it started.
fn metric(world: &World, name: &str) -> u64 {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &world.registry).expect("metrics encode");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Reconciles the engine has finished since it started.
fn reconciles(world: &World) -> u64 {
    metric(world, "ferry_reconcile_duration_seconds_count")
}

fn history_len(app: &Application) -> usize {
    app.status.as_ref().map(|s| s.history.len()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_changing_one_app_writes_its_status_and_the_record_and_no_other_app() {
    let world = monorepo().await;
    let others: Vec<String> = (0..APPS).filter(|i| *i != 2).map(name).collect();
    settle(&world).await;
    let versions = resource_versions(&world, &others).await;
    let before = world.cluster.stats();

    let revision = commit_to(&world, 2, &config_map("cm2", "2"));
    world.wait_synced_healthy("app2", &revision).await;
    for app in &others {
        world
            .wait_for(app, "verified at the new commit", |a| is_synced_healthy_at(a, &revision))
            .await;
    }
    let record = record_verifying(&world, &others, &revision).await;
    settle(&world).await;

    let writes = world.cluster.stats().since(&before);
    assert_eq!(resource_versions(&world, &others).await, versions, "no other app was written");
    assert!(writes.writes() <= 10, "at most 10 writes for the commit: {:?}", writes.counts);
    let status_writes: u64 = writes
        .counts
        .iter()
        .filter(|((v, r, _), _)| v == "PATCH" && r == "applications.ferry.dev")
        .map(|(_, n)| n)
        .sum();
    assert!(status_writes <= 2, "app2's sync (Running) and result only: {:?}", writes.counts);
    let record_writes = metric(&world, "ferry_repo_record_writes_total");
    assert!((1..=2).contains(&record_writes), "{record_writes} record writes");
    assert_eq!(record.url, world.repo_url());
    assert_eq!(record.summary(), format!("4 app(s) verified unchanged at {}", &revision[..7]));
    let own = stored(&world, "app0").await.status.expect("a status").sync;
    assert_ne!(
        own.revision, revision,
        "app0's own status still names the commit it was written at"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_that_breaks_one_apps_render_never_reports_it_up_to_date() {
    let world = monorepo().await;
    let first = world.head();
    let others: Vec<String> = (1..APPS).map(name).collect();
    let revision = commit_to(&world, 0, "this: is: not: yaml: [");
    let broken = world
        .wait_for("app0", "reporting the broken render", |a| {
            a["status"]["sync"]["status"] == "Unknown"
        })
        .await;
    assert_eq!(broken["status"]["sync"]["revision"], first.as_str(), "{broken}");
    assert!(broken["status"]["sync"].get("verifiedRevision").is_none(), "{broken}");
    let record = record_verifying(&world, &others, &revision).await;
    let app0 = stored(&world, "app0").await;
    assert_eq!(
        effective(&app0, Some(&record)).revision,
        first,
        "the broken app stays at its last good commit"
    );
    assert!(!record.apps.contains_key("ferry/app0"), "{record:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_engine_neither_resyncs_verified_apps_nor_reports_them_past_the_record() {
    let mut world = monorepo().await;
    let others: Vec<String> = (1..APPS).map(name).collect();
    let second = commit_to(&world, 0, &config_map("cm0", "2"));
    world.wait_synced_healthy("app0", &second).await;
    record_verifying(&world, &others, &second).await;
    settle(&world).await;
    let histories: Vec<usize> = {
        let mut h = Vec::new();
        for app in &others {
            h.push(history_len(&stored(&world, app).await));
        }
        h
    };
    let versions = resource_versions(&world, &others).await;

    world.restart_engine().await;
    // Until the new engine has reconciled every app once, and quiet again.
    let deadline = Instant::now() + Duration::from_secs(30);
    while reconciles(&world) < APPS as u64 || world.engine.queued() > 0 {
        assert!(Instant::now() < deadline, "the restarted engine did not reconcile its apps");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    settle(&world).await;
    assert_eq!(resource_versions(&world, &others).await, versions, "no status written again");
    for app in &others {
        world
            .wait_for(app, "still verified at the second commit", |a| {
                is_synced_healthy_at(a, &second)
            })
            .await;
    }

    // A commit made after the restart that leaves them unchanged: verified, not synced again.
    let third = commit_to(&world, 0, &config_map("cm0", "3"));
    world.wait_synced_healthy("app0", &third).await;
    record_verifying(&world, &others, &third).await;
    for (app, before) in others.iter().zip(histories) {
        assert_eq!(history_len(&stored(&world, app).await), before, "{app} was not synced again");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_webhook_a_polled_commit_reconciles_the_app_it_changed_before_the_others() {
    use ferry_engine::shard::{Journal, ShardConfig};
    const MANY: usize = 12;
    let journal = Journal::default();
    // One worker: reconciles run in the order they were queued, which the journal shows.
    let options = Options {
        poll_interval: Duration::from_millis(300),
        workers: Some(1),
        sharding: Some(ShardConfig::new(1, "ferry", "solo").journal(journal.clone())),
        ..Options::default()
    };
    let world = World::start_with(
        |repo| {
            for i in 0..MANY {
                let file = config_map(&format!("cm{i}"), "1");
                repo.write(&format!("app{i}/cm.yaml"), &file).expect("write the file");
            }
        },
        options,
    )
    .await;
    let head = world.head();
    for i in 0..MANY {
        world.create_app(&name(i), automated_spec(&world.repo_url(), &name(i), "demo")).await;
    }
    for i in 0..MANY {
        world.wait_synced_healthy(&name(i), &head).await;
    }
    settle(&world).await;

    let since = journal.spans().len();
    let changed = MANY - 1;
    world.repo.write(&format!("app{changed}/cm.yaml"), &config_map("cm-new", "2")).expect("write");
    let revision = world.repo.commit("change the last app").expect("commit");
    world.wait_synced_healthy(&name(changed), &revision).await;
    for i in (0..MANY).filter(|i| *i != changed) {
        world
            .wait_for(&name(i), "verified at the new commit", |a| {
                is_synced_healthy_at(a, &revision)
            })
            .await;
    }
    let order: Vec<String> = journal.spans()[since..].iter().map(|s| s.app.clone()).collect();
    assert_eq!(
        order.first().map(String::as_str),
        Some(format!("ferry/{}", name(changed)).as_str()),
        "the changed app is reconciled first: {order:?}"
    );
}
