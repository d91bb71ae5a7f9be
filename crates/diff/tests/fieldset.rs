//! Field sets and the `fieldsV1` encoding, checked against what real API servers write.

use ferry_diff::fieldset::{FieldSet, fields_of, parse_fields_v1, parse_fields_v1_str};
use ferry_diff::path::{OrdValue, Path, PathElement};
use ferry_diff::{FieldSetError, Schema};
use proptest::prelude::*;
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

/// fieldsV1 texts as kube-apiserver stored them (from `kubectl get -o json` of 1.2x-1.32
/// servers): the serializer must reproduce them byte for byte.
const REAL_FIELDS_V1: &[&str] = &[
    r#"{"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}}},"f:spec":{"f:ports":{".":{},"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{},"f:protocol":{},"f:targetPort":{}}},"f:selector":{".":{},"f:app":{}},"f:sessionAffinity":{},"f:type":{}}}"#,
    r#"{"f:metadata":{"f:annotations":{"f:deployment.kubernetes.io/revision":{}}},"f:status":{"f:availableReplicas":{},"f:conditions":{".":{},"k:{\"type\":\"Available\"}":{".":{},"f:lastTransitionTime":{},"f:lastUpdateTime":{},"f:message":{},"f:reason":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Progressing\"}":{".":{},"f:lastTransitionTime":{},"f:lastUpdateTime":{},"f:message":{},"f:reason":{},"f:status":{},"f:type":{}}},"f:observedGeneration":{},"f:readyReplicas":{},"f:replicas":{},"f:updatedReplicas":{}}}"#,
    r#"{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:ports":{".":{},"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:protocol":{}},"k:{\"containerPort\":443,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:protocol":{}}},"f:resources":{}}}}}}}"#,
    r#"{"f:metadata":{"f:finalizers":{".":{},"v:\"kubernetes.io/pvc-protection\"":{}}},"f:spec":{"f:accessModes":{},"f:resources":{"f:requests":{".":{},"f:storage":{}}},"f:volumeMode":{}}}"#,
    r#"{"f:metadata":{"f:ownerReferences":{".":{},"k:{\"uid\":\"6f1c2d0e-8a4b-4c7e-9d1f-2b3a4c5d6e7f\"}":{}}},"f:spec":{".":{},"f:size":{}}}"#,
];

#[test]
fn real_fields_v1_round_trips_byte_for_byte() {
    for text in REAL_FIELDS_V1 {
        let set = parse_fields_v1_str(text).expect("real fieldsV1 parses");
        assert_eq!(set.to_fields_v1_string(), *text);
        assert_eq!(parse_fields_v1(&set.to_fields_v1()).expect("value form parses"), set);
    }
}

#[test]
fn keys_sort_numerically_and_fields_before_keys_before_values() {
    // 80 < 443 as numbers although "443" < "80" as text
    let set = parse_fields_v1_str(REAL_FIELDS_V1[2]).expect("parses");
    let ports = Path(vec![
        PathElement::field("spec"),
        PathElement::field("template"),
        PathElement::field("spec"),
        PathElement::field("containers"),
        PathElement::Key(vec![("name".into(), OrdValue(json!("nginx")))]),
        PathElement::field("ports"),
    ]);
    assert!(set.contains(&ports), "the list itself is a member (`.`)");
    let strings: Vec<String> = set.paths().iter().map(ToString::to_string).collect();
    let p80 = strings.iter().position(|s| s.ends_with("[containerPort=80,protocol=\"TCP\"]"));
    let p443 = strings.iter().position(|s| s.ends_with("[containerPort=443,protocol=\"TCP\"]"));
    assert!(p80 < p443, "{strings:#?}");
}

#[test]
fn paths_print_the_way_kube_apiserver_names_them() {
    let set = parse_fields_v1_str(REAL_FIELDS_V1[3]).expect("parses");
    let strings: Vec<String> = set.paths().iter().map(ToString::to_string).collect();
    assert_eq!(
        strings,
        vec![
            ".metadata.finalizers",
            ".metadata.finalizers[=\"kubernetes.io/pvc-protection\"]",
            ".spec.accessModes",
            ".spec.resources.requests",
            ".spec.resources.requests.storage",
            ".spec.volumeMode",
        ]
    );
}

#[test]
fn the_set_an_apply_records_matches_what_the_server_recorded_for_ferry() {
    let desired = fixture("deployment-desired.json");
    let live = fixture("deployment-live.json");
    let schema = Schema::builtin();
    let mut mine = fields_of(&desired, &schema.type_of(&desired).root).expect("valid object");
    for f in ["apiVersion", "kind"] {
        mine.remove_subtree(&Path::fields(&[f]));
    }
    for f in ["name", "namespace"] {
        mine.remove_subtree(&Path::fields(&["metadata", f]));
    }
    let recorded =
        parse_fields_v1(&live["metadata"]["managedFields"][0]["fieldsV1"]).expect("parses");
    assert_eq!(mine.to_fields_v1_string(), recorded.to_fields_v1_string());
}

