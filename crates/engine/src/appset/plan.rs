//! Generated vs existing Applications, as data: what to create, update and delete under
//! `applicationsSync`, and the deletion guard (more than `maxDeletions` deletions wait for an
//! approval of exactly that list). Pure.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use super::PendingDeletion;
use crate::application::Application;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "spec.syncPolicy.applicationsSync {0:?} is not one of create-only, create-update, create-delete, sync"
    )]
    Policy(String),
}

/// Which writes `applicationsSync` allows (creates always are).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub update: bool,
    pub delete: bool,
}

impl Policy {
    pub fn parse(raw: Option<&str>) -> Result<Self, PlanError> {
        let (update, delete) = match raw.unwrap_or("sync") {
            "sync" | "" => (true, true),
            "create-only" => (false, false),
            "create-update" => (true, false),
            "create-delete" => (false, true),
            other => return Err(PlanError::Policy(other.to_owned())),
        };
        Ok(Self { update, delete })
    }
}

/// What one reconcile of a set writes.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub create: Vec<Application>,
    /// Existing apps with the generated spec, labels, annotations and finalizers.
    pub update: Vec<Application>,
    pub delete: Vec<String>,
    pub unchanged: usize,
    /// Deletions held for an approval (then `delete` is empty).
    pub held: Option<PendingDeletion>,
}

/// The guard's inputs.
#[derive(Clone, Copy, Debug)]
pub struct Guard<'a> {
    pub max_deletions: usize,
    /// The value of `ferry.dev/approve-deletion` on the set.
    pub approved: Option<&'a str>,
}

/// `generated` against `existing` (the set's apps now).
pub fn plan(
    generated: &[Application],
    existing: &[impl std::borrow::Borrow<Application>],
    policy: Policy,
    guard: Guard<'_>,
) -> Plan {
    let by_name: BTreeMap<String, &Application> = existing
        .iter()
        .map(|a| a.borrow())
        .map(|a| (a.metadata.name.clone().unwrap_or_default(), a))
        .collect();
    let wanted: BTreeSet<String> =
        generated.iter().map(|a| a.metadata.name.clone().unwrap_or_default()).collect();
    let mut plan = Plan::default();
    for g in generated {
        match by_name.get(g.metadata.name.as_deref().unwrap_or_default()) {
            None => plan.create.push(g.clone()),
            Some(e) if policy.update && differs(e, g) => plan.update.push(updated(e, g)),
            Some(_) => plan.unchanged += 1,
        }
    }
    if policy.delete {
        let gone: Vec<String> = by_name.keys().filter(|n| !wanted.contains(*n)).cloned().collect();
        if gone.len() > guard.max_deletions {
            let hash = deletion_hash(&gone);
            if guard.approved != Some(hash.as_str()) {
                plan.held = Some(PendingDeletion { applications: gone, hash });
                return plan;
            }
        }
        plan.delete = gone;
    }
    plan
}

/// What `ferry appset approve` writes for exactly `names` (sorted).
pub fn deletion_hash(names: &[String]) -> String {
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort();
    let mut h = Sha256::new();
    for n in sorted {
        h.update(n.as_bytes());
        h.update(b"\n");
    }
    hex::encode(&h.finalize()[..8])
}

/// Whether the existing app lacks what the template says: its spec, its labels and annotations
/// (keys the template does not set are left alone: a sync request, a user's label), its
/// finalizers.
pub fn differs(existing: &Application, generated: &Application) -> bool {
    let spec = |a: &Application| serde_json::to_value(&a.spec).unwrap_or_default();
    let subset = |want: &Option<BTreeMap<String, String>>,
                  have: &Option<BTreeMap<String, String>>| {
        want.iter().flatten().all(|(k, v)| have.as_ref().and_then(|h| h.get(k)) == Some(v))
    };
    let finalizers = |a: &Application| a.metadata.finalizers.clone().unwrap_or_default();
    spec(existing) != spec(generated)
        || !subset(&generated.metadata.labels, &existing.metadata.labels)
        || !subset(&generated.metadata.annotations, &existing.metadata.annotations)
        || finalizers(existing) != finalizers(generated)
        || existing.metadata.owner_references != generated.metadata.owner_references
}

fn updated(existing: &Application, generated: &Application) -> Application {
    let mut app = existing.clone();
    app.spec = generated.spec.clone();
    for (into, from) in [
        (&mut app.metadata.labels, &generated.metadata.labels),
        (&mut app.metadata.annotations, &generated.metadata.annotations),
    ] {
        if let Some(from) = from {
            into.get_or_insert_default().extend(from.clone());
        }
    }
    app.metadata.finalizers = generated.metadata.finalizers.clone();
    app.metadata.owner_references = generated.metadata.owner_references.clone();
    app
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
