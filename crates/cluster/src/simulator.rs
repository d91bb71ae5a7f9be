//! The workload simulator: what kube-controller-manager, the scheduler and a kubelet would do
//! for Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, Pods and PVCs.
//!
//! # Guarantees
//! - Pods become Running and Ready `simulator_delay` after creation; Job pods succeed then.
//! - Failure modes chosen by image and annotations (an image on a `.invalid` host or missing
//!   from a loopback registry, `sim.ferry.dev/crash`, `sim.ferry.dev/ready: never`,
//!   `sim.ferry.dev/job: fail`) are the rules of `crate::simulated`.
//! - A pod with an image matching `unpullable_images` stays Pending in `ImagePullBackOff`
//!   (Job pods fail with `ErrImagePull`, so the Job fails once `backoffLimit` is exceeded);
//!   a Deployment whose new pods never become ready reports `ProgressDeadlineExceeded` after
//!   `spec.progressDeadlineSeconds`.
//! - Every write goes through the normal write path (manager `kube-controller-manager` or
//!   `kubelet`), so watches, managedFields and resourceVersions behave as for any client.
//!
//! # Caveats
//! - One node (`ferry-node`); no scheduling constraints, probes, resources or real rolling
//!   updates: a new ReplicaSet takes all replicas at once and old ones scale to zero.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::http::Shared;
use crate::resources::ResourceType;
use crate::store::{Event, EventType, Key};
use crate::write::admit::Op;
use crate::write::ops::{self, DeleteOptions, Edit, UpdateRequest};

const CONTROLLER: &str = "kube-controller-manager";
const KUBELET: &str = "kubelet";
pub const NODE: &str = "ferry-node";

pub fn spawn(st: Shared, stop: tokio::sync::watch::Receiver<bool>) {
    let unpullable = Regex::new(&st.config.unpullable_images).ok();
    let sim = Sim {
        st: st.clone(),
        delay: st.config.simulator_delay,
        unpullable,
        pulls: std::sync::Mutex::default(),
    };
    tokio::spawn(sim.run(stop));
}

struct Sim {
    st: Shared,
    delay: Duration,
    unpullable: Option<Regex>,
    /// Images a loopback registry does not serve, and why (see `crate::simulated`).
    pulls: std::sync::Mutex<HashMap<String, String>>,
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or_default()
}

fn i(v: &Value, ptr: &str, default: i64) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(default)
}

fn template_hash(template: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h = template
        .to_string()
        .bytes()
        .fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3));
    let mut out = String::new();
    for _ in 0..10 {
        out.push(ALPHABET[(h % ALPHABET.len() as u64) as usize] as char);
        h /= ALPHABET.len() as u64;
    }
    out
}

fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uuid::Uuid::new_v4().into_bytes()[..5]
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

fn owner_ref(owner: &Value, kind: &str, api_version: &str) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
        "controller": true, "blockOwnerDeletion": true})
}

fn controller_of(obj: &Value) -> Option<(String, String)> {
    obj.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)
        .map(|r| {
            (
                r["kind"].as_str().unwrap_or_default().to_string(),
                r["name"].as_str().unwrap_or_default().to_string(),
            )
        })
}

fn deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp").is_some()
}

fn condition(t: &str, status: bool, reason: &str, message: &str, now: &str) -> Value {
    json!({"type": t, "status": if status { "True" } else { "False" }, "reason": reason, "message": message,
        "lastTransitionTime": now, "lastUpdateTime": now})
}

/// Keeps a condition's timestamps when its status and reason did not change, so a reconcile
/// that observes nothing new writes nothing.
fn merge_conditions(old: Option<&Value>, mut new: Vec<Value>) -> Value {
    let old = old.and_then(Value::as_array).cloned().unwrap_or_default();
    for c in new.iter_mut() {
        if let Some(prev) = old.iter().find(|o| o["type"] == c["type"])
            && prev["status"] == c["status"]
        {
            c["lastTransitionTime"] = prev["lastTransitionTime"].clone();
            if prev["reason"] == c["reason"] && prev.get("lastUpdateTime").is_some() {
                c["lastUpdateTime"] = prev["lastUpdateTime"].clone();
            }
        }
        if c.get("lastUpdateTime").is_some()
            && c["type"] != "Progressing"
            && c["type"] != "Available"
            && let Some(m) = c.as_object_mut()
        {
            m.remove("lastUpdateTime");
        }
    }
    Value::Array(new)
}

impl Sim {
    fn rt(&self, group: &str, plural: &str) -> Option<ResourceType> {
        ops::type_of(&self.st, &format!("{group}/{plural}"))
    }

