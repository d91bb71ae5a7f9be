//! Desired vs live on objects as a 1.32 API server returns them.

use ferry_diff::{DiffOptions, ObjectDiff, Operation, diff_object, render_unified};
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

fn diff(desired: &Value, live: &Value, opts: &DiffOptions) -> ObjectDiff {
    diff_object(desired, live, opts).expect("fixtures are valid objects")
}

fn paths(d: &ObjectDiff) -> Vec<&str> {
    d.changes.iter().map(|c| c.path.as_str()).collect()
}

#[test]
fn server_defaults_status_and_controller_annotations_are_not_drift() {
    let d = diff(
        &fixture("deployment-desired.json"),
        &fixture("deployment-live.json"),
        &DiffOptions::default(),
    );
    assert!(d.in_sync(), "unexpected changes: {:#?}", d.changes);
    assert_eq!(render_unified(&d), "");
}

#[test]
fn a_quantity_written_differently_is_the_same_quantity() {
    // desired says cpu: 0.5, the server stores "500m"
    let desired = fixture("deployment-desired.json");
    assert_eq!(
        desired.pointer("/spec/template/spec/containers/0/resources/limits/cpu"),
        Some(&json!(0.5))
    );
    let d = diff(&desired, &fixture("deployment-live.json"), &DiffOptions::default());
    assert!(d.in_sync());
}

#[test]
fn replicas_scaled_by_kubectl_on_a_field_ferry_declares_is_drift_naming_kubectl() {
    let d = diff(
        &fixture("deployment-desired.json"),
        &fixture("deployment-live-scaled-by-kubectl.json"),
        &DiffOptions::default(),
    );
    assert_eq!(paths(&d), vec![".spec.replicas"]);
    let c = &d.changes[0];
    assert_eq!(c.desired, Some(json!(3)));
    assert_eq!(c.live, Some(json!(5)));
    let by = c.changed_by.as_ref().expect("kubectl owns the scaled field");
    assert_eq!(by.manager, "kubectl");
    assert_eq!(by.operation, Operation::Update);
    assert_eq!(by.subresource, "scale");
    assert_eq!(by.time.as_deref(), Some("2026-11-21T16:03:11Z"));
    let text = render_unified(&d);
    assert!(
        text.contains(
            "@@ .spec.replicas @@ last written by \"kubectl\" (Update, subresource scale"
        ),
        "{text}"
    );
    assert!(text.contains("\n-5\n+3\n"), "{text}");
}

#[test]
fn replicas_left_to_an_hpa_are_not_drift() {
    let d = diff(
        &fixture("deployment-desired-for-hpa.json"),
        &fixture("deployment-live-hpa.json"),
        &DiffOptions::default(),
    );
    assert!(d.in_sync(), "{:#?}", d.changes);
}

#[test]
fn replicas_declared_but_owned_by_an_ignored_hpa_manager_are_not_drift() {
    let desired = fixture("deployment-desired.json");
    let live = fixture("deployment-live-hpa.json");
    let strict = diff(&desired, &live, &DiffOptions::default());
    assert_eq!(paths(&strict), vec![".spec.replicas"]);
    let tolerant =
        diff(&desired, &live, &DiffOptions::default().ignore_manager("kube-controller-manager"));
    assert!(tolerant.in_sync(), "{:#?}", tolerant.changes);
    // Not drift, yet shown: the difference and the rule that leaves it out.
    let ignored: Vec<(&str, &str)> =
        tolerant.ignored.iter().map(|i| (i.change.path.as_str(), i.rule.as_str())).collect();
    assert_eq!(ignored, vec![(".spec.replicas", "managedFieldsManagers kube-controller-manager")]);
}

#[test]
fn an_ignored_secret_value_is_shown_masked() {
    let desired = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "web"}, "stringData": {"password": "hunter2"}});
    let live = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "web"}, "data": {"password": "c2VjcmV0"}});
    let d = diff(&desired, &live, &DiffOptions::default().ignore_pointer("/data/password"));
    assert!(d.in_sync(), "{:#?}", d.changes);
    assert_eq!(d.ignored.len(), 1);
    let text = serde_json::to_string(&d.ignored).expect("serializes");
    assert!(!text.contains("hunter2") && !text.contains("c2VjcmV0"), "{text}");
    assert!(text.contains("jsonPointers /data/password"), "{text}");
}

