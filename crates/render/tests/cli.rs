//! `ferry render PATH …`: the command-line front of the render stage, run as the binary runs it.
#![allow(clippy::unwrap_used)] // test helpers may unwrap: a failure is the test failing

mod support;

use serde_json::Value;
use support::*;

#[test]
fn rendering_a_kustomize_directory_prints_yaml_documents_that_read_back_to_the_same_objects() {
    let app = corpus().join("argocd-example-apps/kustomize-guestbook");
    let yaml = ferry_render(&[app.to_str().unwrap()]).unwrap();
    assert_eq!(yaml.matches("---\n").count(), 2);
    let objects = parse_stream(yaml.as_bytes());
    let json = ferry_render(&[app.to_str().unwrap(), "-o", "json"]).unwrap();
    let array: Vec<Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(objects, array);
    assert_eq!(array[0]["kind"], "Service");
}

#[test]
fn helm_flags_map_onto_helm_template() {
    let app = corpus().join("argocd-example-apps/helm-guestbook");
    let helm = helm();
    let json = ferry_render(&[
        app.to_str().unwrap(),
        "--helm",
        helm.to_str().unwrap(),
        "--release",
        "gb",
        "--namespace",
        "web",
        "--helm-values",
        "values-production.yaml",
        "--set",
        "replicaCount=4",
        "-o",
        "json",
    ])
    .unwrap();
    let objects: Vec<Value> = serde_json::from_str(&json).unwrap();
    let deployment = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    assert_eq!(deployment["metadata"]["name"], "gb-helm-guestbook");
    assert_eq!(deployment["spec"]["replicas"], 4);
}

#[test]
fn jsonnet_tla_flags_reach_the_evaluation() {
    let app = corpus().join("argocd-example-apps/jsonnet-guestbook-tla");
    let json = ferry_render(&[
        app.to_str().unwrap(),
        "--tla",
        "name=cli",
        "--tla-code",
        "replicas=2",
        "-o",
        "json",
    ])
    .unwrap();
    let objects: Vec<Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(objects[1]["metadata"]["name"], "cli");
    assert_eq!(objects[1]["spec"]["replicas"], 2);
}

#[test]
fn a_directory_flag_does_not_turn_a_kustomize_app_into_a_directory_app() {
    let app = corpus().join("argocd-example-apps/kustomize-guestbook");
    let yaml = ferry_render(&[app.to_str().unwrap(), "--recurse"]).unwrap();
    assert_eq!(parse_stream(yaml.as_bytes()).len(), 2);
}

#[test]
fn a_bad_path_is_an_error_naming_it() {
    let err = ferry_render(&["/nonexistent/app"]).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/app"), "{err}");
}
