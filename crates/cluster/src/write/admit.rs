//! What the server does to every object it stores: system metadata, the status subresource
//! split, generation, kind-specific fields, defaults, validation.

use serde_json::{Value, json};

use super::{apply, validate};
use crate::error::ApiError;
use crate::resources::ResourceType;

/// Which endpoint is writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// The main resource (create, update, patch, apply).
    Main,
    /// The `status` subresource.
    Status,
}

fn spec_part(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
        m.remove("apiVersion");
        m.remove("kind");
    }
    o
}

/// Kinds whose objects carry `metadata.generation` (those with a spec, and every custom resource).
fn has_generation(rt: &ResourceType, obj: &Value) -> bool {
    rt.crd.is_some() || obj.get("spec").is_some() || rt.kind == "CustomResourceDefinition"
}

pub fn admit(
    rt: &ResourceType,
    namespace: Option<&str>,
    old: Option<&Value>,
    mut new: Value,
    op: Op,
    now: &str,
) -> Result<Value, ApiError> {
    if !new.is_object() {
        return Err(ApiError::bad_request(format!(
            "the body of a {} must be a JSON object",
            rt.kind
        )));
    }
    new["apiVersion"] = json!(rt.api_version());
    new["kind"] = json!(rt.kind);
    if !new["metadata"].is_object() {
        new["metadata"] = json!({});
    }
    match namespace {
        Some(ns) if rt.namespaced => new["metadata"]["namespace"] = json!(ns),
        _ => {
            if let Some(m) = new["metadata"].as_object_mut() {
                m.remove("namespace");
            }
        }
    }
    let mut out = match old {
        None => {
            let m = &mut new["metadata"];
            m["uid"] = json!(uuid::Uuid::new_v4().to_string());
            m["creationTimestamp"] = json!(now);
            if let Some(mm) = m.as_object_mut() {
                mm.remove("deletionTimestamp");
                mm.remove("deletionGracePeriodSeconds");
                mm.remove("resourceVersion");
                mm.remove("selfLink");
                mm.remove("generation");
            }
            if has_generation(rt, &new) {
                new["metadata"]["generation"] = json!(1);
            }
            // A new object's status is the server's (or controllers') to set, except for CRs
            // without a status subresource and kinds without one.
            if rt.status
                && rt.kind != "CustomResourceDefinition"
                && let Some(m) = new.as_object_mut()
            {
                m.remove("status");
            }
            new
        }
        Some(old) => {
            let mut next = match op {
                Op::Main => {
                    if rt.status {
                        match old.get("status") {
                            Some(s) => new["status"] = s.clone(),
                            None => {
                                if let Some(m) = new.as_object_mut() {
                                    m.remove("status");
                                }
                            }
                        }
                    }
                    new
                }
                Op::Status => {
                    // The status endpoint changes status (and ownership records) only.
                    let mut next = old.clone();
                    next["status"] = new.get("status").cloned().unwrap_or(Value::Null);
                    if next["status"].is_null()
                        && let Some(m) = next.as_object_mut()
                    {
                        m.remove("status");
                    }
                    next["metadata"]["managedFields"] = new["metadata"]["managedFields"].clone();
                    next
                }
            };
            let m = &mut next["metadata"];
            for k in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"]
            {
                match old["metadata"].get(k) {
                    Some(v) => m[k] = v.clone(),
                    None => {
                        if let Some(mm) = m.as_object_mut() {
                            mm.remove(k);
                        }
                    }
                }
            }
            let old_gen = old.pointer("/metadata/generation").and_then(Value::as_i64);
            if let Some(g) = old_gen {
                let bump = spec_part(old) != spec_part(&next);
                next["metadata"]["generation"] = json!(if bump { g + 1 } else { g });
            } else if let Some(mm) = next["metadata"].as_object_mut() {
                mm.remove("generation");
            }
            // A finalizer cannot be added once deletion started.
            next
        }
    };
    kind_specific(rt, old, &mut out);
    // Before defaults: folding `stringData` into `data` would hide a scalar `stringData`.
    crate::validate::builtin::decode(rt, &out)?;
    apply::apply_defaults(&mut out);
    validate::validate(rt, old, &out)?;
    crate::validate::builtin::check(rt, &out)?;
    Ok(out)
}

