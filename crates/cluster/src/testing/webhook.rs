//! A webhook server for tests: any axum app over HTTPS on loopback, and a ready-made mutating
//! webhook that adds a label (what many real webhooks do, and the top source of false drift).

use serde_json::{Value, json};

use crate::ClusterError;

/// An HTTPS server on loopback for tests of admission webhooks: its own self-signed CA (for a
/// `caBundle`), a random port, stopped when dropped.
pub struct TestServer {
    url: String,
    ca_pem: String,
    stop: tokio::sync::watch::Sender<bool>,
}

impl TestServer {
    /// Serves `app` over TLS (HTTP/1.1 and HTTP/2) on `127.0.0.1`.
    pub async fn start(app: axum::Router) -> Result<TestServer, ClusterError> {
        let certs = crate::tls::generate()?;
        let tls = crate::tls::server_config(&certs)?;
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ClusterError::Listen { addr, source })?;
        let bound =
            listener.local_addr().map_err(|source| ClusterError::Listen { addr, source })?;
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        // A webhook server authenticates no client; the CA is only there to read certificates.
        let ca = crate::auth::cert::ClientCa::from_pem(&certs.ca_pem)?;
        tokio::spawn(crate::http::serve_tls(listener, tls, app, ca, stop_rx));
        Ok(TestServer { url: format!("https://{bound}"), ca_pem: certs.ca_pem, stop })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The CA certificate, base64-encoded PEM, as `clientConfig.caBundle` takes it.
    pub fn ca_bundle(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&self.ca_pem)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// AdmissionReview answer allowing `review`, with a JSON patch adding label `key=value`.
fn add_label(review: &Value, key: &str, value: &str) -> Value {
    use base64::Engine;
    let has_labels =
        review.pointer("/request/object/metadata/labels").is_some_and(Value::is_object);
    let escaped = key.replace('~', "~0").replace('/', "~1");
    let patch = if has_labels {
        json!([{"op": "add", "path": format!("/metadata/labels/{escaped}"), "value": value}])
    } else {
        json!([{"op": "add", "path": "/metadata/labels", "value": {key: value}}])
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(patch.to_string());
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": {
        "uid": review["request"]["uid"], "allowed": true, "patchType": "JSONPatch", "patch": encoded}})
}

impl TestServer {
    /// A mutating webhook at `/` adding label `key=value` to every object it is sent.
    pub async fn label_webhook(key: &str, value: &str) -> Result<TestServer, ClusterError> {
        let (key, value) = (key.to_string(), value.to_string());
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(move |axum::Json(review): axum::Json<Value>| async move {
                axum::Json(add_label(&review, &key, &value))
            }),
        );
        TestServer::start(app).await
    }

    /// A MutatingWebhookConfiguration named `name` sending the requests `rules` match to `/`.
    pub fn mutating_configuration(&self, name: &str, rules: Value) -> Value {
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": name},
            "webhooks": [{"name": name, "admissionReviewVersions": ["v1"], "sideEffects": "None",
                "timeoutSeconds": 5, "failurePolicy": "Fail", "rules": rules,
                "clientConfig": {"url": format!("{}/", self.url), "caBundle": self.ca_bundle()}}],
        })
    }
}
