//! Desired vs live for one app, from the watch cache: which resources are in sync, which drifted
//! (field, values masked, who changed it), which are missing, which are extraneous. Pure given its
//! inputs; also what `ferry app diff` and the API show.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use ferry_apply::object::{ObjKey, split_api_version, str_at};
use ferry_apply::prune::InventoryEntry;
use ferry_apply::tracking::{AppId, is_owned_by, owner_of};
use ferry_diff::{DiffOptions, ObjectDiff, diff_object};
use serde_json::Value;

use crate::application::{IgnoreDifference, ResourceStatus, SyncStatusCode};

/// One tracked resource the app declares, ready to apply.
#[derive(Clone, Debug)]
pub struct Resource {
    pub key: ObjKey,
    /// The same allocation as the app's `Desired` entry (see [`crate::prepare::Prepared`]).
    pub object: Arc<Value>,
    pub origin: String,
    /// `IgnoreExtraneous`-style and other per-object options are read by apply from annotations.
    pub ignore_extraneous: bool,
    /// What `ignoreDifferences` took out of the manifest (JSON pointer → Git's value), so the
    /// diff can show those fields greyed. `None` for most objects: no allocation per object.
    pub stripped: Option<Arc<Vec<(String, Value)>>>,
}

#[derive(Clone, Debug, Default)]
pub struct Comparison {
    pub resources: Vec<ResourceStatus>,
    pub in_sync: HashSet<ObjKey>,
    /// Objects in sync whose only differences the app's ignore rules leave out (shown greyed).
    pub quiet: Vec<ObjectDiff>,
    /// Declared resources missing or different in the cluster.
    pub out_of_sync: Vec<ObjKey>,
    /// Live objects this app applied before and no longer declares.
    pub extraneous: Vec<InventoryEntry>,
    /// Field-level differences of drifted objects (Secret values masked).
    pub diffs: Vec<ObjectDiff>,
    /// Objects that could not be compared, with the reason.
    pub errors: Vec<(ObjKey, String)>,
    /// Declared objects another app holds (its mark is on them) and declares too, with that app:
    /// reported, never healed back (two apps healing one object would fight over it).
    pub shared: Vec<(ObjKey, AppId)>,
    /// Declared resources found in sync, by index, with the live resourceVersion found so.
    pub in_sync_versions: Vec<(usize, u64)>,
}

impl Comparison {
    pub fn status(&self) -> SyncStatusCode {
        if self.out_of_sync.is_empty()
            && self.extraneous.is_empty()
            && self.errors.is_empty()
            && self.shared.is_empty()
        {
            SyncStatusCode::Synced
        } else {
            SyncStatusCode::OutOfSync
        }
    }

    /// A sentence for people: "2 of 5 objects differ from Git: apps/Deployment demo/web, …".
    pub fn summary(&self, total: usize) -> String {
        self.sentence(total, |key| key.to_string())
    }

    /// [`Comparison::summary`] naming, for each drifted object, its first changed field with both
    /// values and who changed it: "1 of 3 objects differs from Git: apps/Deployment demo/web
    /// (.spec.replicas: 2 in Git, 5 live; changed by kubectl at …)". For events and logs.
    pub fn drift_summary(&self, total: usize) -> String {
        self.sentence(total, |key| {
            let first = self.resources.iter().find(|r| same(r, key)).and_then(|r| r.drift.first());
            match first {
                Some(line) => format!("{key} ({line})"),
                None => key.to_string(),
            }
        })
    }

