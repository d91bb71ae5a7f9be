//! The webhooks of the stored Mutating- and ValidatingWebhookConfigurations, read per request
//! (two bucket lookups; none stored costs nothing more).

use std::time::Duration;

use serde_json::Value;

use crate::store::Store;

/// Which chain a webhook belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Mutating,
    Validating,
}

/// One webhook as the server calls it.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub name: String,
    pub phase: Phase,
    /// `clientConfig.url`; `None` when the webhook names a Service (not routable here).
    pub url: Option<String>,
    /// `clientConfig.service`, to name it in the error.
    pub service: Option<String>,
    /// PEM text from `clientConfig.caBundle`.
    pub ca_pem: Option<String>,
    pub rules: Vec<Value>,
    pub fail_open: bool,
    pub namespace_selector: Value,
    pub object_selector: Value,
    pub timeout: Duration,
    /// `None` or `NoneOnDryRun`: safe to call for a dry-run request.
    pub dry_run_safe: bool,
}

fn webhook(w: &Value, phase: Phase) -> Webhook {
    use base64::Engine;
    let cc = &w["clientConfig"];
    let ca_pem = cc
        .get("caBundle")
        .and_then(Value::as_str)
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let service = cc.get("service").filter(|s| s.is_object()).map(|s| {
        format!(
            "{}/{}",
            s["namespace"].as_str().unwrap_or_default(),
            s["name"].as_str().unwrap_or_default()
        )
    });
    let seconds = w.get("timeoutSeconds").and_then(Value::as_u64).unwrap_or(10).clamp(1, 30);
    let side_effects = w.get("sideEffects").and_then(Value::as_str).unwrap_or("Unknown");
    Webhook {
        name: w["name"].as_str().unwrap_or_default().to_string(),
        phase,
        url: cc.get("url").and_then(Value::as_str).map(str::to_string),
        service,
        ca_pem,
        rules: w.get("rules").and_then(Value::as_array).cloned().unwrap_or_default(),
        fail_open: w.get("failurePolicy").and_then(Value::as_str) == Some("Ignore"),
        namespace_selector: w.get("namespaceSelector").cloned().unwrap_or(Value::Null),
        object_selector: w.get("objectSelector").cloned().unwrap_or(Value::Null),
        timeout: Duration::from_secs(seconds),
        dry_run_safe: matches!(side_effects, "None" | "NoneOnDryRun"),
    }
}

/// Every webhook stored, mutating ones first, each chain in configuration-name order (as
/// kube-apiserver orders them).
pub fn all(store: &Store) -> Vec<Webhook> {
    let mut out = Vec::new();
    for (storage, phase) in [
        ("admissionregistration.k8s.io/mutatingwebhookconfigurations", Phase::Mutating),
        ("admissionregistration.k8s.io/validatingwebhookconfigurations", Phase::Validating),
    ] {
        let (mut configs, _) = store.list(storage, None);
        configs.sort_by(|a, b| {
            a.pointer("/metadata/name")
                .and_then(Value::as_str)
                .cmp(&b.pointer("/metadata/name").and_then(Value::as_str))
        });
        for c in configs {
            for w in c.get("webhooks").and_then(Value::as_array).into_iter().flatten() {
                out.push(webhook(w, phase));
            }
        }
    }
    out
}
