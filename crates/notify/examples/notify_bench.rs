//! Delivery latency and throughput: N app events (default 1,000, each a new revision so none is
//! deduplicated) to one webhook on loopback (a real HTTP server that records requests).
//!
//! `cargo run --release -p ferry-notify --example notify_bench -- [EVENTS] [WORKERS]`
//!
//! Latency is the notifier's own: from a delivery's queueing to the sink's answer (the delivery
//! log's `latencyMs`), plus the end-to-end time from the first `observe` to the last request.
//! The per-sink rate limit is lifted here (it would measure the limit, not the machine).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferry_notify::{AppEvent, Config, Notifier, Options, Outcome};
use ferry_testkit::recorder::Recorder;
use serde_json::json;

fn event(i: usize) -> AppEvent {
    let revision = format!("{i:040x}");
    AppEvent {
        namespace: "bench".into(),
        name: format!("app-{}", i % 50),
        app: json!({
            "metadata": {"name": format!("app-{}", i % 50), "namespace": "bench",
                         "annotations": {"notifications.ferry.dev/subscribe.on-deployed.hook": ""}},
            "status": {"sync": {"status": "Synced", "revision": revision}, "health": {"status": "Healthy"},
                       "operationState": {"phase": "Succeeded", "revision": revision, "dryRun": false}},
        }),
        sync_kind: "auto".into(),
        commit: ferry_notify::event::Commit {
            revision,
            author: "Bench <b@example.com>".into(),
            message: "bench".into(),
        },
        changes: "1 configured".into(),
        deleted: false,
    }
}

/// One event at a time: observe → the request at the server, in microseconds.
async fn paced(notifier: &Notifier, server: &Recorder, events: usize) {
    let mut micros = Vec::with_capacity(events);
    for i in 0..events {
        let before = server.count();
        let e = event(events + i);
        let started = Instant::now();
        notifier.observe(e);
        loop {
            if server.count() > before {
                break;
            }
            tokio::task::yield_now().await;
            if started.elapsed() > Duration::from_secs(10) {
                break;
            }
        }
        micros.push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
    }
    micros.sort_unstable();
    println!(
        "paced: observe → request at the server, one at a time, µs: p50 {} p95 {} p99 {} max {}",
        percentile(&micros, 50.0),
        percentile(&micros, 95.0),
        percentile(&micros, 99.0),
        micros.last().copied().unwrap_or(0)
    );
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let events: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let workers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let server = Recorder::start().await?;
    let options = Options {
        queue: events.max(1000),
        workers,
        rate_per_sink: 1e9,
        burst: u32::MAX,
        ..Options::default()
    };
    let notifier = Notifier::start(options, Default::default());
    let data: BTreeMap<String, String> = [(
        "service.webhook.hook".to_owned(),
        format!("url: {}/hook\nsecret: bench-key\n", server.url),
    )]
    .into();
    notifier.set_config(Config::parse(&data, &BTreeMap::new()));

    let batch: Vec<AppEvent> = (0..events).map(event).collect();
    let started = Instant::now();
    for e in batch {
        notifier.observe(e);
    }
    let observed = started.elapsed();
    let requests = server.wait_for(events, Duration::from_secs(120)).await;
    let total = started.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let log = notifier.log().entries();
    let delivered = log.iter().filter(|e| e.outcome == Some(Outcome::Delivered)).count();
    let mut latencies: Vec<u64> = log.iter().map(|e| e.latency_ms).collect();
    latencies.sort_unstable();
    println!(
        "events {events}, workers {workers}, build {}",
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    println!(
        "burst: observe() of all {events}: {:.1} ms ({:.2} µs each)",
        observed.as_secs_f64() * 1e3,
        observed.as_secs_f64() * 1e6 / events as f64
    );
    println!("burst: requests received {} (delivered in log: {delivered})", requests.len());
    println!(
        "burst: first observe → last request {:.0} ms; throughput {:.0} deliveries/s",
        total.as_secs_f64() * 1e3,
        requests.len() as f64 / total.as_secs_f64()
    );
    println!(
        "burst: latency queued → answer, ms: p50 {} p95 {} p99 {} max {}",
        percentile(&latencies, 50.0),
        percentile(&latencies, 95.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(0)
    );
    paced(&notifier, &server, events).await;
    Ok(())
}
