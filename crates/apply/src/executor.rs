//! Carries a [`Plan`] out against a cluster with server-side apply, one wave at a time, as
//! [`next_step`] decides. Every outcome, including failures, lands in the change set; the executor
//! itself never fails halfway without saying what it did.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_health::{HealthStatus, Rules, assess};
use kube::api::{
    Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, Preconditions,
    PropagationPolicy,
};
use kube::{Client, ResourceExt};
use serde_json::Value;

use crate::FIELD_MANAGER;
use crate::annotations::{ApplyMode, DeletePolicy};
use crate::changeset::{Action, ChangeSet, ChangeSetEntry};
use crate::discovery::{Discovery, DiscoveryError, gvk_of};
use crate::object::{ObjKey, str_at};
use crate::plan::{Plan, Task, TaskKind, Wave};
use crate::step::{Cursor, Step, SyncPhase, WaveOutcome, next_step};
use crate::tracking::{ANNOTATION_HOOK_OF, AppId, set_metadata_entry};

#[derive(Clone, Debug)]
pub struct ExecutorConfig {
    /// How long a wave may take to become healthy before the sync fails.
    pub wave_timeout: Duration,
    /// How long a hook may run.
    pub hook_timeout: Duration,
    /// How often health is polled while waiting.
    pub poll: Duration,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            wave_timeout: Duration::from_secs(300),
            hook_timeout: Duration::from_secs(600),
            poll: Duration::from_millis(100),
        }
    }
}

impl ExecutorConfig {
    pub fn wave_timeout(mut self, d: Duration) -> Self {
        self.wave_timeout = d;
        self
    }

    pub fn hook_timeout(mut self, d: Duration) -> Self {
        self.hook_timeout = d;
        self
    }
}

/// One sync to carry out.
pub struct SyncRequest<'a> {
    pub plan: &'a Plan,
    pub app: &'a AppId,
    pub dry_run: bool,
    /// Live objects as the caller knows them (the engine's watch cache). `None`: the executor
    /// reads each object before applying it.
    pub live: Option<&'a HashMap<ObjKey, Value>>,
    /// Objects the caller's diff found in sync: not sent to the server, reported unchanged.
    pub in_sync: &'a HashSet<ObjKey>,
    pub health_rules: &'a Rules,
    /// An object whose update the server refuses because an immutable field changed is deleted
    /// (its UID as precondition) and created again, as `kubectl replace --force` and Argo CD's
    /// Force do. Without it such an object fails, and its message says how to go on.
    pub recreate_immutable: bool,
}

/// An object as the cluster has it after the sync step that applied it.
#[derive(Clone, Debug)]
pub struct AppliedObject {
    pub key: ObjKey,
    pub api_version: String,
    pub uid: String,
    /// The object returned by the server (absent for objects skipped as in sync).
    pub object: Option<Value>,
}

#[derive(Clone, Debug)]
pub struct SyncOutcome {
    pub phase: SyncPhase,
    pub change_set: ChangeSet,
    /// Tracked resources applied (or found in sync), for the inventory.
    pub applied: Vec<AppliedObject>,
    /// Keys whose delete the server confirmed (or which were already gone).
    pub pruned: Vec<ObjKey>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error("{key}: the server refused it: {message}")]
    Refused { key: ObjKey, message: String, code: u16 },
    #[error("{key}: {source}")]
    Api {
        key: ObjKey,
        #[source]
        source: kube::Error,
    },
    #[error("{key}: the manifest cannot be sent: {source}")]
    Encode {
        key: ObjKey,
        #[source]
        source: serde_json::Error,
    },
}

impl ApplyError {
    fn api(key: &ObjKey, source: kube::Error) -> Self {
        match source {
            kube::Error::Api(status) => ApplyError::Refused {
                key: key.clone(),
                message: status.message.clone(),
                code: status.code,
            },
            source => ApplyError::Api { key: key.clone(), source },
        }
    }
}

pub struct Executor {
    client: Client,
    discovery: Arc<Discovery>,
    config: ExecutorConfig,
}

