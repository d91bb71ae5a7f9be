//! Client certificates: the TLS layer asks for one and checks only that the client holds its
//! key; whether the cluster CA signed it is checked here, per connection, so a certificate from
//! another CA gets a 401 Status naming the problem (as kube-apiserver's x509 authenticator
//! does) instead of a failed handshake that kubectl reports as a bare TLS error.

use std::sync::Arc;

use rustls::DistinguishedName;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{AuthSetupError, UserInfo};

/// Requests an optional client certificate and verifies the handshake signature made with its
/// key; the chain is judged later by [`ClientCa::authenticate`].
#[derive(Debug)]
pub struct RequestClientCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl RequestClientCert {
    pub fn new(provider: &rustls::crypto::CryptoProvider) -> Arc<RequestClientCert> {
        Arc::new(RequestClientCert { algorithms: provider.signature_verification_algorithms })
    }
}

impl ClientCertVerifier for RequestClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    /// No hints: Go clients then send their certificate whoever issued it, so a wrong CA
    /// is reported over HTTP rather than silently turning the request anonymous.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The cluster CA as the x509 authenticator uses it.
#[derive(Debug, Clone)]
pub struct ClientCa {
    der: Vec<u8>,
}

impl ClientCa {
    pub fn from_pem(ca_pem: &str) -> Result<ClientCa, AuthSetupError> {
        use rustls::pki_types::pem::PemObject;
        let der = CertificateDer::from_pem_slice(ca_pem.as_bytes())
            .map_err(|e| AuthSetupError::Ca(e.to_string()))?;
        let der = der.as_ref().to_vec();
        X509Certificate::from_der(&der).map_err(|e| AuthSetupError::Ca(e.to_string()))?;
        Ok(ClientCa { der })
    }

    /// The user a client certificate names (CN = user, O = groups), or why it is refused.
    pub fn authenticate(&self, cert_der: &[u8]) -> Result<UserInfo, String> {
        let (_, ca) = X509Certificate::from_der(&self.der)
            .map_err(|e| format!("the cluster CA cannot be read: {e}"))?;
        let (_, cert) = X509Certificate::from_der(cert_der)
            .map_err(|e| format!("the client certificate is not valid X.509: {e}"))?;
        let subject = cert.subject().to_string();
        if cert.issuer() != ca.subject() || cert.verify_signature(Some(ca.public_key())).is_err() {
            return Err(format!(
                "the client certificate {subject:?} is not signed by this cluster's CA ({}); use the kubeconfig the cluster wrote",
                ca.subject()
            ));
        }
        if !cert.validity().is_valid() {
            return Err(format!(
                "the client certificate {subject:?} is outside its validity period ({} to {})",
                cert.validity().not_before,
                cert.validity().not_after
            ));
        }
        let text = |attr: &x509_parser::x509::AttributeTypeAndValue<'_>| {
            attr.as_str().ok().map(str::to_string)
        };
        let username = cert.subject().iter_common_name().next().and_then(text).unwrap_or_default();
        if username.is_empty() {
            return Err(format!("the client certificate {subject:?} has no common name (CN)"));
        }
        let groups = cert.subject().iter_organization().filter_map(text).collect();
        Ok(UserInfo { username, groups, ..UserInfo::default() }.with_authenticated())
    }
}
