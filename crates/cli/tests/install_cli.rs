//! `ferry install`: what `--print` writes is accepted by real `kubectl apply --server-side`
//! against the embedded cluster (RBAC on, as its admin), grants the controller's ServiceAccount
//! what it needs, and equals what real Helm renders from the chart in `deploy/chart/ferry`.
//!
//! The chart's CRDs are generated: `FERRY_BLESS_CHART=1 cargo test -p ferry --test install_cli`
//! rewrites `deploy/chart/ferry/crds/` from `ferry install --print` after a CRD changes.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use support::*;

fn chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/chart/ferry")
}

async fn install_print(home: &Path, extra: &[&str]) -> String {
    let mut args = vec!["install", "--print"];
    args.extend_from_slice(extra);
    let run = ferry_with(home, &[], &args).await;
    assert_eq!(run.code, 0, "{run:?}");
    run.stdout
}

fn documents(yaml: &str) -> Vec<Value> {
    yaml.split("\n---")
        .map(|d| d.trim_start_matches("---"))
        .filter(|d| d.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')))
        .map(|d| serde_saphyr::from_str::<Value>(d).unwrap_or_else(|e| panic!("{e}:\n{d}")))
        .filter(|v| !v.is_null())
        .collect()
}

/// Objects by `apiVersion kind namespace/name`.
fn by_identity(objects: Vec<Value>) -> BTreeMap<String, Value> {
    objects
        .into_iter()
        .map(|o| {
            let id = format!(
                "{} {} {}/{}",
                o["apiVersion"].as_str().unwrap_or_default(),
                o["kind"].as_str().unwrap_or_default(),
                o["metadata"]["namespace"].as_str().unwrap_or_default(),
                o["metadata"]["name"].as_str().unwrap_or_default()
            );
            (id, o)
        })
        .collect()
}

fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs (install kubectl 1.32)");
    if let Some(text) = stdin {
        use std::io::Write;
        child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write stdin");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("kubectl finishes");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn helm_template(set: &[&str]) -> String {
    let mut cmd = Command::new(ferry_testkit::helm_checked());
    cmd.args(["template", "ferry"]).arg(chart_dir()).arg("--include-crds");
    for s in set {
        cmd.args(["--set", s]);
    }
    let out = cmd.output().expect("helm runs");
    assert!(out.status.success(), "helm template: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Rewrites the chart's `crds/` from what `ferry install` applies (FERRY_BLESS_CHART=1).
fn bless_crds(printed: &[Value]) {
    let dir = chart_dir().join("crds");
    for crd in printed.iter().filter(|o| o["kind"] == "CustomResourceDefinition") {
        let name = crd["metadata"]["name"].as_str().expect("a CRD name");
        let yaml = serde_saphyr::to_string(crd).expect("yaml");
        std::fs::write(dir.join(format!("{name}.yaml")), yaml).expect("write the CRD");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_print_is_accepted_by_kubectl_apply_server_side_and_grants_the_controller_its_rights()
 {
    let cluster = ferry_cluster::testing::start().await;
    let home = tempfile::tempdir().expect("tempdir");
    let yaml = install_print(home.path(), &[]).await;
    let objects = documents(&yaml);
    let kc = cluster.kubeconfig_path();

    let (ok, out) = kubectl(kc, &["apply", "--server-side", "-f", "-"], Some(&yaml));
    assert!(ok, "kubectl apply --server-side refused ferry install --print:\n{out}");
    let applied = out.lines().filter(|l| l.ends_with("serverside-applied")).count();
    assert_eq!(applied, objects.len(), "{out}");
    let (ok, again) = kubectl(kc, &["apply", "--server-side", "-f", "-"], Some(&yaml));
    assert!(ok && again.lines().all(|l| l.ends_with("serverside-applied")), "{again}");

    let (ok, out) =
        kubectl(kc, &["-n", "ferry", "get", "deployment/ferry-controller", "-o", "json"], None);
    assert!(ok, "{out}");
    let deployment: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(deployment["spec"]["replicas"], 2);
    for kind in ["poddisruptionbudget", "networkpolicy", "service", "serviceaccount"] {
        let (ok, out) = kubectl(kc, &["-n", "ferry", "get", kind, "ferry-controller"], None);
        assert!(ok, "{kind}: {out}");
    }

    // The binding is real: the embedded cluster's RBAC lets the controller's account act.
    let sa = "--as=system:serviceaccount:ferry:ferry-controller";
    for check in [
        vec!["auth", "can-i", "patch", "applications.ferry.dev/status", "-n", "shop", sa],
        vec!["auth", "can-i", "create", "leases.coordination.k8s.io", "-n", "ferry", sa],
        vec!["auth", "can-i", "patch", "pods", "-n", "ferry", sa],
        vec!["auth", "can-i", "delete", "deployments.apps", "-n", "shop", sa],
    ] {
        let (ok, out) = kubectl(kc, &check, None);
        assert!(ok && out.trim() == "yes", "{check:?}: {out}");
    }
    let (_, out) = kubectl(
        kc,
        &[
            "auth",
            "can-i",
            "patch",
            "pods",
            "-n",
            "ferry",
            "--as=system:serviceaccount:ferry:default",
        ],
        None,
    );
    assert_eq!(out.trim(), "no", "another account of the namespace gets nothing: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_template_of_the_chart_equals_ferry_install_print_object_for_object() {
    let home = tempfile::tempdir().expect("tempdir");
    let printed = documents(&install_print(home.path(), &[]).await);
    if std::env::var_os("FERRY_BLESS_CHART").is_some() {
        bless_crds(&printed);
    }
    let rendered = by_identity(documents(&helm_template(&[])));
    let printed = by_identity(printed);
    assert_eq!(
        rendered.keys().collect::<Vec<_>>(),
        printed.keys().collect::<Vec<_>>(),
        "the chart renders other objects than ferry install --print (after a CRD change: FERRY_BLESS_CHART=1)"
    );
    for (id, object) in &printed {
        assert_eq!(
            &rendered[id], object,
            "{id} differs between the chart and ferry install --print"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_charts_values_move_the_same_knobs_as_the_install_flags() {
    let home = tempfile::tempdir().expect("tempdir");
    let flags =
        ["--namespace", "ops", "--replicas", "3", "--image", "registry.example/ferry:1.2.3"];
    let printed = by_identity(documents(&install_print(home.path(), &flags).await));
    let rendered = by_identity(documents(&helm_template(&[
        "namespace=ops",
        "replicas=3",
        "image.repository=registry.example/ferry",
        "image.tag=1.2.3",
    ])));
    assert_eq!(rendered, printed);
}
