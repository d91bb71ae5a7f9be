//! One tiny health function per kind, each in its own file, dispatched on group and kind.

mod apiservice;
mod application;
mod conditions;
mod crd;
mod cronjob;
mod daemonset;
mod deployment;
mod hpa;
mod ingress;
mod job;
mod namespace;
mod pod;
mod pvc;
mod replicaset;
mod service;
mod statefulset;

use serde_json::Value;

use crate::status::Health;

/// The built-in judgement for an object of `group`/`kind`.
pub(crate) fn builtin(group: &str, kind: &str, obj: &Value) -> Health {
    // `extensions` is where Deployments, DaemonSets, ReplicaSets and Ingresses lived before
    // `apps` and `networking.k8s.io`; old manifests and Argo CD still name it.
    match (group, kind) {
        ("apps" | "extensions", "Deployment") => deployment::health(obj),
        ("apps", "StatefulSet") => statefulset::health(obj),
        ("apps" | "extensions", "DaemonSet") => daemonset::health(obj),
        ("apps" | "extensions", "ReplicaSet") => replicaset::health(obj),
        ("batch", "Job") => job::health(obj),
        ("batch", "CronJob") => cronjob::health(obj),
        ("", "Pod") => pod::health(obj),
        ("", "PersistentVolumeClaim") => pvc::health(obj),
        ("", "Service") => service::health(obj),
        ("", "Namespace") => namespace::health(obj),
        ("networking.k8s.io" | "extensions", "Ingress") => ingress::health(obj),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd::health(obj),
        ("apiregistration.k8s.io", "APIService") => apiservice::health(obj),
        ("autoscaling", "HorizontalPodAutoscaler") => hpa::health(obj),
        ("ferry.dev" | "argoproj.io", "Application") => application::health(obj),
        _ => conditions::health(obj),
    }
}
