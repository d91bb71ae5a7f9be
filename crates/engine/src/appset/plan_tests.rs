use super::*;
use serde_json::json;

fn app(name: &str, path: &str) -> Application {
    serde_json::from_value(json!({
        "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": "ferry", "labels": {"ferry.dev/application-set": "s"}},
        "spec": {"source": {"repoURL": "git://x/r.git", "path": path}, "destination": {"namespace": name}}
    }))
    .expect("an app")
}

fn names(apps: &[Application]) -> Vec<String> {
    apps.iter().filter_map(|a| a.metadata.name.clone()).collect()
}

const SYNC: Policy = Policy { update: true, delete: true };
const GUARD: Guard<'static> = Guard { max_deletions: 1, approved: None };

#[test]
fn new_apps_are_created_changed_ones_updated_and_equal_ones_left_alone() {
    let generated = [app("a", "apps/a"), app("b", "apps/b2"), app("c", "apps/c")];
    let mut b = app("b", "apps/b");
    b.metadata.annotations =
        Some([("ferry.dev/sync-requested-at".to_string(), "t".to_string())].into());
    let existing = [app("a", "apps/a"), b];
    let plan = plan(&generated, &existing, SYNC, GUARD);
    assert_eq!(names(&plan.create), ["c"]);
    assert_eq!(names(&plan.update), ["b"]);
    assert_eq!(plan.update[0].spec.source.path, "apps/b2");
    assert!(
        plan.update[0]
            .metadata
            .annotations
            .clone()
            .unwrap_or_default()
            .contains_key("ferry.dev/sync-requested-at"),
        "keys the template does not set stay"
    );
    assert_eq!(plan.unchanged, 1);
    assert!(plan.delete.is_empty());
}

#[test]
fn applications_sync_policies_allow_what_argo_cd_allows() {
    let generated = [app("a", "apps/a2")];
    let existing = [app("a", "apps/a"), app("gone", "apps/gone")];
    let table =
        [("create-only", 0, 0), ("create-update", 1, 0), ("create-delete", 0, 1), ("sync", 1, 1)];
    for (raw, updates, deletes) in table {
        let policy = Policy::parse(Some(raw)).expect("a policy");
        let plan = plan(&generated, &existing, policy, GUARD);
        assert_eq!((plan.update.len(), plan.delete.len()), (updates, deletes), "{raw}");
    }
    assert_eq!(Policy::parse(Some("everything")), Err(PlanError::Policy("everything".into())));
}

#[test]
fn more_deletions_than_allowed_wait_for_an_approval_of_exactly_that_list() {
    let existing = [app("a", "a"), app("b", "b"), app("c", "c")];
    let generated = [app("a", "a")];
    let held = plan(&generated, &existing, SYNC, GUARD);
    assert!(held.delete.is_empty());
    let pending = held.held.expect("held for approval");
    assert_eq!(pending.applications, ["b", "c"]);
    let approved = Guard { max_deletions: 1, approved: Some(&pending.hash) };
    assert_eq!(plan(&generated, &existing, SYNC, approved).delete, ["b", "c"]);
    let other = plan(&[app("b", "b")], &existing, SYNC, approved);
    assert!(
        other.delete.is_empty() && other.held.is_some(),
        "a different deletion needs a new approval"
    );
    let raised = Guard { max_deletions: 5, approved: None };
    assert_eq!(plan(&generated, &existing, SYNC, raised).delete, ["b", "c"]);
    assert_eq!(
        plan(&[app("a", "a"), app("b", "b")], &existing, SYNC, GUARD).delete,
        ["c"],
        "one deletion needs none"
    );
}

#[test]
fn the_deletion_hash_does_not_depend_on_order() {
    let a = deletion_hash(&["x".into(), "y".into()]);
    assert_eq!(a, deletion_hash(&["y".into(), "x".into()]));
    assert_ne!(a, deletion_hash(&["x".into()]));
    assert_eq!(a.len(), 16);
}