    /// Objects of `storage` that `owner` owns (from the store's owner index).
    fn owned(&self, storage: &str, owner: &Value) -> Vec<Arc<Value>> {
        let uid = s(owner, "/metadata/uid");
        if uid.is_empty() {
            return vec![];
        }
        self.st
            .store
            .dependents(uid)
            .into_iter()
            .filter(|(k, _)| k.storage == storage)
            .map(|(_, o)| o)
            .collect()
    }

    fn get(&self, storage: &str, ns: &str, name: &str) -> Option<Arc<Value>> {
        self.st.store.get(&Key { storage: storage.into(), namespace: ns.into(), name: name.into() })
    }

    fn create(&self, group: &str, plural: &str, ns: &str, obj: Value) {
        let Some(rt) = self.rt(group, plural) else { return };
        if let Err(e) = ops::create(&self.st, &rt, Some(ns), obj, CONTROLLER, false)
            && e.code != 409
            && e.code != 403
            && e.code != 404
        {
            tracing::debug!(error = %e, "simulator create failed");
        }
    }

    fn delete(&self, group: &str, plural: &str, ns: &str, name: &str) {
        let Some(rt) = self.rt(group, plural) else { return };
        let _ = ops::delete(&self.st, &rt, Some(ns), name, &DeleteOptions::default());
    }

    /// Changes one object of the `group/plural` bucket through the normal update path.
    fn edit(
        &self,
        storage: &str,
        ns: &str,
        name: &str,
        op: Op,
        manager: &str,
        f: impl FnOnce(&mut Value) + Send + 'static,
    ) {
        let Some(rt) = ops::type_of(&self.st, storage) else { return };
        let edit = Edit::Patch(Box::new(move |cur: &Value, _: &ferry_diff::Schema| {
            let mut next = cur.clone();
            f(&mut next);
            Ok(next)
        }));
        let req =
            UpdateRequest { rt: &rt, namespace: Some(ns), name, manager, op, dry_run: false, edit };
        if let Err(e) = ops::update(&self.st, req)
            && e.code != 404
            && e.code != 409
        {
            tracing::debug!(error = %e, "simulator update failed");
        }
    }

    fn set_status(
        &self,
        group: &str,
        plural: &str,
        ns: &str,
        name: &str,
        manager: &str,
        status: Value,
    ) {
        self.edit(&format!("{group}/{plural}"), ns, name, Op::Status, manager, move |o| {
            o["status"] = status
        });
    }

