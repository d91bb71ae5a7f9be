//! `image set` on copies of real-world corpus files in a git work tree: `git diff` is the
//! oracle that only the image bytes changed, and `kubectl kustomize` that kustomize reads the
//! edited `images:` the way we meant.

mod support;

use std::path::Path;
use std::process::Command;

use ferry_image::{PlanError, SetError, parse_updates, plan_set, set_images};
use support::{changed_lines, copy_corpus, init_repo};

fn updates(args: &[&str]) -> Vec<ferry_image::ImageUpdate> {
    parse_updates(args).expect("valid arguments")
}

#[test]
fn the_guestbook_deployment_bump_changes_only_the_image_line() {
    let repo = tempfile::tempdir().expect("temp dir");
    let file = repo.path().join("guestbook/guestbook-ui-deployment.yaml");
    copy_corpus("argocd-example-apps/guestbook/guestbook-ui-deployment.yaml", &file);
    init_repo(repo.path());

    let report = set_images(
        repo.path(),
        &updates(&["gcr.io/google-samples/gb-frontend=gcr.io/google-samples/gb-frontend:v6"]),
    )
    .expect("set succeeds");

    assert_eq!(report.changes.len(), 1);
    let change = &report.changes[0];
    assert_eq!(
        (change.line, change.old.as_str(), change.new.as_str()),
        (17, "gcr.io/google-samples/gb-frontend:v5", "gcr.io/google-samples/gb-frontend:v6")
    );
    assert_eq!(change.file, file);
    assert_eq!(
        changed_lines(repo.path()),
        [
            "-        - image: gcr.io/google-samples/gb-frontend:v5",
            "+        - image: gcr.io/google-samples/gb-frontend:v6"
        ]
    );
}

const KUSTOMIZATION_IMAGES: &str = "
images:
  # the app itself: a tag bump
  - name: gcr.io/google-samples/gb-frontend
    newTag: \"v5\"
  # a mirror without a tag yet: newTag gets added after the last field
  - name: redis
    newName: mirror.example.com/library/redis
";

#[test]
fn kustomization_images_entries_are_updated_added_to_and_read_back_by_kustomize() {
    let repo = tempfile::tempdir().expect("temp dir");
    let app = repo.path().join("kustomize-guestbook");
    for name in ["kustomization.yaml", "guestbook-ui-deployment.yaml", "guestbook-ui-svc.yaml"] {
        copy_corpus(&format!("argocd-example-apps/kustomize-guestbook/{name}"), &app.join(name));
    }
    let kustomization = app.join("kustomization.yaml");
    let mut text = std::fs::read_to_string(&kustomization).expect("readable");
    text.push_str(KUSTOMIZATION_IMAGES);
    std::fs::write(&kustomization, text).expect("writable");
    init_repo(repo.path());

    let report = set_images(
        &kustomization,
        &updates(&["gcr.io/google-samples/gb-frontend=:v6", "docker.io/library/redis=:7.4"]),
    )
    .expect("set succeeds");

    let summary: Vec<_> =
        report.changes.iter().map(|c| (c.line, c.old.as_str(), c.new.as_str())).collect();
    assert_eq!(
        summary,
        [
            (11, "gcr.io/google-samples/gb-frontend:v5", "gcr.io/google-samples/gb-frontend:v6"),
            (14, "mirror.example.com/library/redis", "mirror.example.com/library/redis:7.4"),
        ]
    );
    assert_eq!(
        changed_lines(repo.path()),
        ["-    newTag: \"v5\"", "+    newTag: \"v6\"", "+    newTag: \"7.4\"",]
    );
    let rendered = Command::new("kubectl")
        .args(["kustomize"])
        .arg(&app)
        .output()
        .expect("kubectl is required (install kubectl 1.32)");
    assert!(rendered.status.success(), "{}", String::from_utf8_lossy(&rendered.stderr));
    let rendered = String::from_utf8_lossy(&rendered.stdout);
    assert!(rendered.contains("image: gcr.io/google-samples/gb-frontend:v6"), "{rendered}");
}

const PODINFO_MARKERS: &[(&str, &str)] = &[
    (
        "  repository: ghcr.io/stefanprodan/podinfo\n",
        "  repository: ghcr.io/stefanprodan/podinfo # {\"$ferry-image\": \"ghcr.io/stefanprodan/podinfo:name\"}\n",
    ),
    (
        "  tag: 6.14.1\n",
        "  tag: 6.14.1 # {\"$ferry-image\": \"ghcr.io/stefanprodan/podinfo:tag\"}\n",
    ),
    (
        "  repository: docker.io/redis\n",
        "  repository: docker.io/redis # {\"$imagepolicy\": \"flux-system:redis:name\"}\n",
    ),
    ("  tag: 8.8.0\n", "  tag: 8.8.0 # {\"$imagepolicy\": \"flux-system:redis:tag\"}\n"),
];