    fn sentence(&self, total: usize, name: impl Fn(&ObjKey) -> String) -> String {
        if self.status() == SyncStatusCode::Synced {
            return match total {
                0 => "the app declares no objects".to_owned(),
                1 => "its 1 object matches Git".to_owned(),
                n => format!("all {n} objects match Git"),
            };
        }
        let mut parts = Vec::new();
        if !self.out_of_sync.is_empty() {
            let names: Vec<String> = self.out_of_sync.iter().take(3).map(&name).collect();
            let more = if self.out_of_sync.len() > 3 {
                format!(" and {} more", self.out_of_sync.len() - 3)
            } else {
                String::new()
            };
            let verb = if self.out_of_sync.len() == 1 { "differs" } else { "differ" };
            parts.push(format!(
                "{} of {total} objects {verb} from Git: {}{more}",
                self.out_of_sync.len(),
                names.join(", ")
            ));
        }
        if !self.extraneous.is_empty() {
            parts.push(format!(
                "{} no longer in Git and waiting to be pruned",
                count(self.extraneous.len(), "object is", "objects are")
            ));
        }
        if let Some((key, other)) = self.shared.first() {
            parts.push(format!(
                "{} held by another app that declares it too ({key} by {other})",
                count(self.shared.len(), "object is", "objects are")
            ));
        }
        if !self.errors.is_empty() {
            parts.push(format!(
                "{} could not be compared: {}",
                count(self.errors.len(), "object", "objects"),
                self.errors[0].1
            ));
        }
        parts.join("; ")
    }
}

impl Comparison {
    /// Moves drifted objects that another app holds and declares too into [`Comparison::shared`].
    /// `declares(key, other)` says whether `other` declares `key`.
    pub fn mark_shared(
        &mut self,
        app: &AppId,
        live: impl Fn(&ObjKey) -> Option<Arc<Value>>,
        declares: impl Fn(&ObjKey, &AppId) -> bool,
    ) {
        let mine = app.owner();
        let mut shared = Vec::new();
        self.out_of_sync.retain(|key| {
            let holder = live(key).and_then(|obj| {
                let owner = owner_of(&obj)?;
                let (ns, name) = owner.split_once('/')?;
                (owner != mine).then(|| AppId::new(ns, name))
            });
            match holder.filter(|other| declares(key, other)) {
                Some(other) => {
                    shared.push((key.clone(), other));
                    false
                }
                None => true,
            }
        });
        for (key, other) in &shared {
            self.diffs.retain(|d| !diff_of(d, key));
            if let Some(r) = self.resources.iter_mut().find(|r| same(r, key)) {
                r.drift = vec![format!(
                    "also declared by app {other}, which holds it; not healed back (SharedResource)"
                )];
            }
        }
        self.shared = shared;
    }
}

fn diff_of(d: &ObjectDiff, key: &ObjKey) -> bool {
    let group = split_api_version(&d.api_version).map(|(g, _)| g).unwrap_or_default();
    group == key.group
        && d.kind == key.kind
        && d.namespace.as_deref().unwrap_or_default() == key.namespace
        && d.name == key.name
}

fn same(r: &ResourceStatus, key: &ObjKey) -> bool {
    r.group == key.group && r.kind == key.kind && r.namespace == key.namespace && r.name == key.name
}

/// "1 object", "2 objects" (with the singular and plural given).
fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

/// The diff options for one object: the app's `ignoreDifferences` entries that match it.
pub fn diff_options(base: &DiffOptions, ignores: &[IgnoreDifference], key: &ObjKey) -> DiffOptions {
    let mut opts = base.clone();
    for ig in ignores.iter().filter(|ig| matches(ig, key)) {
        opts.ignore_pointers.extend(ig.json_pointers.iter().cloned());
        opts.ignore_managers.extend(ig.managed_fields_managers.iter().cloned());
    }
    opts
}

fn matches(ig: &IgnoreDifference, key: &ObjKey) -> bool {
    ig.group == key.group
        && ig.kind == key.kind
        && ig.name.as_deref().is_none_or(|n| n == key.name)
        && ig.namespace.as_deref().is_none_or(|n| n == key.namespace)
}

/// The diff options for one resource: [`diff_options`] plus Git's values of the fields
/// `ignoreDifferences` stripped, so the diff can show them greyed.
fn object_options(base: &DiffOptions, ignores: &[IgnoreDifference], r: &Resource) -> DiffOptions {
    let mut opts = diff_options(base, ignores, &r.key);
    if let Some(stripped) = &r.stripped {
        opts.stripped = stripped.as_ref().clone();
    }
    opts
}

