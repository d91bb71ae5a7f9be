//! Serves the API and web UI over a real engine, embedded cluster and git daemon with the
//! guestbook example deployed, for looking at the UI in a browser:
//! `cargo run -p ferry-api --example ui_preview -- [PORT] [SECONDS]` (defaults: a free port, 120 s).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use support::*;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(120);
    let world = World::guestbook(Options::default()).await;
    let first = world.head();
    world.create_app("guestbook", guestbook_spec(&world.repo_url())).await;
    let mut broken = guestbook_spec(&world.repo_url());
    broken["source"]["path"] = "missing-dir".into();
    world.create_app("broken", broken).await;
    world.wait_synced_healthy("guestbook", &first).await;
    // A second commit, so the history has something to roll back to.
    world
        .repo
        .edit("guestbook/guestbook-ui-deployment.yaml", "replicas: 1", "replicas: 2")
        .expect("edit");
    let second = world.repo.commit("two replicas").expect("commit");
    world.wait_synced_healthy("guestbook", &second).await;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    println!("http://{addr}/");
    let shutdown = async move { tokio::time::sleep(Duration::from_secs(seconds)).await };
    ferry_api::serve(listener, world.state.clone(), shutdown).await.expect("serve");
    world.engine.shutdown().await;
}
