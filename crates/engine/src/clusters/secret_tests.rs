use std::collections::BTreeMap;

use k8s_openapi::ByteString;

use super::*;

const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn secret(pairs: &[(&str, &str)]) -> Secret {
    let mut s = Secret::default();
    s.metadata.name = Some("cluster-east".into());
    let data: BTreeMap<String, ByteString> =
        pairs.iter().map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec()))).collect();
    s.data = Some(data);
    s
}

#[test]
fn argo_cds_bearer_token_format_parses_into_a_spec() {
    let config = format!(
        r#"{{"bearerToken":"s3cr3t","tlsClientConfig":{{"insecure":false,"caData":"{}","serverName":"east.local"}}}}"#,
        b64(CA)
    );
    let spec = parse(&secret(&[
        ("name", "east"),
        ("server", "https://10.0.0.1:6443/"),
        ("config", &config),
    ]))
    .expect("a valid cluster Secret");
    assert_eq!(spec.name, "east");
    assert_eq!(spec.server, "https://10.0.0.1:6443");
    assert_eq!(spec.auth, ClusterAuth::Bearer("s3cr3t".into()));
    assert_eq!(spec.tls.ca_pem.as_deref(), Some(CA));
    assert_eq!(spec.tls.server_name.as_deref(), Some("east.local"));
    assert!(spec.namespaces.is_empty() && spec.cluster_resources);
    assert!(!format!("{spec:?}").contains("s3cr3t"), "Debug never shows credentials");
}

#[test]
fn basic_auth_and_a_client_certificate_are_read_too() {
    let config = format!(
        r#"{{"username":"admin","password":"pw","tlsClientConfig":{{"certData":"{0}","keyData":"{0}"}}}}"#,
        b64(CA)
    );
    let spec = parse(&secret(&[("server", "https://east:6443"), ("config", &config)])).expect("ok");
    assert_eq!(spec.auth, ClusterAuth::Basic { username: "admin".into(), password: "pw".into() });
    assert!(spec.tls.cert_pem.is_some() && spec.tls.key_pem.is_some());
    assert_eq!(spec.name, "https://east:6443", "an unnamed cluster is called by its server");
    let kc = kubeconfig(&spec).expect("a kubeconfig");
    assert_eq!(
        kc.clusters[0].cluster.as_ref().and_then(|c| c.server.as_deref()),
        Some("https://east:6443")
    );
}

#[test]
fn namespaces_limit_the_cluster_and_cluster_resources_must_then_be_asked_for() {
    let spec =
        parse(&secret(&[("server", "https://east:6443"), ("namespaces", " shop, billing ,")]))
            .expect("ok");
    assert_eq!(spec.namespaces, vec!["shop", "billing"]);
    assert!(!spec.cluster_resources);
    let spec = parse(&secret(&[
        ("server", "https://east:6443"),
        ("namespaces", "shop"),
        ("clusterResources", "true"),
    ]))
    .expect("ok");
    assert!(spec.cluster_resources);
}

#[test]
fn garbage_config_names_the_secret_and_never_quotes_it() {
    let err =
        parse(&secret(&[("server", "https://east:6443"), ("config", "{bearerToken: s3cr3t")]))
            .expect_err("not JSON");
    let text = err.to_string();
    assert!(text.contains("cluster-east") && text.contains("config is not valid JSON"), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
}

#[test]
fn a_wrongly_typed_field_is_named_without_its_value() {
    let cases = [
        (r#"{"bearerToken": 12345}"#, "config.bearerToken must be a string"),
        (
            r#"{"tlsClientConfig": {"insecure": "s3cr3t"}}"#,
            "config.tlsClientConfig.insecure must be true or false",
        ),
        (
            r#"{"tlsClientConfig": {"caData": "s3cr3t!!"}}"#,
            "config.tlsClientConfig.caData is not valid base64",
        ),
        (
            r#"{"tlsClientConfig": {"caData": "czNjcjN0"}}"#,
            "config.tlsClientConfig.caData does not decode to PEM",
        ),
        (r#"{"username": "admin"}"#, "config.password is missing"),
        (
            r#"{"execProviderConfig": {"command": "aws"}}"#,
            "config.execProviderConfig is not supported",
        ),
        (r#"[1, 2]"#, "config is not a JSON object"),
    ];
    for (config, expected) in cases {
        let err = parse(&secret(&[("server", "https://east:6443"), ("config", config)]))
            .expect_err(config)
            .to_string();
        assert!(err.contains(expected), "{config}: {err}");
        assert!(err.contains("cluster-east"), "{err}");
        assert!(!err.contains("s3cr3t") && !err.contains("12345"), "{err}");
    }
}

#[test]
fn a_secret_without_a_server_is_refused() {
    let err = parse(&secret(&[("name", "east")])).expect_err("no server").to_string();
    assert_eq!(err, "cluster Secret cluster-east has no server; Argo CD's format needs it");
}
