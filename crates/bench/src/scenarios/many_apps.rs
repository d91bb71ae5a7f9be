//! The setup several scenarios share: many apps from one repository, all Synced and Healthy.

use std::time::{Duration, Instant};

use crate::BenchError;
use crate::manifests::app_spec;
use crate::world::{World, synced_healthy_at};

/// Apps `app-0000`…, each in `apps/app-NNNN/objects.yaml` with the manifests `objects(name)`
/// gives, all deployed into `namespace`.
pub(crate) struct ManyApps {
    pub world: World,
    pub names: Vec<String>,
    /// Seconds from creating the Applications until all were Synced and Healthy.
    pub setup_s: f64,
}

pub(crate) fn app_name(i: usize) -> String {
    format!("app-{i:04}")
}

pub(crate) fn start(
    apps: usize,
    namespace: &str,
    objects: impl Fn(&str) -> String,
    timeout: Duration,
) -> Result<ManyApps, BenchError> {
    start_with(|config| config, apps, namespace, objects, timeout)
}

/// [`start`], with the cluster's configuration changed by `tweak`.
pub(crate) fn start_with(
    tweak: impl FnOnce(ferry_cluster::ClusterConfig) -> ferry_cluster::ClusterConfig,
    apps: usize,
    namespace: &str,
    objects: impl Fn(&str) -> String,
    timeout: Duration,
) -> Result<ManyApps, BenchError> {
    let names: Vec<String> = (0..apps).map(app_name).collect();
    let world = World::start_with(tweak, |repo| {
        for name in &names {
            repo.write(&format!("apps/{name}/objects.yaml"), &objects(name))?;
        }
        Ok(())
    })?;
    let revision = world.repo.git(&["rev-parse", "HEAD"])?;
    world.stage.create_namespace(namespace)?;
    let url = world.repo_url();
    let started = Instant::now();
    world.create_apps(
        names
            .iter()
            .map(|n| (n.clone(), app_spec(&url, &format!("apps/{n}"), namespace)))
            .collect(),
    )?;
    world.wait_apps(&format!("{apps} apps Synced+Healthy"), timeout, |all| {
        all.len() >= apps && all.iter().all(|a| synced_healthy_at(a, &revision))
    })?;
    let setup_s = started.elapsed().as_secs_f64();
    Ok(ManyApps { world, names, setup_s })
}
