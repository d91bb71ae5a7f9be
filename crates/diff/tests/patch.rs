//! Patches, with real `kubectl patch --local` as the oracle for strategic merge patch.

use std::process::Command;

use ferry_diff::{PatchError, Schema, json_patch, merge_patch, strategic_merge};
use serde_json::{Value, json};

fn cases() -> Vec<Value> {
    let path = format!("{}/tests/testdata/patches.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

/// What kubectl's own strategic merge produces, offline.
fn kubectl_strategic(original: &Value, patch: &Value) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("object.json");
    std::fs::write(&file, original.to_string()).expect("write object");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, "").expect("write kubeconfig");
    let out = Command::new("kubectl")
        .env("KUBECONFIG", &kubeconfig)
        .args(["patch", "--local", "--type", "strategic", "-o", "json", "-f"])
        .arg(&file)
        .arg("-p")
        .arg(patch.to_string())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "running kubectl failed ({e}); install kubectl 1.32 (e.g. apt-get install kubectl)"
            )
        });
    assert!(out.status.success(), "kubectl patch failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("kubectl prints JSON")
}

#[test]
fn strategic_merge_matches_kubectl_on_every_case() {
    let schema = Schema::builtin();
    for case in cases() {
        let ours = strategic_merge(&case["original"], &case["patch"], &schema)
            .unwrap_or_else(|e| panic!("case {}: {e}", case["name"]));
        let theirs = kubectl_strategic(&case["original"], &case["patch"]);
        assert_eq!(ours, theirs, "case {}", case["name"]);
    }
}

#[test]
fn custom_resources_refuse_strategic_merge_like_kube_apiserver() {
    let cr = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
    let err =
        strategic_merge(&cr, &json!({"spec": {"a": 1}}), &Schema::builtin()).expect_err("415");
    assert!(matches!(err, PatchError::StrategicMergeUnsupported { .. }));
    assert_eq!(
        err.to_string(),
        "strategic merge patch is not supported for Widget; use a merge patch or JSON patch"
    );
}

#[test]
fn a_merge_list_item_without_its_key_is_an_error_naming_the_list() {
    let dep = &cases()[0]["original"];
    let err = strategic_merge(
        dep,
        &json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
        &Schema::builtin(),
    )
    .expect_err("no name");
    assert_eq!(
        err.to_string(),
        "patch at .spec.template.spec.containers: list item lacks merge key \"name\""
    );
}

#[test]
fn merge_patch_follows_rfc_7386() {
    let original = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
    let patched = merge_patch(&original, &json!({"a": "z", "c": {"f": null}, "l": [3]}));
    assert_eq!(patched, json!({"a": "z", "c": {"d": "e"}, "l": [3]}));
}

#[test]
fn json_patch_applies_all_operations_or_fails_whole() {
    let original =
        json!({"spec": {"replicas": 1, "template": {"metadata": {"labels": {"a": "b"}}}}});
    let ok = json_patch(
        &original,
        &json!([
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/spec/template/metadata/labels/c", "value": "d"}
        ]),
    )
    .expect("valid patch");
    assert_eq!(ok["spec"]["replicas"], json!(3));
    assert_eq!(ok["spec"]["template"]["metadata"]["labels"]["c"], json!("d"));
    let failed = json_patch(
        &original,
        &json!([
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "test", "path": "/spec/replicas", "value": 1}
        ]),
    );
    assert!(matches!(failed, Err(PatchError::JsonPatchFailed(_))));
    assert!(matches!(
        json_patch(&original, &json!({"op": "add"})),
        Err(PatchError::JsonPatchInvalid(_))
    ));
}
