//! The kubeconfig the server writes once it is ready: its URL, its CA and the admin client
//! certificate (user `kubernetes-admin`, group `system:masters`), as kind writes one.

use base64::Engine;

/// Kubeconfig text (YAML) for a cluster at `url` trusted through `ca_pem`, authenticated by
/// the client certificate `cert_pem` with key `key_pem`.
pub fn render(url: &str, ca_pem: &str, cert_pem: &str, key_pem: &str) -> String {
    let b64 = |t: &str| base64::engine::general_purpose::STANDARD.encode(t);
    let (ca, cert, key) = (b64(ca_pem), b64(cert_pem), b64(key_pem));
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: ferry
  cluster:
    server: {url}
    certificate-authority-data: {ca}
users:
- name: ferry-admin
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
contexts:
- name: ferry
  context:
    cluster: ferry
    user: ferry-admin
    namespace: default
current-context: ferry
preferences: {{}}
"
    )
}
