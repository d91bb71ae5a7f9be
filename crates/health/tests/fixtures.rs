//! Every fixture in `testdata/<kind>/<state>.yaml` (objects as a 1.32 API server returns them)
//! is judged and its status compared with the table below; a fixture missing from the table
//! fails the test, so none goes unasserted.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ferry_health::{HealthStatus, Rules, assess};
use serde_json::Value;

use HealthStatus::{Degraded, Healthy, Progressing, Suspended, Unknown};

const EXPECTED: &[(&str, HealthStatus)] = &[
    ("apiservice/available", Healthy),
    ("apiservice/service-not-found", Progressing),
    ("cronjob/last-run-failed", Degraded),
    ("cronjob/last-run-succeeded", Healthy),
    ("cronjob/never-scheduled", Healthy),
    ("cronjob/never-succeeded", Degraded),
    ("cronjob/run-in-progress", Healthy),
    ("cronjob/suspended", Suspended),
    ("crd/established", Healthy),
    ("crd/names-not-accepted", Degraded),
    ("crd/non-structural-schema", Degraded),
    ("crd/not-established-yet", Progressing),
    ("daemonset/generation-not-observed", Progressing),
    ("daemonset/healthy", Healthy),
    ("daemonset/on-delete-old-pods", Healthy),
    ("daemonset/pods-not-available", Progressing),
    ("daemonset/rolling-update-in-progress", Progressing),
    ("deployment/being-deleted", Progressing),
    ("deployment/generation-not-observed", Progressing),
    ("deployment/healthy", Healthy),
    ("deployment/old-replicas-terminating", Progressing),
    ("deployment/paused", Suspended),
    ("deployment/progress-deadline-exceeded", Degraded),
    ("deployment/rolling-update-in-progress", Progressing),
    ("deployment/scaled-to-zero", Healthy),
    ("deployment/updated-replicas-not-available", Progressing),
    // Built-in judgement of an unknown kind: Ready=False is the controller's verdict. A user
    // rule can say better for cert-manager (see tests/rules.rs).
    ("generic/cert-manager-certificate-issuing", Degraded),
    ("generic/configmap-without-status", Healthy),
    ("generic/flux-kustomization-build-failed", Degraded),
    ("generic/flux-kustomization-generation-not-observed", Progressing),
    ("generic/flux-kustomization-ready", Healthy),
    ("generic/flux-kustomization-reconciling", Progressing),
    ("generic/flux-kustomization-stalled", Degraded),
    ("hpa/active", Healthy),
    ("hpa/missing-metrics", Degraded),
    ("hpa/no-conditions-yet", Progressing),
    ("hpa/v1-active", Healthy),
    ("ingress/with-address", Healthy),
    ("ingress/without-address", Progressing),
    ("job/complete", Healthy),
    ("job/failed-backoff-limit", Degraded),
    ("job/failure-target-pods-terminating", Degraded),
    ("job/running", Progressing),
    ("job/suspended", Suspended),
    ("namespace/active", Healthy),
    ("namespace/terminating", Progressing),
    ("pod/crash-loop-back-off", Degraded),
    ("pod/err-image-pull", Degraded),
    ("pod/evicted", Degraded),
    ("pod/failed-exit-code", Degraded),
    ("pod/failed-oom-killed", Degraded),
    // A hook pod (restartPolicy Never) is not failed early while its image is pulled.
    ("pod/hook-pod-image-pull-back-off", Progressing),
    ("pod/image-pull-back-off", Degraded),
    ("pod/pending-unschedulable", Progressing),
    ("pod/restarted-not-ready", Degraded),
    ("pod/running-not-ready-yet", Progressing),
    ("pod/running-ready", Healthy),
    ("pod/succeeded", Healthy),
    ("pvc/bound", Healthy),
    ("pvc/lost", Degraded),
    ("pvc/pending", Progressing),
    ("replicaset/healthy", Healthy),
    ("replicaset/pods-not-available", Progressing),
    ("replicaset/replica-failure-quota", Degraded),
    ("service/cluster-ip", Healthy),
    ("service/load-balancer-pending", Progressing),
    ("service/load-balancer-ready", Healthy),
    ("statefulset/generation-not-observed", Progressing),
    ("statefulset/healthy", Healthy),
    ("statefulset/on-delete-old-revision", Healthy),
    ("statefulset/partition-rollout-complete", Healthy),
    ("statefulset/partition-rollout-in-progress", Progressing),
    ("statefulset/pods-not-ready", Progressing),
    ("statefulset/rolling-update-in-progress", Progressing),
];

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

