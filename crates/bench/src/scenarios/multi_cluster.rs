//! Apps across three clusters: the embedded one the engine runs in and two more served as
//! `ferry cluster serve` serves them (own CA, token authentication), registered through Argo
//! CD cluster Secrets. Fan-out time of N apps spread evenly; the memory the first app on each
//! remote cluster added (its connection: client, discovery, watch cache); how long the apps of
//! a killed cluster take to turn Unknown and, once it serves again on the same address and
//! state, to be Synced again — while the other clusters' apps stay Synced.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use ferry_cluster::RunningCluster;
use ferry_engine::application::SyncStatusCode;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

use super::many_apps::app_name;
use super::{COST_NOTE, Options, Window};
use crate::manifests::{app_spec, fan_out_app};
use crate::measure::{Memory, round};
use crate::world::{APPS_NAMESPACE, World, synced_healthy_at};
use crate::{BenchError, Report};

const NAMESPACE: &str = "multi";
const REMOTES: [&str; 2] = ["east", "west"];

pub(crate) fn run(opts: &Options, report: &mut Report) -> Result<(), BenchError> {
    let n = opts.size.unwrap_or(opts.pick(12, 300));
    let world = World::start(|repo| Ok(repo.write("README.md", "multi-cluster benchmark\n")?))?;
    let names: Vec<String> = (0..n).map(app_name).collect();
    for name in &names {
        world.repo.write(&format!("apps/{name}/objects.yaml"), &fan_out_app(name))?;
    }
    let revision = world.repo.commit(&format!("add {n} apps"))?;
    let mut remotes = Vec::new();
    for name in REMOTES {
        let dir = world.tmp.path().join(name);
        let cluster = world.stage.serve_extra(&dir, SocketAddr::from(([127, 0, 0, 1], 0)))?;
        register(&world, name, &cluster)?;
        remotes.push((name, dir, cluster));
    }
    let cluster_of = |i: usize| match i % 3 {
        0 => None,
        k => Some(REMOTES[k - 1]),
    };
    let spec = |i: usize| {
        let mut spec = app_spec(&world.repo_url(), &format!("apps/{}", names[i]), NAMESPACE);
        if let Some(c) = cluster_of(i) {
            spec["destination"] = json!({"name": c, "namespace": NAMESPACE});
        }
        spec
    };
    // The first app on each remote cluster opens its connection: the memory that costs.
    let before = Memory::now();
    world.create_apps(vec![(names[1].clone(), spec(1)), (names[2].clone(), spec(2))])?;
    let firsts = [names[1].clone(), names[2].clone()];
    world.wait_apps("the first app on each remote cluster", Duration::from_secs(60), |apps| {
        firsts.iter().all(|f| {
            apps.iter()
                .any(|a| a.metadata.name.as_ref() == Some(f) && synced_healthy_at(a, &revision))
        })
    })?;
    let per_cluster = (Memory::now().rss_mib - before.rss_mib) / 2.0;

    let window = Window::open(&world.stage);
    let started = Instant::now();
    let rest: Vec<(String, Value)> =
        (0..n).filter(|i| !(1..=2).contains(i)).map(|i| (names[i].clone(), spec(i))).collect();
    world.create_apps(rest)?;
    world.wait_apps(
        &format!("{n} apps Synced+Healthy"),
        Duration::from_secs(60 + 2 * n as u64),
        |apps| apps.len() >= n && apps.iter().all(|a| synced_healthy_at(a, &revision)),
    )?;
    let fan_out = started.elapsed().as_secs_f64();
    let costs = window.close(&world.stage);

    let (outage, stayed) = outage(&world, &mut remotes, &revision, n)?;
    report.set("apps", json!(n));
    report.set("clusters", json!(3));
    report.set("fan_out_s", json!(super::round3(fan_out)));
    report.set("apps_per_s", json!(round(n as f64 / fan_out)));
    report.set("rss_per_connected_cluster_mib", json!(round(per_cluster)));
    report.set("killed_cluster", outage);
    report.set("other_apps_synced_during_outage", json!(stayed));
    report.set("connected_clusters", json!(world.engine.connected_clusters()));
    report.set("engine", costs.engine_json());
    report.set("cluster", costs.cluster_json(&world.stage));
    report.note("apps i % 3 == 0 go to the cluster the engine runs in, the others to `east` and `west`, two more embedded clusters in this process (own CA, bearer-token authentication), registered by Argo CD cluster Secrets");
    report.note("rss_per_connected_cluster_mib is the RSS growth while the first app on each remote cluster synced, halved: the engine's connection (client, discovery, watch cache) plus that cluster's own watch and objects, since both run in this process");
    report.note("killed_cluster: `east` stops serving (connections drop); unknown_s is until all its apps are Sync Unknown and Health Unknown, recovered_s from serving again (same address and state) until all are Synced+Healthy");
    report.note(COST_NOTE);
    for (_, _, cluster) in remotes {
        world.stage.stop_extra(cluster)?;
    }
    Ok(())
}

