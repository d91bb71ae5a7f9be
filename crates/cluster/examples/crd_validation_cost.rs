//! Cost of validating one custom resource against argo-cd's Application CRD, for the notes
//! (not a test): `cargo run --release -p ferry-cluster --example crd_validation_cost -- [N]`.

use std::time::Instant;

use ferry_cluster::resources::types_from_crd;
use ferry_cluster::validate::{compile_crd, custom_resource};
use serde_json::{Value, json};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let path =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/argo-cd-install/install.yaml");
    let text = std::fs::read_to_string(path)?;
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)?;
    let crd = docs
        .into_iter()
        .find(|d| {
            d.pointer("/metadata/name").and_then(Value::as_str) == Some("applications.argoproj.io")
        })
        .ok_or("the corpus has the Application CRD")?;
    println!("Application CRD: {} bytes of JSON", crd.to_string().len());
    let start = Instant::now();
    let compiled = compile_crd(&crd)?;
    println!("compile once: {:?}", start.elapsed());
    let schema = compiled.get("v1alpha1").ok_or("v1alpha1 has a schema")?;
    let rt = types_from_crd(&crd).remove(0);
    let app = json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "guestbook", "namespace": "argocd", "labels": {"team": "a"}},
        "spec": {"project": "default",
            "source": {"repoURL": "https://github.com/argoproj/argocd-example-apps.git",
                "targetRevision": "HEAD", "path": "helm-guestbook",
                "helm": {"valueFiles": ["values.yaml"], "parameters": [{"name": "replicas", "value": "2"}]}},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "guestbook"},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"],
                "retry": {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}}}},
    });
    let start = Instant::now();
    for _ in 0..n {
        custom_resource(Some(schema), &rt, None, app.clone())?;
    }
    let each = start.elapsed() / n;
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(app.clone());
    }
    let clone = start.elapsed() / n;
    println!(
        "prune + defaults + validate one Application: {each:?} (of which cloning the input {clone:?})"
    );
    Ok(())
}
