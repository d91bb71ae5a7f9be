//! Writes that pass the admission webhooks (see `crate::admission`): a dry run computes the
//! object, the webhooks judge and patch it, then the write is made with their patches. With no
//! webhook configuration stored, a write goes straight to `write::ops`.

use std::sync::Arc;

use serde_json::{Value, json};

use super::path::Target;
use super::read::{present, scale_of};
use crate::admission::{self, Attributes, Mutation};
use crate::error::ApiError;
use crate::resources::ResourceType;
use crate::write::admit::Op;
use crate::write::apply;
use crate::write::ops::{self, Edit, UpdateRequest};

/// Attempts when the object changes while the webhooks run.
const ATTEMPTS: usize = 3;

/// How an update computes the next object, kept as data so it can run twice (dry run, write).
#[derive(Debug, Clone)]
pub enum Spec {
    Replace(Value),
    Scale(Value),
    Apply {
        applied: Value,
        force: bool,
    },
    /// A merge, JSON or strategic merge patch (by content type) of the presented object.
    Patch {
        content_type: String,
        body: Value,
    },
}

impl Spec {
    fn edit(&self, t: &Target) -> Edit {
        match self.clone() {
            Spec::Replace(obj) => Edit::Replace(obj),
            Spec::Apply { applied, force } => Edit::Apply { applied, force },
            Spec::Scale(scale) => {
                Edit::Patch(Box::new(move |cur: &Value, _: &ferry_diff::Schema| {
                    let replicas = scale.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
                    if !replicas.is_u64() {
                        return Err(ApiError::invalid(
                            "Scale",
                            "",
                            vec![("spec.replicas".into(), "must be a non-negative integer".into())],
                        ));
                    }
                    let mut next = cur.clone();
                    next["spec"]["replicas"] = replicas;
                    Ok(next)
                }))
            }
            Spec::Patch { content_type, body } => {
                let target = t.clone();
                let scale = t.sub.as_deref() == Some("scale");
                Edit::Patch(Box::new(move |cur: &Value, schema: &ferry_diff::Schema| {
                    let base = if scale { scale_of(cur) } else { present(&target.rt, cur) };
                    let patched = match content_type.as_str() {
                        "application/merge-patch+json" => apply::merge_patch(&base, &body)?,
                        "application/json-patch+json" => apply::json_patch(&base, &body)?,
                        _ => apply::strategic_merge_patch(&base, &body, schema)?,
                    };
                    if scale {
                        let replicas =
                            patched.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
                        let mut next = cur.clone();
                        next["spec"]["replicas"] = replicas;
                        return Ok(next);
                    }
                    Ok(super::write::to_stored(&target, patched))
                }))
            }
        }
    }
}

/// An update (or apply) of `name`, through the webhooks when any are configured.
pub struct Update<'a> {
    pub t: &'a Target,
    pub rt: &'a ResourceType,
    pub name: &'a str,
    pub manager: &'a str,
    pub op: Op,
    pub dry_run: bool,
}

impl Update<'_> {
    fn request(&self, edit: Edit, dry_run: bool) -> UpdateRequest<'_> {
        UpdateRequest {
            rt: self.rt,
            namespace: self.t.namespace.as_deref(),
            name: self.name,
            manager: self.manager,
            op: self.op,
            dry_run,
            edit,
        }
    }

    pub async fn run(
        &self,
        st: &super::Shared,
        spec: Spec,
    ) -> Result<(Arc<Value>, bool), ApiError> {
        if !admission::any(st) {
            return ops::update(st, self.request(spec.edit(self.t), self.dry_run));
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let key = ops::key_for(self.rt, self.t.namespace.as_deref(), self.name);
            let old = st.store.get(&key);
            let (preview, created) = ops::update(st, self.request(spec.edit(self.t), true))?;
            let a = attributes(
                self.t,
                self.rt,
                if created { "CREATE" } else { "UPDATE" },
                self.name,
                self.dry_run,
            );
            let mut m = admission::review(st, &a, Some((*preview).clone()), old.as_deref()).await?;
            if created {
                m.base_rv = None;
            }
            match ops::update_with(st, self.request(spec.edit(self.t), self.dry_run), Some(&m)) {
                Err(e) if e.message == admission::STALE && attempt < ATTEMPTS => continue,
                other => return other,
            }
        }
    }
}

fn attributes<'a>(
    t: &'a Target,
    rt: &'a ResourceType,
    operation: &'static str,
    name: &'a str,
    dry_run: bool,
) -> Attributes<'a> {
    Attributes {
        rt,
        subresource: t.sub.as_deref(),
        operation,
        namespace: t.namespace.as_deref(),
        name,
        dry_run,
        user: &t.user,
    }
}

/// A create through the webhooks when any are configured.
pub async fn create(
    st: &super::Shared,
    t: &Target,
    rt: &ResourceType,
    obj: Value,
    manager: &str,
    dry_run: bool,
) -> Result<Arc<Value>, ApiError> {
    let ns = t.namespace.as_deref();
    if !admission::any(st) {
        return ops::create(st, rt, ns, obj, manager, dry_run);
    }
    let preview = ops::create(st, rt, ns, obj.clone(), manager, true)?;
    let name = preview.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let a = attributes(t, rt, "CREATE", name, dry_run);
    let m: Mutation = admission::review(st, &a, Some((*preview).clone()), None).await?;
    ops::create_with(st, rt, ns, obj, manager, dry_run, Some(&m))
}

/// The validating webhooks' say on a delete of the stored `old`.
pub async fn delete(
    st: &super::Shared,
    t: &Target,
    rt: &ResourceType,
    name: &str,
    dry_run: bool,
) -> Result<(), ApiError> {
    if !admission::any(st) {
        return Ok(());
    }
    let key = ops::key_for(rt, t.namespace.as_deref(), name);
    let Some(old) = st.store.get(&key) else { return Ok(()) };
    let a = attributes(t, rt, "DELETE", name, dry_run);
    admission::review(st, &a, None, Some(&old)).await.map(|_| ())
}
