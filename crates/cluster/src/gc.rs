//! Garbage collection and cleanup after deletes: dependents by ownerReferences (background,
//! foreground, orphan), namespace contents, the objects of a deleted CRD.

use std::time::Duration;

use serde_json::Value;

use crate::http::Shared;
use crate::resources::ResourceType;
use crate::store::{Change, Key};
use crate::write::admit::Op;
use crate::write::ops::{self, DeleteOptions, Edit, Propagation, UpdateRequest};

const MANAGER: &str = "kube-controller-manager";

fn uid_of(obj: &Value) -> String {
    obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default().to_string()
}

/// Objects that name `uid` as an owner (indexed in the store: no scan of every object).
fn dependents(st: &Shared, uid: &str) -> Vec<(Key, std::sync::Arc<Value>)> {
    st.store.dependents(uid)
}

fn delete_key(st: &Shared, key: &Key, propagation: Propagation) {
    let Some(rt) = ops::type_of(st, &key.storage) else { return };
    let ns = (!key.namespace.is_empty()).then_some(key.namespace.as_str());
    let opts = DeleteOptions { propagation, ..DeleteOptions::default() };
    if let Err(e) = ops::delete(st, &rt, ns, &key.name, &opts)
        && e.code != 404
    {
        tracing::debug!(key = ?key, error = %e, "garbage collection could not delete a dependent");
    }
}

fn drop_owner_ref(st: &Shared, key: &Key, uid: &str) {
    let Some(rt) = ops::type_of(st, &key.storage) else { return };
    let ns = (!key.namespace.is_empty()).then_some(key.namespace.as_str());
    let uid = uid.to_string();
    let edit = Edit::Patch(Box::new(move |cur: &Value, _: &ferry_diff::Schema| {
        let mut next = cur.clone();
        if let Some(refs) =
            next.pointer_mut("/metadata/ownerReferences").and_then(Value::as_array_mut)
        {
            refs.retain(|r| r["uid"] != uid.as_str());
            if refs.is_empty()
                && let Some(m) = next["metadata"].as_object_mut()
            {
                m.remove("ownerReferences");
            }
        }
        Ok(next)
    }));
    let req = UpdateRequest {
        rt: &rt,
        namespace: ns,
        name: &key.name,
        manager: MANAGER,
        op: Op::Main,
        dry_run: false,
        edit,
    };
    let _ = ops::update(st, req);
}

/// Removes `finalizer` from an object; the object goes away if it was the last one.
pub fn remove_finalizer(st: &Shared, rt: &ResourceType, key: &Key, finalizer: &str) {
    let ns = (!key.namespace.is_empty()).then_some(key.namespace.as_str());
    let f = finalizer.to_string();
    let edit = Edit::Patch(Box::new(move |cur: &Value, _: &ferry_diff::Schema| {
        let mut next = cur.clone();
        if let Some(list) = next.pointer_mut("/metadata/finalizers").and_then(Value::as_array_mut) {
            list.retain(|x| x != f.as_str());
        }
        Ok(next)
    }));
    let req = UpdateRequest {
        rt,
        namespace: ns,
        name: &key.name,
        manager: MANAGER,
        op: Op::Main,
        dry_run: false,
        edit,
    };
    let _ = ops::update(st, req);
}

/// An object is gone: collect its dependents (or orphan them), and clean up after CRDs.
pub fn after_delete(st: &Shared, rt: &ResourceType, obj: &Value, propagation: Propagation) {
    let uid = uid_of(obj);
    if rt.group == "apiextensions.k8s.io" && rt.kind == "CustomResourceDefinition" {
        let name =
            obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
        let storage = format!(
            "{}/{}",
            obj.pointer("/spec/group").and_then(Value::as_str).unwrap_or_default(),
            obj.pointer("/spec/names/plural").and_then(Value::as_str).unwrap_or_default()
        );
        let st2 = st.clone();
        let obj2 = obj.clone();
        // Delete the objects first (while their type is still known), then stop serving it.
        tokio::spawn(async move {
            let (items, _) = st2.store.list(&storage, None);
            for o in items {
                let key = Key {
                    storage: storage.clone(),
                    namespace: o
                        .pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    name: o
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                };
                let _ = st2.store.write(&key, false, |_| Ok(Change::Delete));
            }
            st2.registry_mut().remove_crd(&name);
            st2.remove_crd_schema(&obj2);
        });
        return;
    }
    let st2 = st.clone();
    tokio::spawn(async move {
        for (key, _) in dependents(&st2, &uid) {
            match propagation {
                Propagation::Orphan => drop_owner_ref(&st2, &key, &uid),
                _ => delete_key(&st2, &key, Propagation::Background),
            }
        }
    });
}

/// An object got a deletionTimestamp but is held by finalizers: namespaces empty themselves,
/// foreground deletion deletes dependents first.
pub fn after_delete_started(
    st: &Shared,
    rt: &ResourceType,
    obj: &Value,
    _propagation: Propagation,
) {
    let name =
        obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let ns =
        obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default().to_string();
    let key = Key { storage: rt.storage_key(), namespace: ns, name: name.clone() };
    if rt.group.is_empty() && rt.kind == "Namespace" {
        let st2 = st.clone();
        tokio::spawn(async move { finish_namespace(st2, name).await });
        return;
    }
    let foreground = obj
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|x| x == "foregroundDeletion"));
    if foreground {
        let uid = uid_of(obj);
        let (st2, rt2) = (st.clone(), rt.clone());
        tokio::spawn(async move {
            for _ in 0..1200 {
                let deps = dependents(&st2, &uid);
                if deps.is_empty() {
                    remove_finalizer(&st2, &rt2, &key, "foregroundDeletion");
                    return;
                }
                for (k, o) in deps {
                    if o.pointer("/metadata/deletionTimestamp").is_none() {
                        delete_key(&st2, &k, Propagation::Foreground);
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
    }
}

async fn finish_namespace(st: Shared, ns: String) {
    let ns_key = Key { storage: "/namespaces".into(), namespace: String::new(), name: ns.clone() };
    for _ in 0..6000 {
        let contents = st.store.in_namespace(&ns);
        if contents.is_empty() {
            let removed = st.store.write(&ns_key, false, |cur| match cur {
                Some(c)
                    if c.pointer("/metadata/finalizers")
                        .and_then(Value::as_array)
                        .is_none_or(Vec::is_empty) =>
                {
                    Ok(Change::Delete)
                }
                _ => Ok(Change::Keep),
            });
            if let Ok(crate::store::Written::Deleted(obj)) = removed
                && let Some(rt) = ops::type_of(&st, "/namespaces")
            {
                after_delete(&st, &rt, &obj, Propagation::Background);
            }
            return;
        }
        for (k, o) in contents {
            if o.pointer("/metadata/deletionTimestamp").is_none() {
                delete_key(&st, &k, Propagation::Background);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
