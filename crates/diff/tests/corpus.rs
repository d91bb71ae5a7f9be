//! Every object of the shared real-world corpus goes through apply, defaulting and diff.

use std::sync::Arc;

use ferry_diff::{DiffOptions, Schema, apply, apply_defaults, diff_object};
use serde_json::{Value, json};

const CORPUS: &str = "/work/shared/corpus";

fn load(rel: &str) -> Vec<Value> {
    let path = format!("{CORPUS}/{rel}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"));
    docs.into_iter().filter(|d| d.is_object()).collect()
}

/// Parsed once for all tests of this file: the YAML is large.
fn corpus() -> &'static [Value] {
    static CORPUS_OBJECTS: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    CORPUS_OBJECTS.get_or_init(read_corpus)
}

fn read_corpus() -> Vec<Value> {
    let mut objs = load("argo-cd-install/install.yaml");
    let dir = format!("{CORPUS}/argocd-example-apps/sock-shop/base");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("listing {dir}: {e}"))
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    for f in files {
        let rel = f.strip_prefix(CORPUS).expect("under the corpus").to_string_lossy().to_string();
        objs.extend(load(&rel));
    }
    for rel in [
        "argocd-example-apps/guestbook/guestbook-ui-deployment.yaml",
        "argocd-example-apps/guestbook/guestbook-ui-svc.yaml",
        "podinfo/kustomize/deployment.yaml",
        "podinfo/kustomize/hpa.yaml",
        "podinfo/kustomize/service.yaml",
    ] {
        objs.extend(load(rel));
    }
    objs
}

fn schema_with_crds(objs: &[Value]) -> Schema {
    let mut schema = Schema::builtin();
    for o in objs.iter().filter(|o| o["kind"] == json!("CustomResourceDefinition")) {
        schema.add_crd(o).unwrap_or_else(|e| panic!("CRD {}: {e}", o["metadata"]["name"]));
    }
    schema
}

#[test]
fn every_corpus_object_is_in_sync_right_after_ferry_applies_it() {
    let objs = corpus();
    assert!(objs.len() > 80, "corpus shrank: {}", objs.len());
    let schema = Arc::new(schema_with_crds(objs));
    let opts = DiffOptions::default().schema(schema.clone());
    for obj in objs {
        let name = format!("{} {}", obj["kind"], obj["metadata"]["name"]);
        let created = apply(None, obj, "ferry", false, "2026-11-22T01:00:00Z", &schema)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // what the server stores: the applied object, defaulted
        let mut live = created.object.clone();
        apply_defaults(&mut live);
        let d = diff_object(obj, &live, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(d.in_sync(), "{name}: {:#?}", d.changes);
        let again = apply(Some(&live), obj, "ferry", false, "2026-11-22T02:00:00Z", &schema)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!again.changed, "{name}: a second apply of the same manifest changed the object");
    }
}

#[test]
fn a_changed_image_in_every_corpus_workload_is_drift() {
    let objs = corpus();
    let schema = Arc::new(Schema::builtin());
    let opts = DiffOptions::default().schema(schema.clone());
    let mut workloads = 0;
    for obj in objs
        .iter()
        .filter(|o| o["kind"] == json!("Deployment") || o["kind"] == json!("StatefulSet"))
    {
        workloads += 1;
        let mut live = apply(None, obj, "ferry", false, "2026-11-22T01:00:00Z", &schema)
            .expect("apply")
            .object;
        apply_defaults(&mut live);
        live["spec"]["template"]["spec"]["containers"][0]["image"] = json!("attacker/image:1");
        let d = diff_object(obj, &live, &opts).expect("diff");
        let name = obj["spec"]["template"]["spec"]["containers"][0]["name"]
            .as_str()
            .expect("container name");
        assert_eq!(
            d.changes.iter().map(|c| c.path.clone()).collect::<Vec<_>>(),
            vec![format!(".spec.template.spec.containers[name=\"{name}\"].image")],
            "{}",
            obj["metadata"]["name"]
        );
    }
    assert!(workloads > 15);
}
