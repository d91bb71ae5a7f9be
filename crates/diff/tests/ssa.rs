//! Server-side apply and update ownership, as kube-apiserver does them.

use ferry_diff::ssa::{Params, apply_with, managed_fields, update_with};
use ferry_diff::{ApplyError, DiffOptions, Operation, Schema, apply, diff_object, update};
use proptest::prelude::*;
use serde_json::{Value, json};

const T0: &str = "2026-11-22T01:00:00Z";
const T1: &str = "2026-11-22T02:00:00Z";
const T2: &str = "2026-11-22T03:00:00Z";

fn deployment(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 80}]}]}
            }
        }
    })
}

fn fields_of_manager(obj: &Value, manager: &str) -> String {
    managed_fields(obj)
        .expect("managedFields parse")
        .into_iter()
        .find(|e| e.manager == manager)
        .map(|e| e.fields.to_fields_v1_string())
        .unwrap_or_default()
}

fn managers(obj: &Value) -> Vec<(String, String, String)> {
    managed_fields(obj)
        .expect("managedFields parse")
        .into_iter()
        .map(|e| (e.manager, e.operation.to_string(), e.subresource))
        .collect()
}

fn create_with_ferry() -> Value {
    apply(None, &deployment(3, "nginx:1.27"), "ferry", false, T0, &Schema::builtin())
        .expect("create")
        .object
}

#[test]
fn an_apply_that_creates_records_an_apply_entry_like_kube_apiserver() {
    let obj = create_with_ferry();
    assert_eq!(
        obj["metadata"]["managedFields"],
        json!([{
            "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "manager": "ferry", "operation": "Apply",
            "time": T0,
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}}}}}
            }
        }])
    );
    assert_eq!(obj["spec"]["replicas"], json!(3));
}

#[test]
fn changing_a_field_another_manager_set_is_a_conflict_with_kube_apiservers_message() {
    let schema = Schema::builtin();
    // kubectl apply (client-side) created the object: an Update entry owning everything
    let csa = update(
        None,
        &deployment(2, "nginx:1.27"),
        "kubectl-client-side-apply",
        Operation::Update,
        T0,
        &schema,
    )
    .expect("create");
    let err = apply(Some(&csa), &deployment(3, "nginx:1.27"), "ferry", false, T1, &schema)
        .expect_err("conflict");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );
    assert!(err.is_conflict());
    let err = apply(Some(&csa), &deployment(3, "nginx:1.28"), "ferry", false, T1, &schema)
        .expect_err("conflicts");
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using apps/v1:\n\
         - .spec.replicas\n\
         - .spec.template.spec.containers[name=\"web\"].image"
    );
}

#[test]
fn applying_the_same_value_shares_ownership_without_conflict() {
    let schema = Schema::builtin();
    let csa = update(
        None,
        &deployment(3, "nginx:1.27"),
        "kubectl-client-side-apply",
        Operation::Update,
        T0,
        &schema,
    )
    .expect("create");
    let out = apply(Some(&csa), &deployment(3, "nginx:1.27"), "ferry", false, T1, &schema)
        .expect("no conflict");
    assert!(fields_of_manager(&out.object, "ferry").contains("\"f:replicas\":{}"));
    assert!(
        fields_of_manager(&out.object, "kubectl-client-side-apply").contains("\"f:replicas\":{}")
    );
}