fn kind_specific(rt: &ResourceType, old: Option<&Value>, obj: &mut Value) {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => {
            if obj.pointer("/spec/finalizers").is_none() {
                obj["spec"] = json!({"finalizers": ["kubernetes"]});
            }
            let terminating = obj.pointer("/metadata/deletionTimestamp").is_some();
            obj["status"] = json!({"phase": if terminating { "Terminating" } else { "Active" }});
            let name = obj["metadata"]["name"].clone();
            if !obj["metadata"]["labels"].is_object() {
                obj["metadata"]["labels"] = json!({});
            }
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
        }
        ("", "Service") => {
            let ty = obj
                .pointer("/spec/type")
                .and_then(Value::as_str)
                .unwrap_or("ClusterIP")
                .to_string();
            if ty != "ExternalName" && obj.pointer("/spec/clusterIP").is_none() {
                let ip = old
                    .and_then(|o| o.pointer("/spec/clusterIP").cloned())
                    .unwrap_or_else(|| json!(cluster_ip(obj)));
                obj["spec"]["clusterIP"] = ip.clone();
                obj["spec"]["clusterIPs"] = json!([ip]);
            }
            if ty == "NodePort" || ty == "LoadBalancer" {
                let seed = obj
                    .pointer("/metadata/uid")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                if let Some(ports) = obj.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
                    for (i, p) in ports.iter_mut().enumerate() {
                        if p.get("nodePort").is_none() {
                            let h = seed.bytes().fold(i as u32 * 7919, |h, b| {
                                h.wrapping_mul(31).wrapping_add(u32::from(b))
                            });
                            p["nodePort"] = json!(30000 + h % 2768);
                        }
                    }
                }
            }
            if obj.get("status").is_none() {
                obj["status"] = json!({"loadBalancer": {}});
            }
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            let names = obj.pointer("/spec/names").cloned().unwrap_or(json!({}));
            let mut accepted = names.clone();
            if accepted.get("singular").is_none() {
                let kind = names["kind"].as_str().unwrap_or_default().to_lowercase();
                accepted["singular"] = json!(kind);
            }
            if accepted.get("listKind").is_none() {
                accepted["listKind"] =
                    json!(format!("{}List", names["kind"].as_str().unwrap_or_default()));
            }
            let storage: Vec<Value> = obj
                .pointer("/spec/versions")
                .and_then(Value::as_array)
                .map(|vs| {
                    vs.iter().filter(|v| v["storage"] == true).map(|v| v["name"].clone()).collect()
                })
                .unwrap_or_default();
            let since = obj.pointer("/metadata/creationTimestamp").cloned().unwrap_or(Value::Null);
            let cond = |t: &str, reason: &str, msg: &str| json!({"type": t, "status": "True", "lastTransitionTime": since, "reason": reason, "message": msg});
            obj["status"] = json!({
                "acceptedNames": accepted,
                "storedVersions": storage,
                "conditions": [
                    cond("NamesAccepted", "NoConflicts", "no conflicts found"),
                    cond("Established", "InitialNamesAccepted", "the initial names have been accepted"),
                ],
            });
        }
        ("batch", "Job")
            if old.is_none()
            // The server picks the selector unless the Job asks for a manual one.
            && obj.pointer("/spec/manualSelector").and_then(Value::as_bool) != Some(true) =>
        {
            let uid = obj["metadata"]["uid"].clone();
            let name = obj["metadata"]["name"].clone();
            obj["spec"]["selector"] =
                json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
            if !obj.pointer("/spec/template/metadata/labels").is_some_and(Value::is_object) {
                obj["spec"]["template"]["metadata"]["labels"] = json!({});
            }
            let labels = &mut obj["spec"]["template"]["metadata"]["labels"];
            labels["batch.kubernetes.io/controller-uid"] = uid.clone();
            labels["batch.kubernetes.io/job-name"] = name.clone();
            labels["controller-uid"] = uid;
            labels["job-name"] = name;
        }
        _ => {}
    }
}

fn cluster_ip(obj: &Value) -> String {
    let seed = obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default();
    let h = seed.bytes().fold(2166136261u32, |h, b| (h ^ u32::from(b)).wrapping_mul(16777619));
    // 10.96.0.0/12 like a kubeadm cluster; .0 and .1 are never handed out.
    let n = 2 + h % ((1 << 20) - 3);
    format!("10.{}.{}.{}", 96 + (n >> 16), (n >> 8) & 0xff, n & 0xff)
}
