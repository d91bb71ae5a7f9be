//! The comparison itself.

use serde_json::Value;

use super::declared::compare_declared;
use super::mask::mask_change;
use super::{ChangedBy, DiffError, DiffOptions, FieldChange, IgnoredChange, ObjectDiff};
use crate::fieldset::{FieldSet, fields_of};
use crate::path::Path;
use crate::ssa::{ManagerEntry, Operation, managed_fields, scope_set};
use crate::walk;

/// Compares what `desired` declares with `live` (as read from the server, managedFields
/// included). See the module docs for what counts.
pub fn diff_object(
    desired: &Value,
    live: &Value,
    opts: &DiffOptions,
) -> Result<ObjectDiff, DiffError> {
    let (api_version, kind, name) = identity(desired, "desired")?;
    let (_, live_kind, live_name) = identity(live, "live")?;
    let namespace =
        desired.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_string);
    let live_ns = live.pointer("/metadata/namespace").and_then(Value::as_str);
    if kind != live_kind
        || name != live_name
        || namespace.as_deref().is_some_and(|n| Some(n) != live_ns)
    {
        return Err(DiffError::Mismatch {
            desired: format!("{kind} {name}"),
            live: format!("{live_kind} {live_name}"),
        });
    }
    let full_name = match &namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.clone(),
    };
    let ty = opts.schema.object_type(&api_version, &kind);
    let node = &ty.root;
    let entries = managed_fields(live)
        .map_err(|source| DiffError::ManagedFields { name: full_name.clone(), source })?;

    // What the desired object declares, after the renames the server does on write.
    let mut declared = desired.clone();
    if let Some(m) = declared.as_object_mut() {
        m.remove("status");
    }
    if api_version == "v1" && kind == "Secret" {
        fold_string_data(&mut declared);
    }
    let mut live_norm = live.clone();
    let mut ignored = ignored_by_pointer(&declared, live, opts);
    for p in &opts.ignore_pointers {
        remove_pointer(&mut declared, p);
        remove_pointer(&mut live_norm, p);
    }
    let declared_set = fields_of(&declared, node).map_err(|source| DiffError::Fields {
        side: "desired",
        name: full_name.clone(),
        source,
    })?;
    let mut declared_set = scope_set(&declared_set, ty, "");
    declared_set.remove_subtree(&Path::fields(&["status"]));

    // Both sides defaulted, so a default the server filled in is not a difference.
    let mut want = declared.clone();
    opts.schema.default_object(&mut want);
    opts.schema.default_object(&mut live_norm);
    for p in &opts.ignore_pointers {
        remove_pointer(&mut want, p);
        remove_pointer(&mut live_norm, p);
    }

    let mut found = Vec::new();
    compare_declared(&declared_set, &want, Some(&live_norm), node, &mut Vec::new(), &mut found);
    let mut reported: Vec<Path> = Vec::with_capacity(found.len());
    let mut changes = Vec::with_capacity(found.len());
    for (path, dv, lv) in found {
        changes.push(change(&path, Some(dv), lv, &entries, opts));
        reported.push(path);
    }

    // Fields Ferry applied before and dropped: an apply removes them unless someone else owns them.
    let mut others = FieldSet::new();
    let mut last = FieldSet::new();
    for e in &entries {
        if e.manager == opts.manager && e.operation == Operation::Apply && e.subresource.is_empty()
        {
            last.extend(&e.fields);
        } else {
            others.extend(&e.fields);
        }
    }
    let orphans = last.difference(&declared_set).difference(&others);
    for path in orphans.paths() {
        if reported.iter().any(|r| path.starts_with(r))
            || others.has_members_under(&path)
            || declared_set.touches(&path)
        {
            continue;
        }
        if let Some(lv) = walk::get(&live_norm, node, &path) {
            reported.push(path.clone());
            changes.push(change(&path, None, Some(lv.clone()), &entries, opts));
        }
    }

    let secret = kind == "Secret" && api_version == "v1";
    let mask = |c: FieldChange| if secret { mask_change(c, &opts.mask_key) } else { c };
    let mut kept = Vec::with_capacity(changes.len());
    for c in changes {
        match ignored_by_manager(&c.path, &entries, opts) {
            Some(manager) => ignored.push(IgnoredChange {
                change: c,
                rule: format!("managedFieldsManagers {manager}"),
            }),
            None => kept.push(mask(c)),
        }
    }
    let ignored = ignored
        .into_iter()
        .map(|i| IgnoredChange { change: mask(i.change), rule: i.rule })
        .collect();
    Ok(ObjectDiff { api_version, kind, namespace, name, changes: kept, ignored })
}