#[test]
fn force_takes_the_field_from_its_previous_owner() {
    let schema = Schema::builtin();
    let created = create_with_ferry();
    let scaled = update_with(
        Some(&created),
        &{
            let mut o = created.clone();
            o["spec"]["replicas"] = json!(5);
            o
        },
        &Params::new("kubectl", T1).subresource("scale"),
        Operation::Update,
        &schema,
    )
    .expect("scale");
    assert_eq!(fields_of_manager(&scaled, "kubectl"), r#"{"f:spec":{"f:replicas":{}}}"#);
    assert!(
        !fields_of_manager(&scaled, "ferry").contains("f:replicas"),
        "the update took replicas from ferry"
    );

    let err = apply(Some(&scaled), &deployment(3, "nginx:1.27"), "ferry", false, T2, &schema)
        .expect_err("conflict");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1: .spec.replicas"
    );
    let forced = apply(Some(&scaled), &deployment(3, "nginx:1.27"), "ferry", true, T2, &schema)
        .expect("forced");
    assert_eq!(forced.object["spec"]["replicas"], json!(3));
    assert!(fields_of_manager(&forced.object, "ferry").contains("f:replicas"));
    assert!(
        !managers(&forced.object).iter().any(|(m, _, _)| m == "kubectl"),
        "kubectl owned nothing else, so its entry is gone"
    );
}

#[test]
fn a_field_no_longer_applied_is_removed_unless_someone_else_owns_it() {
    let schema = Schema::builtin();
    let mut v1 = deployment(3, "nginx:1.27");
    v1["metadata"]["labels"]["tier"] = json!("frontend");
    v1["metadata"]["labels"]["team"] = json!("shop");
    let created = apply(None, &v1, "ferry", false, T0, &schema).expect("create").object;
    // someone else labels team=shop too (same value: shared ownership)
    let labelled =
        update(Some(&created), &created.clone(), "kubectl-label", Operation::Update, T1, &schema)
            .expect("no-op update");
    assert_eq!(
        labelled["metadata"]["managedFields"], created["metadata"]["managedFields"],
        "a no-op update owns nothing"
    );
    let mut both = created.clone();
    both["metadata"]["labels"]["owner"] = json!("ops");
    let labelled = update(Some(&created), &both, "kubectl-label", Operation::Update, T1, &schema)
        .expect("label");

    let mut v2 = deployment(3, "nginx:1.27");
    v2["metadata"]["labels"]["team"] = json!("shop");
    let out = apply(Some(&labelled), &v2, "ferry", false, T2, &schema).expect("apply");
    let labels = &out.object["metadata"]["labels"];
    assert_eq!(
        labels,
        &json!({"app": "web", "team": "shop", "owner": "ops"}),
        "tier went, owner stayed"
    );
}