#[test]
fn a_json_pointer_in_ignore_differences_hides_that_field_only() {
    let desired = fixture("deployment-desired.json");
    let mut live = fixture("deployment-live-scaled-by-kubectl.json");
    live["spec"]["template"]["spec"]["containers"][0]["image"] =
        json!("ghcr.io/stefanprodan/podinfo:6.0.0");
    let d = diff(&desired, &live, &DiffOptions::default().ignore_pointer("/spec/replicas"));
    assert_eq!(paths(&d), vec![".spec.template.spec.containers[name=\"web\"].image"]);
    let ignored = &d.ignored[0];
    assert_eq!(
        (ignored.change.path.as_str(), ignored.rule.as_str()),
        (".spec.replicas", "jsonPointers /spec/replicas")
    );
    assert_eq!(
        (ignored.change.desired.clone(), ignored.change.live.clone()),
        (Some(json!(3)), Some(json!(5)))
    );
}

#[test]
fn an_image_edited_in_the_cluster_is_drift_at_the_container_field() {
    let mut live = fixture("deployment-live.json");
    live["spec"]["template"]["spec"]["containers"][0]["image"] =
        json!("ghcr.io/stefanprodan/podinfo:6.0.0");
    let d = diff(&fixture("deployment-desired.json"), &live, &DiffOptions::default());
    assert_eq!(paths(&d), vec![".spec.template.spec.containers[name=\"web\"].image"]);
    assert_eq!(d.changes[0].live, Some(json!("ghcr.io/stefanprodan/podinfo:6.0.0")));
}

#[test]
fn a_sidecar_and_annotations_other_managers_added_are_not_drift() {
    let mut live = fixture("deployment-live.json");
    live["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .expect("containers is a list")
        .push(json!({"name": "istio-proxy", "image": "istio/proxyv2:1.24.0"}));
    live["metadata"]["annotations"]["sidecar.istio.io/status"] = json!("{\"version\":\"1\"}");
    let d = diff(&fixture("deployment-desired.json"), &live, &DiffOptions::default());
    assert!(d.in_sync(), "{:#?}", d.changes);
}

#[test]
fn a_missing_container_in_the_cluster_is_reported_once_as_a_whole_item() {
    let mut desired = fixture("deployment-desired.json");
    desired["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .expect("containers is a list")
        .push(json!({"name": "metrics", "image": "prom/statsd-exporter:v0.26.0"}));
    let d = diff(&desired, &fixture("deployment-live.json"), &DiffOptions::default());
    assert_eq!(paths(&d), vec![".spec.template.spec.containers[name=\"metrics\"]"]);
    assert_eq!(d.changes[0].live, None);
    let added = d.changes[0].desired.as_ref().expect("the desired item");
    assert_eq!(
        added["imagePullPolicy"],
        json!("IfNotPresent"),
        "shown defaulted, as the server will store it"
    );
}

#[test]
fn a_label_ferry_no_longer_declares_is_drift_because_apply_would_remove_it() {
    let mut desired = fixture("deployment-desired.json");
    desired["metadata"]["labels"]
        .as_object_mut()
        .expect("labels")
        .remove("app.kubernetes.io/managed-by");
    let d = diff(&desired, &fixture("deployment-live.json"), &DiffOptions::default());
    assert_eq!(paths(&d), vec![".metadata.labels.app.kubernetes.io/managed-by"]);
    assert_eq!(d.changes[0].desired, None);
    assert_eq!(d.changes[0].live, Some(json!("ferry")));
}

#[test]
fn a_different_object_is_an_error_not_a_diff() {
    let mut live = fixture("deployment-live.json");
    live["metadata"]["name"] = json!("api");
    let err = diff_object(&fixture("deployment-desired.json"), &live, &DiffOptions::default())
        .expect_err("names differ");
    assert_eq!(
        err.to_string(),
        "desired Deployment web and live Deployment api are different objects"
    );
}

fn secret_live() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {
            "name": "db", "namespace": "shop", "uid": "0b0e7e44-3a52-4d0e-9a43-3f4d1f7b8a10",
            "resourceVersion": "5512", "creationTimestamp": "2026-11-20T09:12:44Z",
            "managedFields": [{
                "apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "ferry", "operation": "Apply",
                "time": "2026-11-20T09:12:44Z",
                "fieldsV1": {"f:data": {"f:password": {}, "f:username": {}}, "f:type": {}}
            }]
        },
        "data": {"password": "aHVudGVyMg==", "username": "YWRtaW4="}
    })
}

