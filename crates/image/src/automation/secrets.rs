//! Credentials from Kubernetes Secrets: registry accounts from `kubernetes.io/dockerconfigjson`
//! or `username`/`password` keys, Git accounts from `username`/`password` keys. Errors name the
//! Secret and key, never a value.

use std::collections::BTreeMap;

use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;
use serde::Deserialize;

use crate::registry::Credentials;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("Secret {secret}: {message}")]
    Invalid { secret: String, message: String },
    #[error("Secret {secret}: it has no credentials for registry {host} in .dockerconfigjson")]
    NoEntry { secret: String, host: String },
}

pub use crate::git::GitCredentials;

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, DockerAuth>,
}

#[derive(Deserialize)]
struct DockerAuth {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    auth: Option<String>,
}

fn name_of(secret: &Secret) -> String {
    format!(
        "{}/{}",
        secret.metadata.namespace.as_deref().unwrap_or_default(),
        secret.metadata.name.as_deref().unwrap_or_default()
    )
}

fn key<'a>(secret: &'a Secret, key: &str) -> Option<&'a [u8]> {
    secret.data.as_ref().and_then(|data| data.get(key)).map(|bytes| bytes.0.as_slice())
}

fn utf8(secret: &Secret, key_name: &str, bytes: &[u8]) -> Result<String, SecretError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| SecretError::Invalid {
        secret: name_of(secret),
        message: format!("key {key_name} is not UTF-8"),
    })
}

fn username_password(secret: &Secret) -> Result<(String, String), SecretError> {
    match (key(secret, "username"), key(secret, "password")) {
        (Some(username), Some(password)) => {
            Ok((utf8(secret, "username", username)?, utf8(secret, "password", password)?))
        }
        _ => Err(SecretError::Invalid {
            secret: name_of(secret),
            message: "expected keys username and password (or type kubernetes.io/dockerconfigjson)"
                .to_string(),
        }),
    }
}

/// The registry account for `host` (as from [`crate::registry::registry_host`]).
pub fn registry_credentials(secret: &Secret, host: &str) -> Result<Credentials, SecretError> {
    let invalid = |message: String| SecretError::Invalid { secret: name_of(secret), message };
    if secret.type_.as_deref() != Some("kubernetes.io/dockerconfigjson") {
        let (username, password) = username_password(secret)?;
        return Ok(Credentials { username, password });
    }
    let bytes = key(secret, ".dockerconfigjson")
        .ok_or_else(|| invalid("type dockerconfigjson without key .dockerconfigjson".into()))?;
    let config: DockerConfig = serde_json::from_slice(bytes)
        // serde's message may quote input: say where, not what.
        .map_err(|error| {
            invalid(format!(
                "key .dockerconfigjson is not a docker config (line {}, column {})",
                error.line(),
                error.column()
            ))
        })?;
    let hosts_of = |key: &str| {
        let bare = key.trim_start_matches("https://").trim_start_matches("http://");
        bare.split('/').next().unwrap_or_default().to_string()
    };
    let docker_hub = ["index.docker.io", "docker.io", "registry-1.docker.io"];
    let wanted = |entry_host: &str| {
        entry_host == host || (docker_hub.contains(&host) && docker_hub.contains(&entry_host))
    };
    let entry = config
        .auths
        .iter()
        .find(|(key, _)| wanted(&hosts_of(key)))
        .map(|(_, entry)| entry)
        .ok_or_else(|| SecretError::NoEntry { secret: name_of(secret), host: host.to_string() })?;
    if let (Some(username), Some(password)) = (&entry.username, &entry.password) {
        return Ok(Credentials { username: username.clone(), password: password.clone() });
    }
    let auth = entry.auth.as_deref().ok_or_else(|| {
        invalid(format!("the entry for {host} has neither username/password nor auth"))
    })?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            invalid(format!("the auth of the entry for {host} is not base64 of UTF-8"))
        })?;
    let (username, password) = decoded
        .split_once(':')
        .ok_or_else(|| invalid(format!("the auth of the entry for {host} is not user:password")))?;
    Ok(Credentials { username: username.to_string(), password: password.to_string() })
}

/// The Git account in a Secret with `username` and `password` keys.
pub fn git_credentials(secret: &Secret) -> Result<GitCredentials, SecretError> {
    let (username, password) = username_password(secret)?;
    Ok(GitCredentials { username, password })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn secret(type_: Option<&str>, data: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: kube::api::ObjectMeta {
                name: Some("regcred".into()),
                namespace: Some("apps".into()),
                ..Default::default()
            },
            type_: type_.map(str::to_string),
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn a_dockerconfigjson_entry_is_found_by_host_with_auth_or_username() {
        let auth = base64::engine::general_purpose::STANDARD.encode("bot:s3cret");
        let config = format!(
            r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}},"ghcr.io":{{"username":"u","password":"p"}}}}}}"#
        );
        let s = secret(Some("kubernetes.io/dockerconfigjson"), &[(".dockerconfigjson", &config)]);
        let hub = registry_credentials(&s, "registry-1.docker.io").expect("hub entry");
        assert_eq!((hub.username.as_str(), hub.password.as_str()), ("bot", "s3cret"));
        let ghcr = registry_credentials(&s, "ghcr.io").expect("ghcr entry");
        assert_eq!(ghcr.username, "u");
        let missing = registry_credentials(&s, "quay.io").expect_err("no entry").to_string();
        assert_eq!(
            missing,
            "Secret apps/regcred: it has no credentials for registry quay.io in .dockerconfigjson"
        );
    }

    #[test]
    fn a_broken_secret_is_an_error_naming_it_without_its_values() {
        let s = secret(Some("kubernetes.io/dockerconfigjson"), &[(".dockerconfigjson", "{s3cret")]);
        let error = registry_credentials(&s, "ghcr.io").expect_err("garbage").to_string();
        assert!(error.starts_with("Secret apps/regcred: key .dockerconfigjson"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
        let s = secret(Some("kubernetes.io/basic-auth"), &[("username", "bot")]);
        assert!(git_credentials(&s).is_err());
    }

    #[test]
    fn git_credentials_never_show_their_password_in_debug() {
        let creds = GitCredentials { username: "bot".into(), password: "p@ss/w:rd".into() };
        let shown = format!("{creds:?}");
        assert!(!shown.contains("p@ss") && shown.contains("bot"), "{shown}");
    }
}