#[test]
fn helm_values_fields_with_ferry_and_flux_markers_are_set_and_nothing_else() {
    let repo = tempfile::tempdir().expect("temp dir");
    let values = repo.path().join("charts/podinfo/values.yaml");
    copy_corpus("podinfo/charts/podinfo/values.yaml", &values);
    let mut text = std::fs::read_to_string(&values).expect("readable");
    for (plain, marked) in PODINFO_MARKERS {
        assert!(text.contains(plain), "the corpus file has {plain:?}");
        text = text.replacen(plain, marked, 1);
    }
    std::fs::write(&values, text).expect("writable");
    init_repo(repo.path());

    let report = set_images(
        repo.path(),
        &updates(&["ghcr.io/stefanprodan/podinfo:6.15.0", "redis=redis:8.8.1"]),
    )
    .expect("set succeeds");

    let summary: Vec<_> =
        report.changes.iter().map(|c| (c.line, c.old.as_str(), c.new.as_str())).collect();
    assert_eq!(summary, [(11, "6.14.1", "6.15.0"), (174, "8.8.0", "8.8.1")]);
    assert_eq!(
        changed_lines(repo.path()),
        [
            "-  tag: 6.14.1 # {\"$ferry-image\": \"ghcr.io/stefanprodan/podinfo:tag\"}",
            "+  tag: 6.15.0 # {\"$ferry-image\": \"ghcr.io/stefanprodan/podinfo:tag\"}",
            "-  tag: 8.8.0 # {\"$imagepolicy\": \"flux-system:redis:tag\"}",
            "+  tag: 8.8.1 # {\"$imagepolicy\": \"flux-system:redis:tag\"}",
        ]
    );
}

#[test]
fn a_whole_chart_is_walked_without_parsing_its_go_templates() {
    let repo = tempfile::tempdir().expect("temp dir");
    let chart = repo.path().join("podinfo");
    copy_dir(&support::corpus("podinfo/charts/podinfo"), &chart);
    let values = chart.join("values.yaml");
    let text = std::fs::read_to_string(&values).expect("readable").replacen(
        "  tag: 6.14.1\n",
        "  tag: 6.14.1 # {\"$ferry-image\": \"ghcr.io/stefanprodan/podinfo:tag\"}\n",
        1,
    );
    std::fs::write(&values, text).expect("writable");

    let report = set_images(repo.path(), &updates(&["ghcr.io/stefanprodan/podinfo=:6.15.0"]))
        .expect("templates are skipped, not refused");
    assert_eq!(report.changes.len(), 1);
}