#[test]
fn a_container_no_longer_applied_is_removed_from_the_list() {
    let schema = Schema::builtin();
    let mut two = deployment(3, "nginx:1.27");
    two["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .expect("list")
        .push(json!({"name": "metrics", "image": "prom/statsd-exporter:v0.26.0"}));
    let created = apply(None, &two, "ferry", false, T0, &schema).expect("create").object;
    let out = apply(Some(&created), &deployment(3, "nginx:1.27"), "ferry", false, T1, &schema)
        .expect("apply");
    let names: Vec<&str> = out.object["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, vec!["web"]);
}

#[test]
fn an_edit_moves_the_changed_field_to_the_editor() {
    let schema = Schema::builtin();
    let created = create_with_ferry();
    let mut edited = created.clone();
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.28");
    let out = update(Some(&created), &edited, "kubectl-edit", Operation::Update, T1, &schema)
        .expect("edit");
    assert_eq!(
        fields_of_manager(&out, "kubectl-edit"),
        r#"{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{"f:image":{}}}}}}}"#
    );
    assert!(!fields_of_manager(&out, "ferry").contains("f:image"));
    let entry = managed_fields(&out)
        .expect("parse")
        .into_iter()
        .find(|e| e.manager == "ferry")
        .expect("ferry stays");
    assert_eq!(entry.time.as_deref(), Some(T0), "the other manager's time does not move");
}

#[test]
fn status_is_owned_through_the_status_subresource_only() {
    let schema = Schema::builtin();
    let created = create_with_ferry();
    let mut with_status = created.clone();
    with_status["status"] =
        json!({"replicas": 3, "conditions": [{"type": "Available", "status": "True"}]});
    let out = update_with(
        Some(&created),
        &with_status,
        &Params::new("kube-controller-manager", T1).subresource("status"),
        Operation::Update,
        &schema,
    )
    .expect("status update");
    assert!(managers(&out).contains(&(
        "kube-controller-manager".into(),
        "Update".into(),
        "status".into()
    )));
    assert_eq!(
        fields_of_manager(&out, "kube-controller-manager"),
        r#"{"f:status":{".":{},"f:conditions":{".":{},"k:{\"type\":\"Available\"}":{".":{},"f:status":{},"f:type":{}}},"f:replicas":{}}}"#
    );
    // an apply of the main resource neither owns nor changes status
    let mut applied = deployment(3, "nginx:1.27");
    applied["status"] = json!({"replicas": 99});
    let again = apply(Some(&out), &applied, "ferry", false, T2, &schema).expect("apply");
    assert_eq!(again.object["status"]["replicas"], json!(3));
    assert!(!fields_of_manager(&again.object, "ferry").contains("f:status"));
}

#[test]
fn a_no_op_apply_changes_nothing_not_even_times() {
    let schema = Schema::builtin();
    let created = create_with_ferry();
    let out = apply(Some(&created), &deployment(3, "nginx:1.27"), "ferry", false, T2, &schema)
        .expect("apply");
    assert!(!out.changed);
    assert_eq!(out.object, created);
}

#[test]
fn fields_set_before_the_first_apply_belong_to_before_first_apply() {
    let schema = Schema::builtin();
    let legacy = deployment(2, "nginx:1.27");
    let err = apply(Some(&legacy), &deployment(3, "nginx:1.27"), "ferry", false, T1, &schema)
        .expect_err("conflict");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using apps/v1: .spec.replicas"
    );
}

#[test]
fn service_ports_without_protocol_are_keyed_as_tcp() {
    let schema = Schema::builtin();
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}], "selector": {"app": "web"}}});
    let out = apply(None, &svc, "ferry", false, T0, &schema).expect("create").object;
    assert!(fields_of_manager(&out, "ferry").contains(r#""k:{\"port\":80,\"protocol\":\"TCP\"}""#));
}

#[test]
fn custom_resources_follow_the_list_types_of_their_crd() {
    let mut schema = Schema::builtin();
    schema
        .add_crd(&json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}, "scope": "Namespaced",
                "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "properties": {
                            "parts": {"type": "array", "x-kubernetes-list-type": "map",
                                "x-kubernetes-list-map-keys": ["id"],
                                "items": {"type": "object", "properties": {"id": {"type": "string"}, "size": {"type": "integer"}}}},
                            "tags": {"type": "array", "items": {"type": "string"}}}},
                        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]}
        }))
        .expect("valid CRD");
    let widget = |parts: Value, tags: Value| {
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"parts": parts, "tags": tags}})
    };
    let a = apply(
        None,
        &widget(json!([{"id": "a", "size": 1}]), json!(["x"])),
        "ferry",
        false,
        T0,
        &schema,
    )
    .expect("create")
    .object;
    // another manager adds its own item to the map-list: no conflict, both items stay
    let b = apply(
        Some(&a),
        &widget(json!([{"id": "b", "size": 2}]), json!(["x"])),
        "other",
        false,
        T1,
        &schema,
    )
    .expect("disjoint items");
    assert_eq!(b.object["spec"]["parts"], json!([{"id": "a", "size": 1}, {"id": "b", "size": 2}]));
    // the atomic list conflicts as a whole
    let err = apply(
        Some(&b.object),
        &widget(json!([{"id": "b", "size": 2}]), json!(["y"])),
        "other",
        false,
        T2,
        &schema,
    )
    .expect_err("atomic list owned by ferry");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"ferry\": .spec.tags"
    );
}

#[test]
fn an_applied_object_without_kind_is_invalid() {
    let err = apply(None, &json!({"apiVersion": "v1"}), "ferry", false, T0, &Schema::builtin())
        .expect_err("kind missing");
    assert!(matches!(err, ApplyError::Invalid { .. }));
    assert_eq!(err.to_string(), "applied configuration: kind is missing");
}

