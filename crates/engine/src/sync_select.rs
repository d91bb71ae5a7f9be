//! A selective sync (Argo CD's `syncOperation.resources`): which objects of the plan it keeps,
//! and which references name nothing the app has. Pure.

use ferry_apply::ObjKey;
use ferry_apply::annotations::ApplyMode;
use ferry_apply::plan::{Plan, PruneTask, Task, TaskKind};

use crate::application::SyncResourceRef;

/// Whether `key` is one of the objects `refs` selects (every object when `refs` is empty).
pub(crate) fn selected(refs: &[SyncResourceRef], key: &ObjKey) -> bool {
    refs.is_empty()
        || refs.iter().any(|r| r.matches(&key.group, &key.kind, &key.namespace, &key.name))
}

/// The references that match none of `known` (the objects the app declares or recorded).
pub(crate) fn unknown<'a, 'k>(
    refs: &'a [SyncResourceRef],
    known: impl Iterator<Item = &'k ObjKey> + Clone,
) -> Vec<&'a SyncResourceRef> {
    refs.iter()
        .filter(|r| !known.clone().any(|k| r.matches(&k.group, &k.kind, &k.namespace, &k.name)))
        .collect()
}

/// Keeps the prune candidates the selection names.
pub(crate) fn prunes(refs: &[SyncResourceRef], prunes: Vec<PruneTask>) -> Vec<PruneTask> {
    prunes.into_iter().filter(|p| selected(refs, &p.key)).collect()
}

/// Keeps only the selected objects' tasks (hooks never run in a selective sync: the plan was
/// built without them) and drops the waves left empty. A Namespace applied only when missing
/// (`CreateNamespace=true`) stays: the selected objects may need it.
pub(crate) fn limit(plan: &mut Plan, refs: &[SyncResourceRef]) {
    if refs.is_empty() {
        return;
    }
    let keep = |t: &Task| match &t.kind {
        TaskKind::Hook { .. } => false,
        TaskKind::Apply { mode: ApplyMode::IfNotPresent, .. }
            if t.key.group.is_empty() && t.key.kind == "Namespace" =>
        {
            true
        }
        _ => selected(refs, &t.key),
    };
    for wave in &mut plan.waves {
        wave.tasks.retain(keep);
    }
    plan.waves.retain(|w| !w.tasks.is_empty());
    plan.skipped.retain(|s| selected(refs, &s.key));
}

/// The error a reference to no object of the app gives: what it names and how to find names.
pub(crate) fn unknown_message(unknown: &[&SyncResourceRef], app: &str) -> String {
    let names: Vec<String> = unknown.iter().map(|r| format!("`{r}`")).collect();
    format!(
        "the selective sync names {} that the app neither declares nor recorded: {}; `ferry app resources {app}` lists its objects (GROUP:KIND:NAME, the group empty for core kinds)",
        if names.len() == 1 { "an object" } else { "objects" },
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ferry_apply::plan::{Desired, PlanOptions, plan};
    use serde_json::json;

    use super::*;

    fn key(group: &str, kind: &str, ns: &str, name: &str) -> ObjKey {
        ObjKey { group: group.into(), kind: kind.into(), namespace: ns.into(), name: name.into() }
    }

    fn r(text: &str) -> SyncResourceRef {
        SyncResourceRef::parse(text).expect("a valid reference")
    }

    fn desired(kind: &str, name: &str) -> Desired {
        let api_version = if kind == "Deployment" { "apps/v1" } else { "v1" };
        let object = json!({"apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": "web"}});
        Desired { object: Arc::new(object), origin: format!("{name}.yaml") }
    }

    #[test]
    fn no_selection_selects_everything_and_a_selection_only_what_it_names() {
        let cm = key("", "ConfigMap", "web", "settings");
        assert!(selected(&[], &cm));
        assert!(selected(&[r(":ConfigMap:settings")], &cm));
        assert!(selected(&[r(":ConfigMap:web/settings")], &cm));
        assert!(!selected(&[r(":ConfigMap:other/settings")], &cm));
        assert!(!selected(&[r("apps:Deployment:settings")], &cm));
    }

    #[test]
    fn a_reference_to_nothing_the_app_has_is_reported_by_name() {
        let known = [key("", "ConfigMap", "web", "settings")];
        let refs = [r(":ConfigMap:settings"), r(":ConfigMap:typo")];
        let missing = unknown(&refs, known.iter());
        assert_eq!(missing, vec![&refs[1]]);
        let message = unknown_message(&missing, "web");
        assert!(message.contains("`:ConfigMap:typo`"), "{message}");
        assert!(message.contains("ferry app resources web"), "{message}");
    }

    #[test]
    fn a_limited_plan_keeps_the_selected_objects_and_no_empty_wave() {
        let objects =
            [desired("ConfigMap", "a"), desired("ConfigMap", "b"), desired("Deployment", "web")];
        let options = PlanOptions { hooks: false, ..Default::default() };
        let mut p = plan(&objects, vec![], &options).expect("plan");
        limit(&mut p, &[r(":ConfigMap:a")]);
        let names: Vec<&str> =
            p.waves.iter().flat_map(|w| w.tasks.iter().map(|t| t.key.name.as_str())).collect();
        assert_eq!(names, vec!["a"]);
        assert!(p.waves.iter().all(|w| !w.tasks.is_empty()));
    }
}
