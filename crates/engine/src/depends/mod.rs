//! `spec.dependsOn` (Flux's semantics): an app syncs only once each app it depends on is Synced
//! and Healthy at its current revision. The judgement here is pure: the reconcile's decide step
//! holds a sync while [`judge`] says the app waits, and [`index::Dependents`] tells the
//! controller which apps to reconcile when a dependency changes.
//!
//! # Guarantees
//! - A waiting app applies nothing and prunes nothing (the decision holds the whole sync).
//! - A missing dependency and a cycle through the app are named in the condition, never ignored.

pub(crate) mod index;

use std::collections::HashSet;

use ferry_apply::tracking::AppId;
use ferry_health::HealthStatus;
use kube::ResourceExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::application::{Application, OperationPhase, SyncStatusCode};

/// One entry of `spec.dependsOn`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DependencyRef {
    pub name: String,
    /// The dependency's namespace; the dependent's own when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl DependencyRef {
    /// The app this names, from an app in namespace `own`.
    pub fn id(&self, own: &str) -> AppId {
        AppId::new(self.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or(own), &self.name)
    }
}

/// The apps `app` depends on, in the order written, without repeats.
pub fn dependencies(app: &Application) -> Vec<AppId> {
    let own = app.namespace().unwrap_or_default();
    let mut seen = HashSet::new();
    app.spec.depends_on.iter().map(|d| d.id(&own)).filter(|id| seen.insert(id.clone())).collect()
}

/// Whether an app may sync, as far as its dependencies go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ready,
    /// Each dependency not ready yet, with what it is now (`OutOfSync/Progressing`).
    Waiting(Vec<(AppId, String)>),
    /// Dependencies that do not exist.
    Missing(Vec<AppId>),
    /// The app depends on itself through these apps (first and last are the app).
    Cycle(Vec<AppId>),
}

impl Verdict {
    /// The condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Verdict::Ready => "DependenciesReady",
            Verdict::Waiting(_) => "DependencyNotReady",
            Verdict::Missing(_) => "DependencyMissing",
            Verdict::Cycle(_) => "DependencyCycle",
        }
    }

    /// What holds the app, in plain words with what to do next; empty when ready.
    pub fn message(&self) -> String {
        match self {
            Verdict::Ready => String::new(),
            Verdict::Waiting(deps) => {
                let each: Vec<String> =
                    deps.iter().map(|(id, now)| format!("app {id} (it is {now})")).collect();
                format!(
                    "waiting for {} to be Synced and Healthy at its current revision; nothing is applied or pruned until then, and Ferry syncs as soon as it is",
                    each.join(", ")
                )
            }
            Verdict::Missing(ids) => format!(
                "waiting for {} named in spec.dependsOn, which does not exist; create it or remove it from spec.dependsOn",
                names(ids)
            ),
            Verdict::Cycle(path) => format!(
                "spec.dependsOn makes a cycle: {}; no app in it can ever sync first. Remove one of these dependencies",
                path.iter().map(ToString::to_string).collect::<Vec<_>>().join(" → ")
            ),
        }
    }
}

fn names(ids: &[AppId]) -> String {
    let each: Vec<String> = ids.iter().map(|id| format!("app {id}")).collect();
    each.join(", ")
}

/// Why `dep` is not ready as a dependency (`None`: it is Synced and Healthy at the revision
/// its status reports, for its current spec, with no sync running).
pub fn not_ready(dep: &Application) -> Option<String> {
    if dep.metadata.deletion_timestamp.is_some() {
        return Some("being deleted".into());
    }
    let Some(status) = dep.status.as_ref() else { return Some("not reconciled yet".into()) };
    let state = format!("{}/{}", status.sync.status, status.health.status);
    let current = match (dep.metadata.generation, status.observed_generation) {
        (Some(generation), Some(observed)) => observed >= generation,
        _ => true,
    };
    if !current {
        return Some(format!("{state}, for an older spec"));
    }
    let running =
        status.operation_state.as_ref().is_some_and(|o| o.phase == OperationPhase::Running);
    if running {
        return Some(format!("{state}, syncing"));
    }
    let ready = status.sync.status == SyncStatusCode::Synced
        && status.health.status == HealthStatus::Healthy;
    (!ready).then_some(state)
}

/// The verdict for the app `id` whose dependencies are `deps`; `lookup` finds an app.
pub fn judge<'a>(
    id: &AppId,
    deps: &[AppId],
    lookup: impl Fn(&AppId) -> Option<&'a Application>,
) -> Verdict {
    if deps.is_empty() {
        return Verdict::Ready;
    }
    if let Some(path) = cycle(id, deps, |a| lookup(a).map(dependencies)) {
        return Verdict::Cycle(path);
    }
    let missing: Vec<AppId> = deps.iter().filter(|d| lookup(d).is_none()).cloned().collect();
    if !missing.is_empty() {
        return Verdict::Missing(missing);
    }
    let waiting: Vec<(AppId, String)> = deps
        .iter()
        .filter_map(|d| lookup(d).and_then(not_ready).map(|why| (d.clone(), why)))
        .collect();
    if waiting.is_empty() { Verdict::Ready } else { Verdict::Waiting(waiting) }
}

/// A path `id → … → id` through the dependency graph, if there is one. Depth-first over the
/// apps reachable from `deps`, each visited once, so a large graph is walked in linear time.
pub fn cycle(
    id: &AppId,
    deps: &[AppId],
    deps_of: impl Fn(&AppId) -> Option<Vec<AppId>>,
) -> Option<Vec<AppId>> {
    let mut visited = HashSet::new();
    let mut first = deps.to_vec();
    first.reverse();
    let mut stack: Vec<(AppId, Vec<AppId>)> = vec![(id.clone(), first)];
    while let Some((_, pending)) = stack.last_mut() {
        let Some(next) = pending.pop() else {
            stack.pop();
            continue;
        };
        if &next == id {
            let mut path: Vec<AppId> = stack.iter().map(|(a, _)| a.clone()).collect();
            path.push(next);
            return Some(path);
        }
        if visited.insert(next.clone()) {
            let mut further = deps_of(&next).unwrap_or_default();
            further.reverse();
            stack.push((next, further));
        }
    }
    None
}

#[cfg(test)]
mod tests;
