//! The fault suite: while the API server fails writes (500, 503, 429, 409), answers slowly, cuts
//! and expires watches, and while the Git server cuts packs mid-transfer, crawls, refuses
//! connections or has its history rewritten, the rules hold — nothing Git still declares is ever
//! deleted, nothing is pruned on an error — and once the fault is gone the app converges by
//! itself, with what the commit dropped pruned (no orphan).

mod support;

use std::time::{Duration, Instant};

use ferry_cluster::Faults;
use ferry_testkit::{FaultProxy, WireFault};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use support::*;

fn config_map(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n"
    )
}

/// Round `r`: `keep` changes, `extra-r` is new and `extra-(r-1)` goes (a prune).
fn commit_round(repo: &Repo, r: u32) -> String {
    repo.write("app/keep.yaml", &config_map("keep", &r.to_string())).expect("write");
    repo.write(&format!("app/extra-{r}.yaml"), &config_map(&format!("extra-{r}"), "x"))
        .expect("write");
    let old = repo.dir.join(format!("app/extra-{}.yaml", r - 1));
    if old.exists() {
        std::fs::remove_file(old).expect("rm");
    }
    repo.commit(&format!("round {r}")).expect("commit")
}

async fn present(world: &World, name: &str) -> bool {
    let api: Api<ConfigMap> = Api::namespaced(world.client.clone(), "shop");
    // A read the fault makes fail says nothing; only a clean "not found" counts as absent.
    !matches!(api.get_opt(name).await, Ok(None))
}

/// What must stay during round `r`'s fault: `keep` (declared before and after), and the object
/// the commit drops too when the fault `blocks` the new commit (it must not be pruned on an
/// error; a fault that lets the commit through may prune it, rightly).
fn kept(r: u32, blocks: bool) -> Vec<String> {
    let mut kept = vec!["keep".to_owned()];
    if blocks {
        kept.push(format!("extra-{}", r - 1));
    }
    kept
}

