//! Helm on a fresh machine (issue 14, item 9): the `helm` shim Ferry ships renders as the test
//! wrapper does, a missing `helm` names the shim and FERRY_HELM instead of blaming Git, and
//! `ferry render --helm-values` reads a path from the working directory as `helm template` does.
#![allow(clippy::unwrap_used)] // test helpers may unwrap: a failure is the test failing

mod support;

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;
use support::*;

fn replicas(json: &str) -> Value {
    let objects: Vec<Value> = serde_json::from_str(json).unwrap();
    objects.iter().find(|o| o["kind"] == "Deployment").unwrap()["spec"]["replicas"].clone()
}

#[test]
fn the_shipped_helm_shim_renders_what_the_test_wrapper_renders() {
    let wrapper = helm();
    let dir = tempfile::tempdir().unwrap();
    let shim = dir.path().join("helm");
    std::fs::write(&shim, ferry_render::HELM_SHIM).unwrap();
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let app = corpus().join("argocd-example-apps/helm-guestbook");
    let app = app.to_str().unwrap();
    let with = |helm: &std::path::Path| {
        ferry_render(&[app, "--helm", helm.to_str().unwrap(), "--set", "replicaCount=3"]).unwrap()
    };
    let shipped = with(&shim);
    assert!(shipped.contains("kind: Deployment"), "{shipped}");
    assert_eq!(shipped, with(&wrapper));
}

#[test]
fn a_missing_helm_says_how_to_install_it_not_to_fix_git() {
    let app = corpus().join("argocd-example-apps/helm-guestbook");
    let err = ferry_render(&[app.to_str().unwrap(), "--helm", "/nonexistent/helm"]).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("ferry helm-shim install DIR"), "{text}");
    assert!(text.contains("FERRY_HELM=DIR/helm"), "{text}");
    assert!(!text.contains("Git"), "{text}");
    match err {
        ferry_render::cli::CliError::Render(e) => assert!(e.is_installation_problem()),
        other => panic!("expected a render error, got {other}"),
    }
}

#[test]
fn helm_values_given_from_the_working_directory_are_read_as_helm_template_reads_them() {
    let helm = helm();
    let repo = GitRepo::new();
    copy_dir(
        &corpus().join("argocd-example-apps/helm-guestbook"),
        &repo.dir.path().join("charts/gb"),
    );
    std::fs::create_dir_all(repo.dir.path().join("env")).unwrap();
    std::fs::write(repo.dir.path().join("env/prod.yaml"), "replicaCount: 3\n").unwrap();
    let outside = tempfile::tempdir().unwrap();
    let ci = outside.path().join("ci.yaml");
    std::fs::write(&ci, "replicaCount: 5\n").unwrap();
    let chart = repo.dir.path().join("charts/gb");
    let render = |values: &str| {
        ferry_render(&[
            chart.to_str().unwrap(),
            "--helm",
            helm.to_str().unwrap(),
            "--helm-values",
            values,
            "-o",
            "json",
        ])
    };
    // A file in the repository, named by a path that exists here (not relative to the chart).
    let in_repo = repo.dir.path().join("env/prod.yaml");
    assert_eq!(replicas(&render(in_repo.to_str().unwrap()).unwrap()), 3);
    // A file outside the repository.
    assert_eq!(replicas(&render(ci.to_str().unwrap()).unwrap()), 5);
    // Chart-relative names keep working.
    assert_eq!(replicas(&render("values-production.yaml").unwrap()), 1);
}