#[test]
fn secret_values_never_appear_in_changes_or_rendered_output() {
    let desired = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "db", "namespace": "shop"},
        "stringData": {"password": "correct-horse", "username": "admin"}
    });
    let d = diff(&desired, &secret_live(), &DiffOptions::default().mask_key("test-key"));
    // username is the same once stringData is stored as base64 data; password changed
    assert_eq!(paths(&d), vec![".data.password"]);
    let out = serde_json::to_string(&d).expect("serializes") + &render_unified(&d);
    for secret in
        ["hunter2", "aHVudGVyMg==", "correct-horse", "Y29ycmVjdC1ob3JzZQ==", "admin", "YWRtaW4="]
    {
        assert!(!out.contains(secret), "{secret} leaked in {out}");
    }
    let (want, have) = (d.changes[0].desired.clone(), d.changes[0].live.clone());
    assert!(want.as_ref().and_then(Value::as_str).is_some_and(|s| s.starts_with("++++++++ (h:")));
    assert_ne!(want, have, "a change stays visible through the hashes");
}

#[test]
fn a_whole_secret_data_map_missing_in_the_cluster_is_masked_too() {
    let mut live = secret_live();
    live.as_object_mut().expect("object").remove("data");
    let desired = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "shop"},
        "data": {"password": "aHVudGVyMg=="}
    });
    let d = diff(&desired, &live, &DiffOptions::default());
    let out = serde_json::to_string(&d).expect("serializes") + &render_unified(&d);
    assert!(!out.contains("aHVudGVyMg=="), "{out}");
    assert!(!d.in_sync());
}

#[test]
fn mask_secret_hides_data_string_data_and_the_last_applied_annotation() {
    let mut s = secret_live();
    s["metadata"]["annotations"] = json!({
        "kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"password\":\"aHVudGVyMg==\"}}"
    });
    s["stringData"] = json!({"token": "t0ps3cret"});
    ferry_diff::mask_secret(&mut s, "k");
    let text = s.to_string();
    for secret in ["aHVudGVyMg==", "YWRtaW4=", "t0ps3cret"] {
        assert!(!text.contains(secret), "{secret} leaked in {text}");
    }
    assert!(s["data"]["password"].as_str().is_some_and(|v| v.starts_with("++++++++")));
    let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}});
    ferry_diff::mask_secret(&mut cm, "k");
    assert_eq!(cm["data"]["a"], json!("b"), "only Secrets are masked");
}

#[test]
fn without_a_key_a_masked_value_carries_no_hash_that_could_confirm_a_guess() {
    let mut s = secret_live();
    ferry_diff::mask_secret(&mut s, "");
    assert_eq!(s["data"]["password"], json!(ferry_diff::diff::MASK));
    let guess = json!("aHVudGVyMg==");
    let (a, b) = (ferry_diff::mask_value(&guess, "one"), ferry_diff::mask_value(&guess, "two"));
    assert_ne!(a, b, "the same value hashes differently under another key");
}

#[test]
fn empty_and_null_values_the_server_drops_are_not_drift() {
    let mut desired = fixture("deployment-desired.json");
    desired["metadata"]["creationTimestamp"] = Value::Null;
    desired["spec"]["template"]["metadata"]["creationTimestamp"] = Value::Null;
    desired["spec"]["template"]["spec"]["containers"][0]["envFrom"] = json!([]);
    desired["status"] = json!({});
    let d = diff(&desired, &fixture("deployment-live.json"), &DiffOptions::default());
    assert!(d.in_sync(), "{:#?}", d.changes);
}

