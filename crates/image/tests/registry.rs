//! The registry client against a real registry: Debian's `docker-registry` (distribution 2.8)
//! on 127.0.0.1 with a port chosen at runtime, images pushed through the registry HTTP API.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry_image::policy::{ImagePolicy, Policy};
use ferry_image::registry::{RegistryClient, RegistryConfig, RegistryError};
use sha2::{Digest, Sha256};

struct Registry {
    child: Child,
    host: String,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

fn start_registry() -> Registry {
    let dir = tempfile::tempdir().expect("temp dir");
    for _ in 0..5 {
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .expect("writable");
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("docker-registry is required (apt-get install docker-registry): {error}")
            });
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Registry { child, host: format!("127.0.0.1:{port}"), _dir: dir };
            }
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("docker-registry did not start on 127.0.0.1");
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Uploads a blob with the monolithic upload flow (POST, then PUT with the digest).
async fn push_blob(http: &reqwest::Client, host: &str, name: &str, bytes: &[u8]) -> String {
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
async fn push_image(host: &str, name: &str, tag: &str) {
    let http = reqwest::Client::new();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Labels":{{"tag":"{tag}"}}}},"rootfs":{{"type":"layers","diff_ids":[]}}}}"#
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
    let response = http
        .put(format!("http://{host}/v2/{name}/manifests/{tag}"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_string())
        .send()
        .await
        .expect("manifest push");
    assert_eq!(
        response.status(),
        201,
        "manifest push: {}",
        response.text().await.unwrap_or_default()
    );
}

fn client(host: &str, tune: impl FnOnce(RegistryConfig) -> RegistryConfig) -> RegistryClient {
    RegistryClient::new(tune(RegistryConfig::default().plain_http(host))).expect("client")
}

#[tokio::test]
async fn tags_are_listed_across_pages_and_the_policy_picks_the_newest_in_range() {
    let registry = start_registry();
    let pushed = ["1.0.0", "1.2.0", "1.10.0", "2.0.0-rc.1", "latest"];
    for tag in pushed {
        push_image(&registry.host, "team/app", tag).await;
    }
    let image = format!("{}/team/app", registry.host);

    let tags = client(&registry.host, |config| RegistryConfig { page_size: 2, ..config })
        .list_tags(&image, None)
        .await
        .expect("tags listed");

    let mut sorted = tags.clone();
    sorted.sort();
    let mut expected: Vec<String> = pushed.iter().map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(sorted, expected);
    let policy = ImagePolicy { filter_tags: None, policy: Policy::Semver { range: "^1".into() } }
        .compile()
        .expect("valid");
    assert_eq!(policy.choose(&tags), Some("1.10.0"));
}

#[tokio::test]
async fn a_huge_tag_list_is_an_error_not_a_truncated_list() {
    let registry = start_registry();
    for tag in ["a", "b", "c", "d"] {
        push_image(&registry.host, "app", tag).await;
    }
    let image = format!("{}/app", registry.host);
    let error =
        client(&registry.host, |config| RegistryConfig { page_size: 2, max_tags: 3, ..config })
            .list_tags(&image, None)
            .await
            .expect_err("bounded");
    assert!(matches!(error, RegistryError::TooManyTags { max: 3, .. }), "{error}");
}

#[tokio::test]
async fn an_unknown_repository_is_an_error_naming_the_url() {
    let registry = start_registry();
    let image = format!("{}/nobody/here", registry.host);
    let error =
        client(&registry.host, |config| config).list_tags(&image, None).await.expect_err("404");
    let message = error.to_string();
    assert!(matches!(error, RegistryError::Status { status: 404, .. }), "{message}");
    assert!(message.contains("/v2/nobody/here/tags/list"), "{message}");
}

/// A server that answers every request with `response` (for garbage a registry could send).
fn garbage_server(response: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let host = listener.local_addr().expect("address").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(response);
        }
    });
    host
}

#[tokio::test]
async fn a_registry_that_returns_garbage_or_too_much_is_an_error() {
    let garbage = garbage_server(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot json!");
    let error = client(&garbage, |config| config)
        .list_tags(&format!("{garbage}/app"), None)
        .await
        .expect_err("garbage");
    assert!(matches!(error, RegistryError::Garbage { .. }), "{error}");

    let huge = garbage_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\nConnection: close\r\n\r\n{\"name\":",
    );
    let error = client(&huge, |config| config)
        .list_tags(&format!("{huge}/app"), None)
        .await
        .expect_err("too large");
    assert!(matches!(error, RegistryError::TooLarge { .. }), "{error}");
}
