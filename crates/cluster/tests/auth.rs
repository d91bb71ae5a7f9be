//! Authentication and RBAC as real kubectl 1.32 sees them: client certificates, ServiceAccount
//! tokens from `kubectl create token`, static tokens, 401 and 403 with the real wording,
//! `kubectl auth can-i --as`, `kubectl auth whoami`, namespace defaults and aggregation.

mod common;

use std::path::{Path, PathBuf};

use base64::Engine;
use common::Kubectl;
use ferry_cluster::RunningCluster;

/// A kubeconfig for `cluster` whose user section is `user` (YAML lines, indented 4).
fn kubeconfig(dir: &Path, name: &str, cluster: &RunningCluster, user: &str) -> Kubectl {
    let ca = base64::engine::general_purpose::STANDARD.encode(cluster.ca_pem());
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\n    certificate-authority-data: {ca}\nusers:\n- name: u\n  user:\n{user}\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n    namespace: default\ncurrent-context: x\n",
        cluster.url()
    );
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, text).expect("the kubeconfig is written");
    Kubectl::new(&path)
}

fn with_token(dir: &Path, name: &str, cluster: &RunningCluster, token: &str) -> Kubectl {
    kubeconfig(dir, name, cluster, &format!("    token: {token}"))
}

fn stderr_of(k: &Kubectl, args: &[&str]) -> String {
    let out = k.run(args);
    assert!(!out.status.success(), "kubectl {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A namespace `shop` (and `other`) with ServiceAccount `ci` allowed to read ConfigMaps in `shop` only.
fn shop_with_reader(admin: &Kubectl) {
    admin.ok(&["create", "namespace", "shop"]);
    admin.ok(&["create", "namespace", "other"]);
    admin.ok(&["create", "serviceaccount", "ci", "-n", "shop"]);
    admin.ok(&[
        "create",
        "role",
        "reader",
        "--verb=get,list,watch",
        "--resource=configmaps",
        "-n",
        "shop",
    ]);
    admin.ok(&[
        "create",
        "rolebinding",
        "read",
        "--role=reader",
        "--serviceaccount=shop:ci",
        "-n",
        "shop",
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_kubeconfig_authenticates_by_client_certificate_in_system_masters() {
    let cluster = ferry_cluster::testing::start().await;
    let admin = Kubectl::new(cluster.kubeconfig_path());
    let kc = std::fs::read_to_string(cluster.kubeconfig_path()).expect("kubeconfig");
    assert!(kc.contains("client-certificate-data") && !kc.contains("token:"), "{kc}");
    let me = admin.json(&["auth", "whoami"]);
    assert_eq!(me["status"]["userInfo"]["username"], "kubernetes-admin");
    let groups = me["status"]["userInfo"]["groups"].to_string();
    assert!(
        groups.contains("system:masters") && groups.contains("system:authenticated"),
        "{groups}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_token_lists_in_its_namespace_and_gets_the_real_403_elsewhere() {
    let cluster = ferry_cluster::testing::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let admin = Kubectl::new(cluster.kubeconfig_path());
    shop_with_reader(&admin);
    let token = admin.ok(&["create", "token", "ci", "-n", "shop"]);
    let token = token.trim();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let ci = with_token(dir.path(), "ci", &cluster, token);
    let me = ci.json(&["auth", "whoami"]);
    assert_eq!(me["status"]["userInfo"]["username"], "system:serviceaccount:shop:ci");
    let listed = ci.ok(&["get", "configmaps", "-n", "shop", "-o", "name"]);
    assert!(listed.contains("configmap/kube-root-ca.crt"), "{listed}");
    let err = stderr_of(&ci, &["get", "configmaps", "-n", "other"]);
    assert!(
        err.contains("Error from server (Forbidden): configmaps is forbidden: User \"system:serviceaccount:shop:ci\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"other\""),
        "{err}"
    );
    let err = stderr_of(&admin, &["create", "token", "ci", "-n", "shop", "--duration=5m"]);
    assert!(err.contains("spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes"), "{err}");
    let err = stderr_of(&admin, &["create", "token", "nobody", "-n", "shop"]);
    assert!(err.contains("serviceaccounts \"nobody\" not found"), "{err}");
    let err = stderr_of(&ci, &["delete", "configmap", "kube-root-ca.crt", "-n", "shop"]);
    assert!(err.contains("configmaps \"kube-root-ca.crt\" is forbidden: User \"system:serviceaccount:shop:ci\" cannot delete resource"), "{err}");
    admin.ok(&["delete", "serviceaccount", "ci", "-n", "shop"]);
    let err = stderr_of(&ci, &["get", "--raw", "/api/v1/namespaces/shop/configmaps"]);
    assert!(
        err.contains("the ServiceAccount shop/ci the token was issued for no longer exists"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_can_i_as_a_service_account_answers_yes_in_its_namespace_and_no_elsewhere() {
    let cluster = ferry_cluster::testing::start().await;
    let admin = Kubectl::new(cluster.kubeconfig_path());
    shop_with_reader(&admin);
    let sa = "--as=system:serviceaccount:shop:ci";
    assert_eq!(admin.ok(&["auth", "can-i", "list", "configmaps", "-n", "shop", sa]).trim(), "yes");
    let no = admin.run(&["auth", "can-i", "list", "configmaps", "-n", "other", sa]);
    assert_eq!(String::from_utf8_lossy(&no.stdout).trim(), "no");
    assert_eq!(no.status.code(), Some(1), "kubectl exits 1 for no");
    let no = admin.run(&["auth", "can-i", "delete", "configmaps", "-n", "shop", sa]);
    assert_eq!(String::from_utf8_lossy(&no.stdout).trim(), "no");
    assert_eq!(
        admin.ok(&["auth", "can-i", "create", "selfsubjectaccessreviews", "--as=bob"]).trim(),
        "yes"
    );
    let groups = ["auth", "can-i", "get", "pods", "-n", "shop", "--as=bob", "--as-group=viewers"];
    assert_eq!(String::from_utf8_lossy(&admin.run(&groups).stdout).trim(), "no");
    admin.ok(&[
        "create",
        "rolebinding",
        "viewers",
        "--clusterrole=view",
        "--group=viewers",
        "-n",
        "shop",
    ]);
    assert_eq!(admin.ok(&groups).trim(), "yes", "view (aggregated) reads pods");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impersonation_is_denied_for_a_user_without_the_impersonate_verb() {
    let cluster = ferry_cluster::testing::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let admin = Kubectl::new(cluster.kubeconfig_path());
    shop_with_reader(&admin);
    let token = admin.ok(&["create", "token", "ci", "-n", "shop"]);
    let ci = with_token(dir.path(), "ci", &cluster, token.trim());
    let err = stderr_of(&ci, &["get", "configmaps", "-n", "shop", "--as=bob"]);
    assert!(
        err.contains("users \"bob\" is forbidden: User \"system:serviceaccount:shop:ci\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"),
        "{err}"
    );
    let me = admin.json(&["auth", "whoami", "--as=bob", "--as-group=dev"]);
    assert_eq!(me["status"]["userInfo"]["username"], "bob", "an admin may impersonate");
    assert_eq!(
        me["status"]["userInfo"]["groups"],
        serde_json::json!(["dev", "system:authenticated"])
    );
}

fn expired_and_foreign_tokens(data_dir: &Path) -> (String, String) {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let now = jiff::Timestamp::now().as_second();
    let claims = |exp: i64| {
        serde_json::json!({"aud": ["https://kubernetes.default.svc"], "exp": exp, "iat": exp - 3600,
            "nbf": exp - 3600, "iss": "https://kubernetes.default.svc", "jti": "j", "sub": "system:serviceaccount:shop:ci",
            "kubernetes.io": {"namespace": "shop", "serviceaccount": {"name": "ci", "uid": "u"}}})
    };
    let sign = |pem: &str, exp: i64| {
        let key = EncodingKey::from_ec_pem(pem.as_bytes()).expect("an EC key");
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims(exp), &key).expect("signed")
    };
    let ours = std::fs::read_to_string(data_dir.join("sa.key")).expect("the data dir holds sa.key");
    let other = rcgen::KeyPair::generate().expect("a key").serialize_pem();
    (sign(&ours, now - 7200), sign(&other, now + 3600))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_expired_and_foreign_tokens_get_401_naming_the_problem_and_the_server_stays_up() {
    let data = tempfile::tempdir().expect("temp dir");
    let config = ferry_cluster::testing::fast_config().data_dir(data.path());
    let cluster = ferry_cluster::testing::try_start(config).await.expect("cluster starts");
    let admin = Kubectl::new(cluster.kubeconfig_path());
    let (expired, foreign) = expired_and_foreign_tokens(data.path());
    let cases = [
        ("not-a-token", "neither a static token of this cluster nor a ServiceAccount token"),
        ("eyJub3Q.json.at-all", "malformed"),
        (expired.as_str(), "has expired"),
        (foreign.as_str(), "not signed by this cluster's ServiceAccount key"),
    ];
    for (i, (token, why)) in cases.iter().enumerate() {
        let k = with_token(data.path(), &format!("bad{i}"), &cluster, token);
        let err = stderr_of(&k, &["get", "namespaces"]);
        assert!(err.contains("You must be logged in to the server"), "{err}");
        let err = stderr_of(&k, &["get", "--raw", "/api/v1/namespaces"]);
        assert!(err.contains("You must be logged in to the server (Unauthorized"), "{err}");
        assert!(err.contains(why), "{why}: {err}");
        assert!(!err.contains(token), "the token is never echoed");
    }
    let static_admin = with_token(data.path(), "static", &cluster, cluster.token());
    assert!(static_admin.ok(&["get", "namespaces"]).contains("kube-node-lease"));
    admin.ok(&["get", "namespaces"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_from_another_ca_is_refused_with_401() {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let cluster = ferry_cluster::testing::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "someone-elses-ca");
    let key = KeyPair::generate().expect("key");
    let mut leaf = CertificateParams::new(Vec::<String>::new()).expect("params");
    leaf.distinguished_name.push(DnType::CommonName, "kubernetes-admin");
    leaf.distinguished_name.push(DnType::OrganizationName, "system:masters");
    let cert = leaf.signed_by(&key, &Issuer::from_params(&ca, &ca_key)).expect("signed");
    let b64 = |t: &str| base64::engine::general_purpose::STANDARD.encode(t);
    let user = format!(
        "    client-certificate-data: {}\n    client-key-data: {}",
        b64(&cert.pem()),
        b64(&key.serialize_pem())
    );
    let k = kubeconfig(dir.path(), "forged", &cluster, &user);
    let err = stderr_of(&k, &["get", "--raw", "/api/v1/namespaces"]);
    assert!(err.contains("You must be logged in to the server (Unauthorized"), "{err}");
    assert!(err.contains("not signed by this cluster's CA"), "{err}");
}

/// `curl` with the cluster CA and no credentials: kubectl would prompt for a user name.
fn anonymous_get(dir: &Path, cluster: &RunningCluster, path: &str) -> (u16, String) {
    let ca = dir.join("ca.crt");
    std::fs::write(&ca, cluster.ca_pem()).expect("CA written");
    let out = std::process::Command::new("curl")
        .args(["-s", "-w", "\\n%{http_code}", "--cacert"])
        .arg(&ca)
        .arg(format!("{}{path}", cluster.url()))
        .output()
        .expect("curl is installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').expect("curl printed the status code");
    (code.trim().parse().expect("a status code"), body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_requests_see_version_and_health_but_are_forbidden_the_rest() {
    let cluster = ferry_cluster::testing::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (code, body) = anonymous_get(dir.path(), &cluster, "/version");
    assert_eq!(code, 200, "{body}");
    assert_eq!(anonymous_get(dir.path(), &cluster, "/readyz"), (200, "ok".to_string()));
    let (code, body) = anonymous_get(dir.path(), &cluster, "/api/v1/namespaces");
    assert_eq!(code, 403);
    let status: serde_json::Value = serde_json::from_str(&body).expect("a Status body");
    assert_eq!(status["reason"], "Forbidden");
    assert_eq!(
        status["message"],
        "namespaces is forbidden: User \"system:anonymous\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope"
    );
    let (code, body) = anonymous_get(dir.path(), &cluster, "/metrics");
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("cannot get path \\\"/metrics\\\""), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_namespace_gets_a_default_service_account_and_the_root_ca_config_map() {
    let cluster = ferry_cluster::testing::start().await;
    let admin = Kubectl::new(cluster.kubeconfig_path());
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        admin.ok(&["get", "serviceaccount", "default", "-n", ns]);
    }
    admin.ok(&["create", "namespace", "fresh"]);
    admin.ok(&["get", "serviceaccount", "default", "-n", "fresh"]);
    let cm = admin.json(&["get", "configmap", "kube-root-ca.crt", "-n", "fresh"]);
    assert_eq!(cm["data"]["ca.crt"].as_str(), Some(cluster.ca_pem()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_role_labelled_aggregate_to_view_joins_view_edit_and_admin_at_once() {
    let cluster = ferry_cluster::testing::start().await;
    let admin = Kubectl::new(cluster.kubeconfig_path());
    let rules = |role: &str| admin.json(&["get", "clusterrole", role])["rules"].to_string();
    assert!(rules("edit").contains("pods/log"), "edit has view's rules");
    assert!(rules("admin").contains("rolebindings"));
    let widgets = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: widget-reader\n  labels:\n    rbac.authorization.k8s.io/aggregate-to-view: \"true\"\nrules:\n- apiGroups: [example.com]\n  resources: [widgets]\n  verbs: [get, list]\n";
    admin.ok_stdin(&["apply", "-f", "-"], widgets);
    for role in ["view", "edit", "admin"] {
        assert!(rules(role).contains("widgets"), "{role} aggregates widget-reader");
    }
    admin.ok(&["delete", "clusterrole", "widget-reader"]);
    assert!(!rules("admin").contains("widgets"), "and loses it when deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_auth_file_user_gets_what_its_group_is_bound_to() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("tokens.csv");
    std::fs::write(&file, "alice-token,alice,1001,\"dev,qa\"\n").expect("token file");
    let config = ferry_cluster::testing::fast_config().token_auth_file(&file);
    let cluster = ferry_cluster::testing::try_start(config).await.expect("cluster starts");
    let admin = Kubectl::new(cluster.kubeconfig_path());
    admin.ok(&["create", "clusterrolebinding", "dev-view", "--clusterrole=view", "--group=dev"]);
    let alice = with_token(dir.path(), "alice", &cluster, "alice-token");
    let me = alice.json(&["auth", "whoami"]);
    assert_eq!(me["status"]["userInfo"]["uid"], "1001");
    alice.ok(&["get", "pods", "-A"]);
    let err = stderr_of(&alice, &["create", "configmap", "x"]);
    assert!(err.contains("User \"alice\" cannot create resource \"configmaps\""), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_token_secret_is_filled_with_a_token_that_dies_with_the_secret() {
    let cluster = ferry_cluster::testing::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let admin = Kubectl::new(cluster.kubeconfig_path());
    admin.ok(&["create", "serviceaccount", "ferry-manager", "-n", "kube-system"]);
    admin.ok_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: ferry-manager-long-lived-token\n  namespace: kube-system\n  annotations:\n    kubernetes.io/service-account.name: ferry-manager\ntype: kubernetes.io/service-account-token\n",
    );
    let secret = admin.json(&[
        "get",
        "secret",
        "ferry-manager-long-lived-token",
        "-n",
        "kube-system",
        "-o",
        "json",
    ]);
    let decode = |k: &str| {
        let b64 =
            secret["data"][k].as_str().unwrap_or_else(|| panic!("data.{k} is filled: {secret:#}"));
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).expect("base64"))
            .expect("text")
    };
    assert_eq!(decode("ca.crt"), cluster.ca_pem());
    assert_eq!(decode("namespace"), "kube-system");
    let sa =
        admin.json(&["get", "serviceaccount", "ferry-manager", "-n", "kube-system", "-o", "json"]);
    assert_eq!(
        secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"],
        sa["metadata"]["uid"]
    );
    let manager = with_token(dir.path(), "manager", &cluster, &decode("token"));
    let me = manager.json(&["auth", "whoami"]);
    assert_eq!(
        me["status"]["userInfo"]["username"],
        "system:serviceaccount:kube-system:ferry-manager"
    );
    admin.ok(&["delete", "secret", "ferry-manager-long-lived-token", "-n", "kube-system"]);
    let err = stderr_of(&manager, &["get", "--raw", "/api/v1/namespaces"]);
    assert!(
        err.contains("the token Secret kube-system/ferry-manager-long-lived-token this token came from was deleted"),
        "{err}"
    );
}