impl Executor {
    pub fn new(client: Client, discovery: Arc<Discovery>, config: ExecutorConfig) -> Self {
        Self { client, discovery, config }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs the plan to the end and reports what happened.
    pub async fn execute(&self, req: &SyncRequest<'_>) -> SyncOutcome {
        let mut out = SyncOutcome {
            phase: SyncPhase::Succeeded,
            change_set: ChangeSet::default(),
            applied: vec![],
            pruned: vec![],
        };
        for s in &req.plan.skipped {
            out.change_set.push(entry(
                &s.key,
                Action::Skipped,
                crate::plan::Phase::Sync,
                0,
                s.reason.clone(),
                "",
            ));
        }
        let mut cursor = Cursor::Start;
        let mut last: Option<WaveOutcome> = None;
        let mut failure: Option<String> = None;
        loop {
            match next_step(req.plan, &cursor, last.as_ref()) {
                Step::Finish(phase) => {
                    out.phase = phase;
                    return out;
                }
                Step::Run { index, wait_healthy } => {
                    if index > 0 && !req.dry_run {
                        crate::killpoint::pass(crate::killpoint::BETWEEN_WAVES);
                    }
                    let wave = &req.plan.waves[index];
                    let mut outcome = self.run_wave(req, wave, &mut out).await;
                    if outcome == WaveOutcome::Succeeded && wait_healthy && !req.dry_run {
                        outcome = self.wait_healthy(req, wave).await;
                    }
                    if let (None, WaveOutcome::Failed(m)) = (&failure, &outcome) {
                        failure = Some(m.clone());
                    }
                    cursor = Cursor::After { index, failure: failure.clone() };
                    last = Some(outcome);
                }
            }
        }
    }

    async fn run_wave(
        &self,
        req: &SyncRequest<'_>,
        wave: &Wave,
        out: &mut SyncOutcome,
    ) -> WaveOutcome {
        let mut failures = Vec::new();
        for task in &wave.tasks {
            let result = match &task.kind {
                TaskKind::Apply { mode, force } => self.apply(req, task, *mode, *force, out).await,
                TaskKind::Hook { delete } => self.hook(req, task, delete).await,
                TaskKind::Prune { uid } => self.prune(req, task, uid, out).await,
            };
            let (action, message, uid) = match result {
                Ok(done) => done,
                Err(e) => (Action::Failed, e.to_string(), String::new()),
            };
            if !req.dry_run {
                crate::killpoint::pass(match task.kind {
                    TaskKind::Apply { .. } => crate::killpoint::MID_APPLY,
                    TaskKind::Hook { .. } => crate::killpoint::MID_HOOK,
                    TaskKind::Prune { .. } => crate::killpoint::MID_PRUNE,
                });
            }
            if matches!(action, Action::Failed | Action::HookFailed) {
                failures.push(format!("{}: {}", task.key, message));
            }
            out.change_set.push(entry(&task.key, action, wave.phase, wave.wave, message, &uid));
        }
        if failures.is_empty() {
            WaveOutcome::Succeeded
        } else {
            WaveOutcome::Failed(failures.join("; "))
        }
    }

    async fn api_for(&self, obj: &Value, key: &ObjKey) -> Result<Api<DynamicObject>, ApplyError> {
        let gvk = gvk_of(str_at(obj, &["apiVersion"]).unwrap_or_default(), &key.kind);
        let resolved = match self.discovery.resolve(&self.client, &gvk).await {
            Ok(r) => r,
            Err(e) if e.is_unknown_kind() => {
                // A CRD applied in an earlier wave may have just become established.
                self.discovery.forget(&gvk);
                self.discovery.resolve(&self.client, &gvk).await?
            }
            Err(e) => return Err(e.into()),
        };
        Ok(if resolved.namespaced {
            Api::namespaced_with(self.client.clone(), &key.namespace, &resolved.resource)
        } else {
            Api::all_with(self.client.clone(), &resolved.resource)
        })
    }

    async fn live(
        &self,
        req: &SyncRequest<'_>,
        api: &Api<DynamicObject>,
        key: &ObjKey,
    ) -> Result<Option<Value>, ApplyError> {
        if let Some(cache) = req.live {
            let cached = cache.get(key).cloned();
            // The cache holds the objects the app tracks; a Namespace that CreateNamespace=true
            // adds is not tracked (it is never pruned), so whether it exists is asked for.
            if cached.is_some() || !(key.group.is_empty() && key.kind == "Namespace") {
                return Ok(cached);
            }
        }
        match api.get_opt(&key.name).await {
            Ok(found) => Ok(found.map(|o| serde_json::to_value(o).unwrap_or(Value::Null))),
            Err(e) => Err(ApplyError::api(key, e)),
        }
    }

    async fn apply(
        &self,
        req: &SyncRequest<'_>,
        task: &Task,
        mode: ApplyMode,
        force: bool,
        out: &mut SyncOutcome,
    ) -> Result<(Action, String, String), ApplyError> {
        let key = &task.key;
        let api_version = str_at(&task.object, &["apiVersion"]).unwrap_or_default().to_owned();
        if req.in_sync.contains(key) {
            let uid = req
                .live
                .and_then(|l| l.get(key))
                .and_then(|o| str_at(o, &["metadata", "uid"]))
                .unwrap_or_default()
                .to_owned();
            out.applied.push(AppliedObject {
                key: key.clone(),
                api_version,
                uid: uid.clone(),
                object: None,
            });
            return Ok((Action::Unchanged, String::new(), uid));
        }
        let api = self.api_for(&task.object, key).await?;
        let before = self.live(req, &api, key).await?;
        let before_rv = before
            .as_ref()
            .and_then(|o| str_at(o, &["metadata", "resourceVersion"]).map(str::to_owned));
        if let (ApplyMode::IfNotPresent, Some(live)) = (mode, &before) {
            let uid = str_at(live, &["metadata", "uid"]).unwrap_or_default().to_owned();
            out.applied.push(AppliedObject {
                key: key.clone(),
                api_version,
                uid: uid.clone(),
                object: Some(live.clone()),
            });
            let message = "exists; applied only when missing (ssa: IfNotPresent)".into();
            return Ok((Action::Unchanged, message, uid));
        }
        let written = self.write(req, &api, task, mode, force, &before).await;
        let (after, recreated) = match (written, &before) {
            (Err(e), Some(live)) if is_immutable_refusal(&e) && req.recreate_immutable => {
                let message = refusal_message(&e);
                if req.dry_run {
                    let uid = str_at(live, &["metadata", "uid"]).unwrap_or_default().to_owned();
                    let message =
                        format!("dry run: would be deleted and created again ({message})");
                    return Ok((Action::Configured, message, uid));
                }
                let uid = str_at(live, &["metadata", "uid"]).unwrap_or_default();
                self.delete_and_wait_uid(&api, key, Some(uid), self.config.wave_timeout).await?;
                let after = self.write(req, &api, task, mode, force, &None).await?;
                (after, Some(message))
            }
            (Err(e), Some(_)) if is_immutable_refusal(&e) => {
                return Err(ApplyError::Refused {
                    key: key.clone(),
                    message: format!(
                        "{}; a sync with force deletes it and creates it again",
                        refusal_message(&e)
                    ),
                    code: 422,
                });
            }
            (written, _) => (written?, None),
        };
        let uid = after.uid().unwrap_or_default();
        let object = serde_json::to_value(&after).ok();
        let action = match (before_rv, &before) {
            _ if recreated.is_some() => Action::Configured,
            (None, _) => Action::Created,
            // A dry run never changes resourceVersion: what would change is the content.
            (Some(_), Some(live)) if req.dry_run => match &object {
                Some(would_be) if same_content(live, would_be) => Action::Unchanged,
                _ => Action::Configured,
            },
            (Some(rv), _) if after.resource_version().as_deref() == Some(rv.as_str()) => {
                Action::Unchanged
            }
            (Some(_), _) => Action::Configured,
        };
        out.applied.push(AppliedObject { key: key.clone(), api_version, uid: uid.clone(), object });
        let message = match recreated {
            Some(why) => format!("deleted and created again: {why}"),
            None if req.dry_run => "dry run".to_owned(),
            None => String::new(),
        };
        Ok((action, message, uid))
    }

    /// Sends the object: a server-side apply, or a PUT (`Replace`) over the live one.
    async fn write(
        &self,
        req: &SyncRequest<'_>,
        api: &Api<DynamicObject>,
        task: &Task,
        mode: ApplyMode,
        force: bool,
        before: &Option<Value>,
    ) -> Result<DynamicObject, ApplyError> {
        let key = &task.key;
        Ok(match (mode, before) {
            (ApplyMode::Replace, Some(live)) => {
                let mut obj = task.object.clone();
                if let Some(rv) = str_at(live, &["metadata", "resourceVersion"]) {
                    obj["metadata"]["resourceVersion"] = Value::String(rv.to_owned());
                }
                let dyn_obj: DynamicObject = serde_json::from_value(obj)
                    .map_err(|source| ApplyError::Encode { key: key.clone(), source })?;
                let pp =
                    PostParams { dry_run: req.dry_run, field_manager: Some(FIELD_MANAGER.into()) };
                api.replace(&key.name, &pp, &dyn_obj).await.map_err(|e| ApplyError::api(key, e))?
            }
            _ => {
                let mut params = PatchParams::apply(FIELD_MANAGER);
                if force {
                    params = params.force();
                }
                params.dry_run = req.dry_run;
                api.patch(&key.name, &params, &Patch::Apply(&task.object))
                    .await
                    .map_err(|e| ApplyError::api(key, e))?
            }
        })
    }

    async fn hook(
        &self,
        req: &SyncRequest<'_>,
        task: &Task,
        delete: &[DeletePolicy],
    ) -> Result<(Action, String, String), ApplyError> {
        let key = &task.key;
        if req.dry_run {
            return Ok((Action::Skipped, "hooks do not run in a dry run".into(), String::new()));
        }
        let api = self.api_for(&task.object, key).await?;
        let mut obj = task.object.clone();
        set_metadata_entry(&mut obj, "annotations", ANNOTATION_HOOK_OF, &req.app.owner());
        let generated = obj["metadata"].get("name").is_none();
        // Argo's default when no policy is given: replace the previous run of the hook.
        let before_creation =
            delete.is_empty() || delete.contains(&DeletePolicy::BeforeHookCreation);
        if !generated && before_creation {
            self.delete_and_wait(&api, key).await?;
        }
        let dyn_obj: DynamicObject = serde_json::from_value(obj)
            .map_err(|source| ApplyError::Encode { key: key.clone(), source })?;
        let pp = PostParams { dry_run: false, field_manager: Some(FIELD_MANAGER.into()) };
        let created = api.create(&pp, &dyn_obj).await.map_err(|e| ApplyError::api(key, e))?;
        let name = created.name_any();
        let uid = created.uid().unwrap_or_default();
        let deadline = Instant::now() + self.config.hook_timeout;
        let (succeeded, message) = loop {
            let Some(live) = api.get_opt(&name).await.map_err(|e| ApplyError::api(key, e))? else {
                break (false, format!("hook {name} was deleted before it finished"));
            };
            let live = serde_json::to_value(live).unwrap_or(Value::Null);
            let health = assess(&live, req.health_rules);
            match health.status {
                HealthStatus::Healthy => break (true, format!("hook {name} finished")),
                HealthStatus::Degraded => {
                    break (false, format!("hook {name} failed: {}", health.message));
                }
                _ if Instant::now() > deadline => {
                    break (
                        false,
                        format!("hook {name} did not finish within {:?}", self.config.hook_timeout),
                    );
                }
                _ => tokio::time::sleep(self.config.poll).await,
            }
        };
        let policy = if succeeded { DeletePolicy::HookSucceeded } else { DeletePolicy::HookFailed };
        if delete.contains(&policy) {
            let dp = DeleteParams {
                propagation_policy: Some(PropagationPolicy::Background),
                ..Default::default()
            };
            if let Err(e) = api.delete(&name, &dp).await {
                tracing::warn!(hook = %name, error = %e, "could not delete the finished hook");
            }
        }
        Ok((if succeeded { Action::HookSucceeded } else { Action::HookFailed }, message, uid))
    }

    async fn delete_and_wait(
        &self,
        api: &Api<DynamicObject>,
        key: &ObjKey,
    ) -> Result<(), ApplyError> {
        match self.delete_and_wait_uid(api, key, None, self.config.hook_timeout).await {
            Err(ApplyError::Refused { code: 409, .. }) => Err(ApplyError::Refused {
                key: key.clone(),
                message: "the previous run of this hook is still being deleted".into(),
                code: 409,
            }),
            other => other,
        }
    }

    /// Deletes the object (only if it still has `uid`, when given) and waits until it is gone.
    async fn delete_and_wait_uid(
        &self,
        api: &Api<DynamicObject>,
        key: &ObjKey,
        uid: Option<&str>,
        timeout: Duration,
    ) -> Result<(), ApplyError> {
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: uid
                .filter(|u| !u.is_empty())
                .map(|u| Preconditions { uid: Some(u.to_owned()), resource_version: None }),
            ..Default::default()
        };
        match api.delete(&key.name, &dp).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => return Err(ApplyError::api(key, e)),
        }
        let deadline = Instant::now() + timeout;
        while api.get_opt(&key.name).await.map_err(|e| ApplyError::api(key, e))?.is_some() {
            if Instant::now() > deadline {
                return Err(ApplyError::Refused {
                    key: key.clone(),
                    message: format!(
                        "still being deleted after {timeout:?} (finalizers?); it is created again at the next sync once it is gone"
                    ),
                    code: 409,
                });
            }
            tokio::time::sleep(self.config.poll).await;
        }
        Ok(())
    }

    async fn prune(
        &self,
        req: &SyncRequest<'_>,
        task: &Task,
        uid: &str,
        out: &mut SyncOutcome,
    ) -> Result<(Action, String, String), ApplyError> {
        let key = &task.key;
        let api = self.api_for(&task.object, key).await?;
        let dp = DeleteParams {
            dry_run: req.dry_run,
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: Some(Preconditions {
                uid: Some(uid.to_owned()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&key.name, &dp).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {
                return Ok((
                    Action::Skipped,
                    format!("kept: the object was replaced since Ferry applied it ({})", s.message),
                    uid.to_owned(),
                ));
            }
            Err(e) => return Err(ApplyError::api(key, e)),
        }
        if !req.dry_run {
            out.pruned.push(key.clone());
        }
        Ok((
            Action::Pruned,
            if req.dry_run { "dry run".into() } else { String::new() },
            uid.to_owned(),
        ))
    }

    /// Waits until every resource the wave applied is healthy; Degraded fails the wave.
    async fn wait_healthy(&self, req: &SyncRequest<'_>, wave: &Wave) -> WaveOutcome {
        let deadline = Instant::now() + self.config.wave_timeout;
        let mut pending: Vec<&Task> =
            wave.tasks.iter().filter(|t| matches!(t.kind, TaskKind::Apply { .. })).collect();
        while !pending.is_empty() {
            let mut still = Vec::new();
            for task in pending {
                let api = match self.api_for(&task.object, &task.key).await {
                    Ok(api) => api,
                    Err(e) => return WaveOutcome::Failed(e.to_string()),
                };
                let live = match api.get_opt(&task.key.name).await {
                    Ok(Some(o)) => serde_json::to_value(o).unwrap_or(Value::Null),
                    Ok(None) => {
                        return WaveOutcome::Failed(format!(
                            "{} disappeared after it was applied",
                            task.key
                        ));
                    }
                    Err(e) => {
                        return WaveOutcome::Failed(ApplyError::api(&task.key, e).to_string());
                    }
                };
                let health = assess(&live, req.health_rules);
                match health.status {
                    HealthStatus::Healthy | HealthStatus::Suspended => {}
                    HealthStatus::Degraded => {
                        return WaveOutcome::Failed(format!(
                            "{} is Degraded: {}",
                            task.key, health.message
                        ));
                    }
                    _ => still.push(task),
                }
            }
            pending = still;
            if pending.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                let names: Vec<String> = pending.iter().map(|t| t.key.to_string()).collect();
                return WaveOutcome::Failed(format!(
                    "wave {} did not become healthy within {:?}: {} still progressing",
                    wave.wave,
                    self.config.wave_timeout,
                    names.join(", ")
                ));
            }
            tokio::time::sleep(self.config.poll).await;
        }
        WaveOutcome::Succeeded
    }
}

