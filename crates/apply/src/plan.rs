//! A sync plan as data: phases (PreSync → Sync → PostSync, SyncFail on failure), waves within a
//! phase, kind order then namespace and name within a wave. Pure: the same inputs give the same
//! plan, and it is unit-tested without a cluster.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::annotations::{
    AnnotationError, ApplyMode, DeletePolicy, HookPhase, ObjectOptions, Role,
};
use crate::object::{ObjKey, ObjectError};
use crate::order::kind_rank;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Phase {
    PreSync,
    Sync,
    PostSync,
    /// Runs only when an earlier phase failed.
    SyncFail,
}

impl From<HookPhase> for Phase {
    fn from(p: HookPhase) -> Self {
        match p {
            HookPhase::PreSync => Phase::PreSync,
            HookPhase::Sync => Phase::Sync,
            HookPhase::PostSync => Phase::PostSync,
            HookPhase::SyncFail => Phase::SyncFail,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum TaskKind {
    /// Server-side apply of a tracked resource.
    Apply { mode: ApplyMode, force: bool },
    /// Create a hook afresh and wait for it to finish.
    Hook { delete: Vec<DeletePolicy> },
    /// Delete an object Git no longer declares, guarded by its UID.
    Prune { uid: String },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub key: ObjKey,
    /// The manifest to apply (for prune: the apiVersion/kind/metadata of the live object).
    pub object: Value,
    pub kind: TaskKind,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Wave {
    pub phase: Phase,
    pub wave: i64,
    pub tasks: Vec<Task>,
}

/// An object rendered but deliberately not applied, with the reason.
#[derive(Clone, Debug, PartialEq)]
pub struct Skipped {
    pub key: ObjKey,
    pub reason: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Waves in execution order, SyncFail waves last (they run only after a failure).
    pub waves: Vec<Wave>,
    pub skipped: Vec<Skipped>,
}

/// Options of the whole sync (the Application's sync options).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlanOptions {
    /// Prune objects Git no longer declares (the candidates are chosen by [`crate::prune::select`]).
    pub prune: bool,
    /// Prune after PostSync instead of at the end of the Sync phase.
    pub prune_last: bool,
    /// Take over conflicting fields from other managers for every object.
    pub force: bool,
    /// Apply hooks too (false for a plain apply of resources, e.g. a dry run of drift).
    pub hooks: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{origin}: {source}")]
    Object {
        origin: String,
        #[source]
        source: ObjectError,
    },
    #[error("{key}: {source}")]
    Annotation {
        key: Box<ObjKey>,
        #[source]
        source: AnnotationError,
    },
}

/// One desired object with where it came from (for errors).
#[derive(Clone, Debug)]
pub struct Desired {
    /// Shared with the engine's copy of the app's tracked resources (one allocation per object).
    pub object: std::sync::Arc<Value>,
    pub origin: String,
}

/// A prune candidate chosen by [`crate::prune::select`].
#[derive(Clone, Debug, PartialEq)]
pub struct PruneTask {
    pub key: ObjKey,
    pub object: Value,
    pub uid: String,
    pub wave: i64,
}

/// Builds the plan for `desired` (already namespaced and marked) and the chosen prune candidates.
pub fn plan(
    desired: &[Desired],
    prunes: Vec<PruneTask>,
    opts: &PlanOptions,
) -> Result<Plan, PlanError> {
    let mut waves: BTreeMap<(Phase, i64), Vec<Task>> = BTreeMap::new();
    let mut skipped = Vec::new();
    for d in desired {
        let key = ObjKey::of(&d.object)
            .map_err(|source| PlanError::Object { origin: d.origin.clone(), source })?;
        let options = ObjectOptions::of(&d.object)
            .map_err(|source| PlanError::Annotation { key: Box::new(key.clone()), source })?;
        match options.role {
            Role::Resource => {
                if options.mode == ApplyMode::Ignore {
                    skipped.push(Skipped {
                        key,
                        reason: "annotated kustomize.toolkit.fluxcd.io/ssa: Ignore".into(),
                    });
                    continue;
                }
                let kind =
                    TaskKind::Apply { mode: options.mode, force: options.force || opts.force };
                waves.entry((Phase::Sync, options.wave)).or_default().push(Task {
                    key,
                    object: (*d.object).clone(),
                    kind,
                });
            }
            Role::Hook { phases, delete } => {
                if !opts.hooks {
                    skipped.push(Skipped { key, reason: "hooks run only in a full sync".into() });
                    continue;
                }
                for phase in phases {
                    let task = Task {
                        key: key.clone(),
                        object: (*d.object).clone(),
                        kind: TaskKind::Hook { delete: delete.clone() },
                    };
                    waves.entry((phase.into(), options.wave)).or_default().push(task);
                }
            }
            Role::Skip { reason } => skipped.push(Skipped { key, reason }),
        }
    }
    hoist_namespaces(&mut waves);
    let mut out: Vec<Wave> = waves
        .into_iter()
        .map(|((phase, wave), mut tasks)| {
            tasks.sort_by(|a, b| order_key(a).cmp(&order_key(b)));
            Wave { phase, wave, tasks }
        })
        .collect();
    if opts.prune && !prunes.is_empty() {
        let mut tasks: Vec<Task> = prunes
            .into_iter()
            .map(|p| Task { key: p.key, object: p.object, kind: TaskKind::Prune { uid: p.uid } })
            .collect();
        // Delete in reverse apply order: workloads before the config and namespaces they use.
        tasks.sort_by(|a, b| order_key(b).cmp(&order_key(a)));
        let phase = Phase::Sync;
        let prune_wave = Wave { phase, wave: i64::MAX, tasks };
        let at = if opts.prune_last {
            out.iter().position(|w| w.phase == Phase::SyncFail).unwrap_or(out.len())
        } else {
            out.iter().position(|w| w.phase > Phase::Sync).unwrap_or(out.len())
        };
        out.insert(at, prune_wave);
    }
    Ok(Plan { waves: out, skipped })
}

/// Namespaces the app declares (or CreateNamespace=true adds) are applied before the PreSync
/// hooks, which usually run in them; otherwise a PreSync Job fails with "namespace not found" on a
/// first sync (Argo CD creates the namespace before PreSync too). They keep their wave unless the
/// first PreSync wave is lower.
fn hoist_namespaces(waves: &mut BTreeMap<(Phase, i64), Vec<Task>>) {
    let Some(first_pre) = waves.keys().find(|(p, _)| *p == Phase::PreSync).map(|(_, w)| *w) else {
        return;
    };
    let is_namespace = |t: &Task| {
        t.key.group.is_empty()
            && t.key.kind == "Namespace"
            && matches!(t.kind, TaskKind::Apply { .. })
    };
    let sync_waves: Vec<i64> =
        waves.keys().filter(|(p, _)| *p == Phase::Sync).map(|(_, w)| *w).collect();
    for wave in sync_waves {
        let Some(tasks) = waves.get_mut(&(Phase::Sync, wave)) else { continue };
        let (namespaces, rest): (Vec<Task>, Vec<Task>) = tasks.drain(..).partition(is_namespace);
        *tasks = rest;
        if tasks.is_empty() {
            waves.remove(&(Phase::Sync, wave));
        }
        if !namespaces.is_empty() {
            waves.entry((Phase::PreSync, wave.min(first_pre))).or_default().extend(namespaces);
        }
    }
}

fn order_key(t: &Task) -> (usize, &str, &str, &str) {
    (
        kind_rank(&t.key.group, &t.key.kind),
        t.key.namespace.as_str(),
        t.key.name.as_str(),
        t.key.group.as_str(),
    )
}

impl Plan {
    /// The waves that run on success, in order.
    pub fn main_waves(&self) -> impl Iterator<Item = (usize, &Wave)> {
        self.waves.iter().enumerate().filter(|(_, w)| w.phase != Phase::SyncFail)
    }

    /// The waves that run after a failure.
    pub fn fail_waves(&self) -> impl Iterator<Item = (usize, &Wave)> {
        self.waves.iter().enumerate().filter(|(_, w)| w.phase == Phase::SyncFail)
    }

    pub fn task_count(&self) -> usize {
        self.waves.iter().map(|w| w.tasks.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(kind: &str, name: &str, annotations: Value) -> Desired {
        let api = match kind {
            "Deployment" => "apps/v1",
            "Job" => "batch/v1",
            _ => "v1",
        };
        Desired {
            object: json!({"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": "app", "annotations": annotations}}).into(),
            origin: format!("{name}.yaml"),
        }
    }

    fn names(plan: &Plan) -> Vec<String> {
        plan.waves
            .iter()
            .map(|w| {
                let tasks: Vec<_> = w.tasks.iter().map(|t| t.key.name.clone()).collect();
                format!(
                    "{:?}/{}:{}",
                    w.phase,
                    if w.wave == i64::MAX { "prune".into() } else { w.wave.to_string() },
                    tasks.join(",")
                )
            })
            .collect()
    }

    #[test]
    fn phases_then_waves_then_kinds_order_the_sync() {
        let desired = vec![
            obj("Deployment", "web", json!({})),
            obj("ConfigMap", "config", json!({})),
            obj("Service", "late", json!({"argocd.argoproj.io/sync-wave": "2"})),
            obj("Job", "migrate", json!({"argocd.argoproj.io/hook": "PreSync"})),
            obj("Job", "smoke", json!({"argocd.argoproj.io/hook": "PostSync"})),
            obj("Job", "cleanup", json!({"argocd.argoproj.io/hook": "SyncFail"})),
            obj("Namespace", "early", json!({"argocd.argoproj.io/sync-wave": "-1"})),
        ];
        let plan =
            plan(&desired, vec![], &PlanOptions { hooks: true, ..Default::default() }).unwrap();
        assert_eq!(
            names(&plan),
            [
                "PreSync/-1:early",
                "PreSync/0:migrate",
                "Sync/0:config,web",
                "Sync/2:late",
                "PostSync/0:smoke",
                "SyncFail/0:cleanup"
            ]
        );
    }

    #[test]
    fn namespaces_are_created_before_the_presync_hooks_that_run_in_them() {
        let desired = vec![
            obj(
                "Job",
                "migrate",
                json!({"argocd.argoproj.io/hook": "PreSync", "argocd.argoproj.io/sync-wave": "-3"}),
            ),
            obj("Namespace", "app", json!({})),
            obj("ConfigMap", "config", json!({})),
        ];
        let p = plan(&desired, vec![], &PlanOptions { hooks: true, ..Default::default() }).unwrap();
        assert_eq!(names(&p), ["PreSync/-3:app,migrate", "Sync/0:config"]);
        let without_hooks =
            vec![obj("Namespace", "app", json!({})), obj("ConfigMap", "c", json!({}))];
        let p = plan(&without_hooks, vec![], &PlanOptions { hooks: true, ..Default::default() })
            .unwrap();
        assert_eq!(names(&p), ["Sync/0:app,c"]);
    }

    #[test]
    fn pruning_happens_after_the_sync_phase_or_last_when_asked() {
        let desired = vec![
            obj("ConfigMap", "keep", json!({})),
            obj("Job", "smoke", json!({"argocd.argoproj.io/hook": "PostSync"})),
        ];
        let prune = || {
            vec![PruneTask {
                key: ObjKey {
                    group: String::new(),
                    kind: "ConfigMap".into(),
                    namespace: "app".into(),
                    name: "gone".into(),
                },
                object: json!({}),
                uid: "u1".into(),
                wave: 0,
            }]
        };
        let p = plan(
            &desired,
            prune(),
            &PlanOptions { prune: true, hooks: true, ..Default::default() },
        )
        .unwrap();
        assert_eq!(names(&p), ["Sync/0:keep", "Sync/prune:gone", "PostSync/0:smoke"]);
        let p = plan(
            &desired,
            prune(),
            &PlanOptions { prune: true, prune_last: true, hooks: true, ..Default::default() },
        )
        .unwrap();
        assert_eq!(names(&p), ["Sync/0:keep", "PostSync/0:smoke", "Sync/prune:gone"]);
        let p = plan(
            &desired,
            prune(),
            &PlanOptions { prune: false, hooks: true, ..Default::default() },
        )
        .unwrap();
        assert_eq!(names(&p), ["Sync/0:keep", "PostSync/0:smoke"]);
    }

    #[test]
    fn skipped_objects_are_reported_with_a_reason() {
        let desired = vec![obj("Pod", "test-connection", json!({"helm.sh/hook": "test"}))];
        let p = plan(&desired, vec![], &PlanOptions { hooks: true, ..Default::default() }).unwrap();
        assert!(p.waves.is_empty());
        assert_eq!(p.skipped.len(), 1);
        assert!(p.skipped[0].reason.contains("test"), "{}", p.skipped[0].reason);
    }

    #[test]
    fn a_manifest_without_a_name_fails_the_plan_naming_its_file() {
        let bad = Desired {
            object: json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{}}).into(),
            origin: "cm.yaml#0".into(),
        };
        let err = plan(&[bad], vec![], &PlanOptions::default()).unwrap_err();
        assert!(err.to_string().starts_with("cm.yaml#0"), "{err}");
    }
}