/// Writes the cluster Secret for `cluster` into Ferry's namespace.
fn register(world: &World, name: &str, cluster: &RunningCluster) -> Result<(), BenchError> {
    world.stage.create_namespace(APPS_NAMESPACE)?;
    let ca = base64::engine::general_purpose::STANDARD.encode(cluster.ca_pem());
    let config = json!({"bearerToken": cluster.token(), "tlsClientConfig": {"caData": ca}});
    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": format!("cluster-{name}"), "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
        "stringData": {"name": name, "server": cluster.url(), "config": config.to_string()},
    }))
    .map_err(|source| BenchError::Json { what: "a cluster Secret".into(), source })?;
    let api: Api<Secret> = Api::namespaced(world.stage.client.clone(), APPS_NAMESPACE);
    world.stage.count_harness(1, 1);
    world.stage.block_on(api.create(&PostParams::default(), &secret)).map(|_| ()).map_err(
        |source| BenchError::Kube { what: format!("create the {name} cluster Secret"), source },
    )
}

/// Kills `east`, waits until its apps are Unknown, serves it again and waits until they are
/// Synced. Returns the times and whether every other app stayed Synced meanwhile.
fn outage(
    world: &World,
    remotes: &mut Vec<(&str, std::path::PathBuf, RunningCluster)>,
    revision: &str,
    n: usize,
) -> Result<(Value, bool), BenchError> {
    let (name, dir, cluster) = remotes.remove(0);
    let addr = cluster.addr();
    let on_east = |a: &ferry_engine::Application| a.spec.destination.name.as_deref() == Some(name);
    let east_apps = (0..n).filter(|i| i % 3 == 1).count();
    world.stage.stop_extra(cluster)?;
    let killed = Instant::now();
    let others_stayed = std::cell::Cell::new(true);
    world.wait_apps("the killed cluster's apps Unknown", Duration::from_secs(120), |apps| {
        let others = apps.iter().filter(|a| !on_east(a)).all(|a| synced_healthy_at(a, revision));
        others_stayed.set(others_stayed.get() && others);
        apps.iter().filter(|a| on_east(a)).all(|a| {
            a.status.as_ref().is_some_and(|s| {
                s.sync.status == SyncStatusCode::Unknown
                    && s.health.status == ferry_health::HealthStatus::Unknown
            })
        })
    })?;
    let unknown = killed.elapsed().as_secs_f64();
    let cluster = world.stage.serve_extra(&dir, addr)?;
    let back = Instant::now();
    world.wait_apps(
        "the killed cluster's apps Synced again",
        Duration::from_secs(120),
        |apps| apps.iter().filter(|a| on_east(a)).all(|a| synced_healthy_at(a, revision)),
    )?;
    let recovered = back.elapsed().as_secs_f64();
    remotes.insert(0, (name, dir, cluster));
    Ok((
        json!({"apps": east_apps, "unknown_s": super::round3(unknown), "recovered_s": super::round3(recovered)}),
        others_stayed.get(),
    ))
}
