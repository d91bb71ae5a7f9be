//! Writes as operations on the shared state, used by the HTTP handlers, the garbage collector
//! and the workload simulator alike, so every writer goes through the same admission.

use std::sync::Arc;

use serde_json::{Value, json};

use super::admit::{Op, admit};
use super::apply;
use crate::admission::{self, Mutation};
use crate::error::ApiError;
use crate::http::Shared;
use crate::resources::ResourceType;
use crate::store::{Change, Key, Written};
use crate::validate;

pub fn key_for(rt: &ResourceType, namespace: Option<&str>, name: &str) -> Key {
    Key {
        storage: rt.storage_key(),
        namespace: if rt.namespaced {
            namespace.unwrap_or_default().to_string()
        } else {
            String::new()
        },
        name: name.to_string(),
    }
}

/// The type stored under a storage key (`group/plural`).
pub fn type_of(st: &Shared, storage: &str) -> Option<ResourceType> {
    let (group, plural) = storage.split_once('/')?;
    let reg = st.registry();
    reg.types()
        .iter()
        .find(|t| t.group == group && t.plural == plural && t.preferred)
        .or_else(|| reg.find_any_version(group, plural))
        .cloned()
}

/// Objects in a namespace that is missing or terminating are refused, like the NamespaceLifecycle admission plugin.
pub fn ensure_namespace(
    st: &Shared,
    rt: &ResourceType,
    namespace: Option<&str>,
) -> Result<(), ApiError> {
    if !rt.namespaced {
        return Ok(());
    }
    let Some(ns) = namespace else {
        return Err(ApiError::bad_request(format!("a namespace is required for {}", rt.plural)));
    };
    let key = Key { storage: "/namespaces".into(), namespace: String::new(), name: ns.to_string() };
    match st.store.get(&key) {
        None => Err(ApiError::not_found("", "namespaces", ns)),
        Some(n) if n.pointer("/metadata/deletionTimestamp").is_some() => Err(ApiError::new(
            403,
            "Forbidden",
            format!(
                "{} is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                rt.plural
            ),
        )),
        Some(_) => Ok(()),
    }
}

/// Equal apart from the resourceVersion and managedFields timestamps: such an update is a no-op.
pub fn same(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
            if let Some(Value::Array(entries)) = m.get_mut("managedFields") {
                for e in entries.iter_mut() {
                    if let Some(o) = e.as_object_mut() {
                        o.remove("time");
                    }
                }
            }
        }
        v
    };
    strip(a) == strip(b)
}

fn finished_deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp").is_some()
        && obj.pointer("/metadata/finalizers").and_then(Value::as_array).is_none_or(Vec::is_empty)
}

pub fn create(
    st: &Shared,
    rt: &ResourceType,
    namespace: Option<&str>,
    obj: Value,
    manager: &str,
    dry_run: bool,
) -> Result<Arc<Value>, ApiError> {
    create_with(st, rt, namespace, obj, manager, dry_run, None)
}

/// [`create`], with the patches of mutating admission webhooks applied to what is stored.
pub fn create_with(
    st: &Shared,
    rt: &ResourceType,
    namespace: Option<&str>,
    obj: Value,
    manager: &str,
    dry_run: bool,
    mutation: Option<&Mutation>,
) -> Result<Arc<Value>, ApiError> {
    ensure_namespace(st, rt, namespace)?;
    let name =
        obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let key = key_for(rt, namespace, &name);
    let now = super::now();
    let schema = st.schema();
    let crd_schema = st.crd_schemas.for_type(&st.store, rt);
    let written = st.store.write(&key, dry_run, |cur| {
        if cur.is_some() {
            return Err(ApiError::already_exists(&rt.group, &rt.plural, &name));
        }
        let o = admit(rt, namespace, None, obj, Op::Main, &now)?;
        let o = validate::custom_resource(crd_schema.as_deref(), rt, None, o)?;
        let o = apply::track_update(None, o, manager, None, &now, &schema)?;
        match mutation {
            Some(m) => {
                Ok(Change::Put(admission::mutate(m, None, rt, crd_schema.as_deref(), None, o)?))
            }
            None => Ok(Change::Put(o)),
        }
    })?;
    after_write(st, rt, &written, dry_run);
    match written {
        Written::Stored(o) => Ok(o),
        _ => Err(ApiError::internal("create stored nothing")),
    }
}

/// Computes a patched object from the current one (with the schema for strategic merges).
pub type PatchFn = Box<dyn FnOnce(&Value, &ferry_diff::Schema) -> Result<Value, ApiError> + Send>;

/// How an update computes the next object from the current one.
pub enum Edit {
    /// Replace with this object (PUT).
    Replace(Value),
    /// A function of the current object (patches), keeping ownership records as an update.
    Patch(PatchFn),
    /// Server-side apply of this configuration.
    Apply { applied: Value, force: bool },
}

