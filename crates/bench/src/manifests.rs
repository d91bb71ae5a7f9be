//! Synthetic manifests and Application specs: pure functions of their arguments, so that every
//! tool in a comparison gets exactly the same objects.

use std::fmt::Write;

use serde_json::{Value, json};

/// The Flux MTTP shape: a Deployment scaled to 0, a ServiceAccount, a Service and a ConfigMap.
pub fn fan_out_app(app: &str) -> String {
    let mut out = String::new();
    deployment(&mut out, app, 0, None);
    service_account(&mut out, app, None);
    service(&mut out, app, None);
    config_map(&mut out, app, "v1", None);
    out
}

/// `count` objects cycling ConfigMap, ServiceAccount, Service, named `prefix-N`; with
/// `namespace` set, each names it (for tools that apply a directory as is).
pub fn mixed(prefix: &str, count: usize, namespace: Option<&str>) -> String {
    let mut out = String::new();
    for i in 0..count {
        let name = format!("{prefix}-{i}");
        match i % 3 {
            0 => config_map(&mut out, &name, "v1", namespace),
            1 => service_account(&mut out, &name, namespace),
            _ => service(&mut out, &name, namespace),
        }
    }
    out
}

/// Ten objects: a one-replica Deployment, a Service, a ServiceAccount and seven ConfigMaps, the
/// first of which carries `round` (the line each commit changes).
pub fn ten_objects(app: &str, round: usize) -> String {
    let mut out = String::new();
    deployment(&mut out, app, 1, None);
    service(&mut out, app, None);
    service_account(&mut out, app, None);
    config_map(&mut out, &format!("{app}-round"), &round.to_string(), None);
    for i in 1..7 {
        config_map(&mut out, &format!("{app}-config-{i}"), "v1", None);
    }
    out
}

/// A single ConfigMap carrying `value` (one line to change in a monorepo app).
pub fn one_config_map(name: &str, value: &str) -> String {
    let mut out = String::new();
    config_map(&mut out, name, value, None);
    out
}

fn meta(out: &mut String, name: &str, namespace: Option<&str>) {
    let _ = writeln!(out, "metadata:\n  name: {name}");
    if let Some(ns) = namespace {
        let _ = writeln!(out, "  namespace: {ns}");
    }
    let _ = writeln!(out, "  labels:\n    bench.ferry.dev/set: \"{name}\"");
}

fn deployment(out: &mut String, name: &str, replicas: u32, namespace: Option<&str>) {
    out.push_str("---\napiVersion: apps/v1\nkind: Deployment\n");
    meta(out, name, namespace);
    let _ = writeln!(
        out,
        "spec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n        - name: main\n          image: ghcr.io/ferry-bench/app:1.0.0\n          ports:\n            - containerPort: 8080"
    );
}

fn service(out: &mut String, name: &str, namespace: Option<&str>) {
    out.push_str("---\napiVersion: v1\nkind: Service\n");
    meta(out, name, namespace);
    let _ = writeln!(
        out,
        "spec:\n  selector:\n    app: {name}\n  ports:\n    - name: http\n      port: 80\n      targetPort: 8080"
    );
}

fn service_account(out: &mut String, name: &str, namespace: Option<&str>) {
    out.push_str("---\napiVersion: v1\nkind: ServiceAccount\n");
    meta(out, name, namespace);
}

fn config_map(out: &mut String, name: &str, value: &str, namespace: Option<&str>) {
    out.push_str("---\napiVersion: v1\nkind: ConfigMap\n");
    meta(out, name, namespace);
    let _ = writeln!(out, "data:\n  value: \"{value}\"\n  mode: benchmark");
}

/// An automated Application (prune, self-heal, create the namespace) of `path` in `repo_url`.
pub fn app_spec(repo_url: &str, path: &str, namespace: &str) -> Value {
    json!({
        "source": {"repoURL": repo_url, "targetRevision": "main", "path": path},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
        "syncPolicy": {
            "automated": {"prune": true, "selfHeal": true},
            "syncOptions": ["CreateNamespace=true"]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(yaml: &str) -> Vec<&str> {
        yaml.lines().filter_map(|l| l.strip_prefix("kind: ")).collect()
    }

    #[test]
    fn a_fan_out_app_is_the_flux_mttp_shape() {
        let yaml = fan_out_app("app-7");
        assert_eq!(kinds(&yaml), ["Deployment", "ServiceAccount", "Service", "ConfigMap"]);
        assert!(yaml.contains("replicas: 0"));
    }

    #[test]
    fn mixed_objects_are_counted_and_namespaced_when_asked() {
        let yaml = mixed("o", 10, Some("ns1"));
        assert_eq!(kinds(&yaml).len(), 10);
        assert_eq!(yaml.matches("namespace: ns1").count(), 10);
        assert_eq!(mixed("o", 3, None).matches("namespace:").count(), 0);
    }

    #[test]
    fn ten_objects_change_only_the_round_line_between_rounds() {
        let (a, b) = (ten_objects("web", 1), ten_objects("web", 2));
        assert_eq!(kinds(&a).len(), 10);
        let changed: Vec<(&str, &str)> = a.lines().zip(b.lines()).filter(|(x, y)| x != y).collect();
        assert_eq!(changed, [("  value: \"1\"", "  value: \"2\"")]);
    }
}