#[test]
fn forced_apply_by_another_applier_removes_the_field_from_ferrys_set() {
    let schema = Schema::builtin();
    let created = create_with_ferry();
    let other = apply_with(
        Some(&created),
        &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"replicas": 9}}),
        &Params::new("autoscaler", T1).force(true),
        &schema,
    )
    .expect("forced");
    assert_eq!(other.object["spec"]["replicas"], json!(9));
    assert!(!fields_of_manager(&other.object, "ferry").contains("f:replicas"));
    let order: Vec<String> = managers(&other.object).into_iter().map(|m| m.0).collect();
    assert_eq!(order, vec!["ferry", "autoscaler"], "entries sort by operation, then time");
}

fn arb_deployment() -> impl Strategy<Value = Value> {
    (
        0i64..20,
        "[a-z]{1,8}:[0-9]\\.[0-9]{1,2}",
        prop::collection::btree_map("[a-z]{1,6}", "[a-z0-9]{0,6}", 0..4),
        prop::collection::btree_map("[A-Z]{1,6}", "[a-z0-9]{0,6}", 0..4),
    )
        .prop_map(|(replicas, image, labels, env)| {
            let mut d = deployment(replicas, &image);
            for (k, v) in labels {
                d["metadata"]["labels"][k] = json!(v);
            }
            let env: Vec<Value> =
                env.into_iter().map(|(k, v)| json!({"name": k, "value": v})).collect();
            d["spec"]["template"]["spec"]["containers"][0]["env"] = json!(env);
            d
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn apply_then_diff_is_in_sync(first in arb_deployment(), second in arb_deployment()) {
        let schema = Schema::builtin();
        let created = apply(None, &first, "ferry", false, T0, &schema).expect("create").object;
        let mut live = apply(Some(&created), &second, "ferry", false, T1, &schema).expect("re-apply").object;
        ferry_diff::apply_defaults(&mut live);
        let d = diff_object(&second, &live, &DiffOptions::default()).expect("diff");
        prop_assert!(d.in_sync(), "{:#?}", d.changes);
        // The diff is in sync exactly when applying would not change the object.
        let stale = diff_object(&first, &live, &DiffOptions::default()).expect("diff");
        let mut again = apply(Some(&live), &first, "ferry", true, T2, &schema).expect("apply").object;
        ferry_diff::apply_defaults(&mut again);
        let strip = |o: &Value| { let mut o = o.clone(); o["metadata"].as_object_mut().expect("metadata").remove("managedFields"); o };
        prop_assert_eq!(stale.in_sync(), strip(&again) == strip(&live), "{:#?}", stale.changes);
    }
}

#[test]
fn a_status_apply_through_the_subresource_touches_only_status() {
    let schema = Schema::builtin();
    let created = create_with_ferry();
    let status = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"replicas": 42}, "status": {"readyReplicas": 3}});
    let out = apply_with(
        Some(&created),
        &status,
        &Params::new("health-probe", T1).subresource("status"),
        &schema,
    )
    .expect("status apply");
    assert_eq!(out.object["spec"]["replicas"], json!(3), "spec is not writable through status");
    assert_eq!(out.object["status"]["readyReplicas"], json!(3));
    assert_eq!(
        fields_of_manager(&out.object, "health-probe"),
        r#"{"f:status":{"f:readyReplicas":{}}}"#
    );
    assert!(managers(&out.object).contains(&(
        "health-probe".into(),
        "Apply".into(),
        "status".into()
    )));
}

