//! Authorization cost per request with many RoleBindings, for the notes (not a test):
//! `cargo run --release -p ferry-cluster --example authz -- [BINDINGS]` (default 1,000).
//!
//! Creates BINDINGS RoleBindings over 100 namespaces (each binding one ServiceAccount to a
//! Role), then times RBAC decisions directly (allowed, denied, `system:masters`) and GETs over
//! HTTPS with a ServiceAccount token against the admin's client certificate.

use std::time::Instant;

use ferry_cluster::auth::{Attributes, UserInfo};
use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::json;

const NAMESPACES: usize = 100;

fn api(
    client: &kube::Client,
    ns: Option<&str>,
    g: &str,
    v: &str,
    k: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(g, v, k), plural);
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    }
}

fn object(v: serde_json::Value) -> DynamicObject {
    serde_json::from_value(v).expect("a valid object")
}

async fn create_bindings(client: &kube::Client, bindings: usize) -> Result<(), kube::Error> {
    let pp = PostParams::default();
    for n in 0..NAMESPACES {
        let ns = format!("ns-{n:02}");
        api(client, None, "", "v1", "Namespace", "namespaces")
            .create(
                &pp,
                &object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})),
            )
            .await?;
        let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "reader"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]});
        api(client, Some(&ns), "rbac.authorization.k8s.io", "v1", "Role", "roles")
            .create(&pp, &object(role))
            .await?;
    }
    futures::stream::iter(0..bindings)
        .map(|i| {
            let ns = format!("ns-{:02}", i % NAMESPACES);
            let rb = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": format!("rb-{i}")},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
                "subjects": [{"kind": "ServiceAccount", "name": format!("sa-{i}"), "namespace": ns}]});
            let api = api(client, Some(&ns), "rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings");
            async move { api.create(&PostParams::default(), &object(rb)).await }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

fn time_decisions(
    cluster: &ferry_cluster::RunningCluster,
    label: &str,
    user: &UserInfo,
    a: &Attributes,
    want: bool,
) {
    let authz = cluster.authorizer();
    let rounds = 200_000;
    let start = Instant::now();
    let mut allowed = 0usize;
    for _ in 0..rounds {
        allowed += usize::from(authz.authorize(user, a).allowed);
    }
    let ns = start.elapsed().as_nanos() as f64 / rounds as f64;
    assert_eq!(allowed == rounds, want, "{label}: unexpected decision");
    println!("{label:<44} {ns:>8.0} ns/decision");
}

async fn token_client(
    cluster: &ferry_cluster::RunningCluster,
    ns: &str,
    sa: &str,
) -> Result<kube::Client, Box<dyn std::error::Error>> {
    let admin = cluster.client().await?;
    api(&admin, Some(ns), "", "v1", "ServiceAccount", "serviceaccounts")
        .create(
            &PostParams::default(),
            &object(
                json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa}}),
            ),
        )
        .await?;
    let req = http::Request::post(format!("/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(
            &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}),
        )?)?;
    let answer: serde_json::Value = admin.request(req).await?;
    let token = answer["status"]["token"].as_str().ok_or("no token in the TokenRequest answer")?;
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(cluster.ca_pem());
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\n    certificate-authority-data: {ca}\nusers:\n- name: u\n  user:\n    token: {token}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\ncurrent-context: x\n",
        cluster.url()
    );
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, text)?;
    let kc = kube::config::Kubeconfig::read_from(&path)?;
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

async fn time_gets(label: &str, client: &kube::Client, ns: &str) -> Result<(), kube::Error> {
    let cms = api(client, Some(ns), "", "v1", "ConfigMap", "configmaps");
    let rounds = 2_000;
    let start = Instant::now();
    for _ in 0..rounds {
        cms.get("kube-root-ca.crt").await?;
    }
    let us = start.elapsed().as_micros() as f64 / rounds as f64;
    println!("{label:<44} {us:>8.1} µs/request");
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bindings: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let config = ferry_cluster::ClusterConfig::default().simulator(false);
    let cluster = ferry_cluster::Cluster::start(config).await?;
    let client = cluster.client().await?;
    let start = Instant::now();
    create_bindings(&client, bindings).await?;
    let indexed = cluster.authorizer().binding_count();
    println!(
        "{bindings} RoleBindings created in {:.2}s ({indexed} bindings indexed)",
        start.elapsed().as_secs_f64()
    );
    let sa = UserInfo::service_account("ns-05", "sa-5", "");
    let list = |ns: &str| Attributes::resource("list", "", "configmaps", ns, "");
    time_decisions(
        &cluster,
        "ServiceAccount, allowed by its RoleBinding",
        &sa,
        &list("ns-05"),
        true,
    );
    time_decisions(
        &cluster,
        "ServiceAccount, denied in another namespace",
        &sa,
        &list("ns-06"),
        false,
    );
    let admin = UserInfo {
        username: "kubernetes-admin".into(),
        groups: vec!["system:masters".into()],
        ..Default::default()
    };
    time_decisions(&cluster, "system:masters", &admin, &list("ns-05"), true);
    let sa_client = token_client(&cluster, "ns-05", "sa-5").await?;
    time_gets("GET over HTTPS, admin client certificate", &client, "ns-05").await?;
    time_gets("GET over HTTPS, ServiceAccount token", &sa_client, "ns-05").await?;
    cluster.shutdown().await?;
    Ok(())
}
