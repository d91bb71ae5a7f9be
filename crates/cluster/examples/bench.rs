//! Throughput of the embedded cluster, for the notes (not a test):
//! `cargo run --release -p ferry-cluster --example bench -- [OBJECTS]`.
//!
//! Measures server-side applies per second through kube-rs, listing 10k objects, watch
//! fan-out, and resident memory per stored object.

use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, ListParams, Patch, PatchParams, WatchEvent, WatchParams};
use kube::core::{DynamicObject, GroupVersionKind};
use kube::discovery::Discovery;
use serde_json::json;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn config_map(i: usize) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": format!("bench-{i:06}"), "namespace": "default", "labels": {"app": "bench", "shard": (i % 10).to_string()}},
        "data": {"index": i.to_string(), "payload": "x".repeat(200)},
    }))
    .expect("valid ConfigMap")
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let objects: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let config = ferry_cluster::ClusterConfig::default().simulator(false);
    let cluster = ferry_cluster::Cluster::start(config).await?;
    let client = cluster.client().await?;
    let discovery = Discovery::new(client.clone()).run().await?;
    let (ar, _) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"))
        .ok_or("ConfigMap not discovered")?;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);

    let rss_before = rss_kib();
    let start = Instant::now();
    let pp = PatchParams::apply("bench").force();
    futures::stream::iter(0..objects)
        .map(|i| {
            let api = api.clone();
            let pp = pp.clone();
            async move { api.patch(&format!("bench-{i:06}"), &pp, &Patch::Apply(config_map(i))).await }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "server-side apply (create) through kube-rs, 32 in flight: {objects} objects in {secs:.2}s = {:.0}/s",
        objects as f64 / secs
    );

    let start = Instant::now();
    let n = objects.min(2000);
    futures::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            let pp = pp.clone();
            async move { api.patch(&format!("bench-{i:06}"), &pp, &Patch::Apply(config_map(i))).await }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await?;
    let secs = start.elapsed().as_secs_f64();
    println!("server-side apply (no-op re-apply): {n} in {secs:.2}s = {:.0}/s", n as f64 / secs);

    let rss_after = rss_kib();
    println!(
        "resident memory: {} KiB before, {} KiB after {objects} objects (~{:.1} KiB per object, client included)",
        rss_before,
        rss_after,
        rss_after.saturating_sub(rss_before) as f64 / objects as f64
    );

    for _ in 0..3 {
        let start = Instant::now();
        let list = api.list(&ListParams::default()).await?;
        println!(
            "list of {} objects: {:.0} ms",
            list.items.len(),
            start.elapsed().as_secs_f64() * 1000.0
        );
    }
    let start = Instant::now();
    let list = api.list(&ListParams::default().labels("shard=3")).await?;
    println!(
        "list with a label selector ({} of {objects}): {:.0} ms",
        list.items.len(),
        start.elapsed().as_secs_f64() * 1000.0
    );

    let watchers = 100;
    let writes = 1000;
    let rv = list.metadata.resource_version.clone().unwrap_or_default();
    let mut tasks = Vec::new();
    for _ in 0..watchers {
        let api = api.clone();
        let rv = rv.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen = 0;
            let mut stream = api
                .watch(&WatchParams::default().labels("app=fanout").timeout(120), &rv)
                .await?
                .boxed();
            while let Some(ev) = stream.try_next().await? {
                if matches!(ev, WatchEvent::Added(_)) {
                    seen += 1;
                    if seen == writes {
                        break;
                    }
                }
            }
            Ok::<usize, kube::Error>(seen)
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let start = Instant::now();
    futures::stream::iter(0..writes)
        .map(|i| {
            let api = api.clone();
            let pp = pp.clone();
            async move {
                let mut cm = config_map(objects + i);
                cm.metadata.labels.get_or_insert_default().insert("app".into(), "fanout".into());
                let name = cm.metadata.name.clone().unwrap_or_default();
                api.patch(&name, &pp, &Patch::Apply(&cm)).await
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await?;
    let write_secs = start.elapsed().as_secs_f64();
    let mut delivered = 0;
    for t in tasks {
        delivered += t.await??;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "watch fan-out: {writes} writes (done in {write_secs:.2}s) to {watchers} watchers = {delivered} events delivered in {secs:.2}s ({:.0} events/s)",
        delivered as f64 / secs
    );
    // Deletes with garbage collection: each delete looks up dependents by owner uid.
    let start = Instant::now();
    let n = objects.min(2000);
    futures::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            async move { api.delete(&format!("bench-{i:06}"), &Default::default()).await }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "delete with garbage collection, {} objects stored: {n} in {secs:.2}s = {:.0}/s",
        cluster.object_count() + n,
        n as f64 / secs
    );
    let stats = cluster.stats();
    println!("requests served: {} (writes {})", stats.total(), stats.writes());
    cluster.shutdown().await?;
    Ok(())
}
