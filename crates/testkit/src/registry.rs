//! A real registry for tests: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1 with a
//! port chosen at runtime, killed with its process group on drop; images pushed through the
//! registry HTTP API; a token server; and a server that answers garbage (test only).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use crate::server::{Server, start_on_free_port};

pub struct Registry {
    _server: Server,
    pub host: String,
    _dir: tempfile::TempDir,
}

pub fn start_registry() -> Registry {
    start_registry_with("", &[])
}

/// A registry that asks for `username`/`password` (htpasswd basic auth) on every request.
pub fn start_registry_with_account(username: &str, password: &str) -> Registry {
    let hash = bcrypt::hash(password, 4).expect("bcrypt hash");
    start_registry_with(
        "auth:\n  htpasswd:\n    realm: ferry-test\n    path: {dir}/htpasswd\n",
        &[("htpasswd", format!("{username}:{hash}\n"))],
    )
}

/// `extra_config` is appended to the configuration with `{dir}` replaced by the registry's
/// directory, where `files` (name, content) are written.
fn start_registry_with(extra_config: &str, files: &[(&str, String)]) -> Registry {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).expect("registry file written");
    }
    let extra_config = extra_config.replace("{dir}", &dir.path().display().to_string());
    let config = dir.path().join("config.yml");
    let data = dir.path().join("data");
    let server = start_on_free_port("docker-registry", "apt-get install docker-registry", |port| {
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n{extra_config}",
                data.display()
            ),
        )
        .expect("writable");
        let mut command = Command::new("docker-registry");
        command.arg("serve").arg(&config);
        command
    })
    .unwrap_or_else(|error| panic!("{error}"));
    let host = format!("127.0.0.1:{}", server.port);
    Registry { _server: server, host, _dir: dir }
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Uploads a blob with the monolithic upload flow (POST, then PUT with the digest).
pub async fn push_blob(http: &reqwest::Client, host: &str, name: &str, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let started = http
        .post(format!("http://{host}/v2/{name}/blobs/uploads/"))
        .send()
        .await
        .expect("upload starts");
    assert_eq!(started.status(), 202, "blob upload start");
    let location = started.headers()["location"].to_str().expect("ascii").to_string();
    let location =
        if location.starts_with('/') { format!("http://{host}{location}") } else { location };
    let separator = if location.contains('?') { '&' } else { '?' };
    let done = http
        .put(format!("{location}{separator}digest={digest}"))
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .expect("upload finishes");
    assert_eq!(done.status(), 201, "blob upload");
    digest
}

/// Pushes a tiny OCI image (one config, one layer) under `tag`.
pub async fn push_image(host: &str, name: &str, tag: &str) -> String {
    push_image_created(host, name, tag, "2026-01-01T00:00:00Z").await
}

/// Pushes a tiny OCI image built at `created` under `tag`; returns the manifest digest.
pub async fn push_image_created(host: &str, name: &str, tag: &str, created: &str) -> String {
    push_image_as(host, None, name, tag, created).await
}

/// `Basic …` for an `Authorization` header.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// Like [`push_image_created`], with an `Authorization` header on every request.
pub async fn push_image_as(
    host: &str,
    authorization: Option<&str>,
    name: &str,
    tag: &str,
    created: &str,
) -> String {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(authorization) = authorization {
        headers
            .insert(reqwest::header::AUTHORIZATION, authorization.parse().expect("a header value"));
    }
    let http = reqwest::Client::builder().default_headers(headers).build().expect("http client");
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","created":"{created}","config":{{"Labels":{{"tag":"{tag}"}}}},"rootfs":{{"type":"layers","diff_ids":[]}}}}"#
    );
    let layer = format!("layer of {tag}");
    let config_digest = push_blob(&http, host, name, config.as_bytes()).await;
    let layer_digest = push_blob(&http, host, name, layer.as_bytes()).await;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer.len()}]
    });
    let manifest = manifest.to_string();
    let response = http
        .put(format!("http://{host}/v2/{name}/manifests/{tag}"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send()
        .await
        .expect("manifest push");
    assert_eq!(
        response.status(),
        201,
        "manifest push: {}",
        response.text().await.unwrap_or_default()
    );
    sha256(manifest.as_bytes())
}

/// A server that answers every request with `response` (for garbage a registry could send).
pub fn garbage_server(response: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let host = listener.local_addr().expect("address").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(response);
        }
    });
    host
}