fn entry(
    key: &ObjKey,
    action: Action,
    phase: crate::plan::Phase,
    wave: i64,
    message: String,
    uid: &str,
) -> ChangeSetEntry {
    ChangeSetEntry {
        key: key.clone(),
        action,
        phase,
        wave: if wave == i64::MAX { 0 } else { wave },
        message,
        uid: uid.to_owned(),
        at: jiff::Timestamp::now().to_string(),
    }
}

/// Whether the server refused an update because a field that cannot change after creation
/// changed (kube-apiserver answers 422 Invalid with "field is immutable").
fn is_immutable_refusal(e: &ApplyError) -> bool {
    matches!(e, ApplyError::Refused { code: 422, message, .. } if message.contains("immutable"))
}

fn refusal_message(e: &ApplyError) -> String {
    match e {
        ApplyError::Refused { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Whether two versions of an object hold the same content: everything but the bookkeeping the
/// server changes by itself (resourceVersion, generation, managedFields and their times).
fn same_content(a: &Value, b: &Value) -> bool {
    fn content(v: &Value) -> Value {
        let mut v = v.clone();
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            for volatile in ["resourceVersion", "generation", "managedFields"] {
                meta.remove(volatile);
            }
        }
        v
    }
    content(a) == content(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_dry_run_that_changes_only_bookkeeping_is_unchanged_and_one_that_changes_the_spec_is_not() {
        let live = json!({"metadata": {"name": "web", "resourceVersion": "7", "generation": 1,
            "managedFields": [{"manager": "kubectl"}]}, "spec": {"replicas": 5}});
        let same = json!({"metadata": {"name": "web", "resourceVersion": "7", "generation": 2,
            "managedFields": [{"manager": "ferry"}]}, "spec": {"replicas": 5}});
        let healed =
            json!({"metadata": {"name": "web", "resourceVersion": "7"}, "spec": {"replicas": 2}});
        assert!(same_content(&live, &same));
        assert!(!same_content(&live, &healed));
    }
}
