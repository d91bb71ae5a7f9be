//! Every app of the corpus renders, and what it renders equals what the real tools render:
//! `kubectl kustomize`, Helm (its Go SDK, through the `ferry-testkit` wrapper) and Debian's `jsonnet`.
#![allow(clippy::unwrap_used)] // test helpers may unwrap: a failure is the test failing

mod support;

use std::process::Command;

use ferry_render::{
    DirectoryOptions, HelmOptions, JsonnetOptions, JsonnetVar, RenderError, RenderOptions,
    SourceKind,
};
use serde_json::Value;
use support::*;

fn kustomize_oracle(app: &str) -> Vec<Value> {
    let dir = corpus().join(app);
    parse_stream(&run(Command::new("kubectl").arg("kustomize").arg(dir)))
}

fn assert_kustomize_matches_kubectl(app: &str, expected_count: usize) {
    require("kubectl", "install kubectl 1.32 (it includes kustomize)");
    let rendered = render_dir(&corpus(), app, &RenderOptions::default(), &context("app")).unwrap();
    let ours = values(&rendered);
    let theirs = kustomize_oracle(app);
    assert_eq!(ours.len(), expected_count, "{app}");
    assert_eq!(ours, theirs, "{app}: ferry and kubectl kustomize differ");
    assert!(
        rendered.objects.iter().all(|o| o.origin.file.as_str().ends_with("kustomization.yaml"))
    );
}

#[test]
fn sock_shop_renders_like_kubectl_kustomize() {
    assert_kustomize_matches_kubectl("argocd-example-apps/sock-shop", 29);
}

#[test]
fn kustomize_guestbook_renders_like_kubectl_kustomize() {
    assert_kustomize_matches_kubectl("argocd-example-apps/kustomize-guestbook", 2);
}

#[test]
fn pre_post_sync_renders_like_kubectl_kustomize() {
    assert_kustomize_matches_kubectl("argocd-example-apps/pre-post-sync", 4);
}

#[test]
fn podinfo_kustomize_renders_like_kubectl_kustomize() {
    assert_kustomize_matches_kubectl("podinfo/kustomize", 3);
}

#[test]
fn flux_overlays_with_bases_elsewhere_in_the_repository_render_like_kubectl_kustomize() {
    for (app, count) in [
        ("flux2-kustomize-helm-example/apps/production", 3),
        ("flux2-kustomize-helm-example/apps/staging", 3),
        ("flux2-kustomize-helm-example/infrastructure/controllers", 6),
        ("flux2-kustomize-helm-example/infrastructure/configs", 3),
        ("flux2-kustomize-helm-example/clusters/production/flux-system", 0),
    ] {
        assert_kustomize_matches_kubectl(app, count);
    }
}

fn helm_oracle(release: &str, chart: &str, extra: &[&str]) -> Vec<Value> {
    let mut cmd = Command::new(helm());
    cmd.arg("template").arg(release).arg(corpus().join(chart)).arg("--include-crds").args(extra);
    parse_stream(&run(&mut cmd))
}

fn helm_opts(value_files: &[&str]) -> RenderOptions {
    RenderOptions {
        helm: Some(HelmOptions {
            value_files: value_files.iter().map(|s| s.to_string()).collect(),
            ..HelmOptions::default()
        }),
        ..RenderOptions::default()
    }
}

#[test]
fn helm_guestbook_renders_like_helm_with_and_without_production_values() {
    let app = "argocd-example-apps/helm-guestbook";
    let ours = values(
        &render_dir(&corpus(), app, &RenderOptions::default(), &context("guestbook")).unwrap(),
    );
    assert_eq!(ours, helm_oracle("guestbook", app, &[]));
    assert_eq!(ours.len(), 2);

    let prod = values(
        &render_dir(&corpus(), app, &helm_opts(&["values-production.yaml"]), &context("guestbook"))
            .unwrap(),
    );
    let values_file = corpus().join(app).join("values-production.yaml");
    let theirs = helm_oracle("guestbook", app, &["-f", values_file.to_str().unwrap()]);
    assert_eq!(prod, theirs);
    assert_ne!(prod, ours, "production values change the output");
}

#[test]
fn podinfo_chart_renders_like_helm_with_default_and_prod_values() {
    let app = "podinfo/charts/podinfo";
    let ctx = context("podinfo").with_namespace("prod");
    let ours = values(&render_dir(&corpus(), app, &RenderOptions::default(), &ctx).unwrap());
    assert_eq!(
        unrandomize(&ours),
        unrandomize(&helm_oracle("podinfo", app, &["--namespace", "prod"]))
    );
    assert!(ours.len() >= 3, "{}", ours.len());

    let prod =
        values(&render_dir(&corpus(), app, &helm_opts(&["values-prod.yaml"]), &ctx).unwrap());
    let values_file = corpus().join(app).join("values-prod.yaml");
    let theirs =
        helm_oracle("podinfo", app, &["--namespace", "prod", "-f", values_file.to_str().unwrap()]);
    assert_eq!(unrandomize(&prod), unrandomize(&theirs));
    assert_ne!(prod, ours);
}

/// podinfo's test pods are named with `randAlphaNum 5`: Helm itself renders a new name every
/// time, so the comparison masks that suffix (and only that).
fn unrandomize(objects: &[Value]) -> Vec<Value> {
    objects
        .iter()
        .cloned()
        .map(|mut o| {
            if let Some(Value::String(name)) = o.pointer_mut("/metadata/name")
                && let Some((stem, suffix)) = name.rsplit_once('-')
                && stem.ends_with("-test")
                && suffix.len() == 5
            {
                *name = format!("{stem}-RANDOM");
            }
            o
        })
        .collect()
}