/// Removes the fields `ignoreDifferences` names by JSON pointer from a manifest before it is
/// applied, so Ferry neither compares nor claims them (Argo's `RespectIgnoreDifferences`).
/// Returns what it removed (pointer and Git's value).
pub fn strip_ignored(
    obj: &mut Value,
    ignores: &[IgnoreDifference],
    key: &ObjKey,
) -> Vec<(String, Value)> {
    let mut removed = Vec::new();
    for ig in ignores.iter().filter(|ig| matches(ig, key)) {
        for pointer in &ig.json_pointers {
            if let Some(value) = remove_pointer(obj, pointer) {
                removed.push((pointer.clone(), value));
            }
        }
    }
    removed
}

fn remove_pointer(obj: &mut Value, pointer: &str) -> Option<Value> {
    let (parent, last) = pointer.rsplit_once('/')?;
    let last = last.replace("~1", "/").replace("~0", "~");
    match obj.pointer_mut(parent) {
        Some(Value::Object(map)) => map.remove(&last),
        Some(Value::Array(items)) => match last.parse::<usize>() {
            Ok(i) if i < items.len() => Some(items.remove(i)),
            _ => None,
        },
        _ => None,
    }
}

/// One drifted field for people: the field, Git's value and the live one (as the diff gives them,
/// Secret values already masked), and who changed it when (from managedFields), e.g.
/// `.spec.replicas: 2 in Git, 5 live; changed by kubectl at 2026-01-01T10:00:00Z`.
pub fn drift_line(ch: &ferry_diff::FieldChange) -> String {
    fn show(v: &Option<Value>) -> String {
        match v {
            None => "absent".into(),
            Some(v) => {
                let s = v.to_string();
                if s.chars().count() > 60 {
                    format!("{}…", s.chars().take(60).collect::<String>())
                } else {
                    s
                }
            }
        }
    }
    let who = match &ch.changed_by {
        Some(by) => format!(
            "; changed by {}{}",
            by.manager,
            by.time.as_deref().map(|t| format!(" at {t}")).unwrap_or_default()
        ),
        None => String::new(),
    };
    format!("{}: {} in Git, {} live{who}", ch.path, show(&ch.desired), show(&ch.live))
}

/// Compares declared resources with the live objects.
pub fn compare(
    app: &AppId,
    resources: &[Resource],
    inventory: &[InventoryEntry],
    live: impl Fn(&ObjKey) -> Option<Arc<Value>>,
    base: &DiffOptions,
    ignores: &[IgnoreDifference],
) -> Comparison {
    compare_known(app, resources, inventory, live, |_, _| None, base, ignores)
}

