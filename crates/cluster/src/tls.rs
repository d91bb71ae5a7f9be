//! A self-signed CA, a server certificate for loopback and the admin client certificate
//! (CN `kubernetes-admin`, O `system:masters`, as kind writes it), kept in the data directory
//! so a kubeconfig written before a restart stays valid after it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot generate the cluster certificates")]
    Generate(#[source] rcgen::Error),
    #[error("cannot read or write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the PEM file {path} is not usable")]
    Pem {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("the server certificate is not usable")]
    Rustls(#[source] rustls::Error),
}

/// PEM texts of the CA, the server certificate and its key, the admin client certificate and its key.
#[derive(Debug, Clone)]
pub struct Certs {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub admin_cert_pem: String,
    pub admin_key_pem: String,
}

/// The file names in the data directory, in [`Certs`] field order.
const FILES: [&str; 5] = ["ca.crt", "server.crt", "server.key", "admin.crt", "admin.key"];

pub fn generate() -> Result<Certs, TlsError> {
    let ca_key = KeyPair::generate().map_err(TlsError::Generate)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(TlsError::Generate)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "ferry-cluster-ca");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).map_err(TlsError::Generate)?;

    let key = KeyPair::generate().map_err(TlsError::Generate)?;
    let mut leaf =
        CertificateParams::new(vec!["localhost".to_string(), "kubernetes.default.svc".to_string()])
            .map_err(TlsError::Generate)?;
    leaf.subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)));
    leaf.subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)));
    leaf.distinguished_name.push(DnType::CommonName, "ferry-cluster");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let issuer = Issuer::from_params(&ca, &ca_key);
    let cert = leaf.signed_by(&key, &issuer).map_err(TlsError::Generate)?;
    let admin_key = KeyPair::generate().map_err(TlsError::Generate)?;
    let mut admin = CertificateParams::new(Vec::<String>::new()).map_err(TlsError::Generate)?;
    admin.distinguished_name.push(DnType::CommonName, crate::auth::ADMIN_USER);
    admin.distinguished_name.push(DnType::OrganizationName, crate::auth::MASTERS);
    admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    admin.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    let admin_cert = admin.signed_by(&admin_key, &issuer).map_err(TlsError::Generate)?;
    Ok(Certs {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        admin_cert_pem: admin_cert.pem(),
        admin_key_pem: admin_key.serialize_pem(),
    })
}

/// Loads the certificates from `dir`, generating and saving them the first time.
pub fn load_or_generate(dir: Option<&Path>) -> Result<Certs, TlsError> {
    let Some(dir) = dir else { return generate() };
    let paths = FILES.map(|f| dir.join(f));
    // A data directory from before client certificates has no admin.crt: start afresh,
    // the kubeconfig is rewritten on every start anyway.
    if paths.iter().all(|p| p.exists()) {
        let read = |p: &PathBuf| {
            let io = |source| TlsError::Io { path: p.clone(), source };
            crate::private::narrow_file(p).map_err(io)?;
            std::fs::read_to_string(p).map_err(io)
        };
        return Ok(Certs {
            ca_pem: read(&paths[0])?,
            cert_pem: read(&paths[1])?,
            key_pem: read(&paths[2])?,
            admin_cert_pem: read(&paths[3])?,
            admin_key_pem: read(&paths[4])?,
        });
    }
    let certs = generate()?;
    let texts = [
        &certs.ca_pem,
        &certs.cert_pem,
        &certs.key_pem,
        &certs.admin_cert_pem,
        &certs.admin_key_pem,
    ];
    for (p, text) in paths.iter().zip(texts) {
        crate::private::write(p, text)
            .map_err(|source| TlsError::Io { path: p.clone(), source })?;
    }
    Ok(certs)
}

/// A rustls server config speaking HTTP/2 and HTTP/1.1 (kubectl and kube-rs negotiate h2),
/// asking clients for an optional certificate (see [`crate::auth::cert`]).
pub fn server_config(certs: &Certs) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(certs.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|source| TlsError::Pem { path: "server.crt".into(), source })?;
    let key = PrivateKeyDer::from_pem_slice(certs.key_pem.as_bytes())
        .map_err(|source| TlsError::Pem { path: "server.key".into(), source })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = crate::auth::cert::RequestClientCert::new(&provider);
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Rustls)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(TlsError::Rustls)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
