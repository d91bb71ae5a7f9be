//! Pod: phase, container waiting reasons (CrashLoopBackOff, ImagePullBackOff, …) and readiness.

use serde_json::Value;

use crate::object::{at, condition, str_at};
use crate::status::Health;

pub(crate) fn health(obj: &Value) -> Health {
    let restart_policy = str_at(obj, &["spec", "restartPolicy"]).unwrap_or("Always");
    let phase = str_at(obj, &["status", "phase"]).unwrap_or("");
    let pod_message = str_at(obj, &["status", "message"]).unwrap_or("");

    // Only long-running pods are judged by their container errors: a pod with restartPolicy
    // Never/OnFailure is usually a hook or a one-off task, and calling it Degraded while its image
    // is still being pulled would fail the hook early (gitops-engine makes the same choice).
    if restart_policy == "Always"
        && let Some(trouble) = waiting_trouble(obj)
    {
        return Health::degraded(trouble);
    }
    match phase {
        "Pending" => pending(obj, pod_message),
        "Succeeded" => Health::healthy(or_default(pod_message, "the pod completed")),
        "Failed" => Health::degraded(failure_message(obj, pod_message)),
        "Running" if restart_policy != "Always" => {
            Health::progressing(or_default(pod_message, "the pod is running to completion"))
        }
        "Running" => running(obj, pod_message),
        other => Health::unknown(format!(
            "the pod is in phase {:?}, which says nothing about its health",
            other
        )),
    }
}

fn pending(obj: &Value, pod_message: &str) -> Health {
    if let Some(scheduled) = condition(obj, "PodScheduled")
        && scheduled.is_false()
    {
        // Unschedulable can resolve by itself (autoscaler adds a node, another pod leaves).
        return Health::progressing(format!(
            "the pod is not scheduled yet: {}",
            scheduled.explanation()
        ));
    }
    Health::progressing(or_default(pod_message, "the pod is pending"))
}

fn running(obj: &Value, pod_message: &str) -> Health {
    if condition(obj, "Ready").is_some_and(|ready| ready.is_true()) {
        return Health::healthy(or_default(pod_message, "the pod is running and ready"));
    }
    // Not ready after a container already died once: it is restarting, not starting.
    let restarted = container_statuses(obj, "containerStatuses")
        .find(|status| at(status, &["lastState", "terminated"]).is_some());
    if let Some(status) = restarted {
        let name = str_at(status, &["name"]).unwrap_or("?");
        return Health::degraded(format!("container {name} restarted and the pod is not ready"));
    }
    Health::progressing(or_default(pod_message, "the pod is running but not ready yet"))
}

/// A container waiting for a reason that will not fix itself by waiting (back-offs, errors).
fn waiting_trouble(obj: &Value) -> Option<String> {
    let troubles: Vec<String> = container_statuses(obj, "initContainerStatuses")
        .chain(container_statuses(obj, "containerStatuses"))
        .filter_map(|status| {
            let reason = str_at(status, &["state", "waiting", "reason"])?;
            let is_trouble = reason.starts_with("Err")
                || reason.ends_with("Error")
                || reason.ends_with("BackOff");
            is_trouble.then(|| {
                let name = str_at(status, &["name"]).unwrap_or("?");
                match str_at(status, &["state", "waiting", "message"]) {
                    Some(message) if !message.is_empty() => {
                        format!("container {name} is waiting: {reason}: {message}")
                    }
                    _ => format!("container {name} is waiting: {reason}"),
                }
            })
        })
        .collect();
    (!troubles.is_empty()).then(|| troubles.join("; "))
}

fn failure_message(obj: &Value, pod_message: &str) -> String {
    if !pod_message.is_empty() {
        return format!("the pod failed: {pod_message}");
    }
    let explained = container_statuses(obj, "initContainerStatuses")
        .chain(container_statuses(obj, "containerStatuses"))
        .find_map(|status| {
            let terminated = at(status, &["state", "terminated"])?;
            let name = str_at(status, &["name"]).unwrap_or("?");
            let exit_code = terminated.get("exitCode").and_then(Value::as_i64).unwrap_or(0);
            match (str_at(terminated, &["message"]), str_at(terminated, &["reason"])) {
                (Some(message), _) if !message.is_empty() => {
                    Some(format!("container {name} failed: {message}"))
                }
                (_, Some("OOMKilled")) => Some(format!("container {name} was OOMKilled")),
                _ if exit_code != 0 => {
                    Some(format!("container {name} failed with exit code {exit_code}"))
                }
                _ => None,
            }
        });
    explained.unwrap_or_else(|| "the pod failed".to_string())
}

fn container_statuses<'a>(obj: &'a Value, field: &str) -> impl Iterator<Item = &'a Value> {
    at(obj, &["status", field]).and_then(Value::as_array).into_iter().flatten()
}

fn or_default(message: &str, default: &str) -> String {
    if message.is_empty() { default.to_string() } else { message.to_string() }
}
