//! A cluster Secret as Argo CD's declarative setup writes it (`name`, `server`, `config`,
//! `namespaces`, `clusterResources`), parsed once into a [`ClusterSpec`] the engine trusts.
//! Pure: no I/O. Errors name the Secret and the field, never a value: `config` holds
//! credentials, so it is read as JSON first and each field's type is checked here (a typed
//! decoder would quote the offending value in its message).

use std::collections::BTreeMap;

use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use serde_json::{Map, Value, json};

/// What a cluster Secret says, validated.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterSpec {
    /// The Secret it came from (for messages).
    pub secret: String,
    /// `name`, or the server when the Secret names none.
    pub name: String,
    /// `server`, without a trailing slash.
    pub server: String,
    pub auth: ClusterAuth,
    pub tls: TlsConfig,
    /// Namespaces Ferry may deploy into; empty: all.
    pub namespaces: Vec<String>,
    /// Whether cluster-scoped objects may be managed (always, when `namespaces` is empty).
    pub cluster_resources: bool,
}

impl std::fmt::Debug for ClusterSpec {
    /// Without credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterSpec")
            .field("secret", &self.secret)
            .field("name", &self.name)
            .field("server", &self.server)
            .field("auth", &self.auth.kind())
            .field("namespaces", &self.namespaces)
            .field("cluster_resources", &self.cluster_resources)
            .finish_non_exhaustive()
    }
}

/// How Ferry authenticates to the cluster.
#[derive(Clone, PartialEq, Eq)]
pub enum ClusterAuth {
    Bearer(String),
    Basic {
        username: String,
        password: String,
    },
    /// A client certificate from `tlsClientConfig.certData`/`keyData` (PEM), or nothing.
    CertOrNone,
}

impl std::fmt::Debug for ClusterAuth {
    /// The kind only: never the token or password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

impl ClusterAuth {
    fn kind(&self) -> &'static str {
        match self {
            ClusterAuth::Bearer(_) => "bearer token",
            ClusterAuth::Basic { .. } => "basic auth",
            ClusterAuth::CertOrNone => "client certificate or none",
        }
    }
}

/// `tlsClientConfig`, with the base64 fields decoded to PEM text.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    pub ca_pem: Option<String>,
    pub cert_pem: Option<String>,
    pub key_pem: Option<String>,
    pub insecure: bool,
    pub server_name: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClusterSecretError {
    #[error("cluster Secret {secret} has no {field}; Argo CD's format needs it")]
    Missing { secret: String, field: &'static str },
    #[error("cluster Secret {secret}: {field} is not valid UTF-8 text")]
    NotText { secret: String, field: &'static str },
    #[error("cluster Secret {secret}: config is not valid JSON ({why})")]
    ConfigJson { secret: String, why: String },
    #[error("cluster Secret {secret}: {field} {why}")]
    Field { secret: String, field: String, why: String },
}

impl ClusterSecretError {
    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        "Fix the cluster Secret (Argo CD's declarative format: name, server, config JSON with bearerToken or username/password and tlsClientConfig), or re-add the cluster with `ferry cluster add NAME --kubeconfig FILE --upsert`"
    }
}

/// Parses a cluster Secret.
pub fn parse(secret: &Secret) -> Result<ClusterSpec, ClusterSecretError> {
    let secret_name = secret.name_any();
    let fields = read_fields(secret)?;
    let get = |k: &str| fields.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    let server = get("server")
        .ok_or(ClusterSecretError::Missing { secret: secret_name.clone(), field: "server" })?
        .trim_end_matches('/')
        .to_owned();
    let name = get("name").map(str::to_owned).unwrap_or_else(|| server.clone());
    let config = match get("config") {
        Some(text) => serde_json::from_str::<Value>(text).map_err(|e| {
            ClusterSecretError::ConfigJson { secret: secret_name.clone(), why: syntax(&e) }
        })?,
        None => json!({}),
    };
    let fields_err = |field: &str, why: &str| ClusterSecretError::Field {
        secret: secret_name.clone(),
        field: field.to_owned(),
        why: why.to_owned(),
    };
    let config = config.as_object().ok_or_else(|| fields_err("config", "is not a JSON object"))?;
    for unsupported in ["awsAuthConfig", "execProviderConfig"] {
        if config.contains_key(unsupported) {
            return Err(fields_err(
                &format!("config.{unsupported}"),
                "is not supported by Ferry; use bearerToken or a client certificate",
            ));
        }
    }
    let reader = Reader { secret: &secret_name };
    let auth = reader.auth(config)?;
    let tls = reader.tls(config)?;
    let namespaces: Vec<String> = get("namespaces")
        .map(|n| n.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    let cluster_resources = match get("clusterResources") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(_) => return Err(fields_err("clusterResources", "must be \"true\" or \"false\"")),
    };
    Ok(ClusterSpec {
        secret: secret_name,
        cluster_resources: cluster_resources || namespaces.is_empty(),
        name,
        server,
        auth,
        tls,
        namespaces,
    })
}

/// The Secret's keys as text (`data` decoded, `stringData` over it).
fn read_fields(secret: &Secret) -> Result<BTreeMap<String, String>, ClusterSecretError> {
    let mut out = BTreeMap::new();
    for (k, v) in secret.data.iter().flatten() {
        let text = String::from_utf8(v.0.clone()).map_err(|_| ClusterSecretError::NotText {
            secret: secret.name_any(),
            field: field_name(k),
        })?;
        out.insert(k.clone(), text);
    }
    for (k, v) in secret.string_data.iter().flatten() {
        out.insert(k.clone(), v.clone());
    }
    Ok(out)
}

fn field_name(k: &str) -> &'static str {
    ["name", "server", "config", "namespaces", "clusterResources"]
        .into_iter()
        .find(|f| *f == k)
        .unwrap_or("a key")
}

