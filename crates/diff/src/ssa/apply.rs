//! Server-side apply.

use serde_json::Value;

use super::compare::compare;
use super::managers::{ManagerEntry, Operation, managed_fields};
use super::merge::merge;
use super::scope::{scope_config, scope_set};
use super::{
    Applied, ApplyError, Conflict, Params, object_name, set_managed_fields, without_managed_fields,
};
use crate::fieldset::{FieldSet, fields_of};
use crate::path::Path;
use crate::schema::{Node, Schema};
use crate::walk;

/// The manager kube-apiserver invents for fields set before anyone applied.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// Applies `applied` as `manager` to the main resource (see [`apply_with`]).
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    now: &str,
    schema: &Schema,
) -> Result<Applied, ApplyError> {
    apply_with(live, applied, &Params { manager, subresource: None, now, force }, schema)
}

/// Server-side apply of `applied` onto `live` (`None`: the object is being created).
///
/// # Guarantees
/// The returned object is `live` merged with `applied`, minus fields this manager applied
/// before, no longer applies and nobody else owns; `metadata.managedFields` records the
/// manager's new set (operation `Apply`, the applied apiVersion, `now`).
pub fn apply_with(
    live: Option<&Value>,
    applied: &Value,
    p: &Params<'_>,
    schema: &Schema,
) -> Result<Applied, ApplyError> {
    let name = object_name(applied);
    let api_version = check_object(applied, "applied configuration")?;
    let ty = schema.type_of(applied);
    let node = &ty.root;
    let sub = p.subresource.unwrap_or("");
    let config = scope_config(without_managed_fields(applied), ty, sub);
    let fields_err = |what: &'static str| {
        let name = name.clone();
        move |source| ApplyError::Fields { what, name, source }
    };

    let new_set = scope_set(&fields_of(&config, node).map_err(fields_err("applied"))?, ty, sub);
    let (live_obj, original) = match live {
        Some(l) => {
            let entries = managed_fields(l)
                .map_err(|source| ApplyError::ManagedFields { name: object_name(l), source })?;
            let obj = without_managed_fields(l);
            let entries = if entries.is_empty() {
                // Fields set before the first apply belong to a stand-in manager, so an apply
                // does not silently take them over.
                let set = scope_set(&fields_of(&obj, node).map_err(fields_err("live"))?, ty, "");
                vec![ManagerEntry {
                    manager: BEFORE_FIRST_APPLY.to_string(),
                    operation: Operation::Update,
                    api_version: api_version.clone(),
                    time: None,
                    subresource: String::new(),
                    fields: set,
                }]
            } else {
                entries
            };
            (obj, entries)
        }
        None => (Value::Object(Default::default()), Vec::new()),
    };

    let mut merged = merge(&live_obj, &config, node).map_err(fields_err("merged"))?;
    let me = ManagerEntry {
        manager: p.manager.to_string(),
        operation: Operation::Apply,
        api_version: api_version.clone(),
        time: Some(p.now.to_string()),
        subresource: sub.to_string(),
        fields: new_set,
    };
    let mut managers = original.clone();
    let last_set = match managers.iter().position(|m| m.same_manager(&me)) {
        Some(i) => Some(std::mem::replace(&mut managers[i], me.clone()).fields),
        None => {
            managers.push(me.clone());
            None
        }
    };
    if let Some(last) = last_set {
        prune(&mut merged, node, &last, &managers);
    }
    // The server defaults the merged object before storing it, so a removed field that has a
    // default comes back with it, and a no-op apply compares equal.
    schema.default_object(&mut merged);

    let cmp = compare(&live_obj, &merged, node).map_err(fields_err("merged"))?;
    let changed_fields = scope_set(&cmp.changed(), ty, sub);
    let removed = scope_set(&cmp.removed, ty, sub);
    let mut conflicts = Vec::new();
    for m in managers.iter_mut().filter(|m| !m.same_manager(&me)) {
        let taken = m.fields.intersection(&changed_fields);
        for path in taken.paths() {
            conflicts.push(Conflict {
                manager: m.manager.clone(),
                manager_description: m.describe(),
                path: path.to_string(),
            });
        }
        if p.force {
            m.fields = m.fields.difference(&taken);
        }
        m.fields = m.fields.difference(&removed);
    }
    if !p.force && !conflicts.is_empty() {
        return Err(ApplyError::Conflict { conflicts });
    }
    managers.retain(|m| !m.fields.is_empty());

    let unchanged = cmp.is_empty() && same_ownership(&original, &managers);
    if let (true, Some(l)) = (unchanged, live) {
        return Ok(Applied { object: l.clone(), changed: false });
    }
    set_managed_fields(&mut merged, &managers);
    Ok(Applied { object: merged, changed: true })
}

/// The apiVersion of an object that has apiVersion and kind.
pub(super) fn check_object(obj: &Value, what: &'static str) -> Result<String, ApplyError> {
    let invalid = |problem: &str| ApplyError::Invalid { what, problem: problem.to_string() };
    if !obj.is_object() {
        return Err(invalid("must be a JSON object"));
    }
    let av = obj.get("apiVersion").and_then(Value::as_str).filter(|s| !s.is_empty());
    let Some(av) = av else { return Err(invalid("apiVersion is missing")) };
    if obj.get("kind").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(invalid("kind is missing"));
    }
    Ok(av.to_string())
}

/// Whether two manager lists own the same fields (times aside).
fn same_ownership(a: &[ManagerEntry], b: &[ManagerEntry]) -> bool {
    a.len() == b.len()
        && a.iter().all(|x| {
            b.iter().any(|y| {
                x.same_manager(y) && x.fields == y.fields && x.api_version == y.api_version
            })
        })
}

/// Removes fields the applier owned before and nobody owns now.
fn prune(merged: &mut Value, node: &Node, last: &FieldSet, managers: &[ManagerEntry]) {
    let mut owned = FieldSet::new();
    for m in managers {
        owned.extend(&m.fields);
    }
    let orphans = last.difference(&owned);
    for path in orphans.paths() {
        // A container someone still owns parts of stays; its orphaned parts go one by one.
        if owned.has_members_under(&path) {
            continue;
        }
        if walk::remove(merged, node, &path) {
            remove_empty_parents(merged, node, &path, &owned);
        }
    }
}

/// After a removal, drops parents left empty that nobody owns (an empty `labels: {}`), but
/// never top-level fields such as `spec`.
fn remove_empty_parents(obj: &mut Value, node: &Node, path: &Path, owned: &FieldSet) {
    let mut p = path.clone();
    while p.0.len() > 2 {
        p.0.pop();
        let empty = match walk::get(obj, node, &p) {
            Some(Value::Object(m)) => m.is_empty(),
            Some(Value::Array(a)) => a.is_empty(),
            _ => false,
        };
        if !empty || owned.touches(&p) {
            return;
        }
        walk::remove(obj, node, &p);
    }
}