#[test]
fn map_list_keys_missing_from_an_item_use_the_crd_default() {
    let mut schema = Schema::builtin();
    schema
        .add_crd(&json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "gateways.example.com"},
            "spec": {"group": "example.com", "names": {"kind": "Gateway"}, "versions": [{"name": "v1",
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {
                    "listeners": {"type": "array", "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["port", "protocol"],
                        "items": {"type": "object", "properties": {
                            "port": {"type": "integer"},
                            "protocol": {"type": "string", "default": "HTTP"}}}}}}}}}}]}
        }))
        .expect("valid CRD");
    let gw = json!({"apiVersion": "example.com/v1", "kind": "Gateway", "metadata": {"name": "g"},
        "spec": {"listeners": [{"port": 80}]}});
    let out = apply(None, &gw, "ferry", false, T0, &schema).expect("create").object;
    assert!(fields_of_manager(&out, "ferry").contains(r#"k:{\"port\":80,\"protocol\":\"HTTP\"}"#));
    // the CRD's `default:` is filled in the stored object, and owned by nobody
    assert_eq!(out["spec"]["listeners"], json!([{"port": 80, "protocol": "HTTP"}]));
    assert!(!fields_of_manager(&out, "ferry").contains("f:protocol"));
    let opts = DiffOptions::default().schema(std::sync::Arc::new(schema.clone()));
    assert!(diff_object(&gw, &out, &opts).expect("diff").in_sync());
}

#[test]
fn a_crd_map_list_without_keys_is_rejected_with_its_location() {
    let err = Schema::builtin()
        .add_crd(&json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "bad.example.com"},
            "spec": {"group": "example.com", "names": {"kind": "Bad"}, "versions": [{"name": "v1",
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {
                    "items": {"type": "array", "x-kubernetes-list-type": "map", "items": {"type": "object"}}}}}}}}]}
        }))
        .expect_err("map list without keys");
    assert_eq!(
        err.to_string(),
        "schema at .spec.items: list-type map needs x-kubernetes-list-map-keys"
    );
}

#[test]
fn more_than_ten_updaters_fold_the_oldest_into_ancient_changes() {
    let schema = Schema::builtin();
    let mut obj = create_with_ferry();
    for i in 0..12 {
        let mut next = obj.clone();
        next["metadata"]["labels"][format!("l{i}")] = json!("x");
        let now = format!("2026-11-22T02:{i:02}:00Z");
        obj = update(Some(&obj), &next, &format!("writer-{i}"), Operation::Update, &now, &schema)
            .expect("update");
    }
    let entries = managed_fields(&obj).expect("parse");
    let updaters: Vec<&str> = entries
        .iter()
        .filter(|e| e.operation == Operation::Update)
        .map(|e| e.manager.as_str())
        .collect();
    assert_eq!(updaters.len(), 10);
    let ancient = entries.iter().find(|e| e.manager == "ancient-changes").expect("bucket");
    assert_eq!(
        ancient.fields.to_fields_v1_string(),
        r#"{"f:metadata":{"f:labels":{"f:l0":{},"f:l1":{},"f:l2":{}}}}"#
    );
    assert!(!updaters.contains(&"writer-0") && updaters.contains(&"writer-11"));
}

#[test]
fn sending_empty_managed_fields_resets_ownership_to_the_writer() {
    let schema = Schema::builtin();
    let created = create_with_ferry();
    let mut reset = created.clone();
    reset["metadata"]["managedFields"] = json!([{}]);
    reset["spec"]["replicas"] = json!(4);
    let out = update(Some(&created), &reset, "kubectl-edit", Operation::Update, T1, &schema)
        .expect("update");
    let names: Vec<String> = managers(&out).into_iter().map(|m| m.0).collect();
    assert_eq!(names, vec!["kubectl-edit"], "ferry's entry was cleared by the client");
    // sending the stored managedFields back unchanged (a plain `kubectl edit`) keeps them
    let mut edit = created.clone();
    edit["spec"]["replicas"] = json!(4);
    let out = update(Some(&created), &edit, "kubectl-edit", Operation::Update, T1, &schema)
        .expect("update");
    let names: Vec<String> = managers(&out).into_iter().map(|m| m.0).collect();
    assert_eq!(names, vec!["ferry", "kubectl-edit"]);
}