pub fn load(name: &str) -> Value {
    let path = testdata().join(format!("{name}.yaml"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    serde_saphyr::from_str(&text)
        .unwrap_or_else(|error| panic!("parsing {}: {error}", path.display()))
}

fn fixture_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for kind_dir in std::fs::read_dir(testdata()).expect("testdata exists") {
        let kind_dir = kind_dir.expect("readable testdata entry").path();
        for file in std::fs::read_dir(&kind_dir).expect("readable kind directory") {
            let file = file.expect("readable fixture entry").path();
            let kind = kind_dir.file_name().expect("named").to_string_lossy();
            let state = file.file_stem().expect("named").to_string_lossy();
            names.insert(format!("{kind}/{state}"));
        }
    }
    names
}

#[test]
fn every_fixture_is_judged_as_its_table_entry_says() {
    let mut wrong = Vec::new();
    for (name, expected) in EXPECTED {
        let health = assess(&load(name), &Rules::default());
        if health.status != *expected {
            wrong.push(format!("{name}: expected {expected}, got {health}"));
        }
    }
    assert!(wrong.is_empty(), "misjudged fixtures:\n{}", wrong.join("\n"));
}

#[test]
fn every_fixture_file_has_an_expected_status_and_every_entry_a_file() {
    let on_disk = fixture_names();
    let in_table: BTreeSet<String> = EXPECTED.iter().map(|(name, _)| name.to_string()).collect();
    let untested: Vec<_> = on_disk.difference(&in_table).collect();
    let missing: Vec<_> = in_table.difference(&on_disk).collect();
    assert!(untested.is_empty(), "fixtures without an expected status: {untested:?}");
    assert!(missing.is_empty(), "table entries without a fixture: {missing:?}");
}

#[test]
fn every_judgement_explains_itself_in_words_except_for_status_less_objects() {
    let silent: Vec<_> = EXPECTED
        .iter()
        .filter(|(name, _)| {
            !matches!(
                *name,
                "generic/configmap-without-status" | "service/cluster-ip" | "namespace/active"
            )
        })
        .filter(|(name, _)| assess(&load(name), &Rules::default()).message.is_empty())
        .map(|(name, _)| *name)
        .collect();
    assert!(silent.is_empty(), "judgements without a message: {silent:?}");
}

#[test]
fn messages_say_what_and_why() {
    let deadline = assess(&load("deployment/progress-deadline-exceeded"), &Rules::default());
    assert_eq!(
        deadline.message,
        "the rollout exceeded its progress deadline: ReplicaSet \"guestbook-ui-6d8f7b9c5d\" has timed out progressing."
    );
    let crash = assess(&load("pod/crash-loop-back-off"), &Rules::default());
    assert!(
        crash
            .message
            .starts_with("container guestbook-ui is waiting: CrashLoopBackOff: back-off 2m40s"),
        "{}",
        crash.message
    );
    let rollout = assess(&load("deployment/rolling-update-in-progress"), &Rules::default());
    assert_eq!(rollout.message, "waiting for the rollout: 1 of 3 replicas run the new version");
    let oom = assess(&load("pod/failed-oom-killed"), &Rules::default());
    assert_eq!(oom.message, "container guestbook-ui was OOMKilled");
}

#[test]
fn an_object_without_kind_is_unknown_not_healthy() {
    let mut obj = load("deployment/healthy");
    obj.as_object_mut().expect("an object").remove("kind");
    let health = assess(&obj, &Rules::default());
    assert_eq!(health.status, Unknown);
    assert!(health.message.contains("no apiVersion or kind"), "{}", health.message);
}

#[test]
fn a_v1_hpa_with_a_garbled_conditions_annotation_is_unknown() {
    let mut obj = load("hpa/v1-active");
    obj["metadata"]["annotations"]["autoscaling.alpha.kubernetes.io/conditions"] =
        Value::String("[{not json".into());
    let health = assess(&obj, &Rules::default());
    assert_eq!(health.status, Unknown);
    assert!(health.message.contains("is not valid JSON"), "{}", health.message);
}