/// Keeps the fault on for `window`, checking all along that `kept` stay in the cluster.
async fn hold(world: &World, window: Duration, kept: &[String], fault: &str) {
    let end = Instant::now() + window;
    while Instant::now() < end {
        for name in kept {
            assert!(present(world, name).await, "{fault}: {name} was deleted during the fault");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// After the fault: Synced+Healthy at `revision`, round `r`'s objects present, the dropped gone.
async fn converged(world: &World, revision: &str, r: u32, fault: &str) {
    world.wait_synced_healthy("shop", revision).await;
    let api: Api<ConfigMap> = Api::namespaced(world.client.clone(), "shop");
    let keep = api.get("keep").await.expect("keep");
    let value = keep.data.unwrap_or_default().get("value").cloned();
    assert_eq!(value.as_deref(), Some(r.to_string().as_str()), "{fault}: keep is at round {r}");
    assert!(present(world, &format!("extra-{r}")).await, "{fault}: extra-{r} applied");
    let dropped = format!("extra-{}", r - 1);
    assert!(api.get_opt(&dropped).await.expect("get").is_none(), "{fault}: {dropped} orphaned");
}

/// Waits until `keep` is back at round `r`'s value after an edit by hand.
async fn healed(world: &World, r: u32, fault: &str) {
    let api: Api<ConfigMap> = Api::namespaced(world.client.clone(), "shop");
    let end = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    while Instant::now() < end {
        if let Ok(cm) = api.get("keep").await {
            last = cm.data.unwrap_or_default().get("value").cloned();
            if last.as_deref() == Some(r.to_string().as_str()) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{fault}: the edit by hand was not healed; keep is {last:?}");
}

async fn shop(proxied: bool) -> (World, Option<FaultProxy>) {
    let world = World::start(|repo| {
        repo.write("app/keep.yaml", &config_map("keep", "0")).expect("write");
        repo.write("app/extra-0.yaml", &config_map("extra-0", "x")).expect("write");
    })
    .await;
    let proxy = proxied.then(|| FaultProxy::start(world.daemon.port).expect("proxy"));
    let url = proxy.as_ref().map(|p| p.git_url("config.git")).unwrap_or_else(|| world.repo_url());
    world.create_app("shop", automated_spec(&url, "app", "shop")).await;
    world.wait_synced_healthy("shop", &world.head()).await;
    (world, proxy)
}

/// `len` characters that compress poorly (a hash chain in hex), so a pack carrying them is big.
fn incompressible(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push_str(&format!("{x:016x}"));
    }
    out
}

fn write_fault(code: u16, ratio: f64) -> Faults {
    Faults { write_error_code: Some(code), write_error_ratio: ratio, ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn api_errors_slow_answers_and_lost_watches_delete_nothing_and_the_app_recovers() {
    let (world, _) = shop(false).await;
    // (fault, settings, whether it blocks every write)
    let cases: Vec<(&str, Faults, bool)> = vec![
        ("500 on half the writes", write_fault(500, 0.5), false),
        ("503 on every write", write_fault(503, 1.0), true),
        ("429 on every write", write_fault(429, 1.0), true),
        ("409 on half the writes", write_fault(409, 0.5), false),
        ("300 ms per request", Faults { latency_ms: 300, ..Default::default() }, false),
        (
            "watches cut every 200 ms and expired on resume",
            Faults { drop_watches_after_ms: Some(200), expire_watches: true, ..Default::default() },
            false,
        ),
    ];
    for (r, (fault, faults, blocks)) in (1..).zip(cases) {
        world.cluster.set_faults(faults);
        let revision = commit_round(&world.repo, r);
        hold(&world, Duration::from_secs(2), &kept(r, blocks), fault).await;
        let lasting = fault.starts_with("watches") || fault.starts_with("300");
        if !lasting {
            world.cluster.set_faults(Faults::default());
        }
        converged(&world, &revision, r, fault).await;
        if lasting {
            // Drift is still seen through cut and expired watches, and healed.
            let api: Api<ConfigMap> = Api::namespaced(world.client.clone(), "shop");
            let drift = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "keep"}, "data": {"value": "by hand"}});
            api.patch("keep", &PatchParams::apply("intruder").force(), &Patch::Apply(drift))
                .await
                .expect("drift");
            healed(&world, r, fault).await;
            world.cluster.set_faults(Faults::default());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_git_server_that_cuts_packs_crawls_or_refuses_deletes_nothing_and_the_app_recovers() {
    let (world, proxy) = shop(true).await;
    let proxy = proxy.expect("proxied");
    let cases = [
        // The ref advertisement (a few hundred bytes) passes; the ~100 KB pack is cut.
        ("a pack cut after 20 KB", WireFault::CutAfter(20_000), true),
        ("connections refused", WireFault::Refuse, true),
        ("every chunk 200 ms late", WireFault::Slow(Duration::from_millis(200)), false),
    ];
    for (r, (fault, wire, blocks)) in (1..).zip(cases) {
        proxy.set(wire);
        world.repo.write(&format!("data/blob-{r}.txt"), &incompressible(200_000)).expect("blob");
        let revision = commit_round(&world.repo, r);
        hold(&world, Duration::from_secs(2), &kept(r, blocks), fault).await;
        if blocks {
            let app = world
                .wait_for("shop", "reporting the failed fetch", |a| {
                    a["status"]["conditions"].as_array().is_some_and(|cs| {
                        cs.iter().any(|c| c["type"] == "SourceReady" && c["status"] == "False")
                    })
                })
                .await;
            let text = app["status"]["conditions"].to_string();
            assert!(
                text.contains("config.git"),
                "{fault}: the condition names the repository: {text}"
            );
        }
        proxy.set(WireFault::Pass);
        converged(&world, &revision, r, fault).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rewritten_history_is_followed_and_what_only_the_dropped_commit_had_is_pruned() {
    let (world, _) = shop(false).await;
    let dropped = commit_round(&world.repo, 1);
    converged(&world, &dropped, 1, "before the force push").await;
    // The branch is rewritten: round 1 never happened, round 2 replaces it on top of round 0.
    world.repo.git(&["reset", "--hard", "HEAD~1"]).expect("reset");
    world.repo.write("app/keep.yaml", &config_map("keep", "2")).expect("write");
    world.repo.write("app/extra-2.yaml", &config_map("extra-2", "x")).expect("write");
    std::fs::remove_file(world.repo.dir.join("app/extra-0.yaml")).expect("rm");
    let rewritten = world.repo.commit("round 2, rewritten").expect("commit");
    world.wait_synced_healthy("shop", &rewritten).await;
    let api: Api<ConfigMap> = Api::namespaced(world.client.clone(), "shop");
    for gone in ["extra-0", "extra-1"] {
        assert!(api.get_opt(gone).await.expect("get").is_none(), "{gone} is pruned");
    }
    assert!(present(&world, "extra-2").await && present(&world, "keep").await);
}
