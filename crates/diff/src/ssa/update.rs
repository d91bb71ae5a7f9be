//! Ownership after create, PUT and non-apply patches.

use serde_json::Value;

use super::apply::check_object;
use super::compare::compare;
use super::managers::{ManagerEntry, Operation, managed_fields};
use super::scope::scope_set;
use super::{ApplyError, Params, object_name, set_managed_fields, without_managed_fields};
use crate::schema::Schema;

/// Records `manager`'s update of `old` (`None`: a create) to `new` on the main resource (see
/// [`update_with`]).
pub fn update(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    operation: Operation,
    now: &str,
    schema: &Schema,
) -> Result<Value, ApplyError> {
    update_with(old, new, &Params::new(manager, now), operation, schema)
}

/// `new` with `metadata.managedFields` updated: the fields the write added or changed move to
/// the writer's entry (they leave other managers: updates always force); removed fields
/// leave every entry.
///
/// When `new` carries managedFields different from `old`'s, the client is resetting
/// ownership and those entries are the starting point (`[{}]` clears them all).
pub fn update_with(
    old: Option<&Value>,
    new: &Value,
    p: &Params<'_>,
    operation: Operation,
    schema: &Schema,
) -> Result<Value, ApplyError> {
    let api_version = check_object(new, "object")?;
    let ty = schema.type_of(new);
    let node = &ty.root;
    let sub = p.subresource.unwrap_or("");
    let managers_of = |o: &Value| {
        managed_fields(o)
            .map_err(|source| ApplyError::ManagedFields { name: object_name(o), source })
    };
    let old_entries = match old {
        Some(o) => managers_of(o)?,
        None => Vec::new(),
    };
    let sent = new.pointer("/metadata/managedFields");
    let kept = old.and_then(|o| o.pointer("/metadata/managedFields"));
    let mut managers = match sent {
        // A client sending managedFields other than the stored ones resets ownership.
        Some(Value::Array(list)) if !list.is_empty() && sent != kept => {
            if list.iter().all(|e| e.as_object().is_some_and(|m| m.is_empty())) {
                Vec::new()
            } else {
                managers_of(new)?
            }
        }
        _ => old_entries,
    };

    let old_obj = match old {
        Some(o) => without_managed_fields(o),
        None => Value::Object(Default::default()),
    };
    // Stored objects are defaulted; an updater owns the defaults its write brought in, as
    // kubectl-client-side-apply owns imagePullPolicy on a real server.
    let mut new_obj = without_managed_fields(new);
    schema.default_object(&mut new_obj);
    let name = object_name(new);
    let cmp = compare(&old_obj, &new_obj, node).map_err(|source| ApplyError::Fields {
        what: "object",
        name,
        source,
    })?;
    let changed = scope_set(&cmp.changed(), ty, sub);
    let removed = scope_set(&cmp.removed, ty, sub);

    let me_template = ManagerEntry {
        manager: p.manager.to_string(),
        operation,
        api_version,
        time: Some(p.now.to_string()),
        subresource: sub.to_string(),
        fields: Default::default(),
    };
    for m in managers.iter_mut().filter(|m| !m.same_manager(&me_template)) {
        m.fields = m.fields.difference(&changed).difference(&removed);
    }
    let mine = managers.iter().position(|m| m.same_manager(&me_template));
    let previous = mine.map(|i| managers[i].clone());
    let set = match &previous {
        Some(prev) => prev.fields.difference(&removed).union(&changed),
        None => changed,
    };
    let entry = ManagerEntry {
        fields: set.clone(),
        // The time moves only when the manager's fields did.
        time: match &previous {
            Some(prev) if prev.fields == set => prev.time.clone(),
            _ => me_template.time.clone(),
        },
        ..me_template
    };
    match mine {
        Some(i) => managers[i] = entry,
        None => managers.push(entry),
    }
    managers.retain(|m| !m.fields.is_empty());
    cap_update_managers(&mut managers);
    set_managed_fields(&mut new_obj, &managers);
    Ok(new_obj)
}

/// kube-apiserver keeps at most this many Update entries.
pub const MAX_UPDATE_MANAGERS: usize = 10;

/// Where the oldest Update entries are merged, one per apiVersion.
pub const ANCIENT_CHANGES: &str = "ancient-changes";

/// Merges the oldest Update entries into `ancient-changes` until at most
/// [`MAX_UPDATE_MANAGERS`] remain, as kube-apiserver does, so managedFields stays bounded.
fn cap_update_managers(managers: &mut Vec<ManagerEntry>) {
    let is_bucket =
        |m: &ManagerEntry| m.manager == ANCIENT_CHANGES && m.operation == Operation::Update;
    while managers.iter().filter(|m| m.operation == Operation::Update).count() > MAX_UPDATE_MANAGERS
    {
        let oldest = managers
            .iter()
            .enumerate()
            .filter(|(_, m)| m.operation == Operation::Update && !is_bucket(m))
            .min_by(|(_, a), (_, b)| a.time.cmp(&b.time))
            .map(|(i, _)| i);
        let Some(i) = oldest else { return };
        let old = managers.remove(i);
        match managers.iter_mut().find(|m| is_bucket(m) && m.api_version == old.api_version) {
            Some(b) => {
                b.fields.extend(&old.fields);
                if old.time > b.time {
                    b.time = old.time;
                }
            }
            None => managers.push(ManagerEntry {
                manager: ANCIENT_CHANGES.to_string(),
                subresource: String::new(),
                ..old
            }),
        }
    }
}