#[test]
fn set_algebra_follows_members_not_prefixes() {
    let a = parse_fields_v1_str(r#"{"f:spec":{"f:replicas":{},"f:paused":{}}}"#).expect("parses");
    let b = parse_fields_v1_str(r#"{"f:spec":{"f:replicas":{},"f:template":{}}}"#).expect("parses");
    assert_eq!(
        a.union(&b).to_fields_v1_string(),
        r#"{"f:spec":{"f:paused":{},"f:replicas":{},"f:template":{}}}"#
    );
    assert_eq!(a.intersection(&b).to_fields_v1_string(), r#"{"f:spec":{"f:replicas":{}}}"#);
    assert_eq!(a.difference(&b).to_fields_v1_string(), r#"{"f:spec":{"f:paused":{}}}"#);
    let spec = parse_fields_v1_str(r#"{"f:spec":{}}"#).expect("parses");
    assert_eq!(a.difference(&spec), a, "difference removes exact members only");
    assert!(
        a.recursive_difference(&spec).is_empty(),
        "recursive difference removes what lies under"
    );
}

#[test]
fn malformed_fields_v1_names_the_place() {
    let err = parse_fields_v1_str(r#"{"f:spec":{"x:replicas":{}}}"#).expect_err("bad prefix");
    assert_eq!(err.to_string(), r#"fieldsV1 at .spec: invalid path element "x:replicas""#);
    let err = parse_fields_v1_str(r#"{"f:spec":[]}"#).expect_err("not an object");
    assert!(matches!(err, FieldSetError::NotAnObject { ref path, .. } if path == ".spec"), "{err}");
    let err = parse_fields_v1_str(r#"{"spec":{}}"#).expect_err("no prefix");
    assert_eq!(err.to_string(), r#"fieldsV1 at .: invalid path element "spec""#);
    let deep = "{\"f:a\":".repeat(100) + "{}" + &"}".repeat(100);
    assert!(matches!(parse_fields_v1_str(&deep), Err(FieldSetError::TooDeep { .. })));
}

#[test]
fn an_associative_list_item_without_its_key_is_an_error() {
    let schema = Schema::builtin();
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"image": "nginx"}]}});
    let err = fields_of(&pod, &schema.type_of(&pod).root).expect_err("container without name");
    assert_eq!(err.to_string(), ".spec.containers: associative list item omits key field \"name\"");
    let dup = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a"}, {"name": "a"}]}});
    let err = fields_of(&dup, &schema.type_of(&dup).root).expect_err("duplicate names");
    assert_eq!(err.to_string(), ".spec.containers: duplicate entries for key [name=\"a\"]");
}

fn element() -> impl Strategy<Value = PathElement> {
    prop_oneof![
        "[a-zA-Z][a-zA-Z0-9./-]{0,8}".prop_map(PathElement::Field),
        (0usize..50).prop_map(PathElement::Index),
        "[a-z]{1,5}".prop_map(|s| PathElement::Value(OrdValue(Value::String(s)))),
        (-5i64..5000).prop_map(|n| PathElement::Value(OrdValue(json!(n)))),
        ("[a-z]{1,5}", 0i64..70000).prop_map(|(name, port)| PathElement::Key(vec![
            ("containerPort".into(), OrdValue(json!(port))),
            ("name".into(), OrdValue(json!(name))),
        ])),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn any_set_survives_a_fields_v1_round_trip(paths in prop::collection::vec(prop::collection::vec(element(), 1..5), 0..20)) {
        let set: FieldSet = paths.into_iter().map(Path).collect();
        let text = set.to_fields_v1_string();
        let back = parse_fields_v1_str(&text).expect("our own output parses");
        prop_assert_eq!(&back, &set);
        prop_assert_eq!(back.to_fields_v1_string(), text);
    }

    #[test]
    fn union_then_difference_gives_back_the_part_outside(
        a in prop::collection::vec(prop::collection::vec(element(), 1..4), 0..10),
        b in prop::collection::vec(prop::collection::vec(element(), 1..4), 0..10),
    ) {
        let a: FieldSet = a.into_iter().map(Path).collect();
        let b: FieldSet = b.into_iter().map(Path).collect();
        let u = a.union(&b);
        prop_assert_eq!(u.difference(&b), a.difference(&b));
        prop_assert_eq!(u.intersection(&a), a.clone());
        for p in a.paths() {
            prop_assert!(u.contains(&p));
        }
    }
}