#[test]
fn malformed_yaml_is_refused_with_file_and_line_and_no_file_changes() {
    let repo = tempfile::tempdir().expect("temp dir");
    let good = repo.path().join("a-good.yaml");
    copy_corpus("argocd-example-apps/guestbook/guestbook-ui-deployment.yaml", &good);
    let bad = repo.path().join("b-broken.yaml");
    std::fs::write(&bad, "kind: Deployment\nspec:\n  image: gb-frontend:v5\n   bad: indentation\n")
        .expect("writable");
    init_repo(repo.path());

    let error = set_images(repo.path(), &updates(&["gcr.io/google-samples/gb-frontend=:v6"]))
        .expect_err("malformed input");

    match &error {
        SetError::Plan { file, source: PlanError::Yaml(yaml) } => {
            assert_eq!(file, &bad);
            assert_eq!(yaml.line, 4);
        }
        other => panic!("expected a YAML error, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("b-broken.yaml: malformed YAML at line 4"), "{message}");
    assert!(message.ends_with("nothing was changed"), "{message}");
    assert!(changed_lines(repo.path()).is_empty(), "no file may change");
}

#[test]
fn nothing_matched_is_reported_as_zero_matches_and_changes_nothing() {
    let repo = tempfile::tempdir().expect("temp dir");
    copy_corpus(
        "argocd-example-apps/guestbook/guestbook-ui-deployment.yaml",
        &repo.path().join("d.yaml"),
    );
    init_repo(repo.path());
    let report = set_images(repo.path(), &updates(&["ghcr.io/other/app:1.0.0"])).expect("runs");
    assert_eq!(report.matched, 0);
    assert!(report.changes.is_empty());
    assert!(changed_lines(repo.path()).is_empty());
}

#[test]
fn an_image_already_at_the_new_tag_matches_without_a_change() {
    let repo = tempfile::tempdir().expect("temp dir");
    copy_corpus(
        "argocd-example-apps/guestbook/guestbook-ui-deployment.yaml",
        &repo.path().join("d.yaml"),
    );
    let report =
        set_images(repo.path(), &updates(&["gcr.io/google-samples/gb-frontend:v5"])).expect("runs");
    assert_eq!((report.matched, report.changes.len()), (1, 0));
}

const WORKLOADS: &str = r#"# a CronJob and a custom resource with a pod template, in one stream
apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          initContainers:
            - name: migrate
              image: 'registry.example.com/app:1.0.0'   # single-quoted stays single-quoted
          containers:
            - {name: report, image: "registry.example.com/app:1.0.0"}
            - name: sidecar
              image: registry.example.com/sidecar:2.0.0
          restartPolicy: OnFailure
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: app
spec:
  template:
    spec:
      containers:
        - name: app
          image: registry.example.com/app@sha256:fe18e00a6aeece16b5b2f77a32ee60929e8a60e27c71df8df66bf804f5677f47
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-a-workload
data:
  image: registry.example.com/app:1.0.0
"#;

#[test]
fn init_and_regular_containers_of_any_kind_with_a_pod_template_are_set_keeping_quotes() {
    let repo = tempfile::tempdir().expect("temp dir");
    let file = repo.path().join("workloads.yaml");
    std::fs::write(&file, WORKLOADS).expect("writable");
    init_repo(repo.path());

    let report =
        set_images(&file, &updates(&["registry.example.com/app=:1.1.0"])).expect("set succeeds");

    let lines: Vec<_> = report.changes.iter().map(|c| c.line).collect();
    assert_eq!(lines, [14, 16, 30]);
    assert_eq!(
        changed_lines(repo.path()),
        [
            "-              image: 'registry.example.com/app:1.0.0'   # single-quoted stays single-quoted",
            "+              image: 'registry.example.com/app:1.1.0'   # single-quoted stays single-quoted",
            "-            - {name: report, image: \"registry.example.com/app:1.0.0\"}",
            "+            - {name: report, image: \"registry.example.com/app:1.1.0\"}",
            "-          image: registry.example.com/app@sha256:fe18e00a6aeece16b5b2f77a32ee60929e8a60e27c71df8df66bf804f5677f47",
            "+          image: registry.example.com/app:1.1.0",
        ]
    );
}

#[test]
fn a_flux_tag_marker_without_its_name_field_is_noted_not_guessed() {
    let repo = tempfile::tempdir().expect("temp dir");
    let file = repo.path().join("values.yaml");
    std::fs::write(&file, "image:\n  tag: 1.0.0 # {\"$imagepolicy\": \"flux-system:app:tag\"}\n")
        .expect("writable");
    let report = set_images(&file, &updates(&["app:2.0.0"])).expect("runs");
    assert!(report.changes.is_empty());
    assert_eq!(report.notes.len(), 1);
    assert!(
        report.notes[0].message.contains("policy flux-system:app"),
        "{}",
        report.notes[0].message
    );
}

#[test]
fn a_tag_that_would_read_back_as_a_number_is_quoted() {
    let repo = tempfile::tempdir().expect("temp dir");
    let file = repo.path().join("values.yaml");
    std::fs::write(&file, "image:\n  tag: v1 # {\"$ferry-image\": \"app:tag\"}\n")
        .expect("writable");
    set_images(&file, &updates(&["app=:1.10"])).expect("runs");
    assert_eq!(
        std::fs::read_to_string(&file).expect("readable"),
        "image:\n  tag: \"1.10\" # {\"$ferry-image\": \"app:tag\"}\n"
    );
}

#[test]
fn an_invalid_marker_is_an_error_naming_the_line() {
    let repo = tempfile::tempdir().expect("temp dir");
    let file = repo.path().join("values.yaml");
    std::fs::write(&file, "a: 1\nimage: x # {\"$ferry-image\": \"Not/Valid\"}\n")
        .expect("writable");
    let error = plan_set(&file, &updates(&["app:2"])).expect_err("invalid marker");
    let message = error.to_string();
    assert!(message.contains("line 2: marker"), "{message}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("readable dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy file");
        }
    }
}