pub struct UpdateRequest<'a> {
    pub rt: &'a ResourceType,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub manager: &'a str,
    pub op: Op,
    pub dry_run: bool,
    pub edit: Edit,
}

/// Updates (or, for apply, creates) an object; the result is what is stored now.
pub fn update(st: &Shared, req: UpdateRequest<'_>) -> Result<(Arc<Value>, bool), ApiError> {
    update_with(st, req, None)
}

/// [`update`], with the patches of mutating admission webhooks applied to what is stored.
pub fn update_with(
    st: &Shared,
    req: UpdateRequest<'_>,
    mutation: Option<&Mutation>,
) -> Result<(Arc<Value>, bool), ApiError> {
    let UpdateRequest { rt, namespace, name, manager, op, dry_run, edit } = req;
    let key = key_for(rt, namespace, name);
    let is_apply = matches!(edit, Edit::Apply { .. });
    if is_apply && st.store.get(&key).is_none() {
        ensure_namespace(st, rt, namespace)?;
    }
    let now = super::now();
    let subresource = match op {
        Op::Status => Some("status"),
        Op::Main => None,
    };
    let mut created = false;
    let schema = st.schema();
    let crd_schema = st.crd_schemas.for_type(&st.store, rt);
    // Admission, then (for custom resources) pruning, schema defaults and validation.
    let admitted = |old: Option<&Value>, obj: Value, op: Op| {
        let o = admit(rt, namespace, old, obj, op, &now)?;
        validate::custom_resource(crd_schema.as_deref(), rt, old, o)
    };
    let written = st.store.write(&key, dry_run, |cur| {
        let Some(cur) = cur else {
            let Edit::Apply { applied, force } = edit else {
                return Err(ApiError::not_found(&rt.group, &rt.plural, name));
            };
            if op == Op::Status {
                return Err(ApiError::not_found(&rt.group, &rt.plural, name));
            }
            created = true;
            let merged = apply::server_side_apply(None, &applied, manager, subresource, force, &now, &schema)?;
            let o = admitted(None, merged, Op::Main)?;
            return Ok(Change::Put(match mutation {
                Some(m) => admission::mutate(m, None, rt, crd_schema.as_deref(), None, o)?,
                None => o,
            }));
        };
        let current_rv = cur.pointer("/metadata/resourceVersion").cloned();
        let next = match edit {
            Edit::Replace(obj) => {
                let sent_rv = obj.pointer("/metadata/resourceVersion").cloned();
                if sent_rv.as_ref().is_some_and(|v| Some(v) != current_rv.as_ref() && v != "") {
                    return Err(ApiError::conflict(&rt.group, &rt.plural, name,
                        "the object has been modified; please apply your changes to the latest version and try again"));
                }
                let mut obj = obj;
                if let Some(m) = obj["metadata"].as_object_mut() {
                    m.insert("managedFields".into(), cur["metadata"]["managedFields"].clone());
                }
                let next = admitted(Some(cur), obj, op)?;
                apply::track_update(Some(cur), next, manager, subresource, &now, &schema)?
            }
            Edit::Patch(f) => {
                let patched = f(cur, &schema)?;
                if patched.pointer("/metadata/resourceVersion") != current_rv.as_ref() {
                    return Err(ApiError::conflict(&rt.group, &rt.plural, name,
                        "the object has been modified; please apply your changes to the latest version and try again"));
                }
                let next = admitted(Some(cur), patched, op)?;
                apply::track_update(Some(cur), next, manager, subresource, &now, &schema)?
            }
            Edit::Apply { applied, force } => {
                if let Some(v) = applied.pointer("/metadata/resourceVersion")
                    && Some(v) != current_rv.as_ref() {
                        return Err(ApiError::conflict(&rt.group, &rt.plural, name,
                            "the object has been modified; please apply your changes to the latest version and try again"));
                    }
                let merged = apply::server_side_apply(Some(cur), &applied, manager, subresource, force, &now, &schema)?;
                admitted(Some(cur), merged, op)?
            }
        };
        let next = match mutation {
            Some(m) => {
                let rv = current_rv.as_ref().and_then(Value::as_str);
                admission::mutate(m, rv, rt, crd_schema.as_deref(), Some(cur), next)?
            }
            None => next,
        };
        if finished_deleting(&next) {
            return Ok(Change::Delete);
        }
        if same(cur, &next) {
            return Ok(Change::Keep);
        }
        Ok(Change::Put(next))
    })?;
    after_write(st, rt, &written, dry_run);
    match written {
        Written::Stored(o) | Written::Deleted(o) | Written::Unchanged(Some(o)) => Ok((o, created)),
        Written::Unchanged(None) => Err(ApiError::not_found(&rt.group, &rt.plural, name)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

impl Propagation {
    pub fn parse(s: &str) -> Result<Propagation, ApiError> {
        match s {
            "Background" => Ok(Propagation::Background),
            "Foreground" => Ok(Propagation::Foreground),
            "Orphan" => Ok(Propagation::Orphan),
            other => Err(ApiError::bad_request(format!(
                "propagationPolicy {other:?} is not supported (Background, Foreground or Orphan)"
            ))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DeleteOptions {
    pub propagation: Propagation,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    pub dry_run: bool,
}

impl Default for DeleteOptions {
    fn default() -> Self {
        DeleteOptions {
            propagation: Propagation::Background,
            uid: None,
            resource_version: None,
            dry_run: false,
        }
    }
}

pub fn delete(
    st: &Shared,
    rt: &ResourceType,
    namespace: Option<&str>,
    name: &str,
    opts: &DeleteOptions,
) -> Result<Arc<Value>, ApiError> {
    let key = key_for(rt, namespace, name);
    if let Some(cur) = st.store.get(&key)
        && let Some(denied) = st.faults().denies_delete(&cur)
    {
        return Err(denied);
    }
    let now = super::now();
    let written = st.store.write(&key, opts.dry_run, |cur| {
        let Some(cur) = cur else { return Err(ApiError::not_found(&rt.group, &rt.plural, name)) };
        if let Some(uid) = &opts.uid {
            let have = cur.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default();
            if have != uid {
                return Err(ApiError::conflict(&rt.group, &rt.plural, name,
                    &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {have}")));
            }
        }
        if let Some(rv) = &opts.resource_version {
            let have = cur.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or_default();
            if have != rv {
                return Err(ApiError::conflict(&rt.group, &rt.plural, name,
                    &format!("Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {have}")));
            }
        }
        let mut finalizers: Vec<Value> = cur.pointer("/metadata/finalizers").and_then(Value::as_array).cloned().unwrap_or_default();
        let is_namespace = rt.group.is_empty() && rt.kind == "Namespace";
        if opts.propagation == Propagation::Foreground && !finalizers.contains(&json!("foregroundDeletion")) {
            finalizers.push(json!("foregroundDeletion"));
        }
        if finalizers.is_empty() && !is_namespace {
            return Ok(Change::Delete);
        }
        if cur.pointer("/metadata/deletionTimestamp").is_some() && cur.pointer("/metadata/finalizers").and_then(Value::as_array).map(Vec::len) == Some(finalizers.len()) {
            return Ok(Change::Keep);
        }
        let mut next = cur.clone();
        next["metadata"]["deletionTimestamp"] = json!(now);
        next["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        if !finalizers.is_empty() {
            next["metadata"]["finalizers"] = Value::Array(finalizers);
        }
        if is_namespace {
            next["status"] = json!({"phase": "Terminating"});
        }
        Ok(Change::Put(next))
    })?;
    if !opts.dry_run {
        match &written {
            Written::Deleted(obj) => crate::gc::after_delete(st, rt, obj, opts.propagation),
            Written::Stored(obj) => crate::gc::after_delete_started(st, rt, obj, opts.propagation),
            Written::Unchanged(_) => {}
        }
        if matches!(written, Written::Deleted(_)) {
            crate::auth::rbac::aggregate::after_change(st, rt);
        }
    }
    match written {
        Written::Stored(o) | Written::Deleted(o) | Written::Unchanged(Some(o)) => Ok(o),
        Written::Unchanged(None) => Err(ApiError::not_found(&rt.group, &rt.plural, name)),
    }
}

/// Follow-ups of a committed write: CRDs change what is served, and an update that removed
/// the last finalizer of a deleting object deleted it.
fn after_write(st: &Shared, rt: &ResourceType, written: &Written, dry_run: bool) {
    if dry_run {
        return;
    }
    let is_crd = rt.group == "apiextensions.k8s.io" && rt.kind == "CustomResourceDefinition";
    match written {
        Written::Stored(obj) if is_crd => {
            let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
            let types = crate::resources::types_from_crd(obj);
            st.registry_mut().set_crd_types(name, types);
            st.add_crd_schema(obj);
        }
        Written::Deleted(obj) => crate::gc::after_delete(st, rt, obj, Propagation::Background),
        _ => {}
    }
    // What real controllers do at once after such writes: namespace defaults, aggregation.
    if let Written::Stored(obj) = written {
        crate::auth::namespace_defaults::after_change(st, rt, obj);
        crate::auth::token_controller::after_change(st, rt, obj);
    }
    if matches!(written, Written::Stored(_) | Written::Deleted(_)) {
        crate::auth::rbac::aggregate::after_change(st, rt);
    }
}
