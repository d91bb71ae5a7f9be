//! Data-driven tests of schema compilation, pruning, defaults and checks.

use serde_json::{Value, json};

use super::*;
use crate::resources::Registry;

fn widget_type() -> ResourceType {
    let crd = widget_crd();
    crate::resources::types_from_crd(&crd).remove(0)
}

fn widget_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "required": ["spec"], "properties": {
                    "spec": {"type": "object", "required": ["size"],
                        "x-kubernetes-validations": [{"rule": "!has(self.size) || self.size <= self.max", "message": "size must not exceed max"}],
                        "properties": {
                            "size": {"type": "integer", "minimum": 1},
                            "max": {"type": "integer", "default": 10},
                            "mode": {"type": "string", "enum": ["fast", "slow"], "default": "fast"},
                            "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 8},
                            "port": {"x-kubernetes-int-or-string": true},
                            "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                            "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                                "x-kubernetes-preserve-unknown-fields": true},
                        }},
                }}}}]}
    })
}

fn schema() -> std::sync::Arc<Node> {
    compile_crd(&widget_crd())
        .expect("the widget schema compiles")
        .remove("v1")
        .expect("v1 has a schema")
}

fn admit(spec: Value) -> Result<Value, crate::error::ApiError> {
    let obj = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec});
    custom_resource(Some(&schema()), &widget_type(), None, obj)
}

#[test]
fn defaults_from_the_schema_are_applied_and_unknown_fields_pruned() {
    let out = admit(json!({"size": 2, "bogus": 1, "extra": {"kept": true}})).expect("valid");
    assert_eq!(out["spec"]["max"], 10);
    assert_eq!(out["spec"]["mode"], "fast");
    assert!(out["spec"].get("bogus").is_none());
    assert_eq!(out["spec"]["extra"]["kept"], true);
}

#[test]
fn a_missing_required_field_is_named_like_the_real_server_names_it() {
    let err = admit(json!({"max": 3})).expect_err("size is required");
    assert_eq!(err.code, 422);
    assert_eq!(err.message, "Widget.example.com \"w\" is invalid: spec.size: Required value");
}

#[test]
fn types_enums_patterns_and_bounds_are_each_reported() {
    let err =
        admit(json!({"size": "big", "mode": "medium", "name": "ABC", "tags": ["a", "b", "c"]}))
            .expect_err("four errors");
    let m = &err.message;
    assert!(m.contains("spec.size: Invalid value: \"string\": spec.size in body must be of type integer: \"string\""), "{m}");
    assert!(
        m.contains(
            "spec.mode: Unsupported value: \"medium\": supported values: \"fast\", \"slow\""
        ),
        "{m}"
    );
    assert!(
        m.contains("spec.name: Invalid value: \"ABC\": spec.name in body should match '^[a-z]+$'"),
        "{m}"
    );
    assert!(m.contains("spec.tags: Too many: 3: must have at most 2 items"), "{m}");
    let err = admit(json!({"size": 0})).expect_err("below the minimum");
    assert!(
        err.message.contains("spec.size in body should be greater than or equal to 1"),
        "{}",
        err.message
    );
}

#[test]
fn int_or_string_takes_both_and_nothing_else() {
    assert!(admit(json!({"size": 1, "port": 80})).is_ok());
    assert!(admit(json!({"size": 1, "port": "http"})).is_ok());
    assert!(admit(json!({"size": 1, "port": true})).is_err());
}

#[test]
fn a_cel_rule_that_fails_gives_its_message_at_its_field() {
    let err = admit(json!({"size": 20})).expect_err("size above max");
    assert_eq!(
        err.message,
        "Widget.example.com \"w\" is invalid: spec: Invalid value: \"object\": size must not exceed max"
    );
}

#[test]
fn an_embedded_resource_needs_its_kind_and_api_version() {
    let err =
        admit(json!({"size": 1, "template": {"metadata": {"name": "x"}}})).expect_err("no kind");
    assert!(err.message.contains("spec.template.kind: Required value"), "{}", err.message);
    assert!(
        admit(json!({"size": 1, "template": {"apiVersion": "v1", "kind": "Pod", "spec": {}}}))
            .is_ok()
    );
}

#[test]
fn a_crd_whose_rule_does_not_compile_is_refused_naming_the_rule() {
    let mut crd = widget_crd();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-validations"]
        [0]["rule"] = json!("self.size <=");
    let reg = Registry::builtin();
    let rt = reg
        .find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        .expect("CRDs are built in");
    let err = builtin::check(rt, &crd).expect_err("the rule does not compile");
    assert!(
        err.message.contains("spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"),
        "{}",
        err.message
    );
}

fn builtin_check(plural: &str, group: &str, obj: Value) -> Result<(), crate::error::ApiError> {
    let reg = Registry::builtin();
    let rt = reg.find(group, "v1", plural).expect("a built-in kind");
    builtin::decode(rt, &obj)?;
    let mut obj = obj;
    crate::write::apply::apply_defaults(&mut obj);
    builtin::check(rt, &obj)
}

#[test]
fn secrets_with_bad_base64_or_scalar_string_data_cannot_be_decoded() {
    let bad = json!({"kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "not base64!"}});
    let err = builtin_check("secrets", "", bad).expect_err("bad base64");
    assert_eq!(err.code, 400);
    assert!(err.message.contains("illegal base64 data in data[k]"), "{}", err.message);
    let scalar = json!({"kind": "Secret", "metadata": {"name": "s"}, "stringData": "oops"});
    let err = builtin_check("secrets", "", scalar).expect_err("scalar stringData");
    assert!(err.message.contains("Secret.stringData of type map[string]string"), "{}", err.message);
}

#[test]
fn config_maps_need_string_values_and_file_name_keys() {
    let numeric = json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"n": 5}});
    assert_eq!(builtin_check("configmaps", "", numeric).expect_err("a number").code, 400);
    let bad_key =
        json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"bad key!": "v"}});
    let err = builtin_check("configmaps", "", bad_key).expect_err("a bad key");
    assert!(err.message.starts_with("ConfigMap \"c\" is invalid: data[bad key!]: Invalid value: \"bad key!\": a valid config key"), "{}", err.message);
}

#[test]
fn a_deployment_without_a_spec_and_a_pod_with_an_empty_spec_are_invalid() {
    let d = json!({"kind": "Deployment", "metadata": {"name": "d"}});
    let err = builtin_check("deployments", "apps", d).expect_err("no spec");
    assert!(err.message.contains("spec.selector: Required value"), "{}", err.message);
    assert!(
        err.message.contains("spec.template.spec.containers: Required value"),
        "{}",
        err.message
    );
    let p = json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {}});
    let err = builtin_check("pods", "", p).expect_err("no containers");
    assert_eq!(err.message, "Pod \"p\" is invalid: spec.containers: Required value");
}

#[test]
fn label_keys_must_be_qualified_names() {
    let cm = json!({"kind": "ConfigMap", "metadata": {"name": "c", "labels": {"bad key!": "v", "example.com/ok": "fine"}}});
    let err = builtin_check("configmaps", "", cm).expect_err("a bad label key");
    assert!(
        err.message
            .contains("metadata.labels: Invalid value: \"bad key!\": name part must consist"),
        "{}",
        err.message
    );
}

#[test]
fn a_job_must_not_restart_always() {
    let job = json!({"kind": "Job", "metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}});
    let err = builtin_check("jobs", "batch", job).expect_err("restartPolicy Always");
    assert!(err.message.contains("spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""), "{}", err.message);
}