#[test]
fn blue_green_renders_like_helm_with_release_name_and_parameters() {
    let app = "argocd-example-apps/blue-green";
    let opts = RenderOptions {
        helm: Some(HelmOptions {
            release_name: Some("bg".into()),
            parameters: vec![ferry_render::HelmParameter {
                name: "replicaCount".into(),
                value: "3".into(),
                force_string: false,
            }],
            ..HelmOptions::default()
        }),
        ..RenderOptions::default()
    };
    let ours = values(&render_dir(&corpus(), app, &opts, &context("ignored")).unwrap());
    assert_eq!(ours, helm_oracle("bg", app, &["--set", "replicaCount=3"]));
    assert!(!ours.is_empty());
}

#[test]
fn a_chart_whose_dependencies_are_not_vendored_fails_naming_the_dependency() {
    let err = render_dir(
        &corpus(),
        "argocd-example-apps/helm-dependency",
        &RenderOptions::default(),
        &context("wp"),
    )
    .unwrap_err();
    assert!(matches!(err, RenderError::ToolFailed { tool: "helm", .. }), "{err}");
    assert!(err.to_string().contains("wordpress"), "{err}");
}

fn jsonnet_oracle(file: &str, args: &[&str]) -> Vec<Value> {
    require("jsonnet", "apt-get install jsonnet");
    let out = run(Command::new("jsonnet").args(args).arg(corpus().join(file)));
    let value: Value = serde_json::from_slice(&out).unwrap();
    match value {
        Value::Array(items) => items,
        other => vec![other],
    }
}

#[test]
fn jsonnet_guestbook_evaluates_like_the_jsonnet_command() {
    let app = "argocd-example-apps/jsonnet-guestbook";
    let rendered = render_dir(&corpus(), app, &RenderOptions::default(), &context("app")).unwrap();
    assert_eq!(values(&rendered), jsonnet_oracle(&format!("{app}/guestbook-ui.jsonnet"), &[]));
    assert!(
        rendered.read_set.iter().any(|p| p.as_str().ends_with("params.libsonnet")),
        "imports are in the read set"
    );
}

#[test]
fn jsonnet_guestbook_tla_evaluates_like_the_jsonnet_command_with_the_same_arguments() {
    let app = "argocd-example-apps/jsonnet-guestbook-tla";
    let jsonnet = JsonnetOptions {
        tlas: vec![
            JsonnetVar { name: "name".into(), value: "tla-guestbook".into(), code: false },
            JsonnetVar { name: "replicas".into(), value: "3".into(), code: true },
        ],
        ..JsonnetOptions::default()
    };
    let opts = RenderOptions {
        kind: Some(SourceKind::Jsonnet),
        directory: Some(DirectoryOptions { jsonnet: Some(jsonnet), ..DirectoryOptions::default() }),
        ..RenderOptions::default()
    };
    let ours = values(&render_dir(&corpus(), app, &opts, &context("app")).unwrap());
    let theirs = jsonnet_oracle(
        &format!("{app}/guestbook-ui.jsonnet"),
        &["--tla-str", "name=tla-guestbook", "--tla-code", "replicas=3"],
    );
    assert_eq!(ours, theirs);
    assert_eq!(ours[1]["spec"]["replicas"], 3);
}

#[test]
fn the_argo_cd_install_manifest_parses_to_its_59_objects_as_kubectl_reads_them() {
    require("kubectl", "install kubectl 1.32");
    let rendered =
        render_dir(&corpus(), "argo-cd-install", &RenderOptions::default(), &context("argocd"))
            .unwrap();
    assert_eq!(rendered.objects.len(), 59);
    let crds = rendered.values().filter(|o| o["kind"] == "CustomResourceDefinition").count();
    assert_eq!(crds, 3);
    // kubectl's own reading of the file, as JSON, is the oracle for every scalar.
    let out = run(Command::new("kubectl")
        .args(["label", "--local", "-o", "json", "ferry-oracle=x", "-f"])
        .arg(corpus().join("argo-cd-install/install.yaml")));
    let theirs: Vec<Value> = serde_json::Deserializer::from_slice(&out)
        .into_iter::<Value>()
        .map(|v| strip_label(v.unwrap(), "ferry-oracle"))
        .collect();
    assert_eq!(values(&rendered), theirs);
}

/// Removes the label the oracle command added (and the labels map if that leaves it empty).
pub fn strip_label(mut v: Value, label: &str) -> Value {
    if let Some(labels) = v.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.remove(label);
        if labels.is_empty() {
            v["metadata"].as_object_mut().unwrap().remove("labels");
        }
    }
    v
}

#[test]
fn every_app_of_the_corpus_renders() {
    let apps = [
        ("argocd-example-apps/guestbook", 2),
        ("argocd-example-apps/helm-hooks", 0),
        ("argocd-example-apps/sync-waves", 0),
        ("argocd-example-apps/apps", 0),
    ];
    for (app, min) in apps {
        let rendered = render_dir(&corpus(), app, &RenderOptions::default(), &context("apps"))
            .unwrap_or_else(|e| panic!("{app}: {e}"));
        assert!(rendered.objects.len() >= min.max(1), "{app}: {} objects", rendered.objects.len());
        assert!(rendered.hash.starts_with("sha256:"));
    }
}

#[test]
fn rendering_twice_gives_identical_objects_and_hashes() {
    let app = "argocd-example-apps/sock-shop";
    let a = render_dir(&corpus(), app, &RenderOptions::default(), &context("app")).unwrap();
    let b = render_dir(&corpus(), app, &RenderOptions::default(), &context("app")).unwrap();
    assert_eq!(a.hash, b.hash);
    assert_eq!(a.objects, b.objects);
}
