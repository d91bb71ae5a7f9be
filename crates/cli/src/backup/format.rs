//! The export file, as data (pure): what `ferry export` writes and `ferry import` reads — one
//! YAML document with a format version, the objects (cleaned of what the API server assigns),
//! and how Secrets were handled. Encrypted exports are SOPS files whose `data`/`stringData`
//! values are sealed for age recipients; everything else stays readable for review.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The format this Ferry writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
pub const API_VERSION: &str = "ferry.dev/export";
pub const KIND: &str = "FerryExport";
/// What SOPS encrypts in an export: Secret (and ConfigMap) values.
pub const ENCRYPTED_REGEX: &str = "^(data|stringData)$";

/// How Secrets go into an export.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SecretsMode {
    /// Left out (named in `omittedSecrets`, to recreate by hand).
    #[default]
    Omit,
    /// Sealed with SOPS for age recipients.
    Encrypt,
    /// In clear: only when asked for by name.
    Plain,
}

/// The file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Export {
    pub api_version: String,
    pub kind: String,
    pub format_version: u32,
    pub ferry_version: String,
    pub exported_at: String,
    pub secrets: SecretsMode,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub omitted_secrets: Vec<String>,
    pub objects: Vec<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("{file}: not a Ferry export ({reason}); write one with `ferry export -o FILE`")]
    NotAnExport { file: String, reason: String },
    #[error(
        "{file}: written by a newer Ferry (export format {found}; this ferry {ours} reads format {max} and older); upgrade ferry and import again"
    )]
    Newer { file: String, found: u32, ours: &'static str, max: u32 },
    #[error("{file}: object {index} ({what}): {reason}")]
    BadObject { file: String, index: usize, what: String, reason: String },
}

impl Export {
    pub fn new(exported_at: String, secrets: SecretsMode, objects: Vec<Value>) -> Self {
        Self {
            api_version: API_VERSION.into(),
            kind: KIND.into(),
            format_version: FORMAT_VERSION,
            ferry_version: env!("CARGO_PKG_VERSION").into(),
            exported_at,
            secrets,
            omitted_secrets: Vec::new(),
            objects,
        }
    }

    /// Reads a parsed export, refusing other files and newer formats before anything else.
    pub fn from_value(file: &str, doc: Value) -> Result<Self, FormatError> {
        let not = |reason: String| FormatError::NotAnExport { file: file.into(), reason };
        if doc["kind"] != KIND {
            return Err(not(format!("kind is {}, not {KIND}", doc["kind"])));
        }
        let found = doc["formatVersion"].as_u64().ok_or_else(|| not("no formatVersion".into()))?;
        if found > u64::from(FORMAT_VERSION) {
            let found = u32::try_from(found).unwrap_or(u32::MAX);
            return Err(FormatError::Newer {
                file: file.into(),
                found,
                ours: env!("CARGO_PKG_VERSION"),
                max: FORMAT_VERSION,
            });
        }
        let export: Export = serde_json::from_value(doc).map_err(|e| not(e.to_string()))?;
        for (index, o) in export.objects.iter().enumerate() {
            if o["apiVersion"].as_str().is_none()
                || o["kind"].as_str().is_none()
                || o["metadata"]["name"].as_str().is_none()
            {
                let what = describe(o);
                let reason = "needs apiVersion, kind and metadata.name".into();
                return Err(FormatError::BadObject { file: file.into(), index, what, reason });
            }
        }
        Ok(export)
    }
}