    async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut events = self.st.store.subscribe();
        // Due reconciles: when → keys. Pods are due `delay` after they change; controllers at once.
        let mut due: BTreeMap<Instant, Vec<Key>> = BTreeMap::new();
        let mut queued: HashMap<Key, Instant> = HashMap::new();
        self.resync(&mut due, &mut queued);
        loop {
            let next = due.keys().next().copied();
            let sleep = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stop.changed() => return,
                ev = events.recv() => match ev {
                    Ok(e) => self.on_event(&e, &mut due, &mut queued),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => self.resync(&mut due, &mut queued),
                    Err(_) => return,
                },
                _ = sleep => {
                    let now = Instant::now();
                    let ready: Vec<Instant> = due.range(..=now).map(|(k, _)| *k).collect();
                    for at in ready {
                        for key in due.remove(&at).unwrap_or_default() {
                            queued.remove(&key);
                            if key.storage == "/pods" {
                                self.check_pulls(&key).await;
                            }
                            self.reconcile(&key, &mut due, &mut queued);
                        }
                    }
                }
            }
        }
    }

    fn schedule(
        &self,
        key: Key,
        at: Instant,
        due: &mut BTreeMap<Instant, Vec<Key>>,
        queued: &mut HashMap<Key, Instant>,
    ) {
        // Keep only the earliest due time of a key.
        if let Some(existing) = queued.get(&key).copied() {
            if existing <= at {
                return;
            }
            if let Some(keys) = due.get_mut(&existing) {
                keys.retain(|k| *k != key);
                if keys.is_empty() {
                    due.remove(&existing);
                }
            }
        }
        queued.insert(key.clone(), at);
        due.entry(at).or_default().push(key);
    }

    fn resync(&self, due: &mut BTreeMap<Instant, Vec<Key>>, queued: &mut HashMap<Key, Instant>) {
        for (key, _) in self.st.store.all() {
            if WATCHED.contains(&key.storage.as_str()) {
                let at = Instant::now()
                    + if key.storage == "/pods" { self.delay } else { Duration::ZERO };
                self.schedule(key, at, due, queued);
            }
        }
    }

    fn on_event(
        &self,
        e: &Event,
        due: &mut BTreeMap<Instant, Vec<Key>>,
        queued: &mut HashMap<Key, Instant>,
    ) {
        let storage = e.key.storage.as_str();
        if !WATCHED.contains(&storage) {
            return;
        }
        let now = Instant::now();
        if e.kind != EventType::Deleted {
            let at = match storage {
                "/pods" | "/persistentvolumeclaims" if e.kind == EventType::Added => {
                    now + self.delay
                }
                "/pods" | "/persistentvolumeclaims" => now + self.delay / 4,
                _ => now,
            };
            self.schedule(e.key.clone(), at, due, queued);
        }
        // Owners react to their pods and ReplicaSets.
        if let Some((kind, name)) = controller_of(&e.object) {
            let storage = match kind.as_str() {
                "ReplicaSet" => "apps/replicasets",
                "Deployment" => "apps/deployments",
                "StatefulSet" => "apps/statefulsets",
                "DaemonSet" => "apps/daemonsets",
                "Job" => "batch/jobs",
                _ => return,
            };
            let key = Key { storage: storage.into(), namespace: e.key.namespace.clone(), name };
            self.schedule(key, now, due, queued);
        }
    }

    fn reconcile(
        &self,
        key: &Key,
        due: &mut BTreeMap<Instant, Vec<Key>>,
        queued: &mut HashMap<Key, Instant>,
    ) {
        let Some(obj) = self.st.store.get(key) else { return };
        if deleting(&obj) {
            return;
        }
        let ns = key.namespace.as_str();
        match key.storage.as_str() {
            "/pods" => self.kubelet(ns, &obj),
            "/persistentvolumeclaims" if s(&obj, "/status/phase") != "Bound" => {
                let mut status = json!({"phase": "Bound", "accessModes": obj.pointer("/spec/accessModes").cloned().unwrap_or(json!([]))});
                if let Some(req) = obj.pointer("/spec/resources/requests") {
                    status["capacity"] = req.clone();
                }
                self.set_status("", "persistentvolumeclaims", ns, &key.name, CONTROLLER, status);
            }
            "apps/deployments" => {
                if let Some(at) = self.deployment(ns, &obj) {
                    self.schedule(key.clone(), at, due, queued);
                }
            }
            "apps/replicasets" => self.replica_set(ns, &obj),
            "apps/statefulsets" => self.stateful_set(ns, &obj),
            "apps/daemonsets" => self.daemon_set(ns, &obj),
            "batch/jobs" => self.job(ns, &obj),
            "/services" | "networking.k8s.io/ingresses" => self.load_balancer(key, &obj),
            _ => {}
        }
    }

    /// Asks the loopback registries of a pod not started yet whether they have its images.
    async fn check_pulls(&self, key: &Key) {
        let Some(pod) = self.st.store.get(key) else { return };
        if !matches!(s(&pod, "/status/phase"), "" | "Pending") {
            return;
        }
        for image in crate::simulated::images(&pod) {
            if crate::simulated::loopback_registry(&image).is_none() {
                continue;
            }
            let result = crate::simulated::check_pull(&image).await;
            let mut pulls = self.pulls.lock().unwrap_or_else(|e| e.into_inner());
            match result {
                Some(why) => pulls.insert(image, why),
                None => pulls.remove(&image),
            };
        }
    }

    /// ServiceLB and the ingress controller (see `loadbalancer`), unless turned off.
    fn load_balancer(&self, key: &Key, obj: &Value) {
        let config = &self.st.config;
        if !config.load_balancers {
            return;
        }
        let ip = config.load_balancer_ip.to_string();
        let (group, plural, manager, status) = if key.storage == "/services" {
            (
                "",
                "services",
                crate::loadbalancer::SERVICE_LB,
                crate::loadbalancer::service_status(obj, &ip),
            )
        } else {
            (
                "networking.k8s.io",
                "ingresses",
                crate::loadbalancer::INGRESS,
                crate::loadbalancer::ingress_status(obj, &ip),
            )
        };
        if let Some(status) = status {
            self.set_status(group, plural, &key.namespace, &key.name, manager, status);
        }
    }

    fn image_problem(&self, pod: &Value) -> Option<String> {
        let re = self.unpullable.as_ref()?;
        let containers = pod.pointer("/spec/containers").and_then(Value::as_array)?;
        containers
            .iter()
            .filter_map(|c| c["image"].as_str())
            .find(|img| re.is_match(img))
            .map(str::to_string)
    }

    /// The kubelet: a pod runs (or, for Job pods, completes) unless its image cannot be pulled.
    fn kubelet(&self, ns: &str, pod: &Value) {
        let phase = s(pod, "/status/phase");
        if phase == "Running" || phase == "Succeeded" || phase == "Failed" {
            return;
        }
        let now = crate::write::now();
        let name = s(pod, "/metadata/name").to_string();
        let job_pod = controller_of(pod).is_some_and(|(k, _)| k == "Job");
        let containers: Vec<Value> =
            pod.pointer("/spec/containers").and_then(Value::as_array).cloned().unwrap_or_default();
        let bad_image = self.image_problem(pod);
        let fate = {
            let pulls = self.pulls.lock().unwrap_or_else(|e| e.into_inner());
            crate::simulated::fate(pod, job_pod, &pulls)
        };
        let pod_ip = format!(
            "10.244.0.{}",
            2 + (template_hash(&pod["metadata"]["uid"]).len() as u64
                + u64::from(name.bytes().map(u32::from).sum::<u32>()))
                % 250
        );
        let cond = |t: &str, ok: bool, reason: &str| {
            let mut c = json!({"type": t, "status": if ok { "True" } else { "False" }, "lastTransitionTime": now, "lastProbeTime": null});
            if !reason.is_empty() {
                c["reason"] = json!(reason);
            }
            c
        };
        let status = match (&bad_image, job_pod) {
            (Some(img), false) => {
                if phase == "Pending" && pod.pointer("/status/containerStatuses").is_some() {
                    return;
                }
                let statuses: Vec<Value> = containers.iter().map(|c| json!({
                    "name": c["name"], "image": c["image"], "imageID": "", "ready": false, "started": false, "restartCount": 0,
                    "state": {"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{img}\"")}},
                })).collect();
                json!({"phase": "Pending", "hostIP": "10.0.0.1", "podIP": pod_ip, "podIPs": [{"ip": pod_ip}], "startTime": now, "qosClass": "BestEffort",
                    "conditions": [cond("PodScheduled", true, ""), cond("Initialized", true, ""),
                        cond("ContainersReady", false, "ContainersNotReady"), cond("Ready", false, "ContainersNotReady")],
                    "containerStatuses": statuses})
            }
            (Some(img), true) => {
                let statuses: Vec<Value> = containers.iter().map(|c| json!({
                    "name": c["name"], "image": c["image"], "imageID": "", "ready": false, "started": false, "restartCount": 0,
                    "state": {"terminated": {"reason": "ErrImagePull", "message": format!("failed to pull image \"{img}\""), "exitCode": 1,
                        "startedAt": now, "finishedAt": now}},
                })).collect();
                json!({"phase": "Failed", "hostIP": "10.0.0.1", "podIP": pod_ip, "startTime": now, "qosClass": "BestEffort",
                    "conditions": [cond("PodScheduled", true, ""), cond("Ready", false, "PodFailed")], "containerStatuses": statuses})
            }
            (None, _) if fate != crate::simulated::Fate::Runs => {
                if phase == "Pending" && pod.pointer("/status/containerStatuses").is_some() {
                    return;
                }
                let (phase, statuses) = crate::simulated::failing_status(pod, &fate, job_pod, &now);
                let not_ready = if job_pod { "PodFailed" } else { "ContainersNotReady" };
                json!({"phase": phase, "hostIP": "10.0.0.1", "podIP": pod_ip, "podIPs": [{"ip": pod_ip}], "startTime": now, "qosClass": "BestEffort",
                    "conditions": [cond("PodScheduled", true, ""), cond("Initialized", true, ""),
                        cond("ContainersReady", false, "ContainersNotReady"), cond("Ready", false, not_ready)],
                    "containerStatuses": statuses})
            }
            (None, true) => {
                let statuses: Vec<Value> = containers.iter().map(|c| json!({
                    "name": c["name"], "image": c["image"], "imageID": format!("docker.io/{}", c["image"].as_str().unwrap_or_default()),
                    "ready": false, "started": false, "restartCount": 0,
                    "state": {"terminated": {"reason": "Completed", "exitCode": 0, "startedAt": now, "finishedAt": now}},
                })).collect();
                json!({"phase": "Succeeded", "hostIP": "10.0.0.1", "podIP": pod_ip, "startTime": now, "qosClass": "BestEffort",
                    "conditions": [cond("PodScheduled", true, ""), cond("Initialized", true, ""), cond("Ready", false, "PodCompleted")],
                    "containerStatuses": statuses})
            }
            (None, false) => {
                let statuses: Vec<Value> = containers.iter().map(|c| json!({
                    "name": c["name"], "image": c["image"], "imageID": format!("docker.io/{}", c["image"].as_str().unwrap_or_default()),
                    "containerID": format!("containerd://{}", template_hash(&json!([name, c["name"]]))),
                    "ready": true, "started": true, "restartCount": 0, "state": {"running": {"startedAt": now}},
                })).collect();
                json!({"phase": "Running", "hostIP": "10.0.0.1", "podIP": pod_ip, "podIPs": [{"ip": pod_ip}], "startTime": now, "qosClass": "BestEffort",
                    "conditions": [cond("PodReadyToStartContainers", true, ""), cond("Initialized", true, ""), cond("ContainersReady", true, ""),
                        cond("Ready", true, ""), cond("PodScheduled", true, "")],
                    "containerStatuses": statuses})
            }
        };
        if pod.pointer("/spec/nodeName").is_none() {
            // The scheduler's binding.
            self.edit("/pods", ns, &name, Op::Main, "kube-scheduler", |p| {
                p["spec"]["nodeName"] = json!(NODE)
            });
        }
        self.set_status("", "pods", ns, &name, KUBELET, status);
    }

    fn pod_ready(pod: &Value) -> bool {
        pod.pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| c.iter().any(|x| x["type"] == "Ready" && x["status"] == "True"))
    }

    fn new_pod(
        &self,
        owner: &Value,
        kind: &str,
        api_version: &str,
        name: String,
        extra_labels: Value,
    ) -> Value {
        let mut template = owner.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let mut meta = template.get("metadata").cloned().unwrap_or(json!({}));
        if !meta["labels"].is_object() {
            meta["labels"] = json!({});
        }
        if let Some(extra) = extra_labels.as_object() {
            for (k, v) in extra {
                meta["labels"][k] = v.clone();
            }
        }
        meta["name"] = json!(name);
        meta["namespace"] = owner["metadata"]["namespace"].clone();
        meta["ownerReferences"] = json!([owner_ref(owner, kind, api_version)]);
        template["metadata"] = meta;
        template["apiVersion"] = json!("v1");
        template["kind"] = json!("Pod");
        template
    }

    fn replica_set(&self, ns: &str, rs: &Value) {
        let want = i(rs, "/spec/replicas", 1).max(0) as usize;
        let pods: Vec<Arc<Value>> =
            self.owned("/pods", rs).into_iter().filter(|p| !deleting(p)).collect();
        let rs_name = s(rs, "/metadata/name").to_string();
        if pods.len() < want {
            for _ in pods.len()..want {
                let pod = self.new_pod(
                    rs,
                    "ReplicaSet",
                    "apps/v1",
                    format!("{rs_name}-{}", random_suffix()),
                    json!({}),
                );
                self.create("", "pods", ns, pod);
            }
        } else if pods.len() > want {
            let mut extra: Vec<&Arc<Value>> = pods.iter().collect();
            extra.sort_by_key(|p| {
                std::cmp::Reverse(s(p, "/metadata/creationTimestamp").to_string())
            });
            for p in extra.into_iter().take(pods.len() - want) {
                self.delete("", "pods", ns, s(p, "/metadata/name"));
            }
        }
        let pods: Vec<Arc<Value>> =
            self.owned("/pods", rs).into_iter().filter(|p| !deleting(p)).collect();
        let ready = pods.iter().filter(|p| Self::pod_ready(p)).count();
        let mut status = json!({"replicas": pods.len(), "fullyLabeledReplicas": pods.len(), "readyReplicas": ready,
            "availableReplicas": ready, "observedGeneration": i(rs, "/metadata/generation", 1)});
        if ready == 0
            && let Some(m) = status.as_object_mut()
        {
            m.remove("readyReplicas");
            m.remove("availableReplicas");
        }
        if rs.get("status") != Some(&status) {
            self.set_status("apps", "replicasets", ns, &rs_name, CONTROLLER, status);
        }
    }

    /// Returns when to look again (the progress deadline) if the rollout is still waiting.
    fn deployment(&self, ns: &str, d: &Value) -> Option<Instant> {
        let name = s(d, "/metadata/name").to_string();
        let want = i(d, "/spec/replicas", 1).max(0);
        let template = d.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let hash = template_hash(&template);
        let owned: Vec<Arc<Value>> = self.owned("apps/replicasets", d);
        let current =
            owned.iter().find(|r| s(r, "/metadata/labels/pod-template-hash") == hash).cloned();
        let max_revision = owned
            .iter()
            .filter_map(|r| {
                s(r, "/metadata/annotations/deployment.kubernetes.io~1revision").parse::<i64>().ok()
            })
            .max()
            .unwrap_or(0);
        let now = crate::write::now();
        let paused = d.pointer("/spec/paused").and_then(Value::as_bool) == Some(true);
        if current.is_none() && !paused {
            let mut tmpl = template.clone();
            tmpl["metadata"]["labels"]["pod-template-hash"] = json!(hash);
            let mut selector = d.pointer("/spec/selector").cloned().unwrap_or(json!({}));
            selector["matchLabels"]["pod-template-hash"] = json!(hash);
            let mut labels = tmpl["metadata"]["labels"].clone();
            labels["pod-template-hash"] = json!(hash);
            let rs = json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": format!("{name}-{hash}"), "namespace": ns, "labels": labels,
                    "annotations": {"deployment.kubernetes.io/revision": (max_revision + 1).to_string(),
                        "deployment.kubernetes.io/desired-replicas": want.to_string(),
                        "deployment.kubernetes.io/max-replicas": want.to_string()},
                    "ownerReferences": [owner_ref(d, "Deployment", "apps/v1")]},
                "spec": {"replicas": want, "selector": selector, "template": tmpl,
                    "minReadySeconds": d.pointer("/spec/minReadySeconds").cloned().unwrap_or(json!(0))},
            });
            self.create("apps", "replicasets", ns, rs);
        }
        for r in &owned {
            let is_current = s(r, "/metadata/labels/pod-template-hash") == hash;
            let target = if is_current { want } else { 0 };
            if !paused && i(r, "/spec/replicas", 1) != target {
                let rname = s(r, "/metadata/name").to_string();
                self.edit("apps/replicasets", ns, &rname, Op::Main, CONTROLLER, move |o| {
                    o["spec"]["replicas"] = json!(target)
                });
            }
        }
        // Status from the ReplicaSets as they are now.
        let owned: Vec<Arc<Value>> = self.owned("apps/replicasets", d);
        let sum = |ptr: &str| owned.iter().map(|r| i(r, ptr, 0)).sum::<i64>();
        let replicas = sum("/status/replicas");
        let ready = sum("/status/readyReplicas");
        let available = sum("/status/availableReplicas");
        let updated = owned
            .iter()
            .filter(|r| s(r, "/metadata/labels/pod-template-hash") == hash)
            .map(|r| i(r, "/status/replicas", 0))
            .sum::<i64>();
        let updated_available = owned
            .iter()
            .filter(|r| s(r, "/metadata/labels/pod-template-hash") == hash)
            .map(|r| i(r, "/status/availableReplicas", 0))
            .sum::<i64>();
        let complete = updated == want && replicas == want && updated_available == want;
        let deadline = i(d, "/spec/progressDeadlineSeconds", 600);
        let old_progress = d
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|x| x["type"] == "Progressing"))
            .cloned();
        let rs_name = format!("{name}-{hash}");
        let (progress_ok, reason, message) = if complete {
            (
                true,
                "NewReplicaSetAvailable",
                format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
            )
        } else {
            let since = old_progress
                .as_ref()
                .filter(|c| {
                    c["reason"] != "NewReplicaSetAvailable"
                        && c["reason"] != "ProgressDeadlineExceeded"
                })
                .and_then(|c| c["lastUpdateTime"].as_str())
                .and_then(|t| t.parse::<jiff::Timestamp>().ok());
            let exceeded = old_progress.as_ref().is_some_and(|c| {
                c["reason"] == "ProgressDeadlineExceeded"
                    && d.pointer("/status/observedGeneration") == d.pointer("/metadata/generation")
            }) || since
                .is_some_and(|t| jiff::Timestamp::now().as_second() - t.as_second() >= deadline);
            if exceeded {
                (
                    false,
                    "ProgressDeadlineExceeded",
                    format!("ReplicaSet \"{rs_name}\" has timed out progressing."),
                )
            } else {
                (true, "ReplicaSetUpdated", format!("ReplicaSet \"{rs_name}\" is progressing."))
            }
        };
        let min_available = want - max_unavailable(d, want);
        let available_ok = available >= min_available;
        let mut progressing = condition("Progressing", progress_ok, reason, &message, &now);
        // Progress made (more updated pods available) refreshes lastUpdateTime, as the controller does.
        if let Some(prev) = &old_progress {
            let prev_available =
                i(d, "/status/updatedReplicas", 0) + i(d, "/status/availableReplicas", 0);
            if prev["reason"] == reason && prev_available == updated + available {
                progressing["lastUpdateTime"] = prev["lastUpdateTime"].clone();
            }
        }
        let conditions = merge_conditions(
            d.pointer("/status/conditions"),
            vec![
                condition(
                    "Available",
                    available_ok,
                    if available_ok {
                        "MinimumReplicasAvailable"
                    } else {
                        "MinimumReplicasUnavailable"
                    },
                    if available_ok {
                        "Deployment has minimum availability."
                    } else {
                        "Deployment does not have minimum availability."
                    },
                    &now,
                ),
                progressing,
            ],
        );
        let mut status = json!({"observedGeneration": i(d, "/metadata/generation", 1), "replicas": replicas,
            "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": available,
            "unavailableReplicas": (want - available).max(0), "conditions": conditions});
        for (k, zero) in [
            ("readyReplicas", ready == 0),
            ("availableReplicas", available == 0),
            ("unavailableReplicas", want - available <= 0),
            ("replicas", replicas == 0),
            ("updatedReplicas", updated == 0),
        ] {
            if zero && let Some(m) = status.as_object_mut() {
                m.remove(k);
            }
        }
        if d.get("status") != Some(&status) {
            self.set_status("apps", "deployments", ns, &name, CONTROLLER, status);
        }
        (!complete && progress_ok).then(|| {
            Instant::now() + Duration::from_secs(deadline.max(0) as u64) + Duration::from_millis(50)
        })
    }

    fn stateful_set(&self, ns: &str, sts: &Value) {
        let name = s(sts, "/metadata/name").to_string();
        let want = i(sts, "/spec/replicas", 1).max(0);
        let revision = format!(
            "{name}-{}",
            &template_hash(sts.pointer("/spec/template").unwrap_or(&Value::Null))[..10]
        );
        let pods: Vec<Arc<Value>> = self.owned("/pods", sts);
        for ord in 0..want {
            let pname = format!("{name}-{ord}");
            if let Some(p) = pods.iter().find(|p| s(p, "/metadata/name") == pname) {
                if s(p, "/metadata/labels/controller-revision-hash") != revision && !deleting(p) {
                    // Rolling update: replace pods of an older revision.
                    self.delete("", "pods", ns, &pname);
                }
                continue;
            }
            // Ordered start: the next pod waits for the previous one to be ready.
            if ord > 0
                && i(sts, "/status/readyReplicas", 0) < ord
                && sts.pointer("/spec/podManagementPolicy").and_then(Value::as_str)
                    != Some("Parallel")
            {
                break;
            }
            if let Some(templates) =
                sts.pointer("/spec/volumeClaimTemplates").and_then(Value::as_array)
            {
                for t in templates {
                    let claim = format!("{}-{pname}", s(t, "/metadata/name"));
                    if self.get("/persistentvolumeclaims", ns, &claim).is_none() {
                        let mut pvc = t.clone();
                        pvc["apiVersion"] = json!("v1");
                        pvc["kind"] = json!("PersistentVolumeClaim");
                        pvc["metadata"] = json!({"name": claim, "namespace": ns,
                            "labels": sts.pointer("/spec/selector/matchLabels").cloned().unwrap_or(json!({}))});
                        self.create("", "persistentvolumeclaims", ns, pvc);
                    }
                }
            }
            let labels = json!({"controller-revision-hash": revision, "statefulset.kubernetes.io/pod-name": pname,
                "apps.kubernetes.io/pod-index": ord.to_string()});
            let mut pod = self.new_pod(sts, "StatefulSet", "apps/v1", pname.clone(), labels);
            pod["spec"]["hostname"] = json!(pname);
            if let Some(svc) = sts.pointer("/spec/serviceName") {
                pod["spec"]["subdomain"] = svc.clone();
            }
            self.create("", "pods", ns, pod);
        }
        for p in &pods {
            let ord: i64 = s(p, "/metadata/name")
                .rsplit('-')
                .next()
                .and_then(|x| x.parse().ok())
                .unwrap_or(-1);
            if ord >= want && !deleting(p) {
                self.delete("", "pods", ns, s(p, "/metadata/name"));
            }
        }
        let pods: Vec<Arc<Value>> =
            self.owned("/pods", sts).into_iter().filter(|p| !deleting(p)).collect();
        let ready = pods.iter().filter(|p| Self::pod_ready(p)).count() as i64;
        let updated = pods
            .iter()
            .filter(|p| s(p, "/metadata/labels/controller-revision-hash") == revision)
            .count() as i64;
        let status = json!({"observedGeneration": i(sts, "/metadata/generation", 1), "replicas": pods.len(), "readyReplicas": ready,
            "currentReplicas": updated, "updatedReplicas": updated, "availableReplicas": ready,
            "currentRevision": revision, "updateRevision": revision, "collisionCount": 0});
        if sts.get("status") != Some(&status) {
            self.set_status("apps", "statefulsets", ns, &name, CONTROLLER, status);
        }
    }

    fn daemon_set(&self, ns: &str, ds: &Value) {
        let name = s(ds, "/metadata/name").to_string();
        let hash = template_hash(ds.pointer("/spec/template").unwrap_or(&Value::Null));
        let pods: Vec<Arc<Value>> =
            self.owned("/pods", ds).into_iter().filter(|p| !deleting(p)).collect();
        let current =
            pods.iter().find(|p| s(p, "/metadata/labels/controller-revision-hash") == hash);
        for p in pods.iter().filter(|p| s(p, "/metadata/labels/controller-revision-hash") != hash) {
            self.delete("", "pods", ns, s(p, "/metadata/name"));
        }
        if current.is_none() {
            let mut pod = self.new_pod(
                ds,
                "DaemonSet",
                "apps/v1",
                format!("{name}-{}", random_suffix()),
                json!({"controller-revision-hash": hash}),
            );
            pod["spec"]["nodeName"] = json!(NODE);
            self.create("", "pods", ns, pod);
        }
        let ready = current.is_some_and(|p| Self::pod_ready(p)) as i64;
        let scheduled = current.is_some() as i64;
        let status = json!({"observedGeneration": i(ds, "/metadata/generation", 1), "desiredNumberScheduled": 1,
            "currentNumberScheduled": scheduled, "numberMisscheduled": 0, "numberReady": ready, "updatedNumberScheduled": scheduled,
            "numberAvailable": ready, "numberUnavailable": 1 - ready});
        if ds.get("status") != Some(&status) {
            self.set_status("apps", "daemonsets", ns, &name, CONTROLLER, status);
        }
    }

    fn job(&self, ns: &str, job: &Value) {
        let name = s(job, "/metadata/name").to_string();
        let cond_true = |t: &str| {
            job.pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|c| c.iter().any(|x| x["type"] == t && x["status"] == "True"))
        };
        if cond_true("Complete") || cond_true("Failed") {
            return;
        }
        let completions = i(job, "/spec/completions", 1).max(1);
        let parallelism = i(job, "/spec/parallelism", 1).max(1);
        let backoff = i(job, "/spec/backoffLimit", 6);
        let suspended = job.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true);
        let pods: Vec<Arc<Value>> = self.owned("/pods", job);
        let succeeded = pods.iter().filter(|p| s(p, "/status/phase") == "Succeeded").count() as i64;
        let failed = pods.iter().filter(|p| s(p, "/status/phase") == "Failed").count() as i64;
        let active = pods
            .iter()
            .filter(|p| !matches!(s(p, "/status/phase"), "Succeeded" | "Failed") && !deleting(p))
            .count() as i64;
        let now = crate::write::now();
        let start = job.pointer("/status/startTime").cloned().unwrap_or(json!(now));
        let mut status = json!({"startTime": start, "active": active, "succeeded": succeeded, "failed": failed, "ready": 0,
            "terminating": 0, "uncountedTerminatedPods": {}});
        if succeeded >= completions {
            status["active"] = json!(0);
            status["completionTime"] = json!(now);
            status["conditions"] = json!([
                {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": now, "lastTransitionTime": now},
                {"type": "Complete", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": now, "lastTransitionTime": now},
            ]);
        } else if failed > backoff {
            status["active"] = json!(0);
            status["conditions"] = json!([
                {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastProbeTime": now, "lastTransitionTime": now},
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastProbeTime": now, "lastTransitionTime": now},
            ]);
        } else if !suspended {
            let needed = (completions - succeeded).min(parallelism) - active;
            for _ in 0..needed.max(0) {
                let labels = json!({"batch.kubernetes.io/job-name": name, "job-name": name});
                let mut pod = self.new_pod(
                    job,
                    "Job",
                    "batch/v1",
                    format!("{name}-{}", random_suffix()),
                    labels,
                );
                if pod.pointer("/spec/restartPolicy").is_none() {
                    pod["spec"]["restartPolicy"] = json!("Never");
                }
                self.create("", "pods", ns, pod);
            }
        }
        let mut cmp_old = job.get("status").cloned().unwrap_or(json!({}));
        let mut cmp_new = status.clone();
        for v in [&mut cmp_old, &mut cmp_new] {
            if let Some(m) = v.as_object_mut() {
                m.remove("startTime");
            }
        }
        if cmp_old != cmp_new || job.pointer("/status/startTime").is_none() {
            self.set_status("batch", "jobs", ns, &name, CONTROLLER, status);
        }
    }
}

fn max_unavailable(d: &Value, want: i64) -> i64 {
    if s(d, "/spec/strategy/type") == "Recreate" {
        return want;
    }
    match d.pointer("/spec/strategy/rollingUpdate/maxUnavailable") {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(p)) => {
            p.trim_end_matches('%').parse::<i64>().map(|pct| want * pct / 100).unwrap_or(0)
        }
        _ => want / 4,
    }
}

const WATCHED: &[&str] = &[
    "/pods",
    "/persistentvolumeclaims",
    "apps/deployments",
    "apps/replicasets",
    "apps/statefulsets",
    "apps/daemonsets",
    "batch/jobs",
    "/services",
    "networking.k8s.io/ingresses",
];