/// [`compare`], told which resources are known to be in sync already: `known(index, key)` is
/// the live resourceVersion at which resource `index` was found in sync with this same desired
/// object, if its live object is still at that version (then it is neither read nor diffed).
#[allow(clippy::too_many_arguments)]
pub fn compare_known(
    app: &AppId,
    resources: &[Resource],
    inventory: &[InventoryEntry],
    live: impl Fn(&ObjKey) -> Option<Arc<Value>>,
    known: impl Fn(usize, &ObjKey) -> Option<u64>,
    base: &DiffOptions,
    ignores: &[IgnoreDifference],
) -> Comparison {
    let mut c = Comparison::default();
    let declared: BTreeSet<&ObjKey> = resources.iter().map(|r| &r.key).collect();
    for (index, r) in resources.iter().enumerate() {
        let version = str_at(&r.object, &["apiVersion"])
            .and_then(|v| split_api_version(v))
            .map(|(_, v)| v)
            .unwrap_or("")
            .to_owned();
        let mut status = ResourceStatus {
            group: r.key.group.clone(),
            version,
            kind: r.key.kind.clone(),
            namespace: r.key.namespace.clone(),
            name: r.key.name.clone(),
            status: SyncStatusCode::Synced,
            health: None,
            drift: vec![],
        };
        if let Some(version) = known(index, &r.key) {
            c.in_sync.insert(r.key.clone());
            c.in_sync_versions.push((index, version));
            c.resources.push(status);
            continue;
        }
        match live(&r.key) {
            None => {
                status.status = SyncStatusCode::OutOfSync;
                status.drift.push("missing from the cluster".into());
                c.out_of_sync.push(r.key.clone());
            }
            Some(obj) => match diff_object(&r.object, &obj, &object_options(base, ignores, r)) {
                Ok(d) if d.in_sync() => {
                    c.in_sync.insert(r.key.clone());
                    if d.ignored.is_empty() {
                        c.in_sync_versions.push((index, resource_version(&obj)));
                    } else {
                        // Not taken as known next time: its ignored fields are shown each time.
                        c.quiet.push(d);
                    }
                }
                Ok(d) => {
                    status.status = SyncStatusCode::OutOfSync;
                    status.drift = d.changes.iter().take(10).map(drift_line).collect();
                    c.out_of_sync.push(r.key.clone());
                    c.diffs.push(d);
                }
                Err(e) => {
                    status.status = SyncStatusCode::Unknown;
                    status.drift.push(format!("cannot compare: {e}"));
                    c.errors.push((r.key.clone(), e.to_string()));
                }
            },
        }
        c.resources.push(status);
    }
    for entry in inventory {
        let key = entry.key();
        if declared.contains(&key) {
            continue;
        }
        if let Some(obj) = live(&key)
            && is_owned_by(&obj, app)
        {
            c.resources.push(ResourceStatus {
                group: entry.group.clone(),
                version: entry.version.clone(),
                kind: entry.kind.clone(),
                namespace: entry.namespace.clone(),
                name: entry.name.clone(),
                status: SyncStatusCode::OutOfSync,
                health: None,
                drift: vec!["no longer in Git; pruned when prune is enabled".into()],
            });
            c.extraneous.push(entry.clone());
        }
    }
    c
}

/// resourceVersion as a number (the embedded cluster and etcd use integers); 0 when it is not
/// one: the watch cache then lets any version replace it, and no verdict is reused for it.
pub fn resource_version(obj: &Value) -> u64 {
    str_at(obj, &["metadata", "resourceVersion"]).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_drift_line_names_the_field_both_values_and_who_changed_it_when() {
        let change: ferry_diff::FieldChange = ferry_diff::FieldChange {
            path: ".spec.replicas".into(),
            desired: Some(json!(2)),
            live: Some(json!(5)),
            changed_by: Some(ferry_diff::ChangedBy {
                manager: "kubectl".into(),
                operation: ferry_diff::Operation::Update,
                time: Some("2026-01-01T10:00:00Z".into()),
                subresource: String::new(),
            }),
        };
        assert_eq!(
            drift_line(&change),
            ".spec.replicas: 2 in Git, 5 live; changed by kubectl at 2026-01-01T10:00:00Z"
        );
        let removed = ferry_diff::FieldChange { live: None, changed_by: None, ..change };
        assert_eq!(drift_line(&removed), ".spec.replicas: 2 in Git, absent live");
    }

    #[test]
    fn ignored_pointers_are_stripped_from_the_manifest_of_matching_objects_only() {
        let key = ObjKey {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: "demo".into(),
            name: "web".into(),
        };
        let ig = vec![IgnoreDifference {
            group: "apps".into(),
            kind: "Deployment".into(),
            json_pointers: vec!["/spec/replicas".into()],
            ..Default::default()
        }];
        let mut obj = json!({"spec": {"replicas": 3, "paused": false}});
        strip_ignored(&mut obj, &ig, &key);
        assert_eq!(obj, json!({"spec": {"paused": false}}));
        let other = ObjKey { kind: "StatefulSet".into(), ..key };
        let mut obj = json!({"spec": {"replicas": 3}});
        strip_ignored(&mut obj, &ig, &other);
        assert_eq!(obj, json!({"spec": {"replicas": 3}}));
    }
}