#[test]
fn a_statefulset_claim_template_matches_the_full_claim_the_server_stores() {
    let desired = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "redis", "namespace": "shop"},
        "spec": {"serviceName": "redis", "selector": {"matchLabels": {"app": "redis"}},
            "template": {"metadata": {"labels": {"app": "redis"}}, "spec": {"containers": [{"name": "redis", "image": "redis:7"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}});
    let mut live = desired.clone();
    live["spec"]["volumeClaimTemplates"] = json!([{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"creationTimestamp": null, "name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "volumeMode": "Filesystem"},
        "status": {"phase": "Pending"}}]);
    let d = diff(&desired, &live, &DiffOptions::default());
    assert!(d.in_sync(), "{:#?}", d.changes);
}

#[test]
fn an_object_kubectl_applied_client_side_is_in_sync_when_values_match_and_takeover_is_clean() {
    let desired = fixture("deployment-desired-nginx.json");
    let live = fixture("deployment-live-client-side-apply.json");
    let d = diff(&desired, &live, &DiffOptions::default());
    assert!(d.in_sync(), "{:#?}", d.changes);

    // Ferry adopts it: same values, so no conflict; ownership is shared from then on
    let schema = ferry_diff::Schema::builtin();
    let adopted =
        ferry_diff::apply(Some(&live), &desired, "ferry", false, "2026-11-22T01:00:00Z", &schema)
            .expect("same values do not conflict");
    let entries = ferry_diff::ssa::managed_fields(&adopted.object).expect("parse");
    let ferry = entries.iter().find(|e| e.manager == "ferry").expect("ferry entry");
    assert!(ferry.fields.to_fields_v1_string().contains("\"f:replicas\":{}"));
    assert!(entries.iter().any(|e| e.manager == "kubectl-client-side-apply"));
    assert!(diff(&desired, &adopted.object, &DiffOptions::default()).in_sync());

    // changing a value kubectl set needs force, with kube-apiserver's message
    let mut bigger = desired.clone();
    bigger["spec"]["replicas"] = json!(4);
    let err = ferry_diff::apply(
        Some(&adopted.object),
        &bigger,
        "ferry",
        false,
        "2026-11-22T02:00:00Z",
        &schema,
    )
    .expect_err("kubectl-client-side-apply co-owns replicas");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );
    let d = diff(&bigger, &adopted.object, &DiffOptions::default());
    assert_eq!(paths(&d), vec![".spec.replicas"]);
    let by = d.changes[0].changed_by.as_ref().expect("owned");
    assert_eq!(by.manager, "kubectl-client-side-apply", "the other owner is named, not ferry");
}

#[test]
fn the_unified_rendering_reads_like_a_diff() {
    let mut live = fixture("deployment-live-scaled-by-kubectl.json");
    live["spec"]["template"]["spec"]["containers"][0]["env"] = json!([]);
    let d = diff(&fixture("deployment-desired.json"), &live, &DiffOptions::default());
    assert_eq!(
        render_unified(&d),
        "--- live apps/v1 Deployment shop/web\n\
         +++ desired apps/v1 Deployment shop/web\n\
         @@ .spec.replicas @@ last written by \"kubectl\" (Update, subresource scale, 2026-11-21T16:03:11Z)\n\
         -5\n\
         +3\n\
         @@ .spec.template.spec.containers[name=\"web\"].env[name=\"PODINFO_UI_COLOR\"] @@ last written by \"ferry\" (Apply, 2026-11-20T09:12:44Z)\n\
         +{\n\
         +  \"name\": \"PODINFO_UI_COLOR\",\n\
         +  \"value\": \"#34577c\"\n\
         +}\n"
    );
}

#[test]
fn quantities_compare_by_amount() {
    use ferry_diff::diff::quantities_equal;
    for (a, b, same) in [
        (json!("500m"), json!(0.5), true),
        (json!("1"), json!(1), true),
        (json!("1000m"), json!("1"), true),
        (json!("1Gi"), json!("1024Mi"), true),
        (json!("1G"), json!("1000M"), true),
        (json!("1e3"), json!("1k"), true),
        (json!("1E"), json!("1000P"), true),
        (json!("128974848"), json!("129e6"), false),
        (json!("100m"), json!("0.2"), false),
        (json!("1Gi"), json!("1G"), false),
        (json!("abc"), json!("abc"), false),
    ] {
        assert_eq!(quantities_equal(&a, &b), same, "{a} vs {b}");
    }
}