/// `Kind namespace/name`, for messages.
pub fn describe(o: &Value) -> String {
    let kind = o["kind"].as_str().unwrap_or("?");
    let name = o["metadata"]["name"].as_str().unwrap_or("?");
    match o["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// An object as it can be applied elsewhere: without what the API server assigns (uid,
/// resourceVersion, managedFields, timestamps) and without owner references (their uids do not
/// exist in the cluster it is restored to: the garbage collector would delete the object).
/// `keep_status`: Applications keep theirs (history, inventory, the synced revision).
pub fn clean(mut o: Value, keep_status: bool) -> Value {
    if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "generation",
            "managedFields",
            "ownerReferences",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            meta.remove(field);
        }
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
            if annotations.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    if !keep_status && let Some(obj) = o.as_object_mut() {
        obj.remove("status");
    }
    o
}

/// Whether a Secret of Ferry's namespace belongs in an export: Argo CD's repository,
/// repo-creds and cluster Secrets, and Ferry's own (`ferry-…`: webhook, notifications, SOPS
/// keys, API tokens); never ServiceAccount tokens, which the cluster makes.
pub fn is_ferry_secret(secret: &Value) -> bool {
    if secret["type"] == "kubernetes.io/service-account-token" {
        return false;
    }
    let labelled = secret["metadata"]["labels"]["argocd.argoproj.io/secret-type"].is_string();
    let name = secret["metadata"]["name"].as_str().unwrap_or_default();
    labelled || name.starts_with("ferry-")
}

/// Ferry's ConfigMaps (`ferry-notifications`, `ferry-rbac-cm`, known hosts, repository
/// records, …), but the pushes relayed between replicas: a restored one would only be a push
/// replayed.
pub fn is_ferry_config_map(cm: &Value) -> bool {
    let relayed = cm["metadata"]["labels"][ferry_engine::shard::relay::RELAY_LABEL].is_string();
    cm["metadata"]["name"].as_str().unwrap_or_default().starts_with("ferry-") && !relayed
}

/// The order objects are restored in: what others refer to first.
pub fn restore_rank(o: &Value) -> u8 {
    match o["kind"].as_str().unwrap_or_default() {
        "Namespace" => 0,
        "ConfigMap" | "Secret" => 1,
        "Project" => 2,
        "Application" => 3,
        "ApplicationSet" => 4,
        _ => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn clean_drops_what_the_server_assigns_and_owner_references() {
        let o = json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": "a", "namespace": "ferry", "uid": "u", "resourceVersion": "7",
                "managedFields": [], "ownerReferences": [{"uid": "x"}], "labels": {"k": "v"},
                "finalizers": ["resources-finalizer.ferry.dev"]},
            "spec": {"x": 1}, "status": {"history": [{"id": 0}]}});
        let kept = clean(o.clone(), true);
        assert_eq!(
            kept["metadata"],
            json!({"name": "a", "namespace": "ferry", "labels": {"k": "v"},
                "finalizers": ["resources-finalizer.ferry.dev"]})
        );
        assert_eq!(kept["status"]["history"][0]["id"], 0);
        assert!(clean(o, false).get("status").is_none());
    }

    #[test]
    fn a_newer_format_is_refused_naming_the_file_and_both_versions() {
        let mut doc = serde_json::to_value(Export::new("now".into(), SecretsMode::Omit, vec![]))
            .expect("json");
        doc["formatVersion"] = json!(FORMAT_VERSION + 1);
        let err = Export::from_value("backup.yaml", doc).expect_err("refused").to_string();
        assert!(err.contains("backup.yaml") && err.contains("newer Ferry"), "{err}");
        assert!(err.contains(&format!("format {}", FORMAT_VERSION + 1)), "{err}");
    }

    #[test]
    fn ferrys_config_maps_are_exported_but_pushes_relayed_between_replicas() {
        let cm = |name: &str, labels: Value| json!({"metadata": {"name": name, "labels": labels}});
        assert!(is_ferry_config_map(&cm("ferry-notifications", json!({}))));
        assert!(is_ferry_config_map(&cm("ferry-repo-3ec1f762f198", json!({}))));
        let relay = cm("ferry-push-3ec1f762f198", json!({"ferry.dev/push-relay": "true"}));
        assert!(!is_ferry_config_map(&relay));
        assert!(!is_ferry_config_map(&cm("kube-root-ca.crt", json!({}))));
    }

    #[test]
    fn a_file_that_is_not_an_export_or_holds_a_nameless_object_is_refused() {
        let err = Export::from_value("x.yaml", json!({"kind": "ConfigMap"})).expect_err("not");
        assert!(err.to_string().contains("not a Ferry export"), "{err}");
        let mut doc = serde_json::to_value(Export::new("now".into(), SecretsMode::Omit, vec![]))
            .expect("json");
        doc["objects"] = json!([{"apiVersion": "v1", "kind": "Secret", "metadata": {}}]);
        let err = Export::from_value("x.yaml", doc).expect_err("bad object").to_string();
        assert!(err.contains("object 0 (Secret ?)"), "{err}");
    }

    #[test]
    fn service_account_tokens_are_not_ferry_secrets_but_repository_secrets_are() {
        let repo = json!({"metadata": {"name": "repo-1",
            "labels": {"argocd.argoproj.io/secret-type": "repository"}}});
        let token = json!({"type": "kubernetes.io/service-account-token",
            "metadata": {"name": "ferry-controller-token"}});
        let other = json!({"metadata": {"name": "someone-elses"}});
        assert!(is_ferry_secret(&repo));
        assert!(!is_ferry_secret(&token));
        assert!(!is_ferry_secret(&other));
    }
}