/// A JSON syntax error without the text around it (serde_json's syntax messages quote nothing).
fn syntax(e: &serde_json::Error) -> String {
    format!("{:?} error at line {} column {}", e.classify(), e.line(), e.column()).to_lowercase()
}

struct Reader<'a> {
    secret: &'a str,
}

impl Reader<'_> {
    fn err(&self, field: &str, why: &str) -> ClusterSecretError {
        ClusterSecretError::Field {
            secret: self.secret.to_owned(),
            field: format!("config.{field}"),
            why: why.to_owned(),
        }
    }

    fn string(
        &self,
        obj: &Map<String, Value>,
        field: &str,
    ) -> Result<Option<String>, ClusterSecretError> {
        match obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.err(field, "must be a string")),
        }
    }

    fn auth(&self, config: &Map<String, Value>) -> Result<ClusterAuth, ClusterSecretError> {
        let token = self.string(config, "bearerToken")?;
        let username = self.string(config, "username")?;
        let password = self.string(config, "password")?;
        match (token, username, password) {
            (Some(t), None, None) => Ok(ClusterAuth::Bearer(t)),
            (Some(_), _, _) => {
                Err(self
                    .err("bearerToken", "is set together with username/password; keep one of them"))
            }
            (None, Some(username), Some(password)) => Ok(ClusterAuth::Basic { username, password }),
            (None, Some(_), None) => Err(self.err("password", "is missing (username is set)")),
            (None, None, Some(_)) => Err(self.err("username", "is missing (password is set)")),
            (None, None, None) => Ok(ClusterAuth::CertOrNone),
        }
    }

    fn tls(&self, config: &Map<String, Value>) -> Result<TlsConfig, ClusterSecretError> {
        let tls = match config.get("tlsClientConfig") {
            None | Some(Value::Null) => return Ok(TlsConfig::default()),
            Some(Value::Object(o)) => o,
            Some(_) => return Err(self.err("tlsClientConfig", "must be a JSON object")),
        };
        let insecure = match tls.get("insecure") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(self.err("tlsClientConfig.insecure", "must be true or false")),
        };
        let pem = |field: &str| -> Result<Option<String>, ClusterSecretError> {
            let Some(text) = self.string(tls, field).map_err(|_| {
                self.err(&format!("tlsClientConfig.{field}"), "must be a base64 string")
            })?
            else {
                return Ok(None);
            };
            let bytes =
                base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|_| {
                    self.err(&format!("tlsClientConfig.{field}"), "is not valid base64")
                })?;
            match String::from_utf8(bytes) {
                Ok(pem) if pem.contains("-----BEGIN ") => Ok(Some(pem)),
                _ => Err(self.err(
                    &format!("tlsClientConfig.{field}"),
                    "does not decode to PEM (base64 of a -----BEGIN ... block is expected)",
                )),
            }
        };
        let out = TlsConfig {
            ca_pem: pem("caData")?,
            cert_pem: pem("certData")?,
            key_pem: pem("keyData")?,
            insecure,
            server_name: self
                .string(tls, "serverName")
                .map_err(|_| self.err("tlsClientConfig.serverName", "must be a string"))?,
        };
        if out.cert_pem.is_some() != out.key_pem.is_some() {
            return Err(self.err(
                "tlsClientConfig",
                "has only one of certData and keyData; a client certificate needs both",
            ));
        }
        Ok(out)
    }
}

/// A kubeconfig for the cluster (the form kube's client builder reads, PEM checks included).
pub fn kubeconfig(spec: &ClusterSpec) -> Result<kube::config::Kubeconfig, ClusterSecretError> {
    let b64 = |pem: &Option<String>| {
        pem.as_ref().map(|p| base64::engine::general_purpose::STANDARD.encode(p))
    };
    let mut user = json!({});
    match &spec.auth {
        ClusterAuth::Bearer(token) => user["token"] = json!(token),
        ClusterAuth::Basic { username, password } => {
            user["username"] = json!(username);
            user["password"] = json!(password);
        }
        ClusterAuth::CertOrNone => {}
    }
    if let (Some(cert), Some(key)) = (b64(&spec.tls.cert_pem), b64(&spec.tls.key_pem)) {
        user["client-certificate-data"] = json!(cert);
        user["client-key-data"] = json!(key);
    }
    let mut cluster = json!({"server": spec.server});
    if let Some(ca) = b64(&spec.tls.ca_pem) {
        cluster["certificate-authority-data"] = json!(ca);
    }
    if spec.tls.insecure {
        cluster["insecure-skip-tls-verify"] = json!(true);
    }
    if let Some(name) = &spec.tls.server_name {
        cluster["tls-server-name"] = json!(name);
    }
    let doc = json!({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    });
    serde_json::from_value(doc).map_err(|_| ClusterSecretError::Field {
        secret: spec.secret.clone(),
        field: "server".into(),
        why: "does not make a usable kubeconfig".into(),
    })
}

#[cfg(test)]
#[path = "secret_tests.rs"]
mod tests;
