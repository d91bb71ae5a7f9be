//! The kubeconfig the server writes once it is ready: its URL, its CA and a bearer token.

use base64::Engine;

/// Kubeconfig text (YAML) for a cluster at `url` trusted through `ca_pem`, authenticated by `token`.
pub fn render(url: &str, ca_pem: &str, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
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
    token: {token}
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
