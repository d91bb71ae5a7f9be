//! The set's status, built during one reconcile and written once: conditions (`ErrorOccurred`,
//! `ParametersGenerated`, `ResourcesUpToDate`, `PruneApproval`, `RolloutProgressing`) in plain
//! words, the generated apps with their sync and health, and the RollingSync's per-app status.
//! A condition keeps its `lastTransitionTime` while its status stays.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::plan::Plan;
use super::rollout::Rollout;
use super::{
    ApplicationSet, ApplicationSetStatus, PendingDeletion, ResourceHealth, ResourceStatus,
};
use crate::application::{Application, Condition};

pub(crate) struct Report {
    previous: Vec<Condition>,
    conditions: Vec<Condition>,
    names: Option<Vec<String>>,
    pending: Option<PendingDeletion>,
    application_status: Option<Vec<super::AppRolloutStatus>>,
    now: String,
}

impl Report {
    pub fn new(set: &ApplicationSet) -> Self {
        let status = set.status.clone().unwrap_or_default();
        Self {
            previous: status.conditions,
            conditions: Vec::new(),
            names: None,
            pending: status.pending_deletion,
            application_status: Some(status.application_status).filter(|s| !s.is_empty()),
            now: jiff::Timestamp::now().to_string(),
        }
    }

    fn set(&mut self, type_: &str, on: bool, reason: &str, message: impl Into<String>) {
        let status = if on { "True" } else { "False" }.to_owned();
        let kept = self.previous.iter().find(|c| c.type_ == type_ && c.status == status);
        let last_transition_time =
            kept.map_or_else(|| self.now.clone(), |c| c.last_transition_time.clone());
        self.conditions.retain(|c| c.type_ != type_);
        self.conditions.push(Condition {
            type_: type_.into(),
            status,
            reason: reason.into(),
            message: message.into(),
            last_transition_time,
        });
    }

    /// An error: nothing more is done this time. Returns `retry`.
    pub fn error(
        &mut self,
        reason: &str,
        message: String,
        retry: Option<Duration>,
    ) -> Option<Duration> {
        self.set("ErrorOccurred", true, reason, message.clone());
        self.set(
            "ResourcesUpToDate",
            false,
            reason,
            format!("the Applications were left as they are: {message}"),
        );
        retry
    }

    pub fn parameters(&mut self, outcome: Result<usize, String>) {
        match outcome {
            Ok(n) => self.set(
                "ParametersGenerated",
                true,
                "ParametersGenerated",
                format!("the generators yield {n} parameter sets"),
            ),
            Err(e) => self.set("ParametersGenerated", false, "GenerateFailed", e),
        }
    }

    pub fn planned(&mut self, plan: &Plan, max: usize) {
        self.pending = plan.held.clone();
        match &plan.held {
            Some(held) => self.set(
                "PruneApproval",
                true,
                "DeletionsNeedApproval",
                format!(
                    "{} Applications would be deleted, more than maxDeletions ({max}): {}; nothing was deleted. Approve exactly these deletions with `ferry appset approve NAME` (or raise spec.syncPolicy.maxDeletions)",
                    held.applications.len(),
                    held.applications.join(", ")
                ),
            ),
            None => self.set("PruneApproval", false, "NoneWaiting", "no deletion waits for an approval"),
        }
    }

    pub fn generated(&mut self, apps: &[Application]) {
        self.names = Some(apps.iter().filter_map(|a| a.metadata.name.clone()).collect());
        self.set("ErrorOccurred", false, "None", "the last reconcile succeeded");
        match &self.pending {
            Some(_) => self.set(
                "ResourcesUpToDate",
                false,
                "DeletionsNeedApproval",
                "deletions wait for an approval (see PruneApproval)",
            ),
            None => self.set(
                "ResourcesUpToDate",
                true,
                "ApplicationSetUpToDate",
                format!("all {} generated Applications are up to date", apps.len()),
            ),
        }
    }

    pub fn rollout(&mut self, plan: Rollout) {
        match &plan.blocked {
            Some(why) => self.set("RolloutProgressing", false, "ApplicationDegraded", why.clone()),
            None if plan.status.iter().all(|s| s.status == "Healthy") => self.set(
                "RolloutProgressing",
                false,
                "RolloutDone",
                "every step is Synced and Healthy",
            ),
            None => self.set(
                "RolloutProgressing",
                true,
                "Progressing",
                format!("{} Applications asked to sync now", plan.sync_now.len()),
            ),
        }
        self.application_status = Some(plan.status);
    }

    /// The status to write; `owned` gives each generated app's sync and health.
    pub fn finish(
        mut self,
        set: &ApplicationSet,
        owned: &[Arc<Application>],
    ) -> ApplicationSetStatus {
        let previous = set.status.clone().unwrap_or_default();
        for c in &self.previous {
            if !self.conditions.iter().any(|n| n.type_ == c.type_) {
                self.conditions.push(c.clone());
            }
        }
        self.conditions.sort_by(|a, b| a.type_.cmp(&b.type_));
        let by_name: HashMap<&str, &Application> =
            owned.iter().filter_map(|a| Some((a.metadata.name.as_deref()?, a.as_ref()))).collect();
        let resources = match &self.names {
            Some(names) => {
                names.iter().map(|n| resource(n, by_name.get(n.as_str()).copied())).collect()
            }
            None => previous.resources.clone(),
        };
        ApplicationSetStatus {
            conditions: self.conditions,
            resources,
            application_status: self.application_status.unwrap_or_default(),
            pending_deletion: self.pending,
            observed_generation: set.metadata.generation,
        }
    }
}

fn resource(name: &str, app: Option<&Application>) -> ResourceStatus {
    let status = app.and_then(|a| a.status.as_ref());
    ResourceStatus {
        name: name.to_owned(),
        namespace: app.and_then(|a| a.metadata.namespace.clone()).unwrap_or_default(),
        status: status.map_or_else(|| "Unknown".to_owned(), |s| s.sync.status.to_string()),
        health: ResourceHealth {
            status: status.map_or_else(|| "Unknown".to_owned(), |s| s.health.status.to_string()),
        },
    }
}

/// The status as a merge patch: optional fields that are gone are written as `null`.
pub(crate) fn as_patch(status: &ApplicationSetStatus) -> Value {
    let mut v = serde_json::to_value(status).unwrap_or_default();
    if let Value::Object(m) = &mut v {
        for key in [
            "conditions",
            "resources",
            "applicationStatus",
            "pendingDeletion",
            "observedGeneration",
        ] {
            m.entry(key).or_insert(Value::Null);
        }
    }
    v
}
