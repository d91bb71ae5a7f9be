//! One HTTPS POST of an AdmissionReview to a webhook URL, trusting only the webhook's
//! `caBundle`, bounded in time (the webhook's `timeoutSeconds`) and in answer size.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// A webhook answer larger than this is refused (as kube-apiserver caps it).
const MAX_ANSWER: usize = 3 * 1024 * 1024;

/// Why a webhook could not be called; its text follows kube-apiserver's `failed to call webhook`.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("the URL {url:?} is not an https:// URL with a host")]
    Url { url: String },
    #[error("clientConfig.caBundle is missing or holds no PEM certificate")]
    CaBundle,
    #[error("Post {url:?}: {why}")]
    Transport { url: String, why: String },
    #[error("Post {url:?}: context deadline exceeded (timeout {timeout:?})")]
    Timeout { url: String, timeout: Duration },
    #[error("the webhook answered HTTP {status}")]
    Status { status: u16 },
    #[error("the webhook's answer is larger than {MAX_ANSWER} bytes")]
    TooLarge,
}

fn tls(ca_pem: Option<&str>) -> Result<Arc<rustls::ClientConfig>, CallError> {
    let pem = ca_pem.ok_or(CallError::CaBundle)?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|_| CallError::CaBundle)?;
        roots.add(cert).map_err(|_| CallError::CaBundle)?;
    }
    if roots.is_empty() {
        return Err(CallError::CaBundle);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| CallError::CaBundle)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// POSTs `body` to `url`; the answer's bytes.
pub async fn post(
    url: &str,
    ca_pem: Option<&str>,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Bytes, CallError> {
    let uri: hyper::Uri = url.parse().map_err(|_| CallError::Url { url: url.into() })?;
    let (Some("https"), Some(host)) = (uri.scheme_str(), uri.host()) else {
        return Err(CallError::Url { url: url.into() });
    };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let port = uri.port_u16().unwrap_or(443);
    let config = tls(ca_pem)?;
    let attempt = async {
        let fail = |why: String| CallError::Transport { url: url.into(), why };
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| fail(e.to_string()))?;
        let name = ServerName::try_from(host.clone()).map_err(|e| fail(e.to_string()))?;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| fail(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let req = hyper::Request::post(path)
            .header("host", uri.authority().map_or(host.as_str(), |a| a.as_str()))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(Body::from(body))
            .map_err(|e| fail(e.to_string()))?;
        let resp = sender.send_request(req).await.map_err(|e| fail(e.to_string()))?;
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(Body::new(resp.into_body()), MAX_ANSWER)
            .await
            .map_err(|_| CallError::TooLarge)?;
        if !(200..300).contains(&status) {
            return Err(CallError::Status { status });
        }
        Ok(bytes)
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| CallError::Timeout { url: url.into(), timeout })?
}