/// The fields an ignored JSON pointer hides that differ: what the desired object declares
/// there against the live value (both defaulted as the server would).
fn ignored_by_pointer(declared: &Value, live: &Value, opts: &DiffOptions) -> Vec<IgnoredChange> {
    if opts.ignore_pointers.is_empty() {
        return Vec::new();
    }
    // Git's value of a pointer taken out before apply is compared with the live value as is.
    let mut want = declared.clone();
    let mut have = live.clone();
    opts.schema.default_object(&mut want);
    opts.schema.default_object(&mut have);
    opts.ignore_pointers
        .iter()
        .filter_map(|p| {
            let stripped = opts.stripped.iter().find(|(q, _)| q == p).map(|(_, v)| v);
            // Git's value, not a default the schema put where it was stripped.
            let desired = stripped.or(want.pointer(p))?;
            let live = have.pointer(p);
            (Some(desired) != live).then(|| IgnoredChange {
                change: FieldChange {
                    path: pointer_path(p),
                    desired: Some(desired.clone()),
                    live: live.cloned(),
                    changed_by: None,
                },
                rule: format!("jsonPointers {p}"),
            })
        })
        .collect()
}

/// `/spec/template/metadata/labels/app~1name` as `.spec.template.metadata.labels.app/name`.
fn pointer_path(pointer: &str) -> String {
    pointer
        .split('/')
        .skip(1)
        .map(|t| format!(".{}", t.replace("~1", "/").replace("~0", "~")))
        .collect()
}

fn identity(obj: &Value, side: &'static str) -> Result<(String, String, String), DiffError> {
    let text = |p: &str| obj.pointer(p).and_then(Value::as_str).filter(|s| !s.is_empty());
    let invalid = |problem: &str| DiffError::Invalid { side, problem: problem.to_string() };
    Ok((
        text("/apiVersion").ok_or_else(|| invalid("apiVersion is missing"))?.to_string(),
        text("/kind").ok_or_else(|| invalid("kind is missing"))?.to_string(),
        text("/metadata/name").ok_or_else(|| invalid("metadata.name is missing"))?.to_string(),
    ))
}

fn change(
    path: &Path,
    desired: Option<Value>,
    live: Option<Value>,
    entries: &[ManagerEntry],
    opts: &DiffOptions,
) -> FieldChange {
    FieldChange {
        path: path.to_string(),
        desired,
        live,
        changed_by: changed_by(path, entries, &opts.manager),
    }
}

/// The owner of a field, preferring the latest writer other than `me`.
fn changed_by(path: &Path, entries: &[ManagerEntry], me: &str) -> Option<ChangedBy> {
    let mut owners: Vec<&ManagerEntry> = entries
        .iter()
        .filter(|e| e.fields.covers(path) || e.fields.has_members_under(path))
        .collect();
    owners.sort_by(|a, b| {
        (a.manager != me).cmp(&(b.manager != me)).then_with(|| a.time.cmp(&b.time))
    });
    owners.last().map(|e| ChangedBy {
        manager: e.manager.clone(),
        operation: e.operation,
        time: e.time.clone(),
        subresource: e.subresource.clone(),
    })
}

/// The ignored manager that owns `path`, if one does.
fn ignored_by_manager<'e>(
    path: &str,
    entries: &'e [ManagerEntry],
    opts: &DiffOptions,
) -> Option<&'e str> {
    if opts.ignore_managers.is_empty() {
        return None;
    }
    entries
        .iter()
        .filter(|e| opts.ignore_managers.contains(&e.manager))
        .find(|e| {
            e.fields.paths().iter().any(|p| {
                let s = p.to_string();
                s == path
                    || path.starts_with(&format!("{s}."))
                    || path.starts_with(&format!("{s}["))
            })
        })
        .map(|e| e.manager.as_str())
}

fn fold_string_data(obj: &mut Value) {
    let Some(Value::Object(sd)) = obj.as_object_mut().and_then(|m| m.remove("stringData")) else {
        return;
    };
    use base64::Engine;
    let m = obj.as_object_mut().expect("only objects reach here: stringData came out of one");
    let data = m.entry("data").or_insert_with(|| Value::Object(Default::default()));
    if let Some(d) = data.as_object_mut() {
        for (k, v) in sd {
            let text = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            d.insert(k, Value::String(base64::engine::general_purpose::STANDARD.encode(text)));
        }
    }
}

/// Removes the value at an RFC 6901 pointer, if present.
fn remove_pointer(obj: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else { return };
    let last = last.replace("~1", "/").replace("~0", "~");
    match obj.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.remove(&last);
        }
        Some(Value::Array(a)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < a.len()
            {
                a.remove(i);
            }
        }
        _ => {}
    }
}