/// A registry behind a token server (the Docker token flow): the registry answers
/// `401 Bearer realm=…`, the token server hands out JWTs signed (by `openssl`) with a
/// self-signed certificate the registry trusts, to `username`/`password` only.
pub struct TokenRegistry {
    pub registry: Registry,
    pub token_host: String,
    /// Requests the token server answered with a token.
    pub issued: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

pub fn start_token_registry(username: &str, password: &str) -> TokenRegistry {
    let keys = tempfile::tempdir().expect("temp dir");
    let key = keys.path().join("key.pem");
    let cert = keys.path().join("root.pem");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=ferry-test-token",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|error| panic!("openssl is required (apt-get install openssl): {error}"));
    assert!(made.success(), "openssl req failed");
    let der = Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(&cert)
        .output()
        .expect("openssl x509");
    assert!(der.status.success(), "openssl x509 failed");
    let root = std::fs::read_to_string(&cert).expect("certificate");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let token_host = listener.local_addr().expect("address").to_string();
    let issued = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let expected = basic(username, password);
    let counter = issued.clone();
    let x5c = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&der.stdout)
    };
    std::thread::spawn(move || {
        let _keys = keys;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = vec![0u8; 16 * 1024];
            let read = stream.read(&mut buffer).unwrap_or(0);
            let request = String::from_utf8_lossy(&buffer[..read]).into_owned();
            let authorized = request.lines().any(|line| {
                line.split_once(':').is_some_and(|(name, value)| {
                    name.eq_ignore_ascii_case("authorization") && value.trim() == expected
                })
            });
            let response = if authorized {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let scope = request
                    .split_whitespace()
                    .nth(1)
                    .and_then(|target| target.split_once('?'))
                    .and_then(|(_, query)| {
                        query.split('&').find_map(|pair| pair.strip_prefix("scope="))
                    })
                    .map(|scope| scope.replace("%3A", ":").replace("%2C", ",").replace("%2F", "/"))
                    .unwrap_or_default();
                let token = sign_token(&key, &x5c, &scope);
                let body = format!(r#"{{"token":"{token}","expires_in":300}}"#);
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string()
            };
            let _ = stream.write_all(response.as_bytes());
        }
    });
    let registry = start_registry_with(
        &format!(
            "auth:\n  token:\n    realm: http://{token_host}/token\n    service: ferry-test-registry\n    issuer: ferry-test-issuer\n    rootcertbundle: {{dir}}/root.pem\n"
        ),
        &[("root.pem", root)],
    );
    TokenRegistry { registry, token_host, issued }
}

/// A registry JWT for `scope` (`repository:NAME:ACTIONS`), RS256-signed by `openssl`.
fn sign_token(key: &std::path::Path, x5c: &str, scope: &str) -> String {
    use base64::Engine as _;
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let access: Vec<serde_json::Value> = scope
        .split(' ')
        .filter_map(|scope| {
            let mut parts = scope.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            Some(serde_json::json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
        })
        .collect();
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
    let claims = serde_json::json!({
        "iss": "ferry-test-issuer", "sub": "bot", "aud": "ferry-test-registry",
        "exp": now + 300, "nbf": now - 10, "iat": now - 10, "jti": format!("{now}-{}", access.len()),
        "access": access
    });
    let input = format!("{}.{}", url.encode(header.to_string()), url.encode(claims.to_string()));
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-binary", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl dgst");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("sign input");
    let output = child.wait_with_output().expect("openssl dgst output");
    assert!(output.status.success(), "openssl dgst failed");
    format!("{input}.{}", url.encode(output.stdout))
}

/// A token for `scope` from the token server, as a client would get it.
pub async fn fetch_token(token_host: &str, authorization: &str, scope: &str) -> String {
    let response = reqwest::Client::new()
        .get(format!("http://{token_host}/token"))
        .query(&[("service", "ferry-test-registry"), ("scope", scope)])
        .header(reqwest::header::AUTHORIZATION, authorization)
        .send()
        .await
        .expect("token request");
    assert_eq!(response.status(), 200, "token request");
    let body: serde_json::Value =
        serde_json::from_slice(&response.bytes().await.expect("token body")).expect("token json");
    body["token"].as_str().expect("a token").to_string()
}
