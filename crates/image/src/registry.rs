//! A small client for the OCI distribution API: list an image's tags, following pagination
//! (`Link: <…>; rel="next"`) and the auth challenge (`WWW-Authenticate: Bearer …` token flow, or
//! `Basic`), with every response bounded.
//!
//! # Guarantees
//! - Bodies larger than [`RegistryConfig::max_body_bytes`], more than
//!   [`RegistryConfig::max_tags`] tags or [`RegistryConfig::max_pages`] pages are errors, never
//!   truncated lists (a partial list could choose an older tag).
//! - Passwords and tokens never appear in errors or `Debug` output.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::reference::normalize_name;

/// Registry account for the token flow or basic auth.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Registries (`host:port`) spoken to over plain HTTP, like a local test registry.
    pub plain_http_hosts: Vec<String>,
    pub page_size: usize,
    pub max_tags: usize,
    pub max_pages: usize,
    pub max_body_bytes: usize,
    pub timeout: Duration,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            plain_http_hosts: Vec::new(),
            page_size: 1000,
            max_tags: 50_000,
            max_pages: 200,
            max_body_bytes: 8 * 1024 * 1024,
            timeout: Duration::from_secs(30),
        }
    }
}

impl RegistryConfig {
    pub fn plain_http(mut self, host: impl Into<String>) -> Self {
        self.plain_http_hosts.push(host.into());
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("building the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("GET {url}: {source}")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("GET {url}: {status}: {body}")]
    Status { url: String, status: u16, body: String },
    #[error("GET {url}: the response is larger than {max} bytes")]
    TooLarge { url: String, max: usize },
    #[error("{image}: more than {max} tags")]
    TooManyTags { image: String, max: usize },
    #[error("{image}: more than {max} pages of tags")]
    TooManyPages { image: String, max: usize },
    #[error("GET {url}: the response is not a tag list: {message}")]
    Garbage { url: String, message: String },
    #[error("GET {url}: unsupported or malformed auth challenge {challenge:?}")]
    Challenge { url: String, challenge: String },
    #[error("GET {url}: the response names another repository ({found:?})")]
    WrongRepository { url: String, found: String },
}

pub struct RegistryClient {
    http: reqwest::Client,
    config: RegistryConfig,
}

#[derive(Deserialize)]
struct TagList {
    name: String,
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    token: Option<String>,
    access_token: Option<String>,
}

enum Auth {
    None,
    Basic,
    Bearer(String),
}

/// Where a session talks to: scheme + host, the repository path, and its credentials.
pub struct Session<'a> {
    client: &'a RegistryClient,
    image: String,
    base: String,
    path: String,
    credentials: Option<Credentials>,
    auth: Auth,
}

/// A response body within the size cap, its next-page link and its content digest header.
struct Fetched {
    body: Vec<u8>,
    next: Option<String>,
    digest: Option<String>,
}

impl RegistryClient {
    pub fn new(config: RegistryConfig) -> Result<RegistryClient, RegistryError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            // Redirects are followed for blobs (storage backends redirect to a CDN).
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(RegistryError::Client)?;
        Ok(RegistryClient { http, config })
    }

    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// A session for `image` (a name such as `ghcr.io/org/app` or `nginx`); the auth challenge
    /// is answered once and the token reused by every request of the session. `plain_http`
    /// forces HTTP for this image's registry (besides [`RegistryConfig::plain_http_hosts`]).
    pub fn session(
        &self,
        image: &str,
        credentials: Option<Credentials>,
        plain_http: bool,
    ) -> Session<'_> {
        let normalized = normalize_name(image);
        let (domain, path) =
            normalized.split_once('/').expect("a normalized name has a registry and a path");
        let host = if domain == "docker.io" { "registry-1.docker.io" } else { domain };
        let plain = plain_http || self.config.plain_http_hosts.iter().any(|h| h == host);
        let scheme = if plain { "http" } else { "https" };
        Session {
            client: self,
            image: image.to_string(),
            base: format!("{scheme}://{host}"),
            path: path.to_string(),
            credentials,
            auth: Auth::None,
        }
    }

    /// Every tag of `image`, in registry order. See [`Session::tags`].
    pub async fn list_tags(
        &self,
        image: &str,
        credentials: Option<&Credentials>,
    ) -> Result<Vec<String>, RegistryError> {
        self.session(image, credentials.cloned(), false).tags().await
    }
}

/// Media types of a single-platform manifest and of an index, all asked for at once.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    manifests: Option<Vec<PlatformDescriptor>>,
}

#[derive(Deserialize)]
struct Descriptor {
    digest: String,
}

#[derive(Deserialize)]
struct PlatformDescriptor {
    digest: String,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

#[derive(Deserialize)]
struct ImageConfig {
    #[serde(default)]
    created: Option<String>,
}

impl Session<'_> {
    /// Every tag, in registry order, following `Link` pagination.
    pub async fn tags(&mut self) -> Result<Vec<String>, RegistryError> {
        let config = &self.client.config;
        let mut url = format!("{}/v2/{}/tags/list?n={}", self.base, self.path, config.page_size);
        let mut tags = Vec::new();
        for _ in 0..config.max_pages {
            let fetched = self.get(&url, None).await?;
            let page: TagList = serde_json::from_slice(&fetched.body).map_err(|source| {
                RegistryError::Garbage { url: url.clone(), message: source.to_string() }
            })?;
            if page.name != self.path {
                return Err(RegistryError::WrongRepository { url, found: page.name });
            }
            tags.extend(page.tags.unwrap_or_default());
            if tags.len() > config.max_tags {
                return Err(RegistryError::TooManyTags {
                    image: self.image.clone(),
                    max: config.max_tags,
                });
            }
            match fetched.next {
                Some(next) if next.starts_with('/') => url = format!("{}{next}", self.base),
                Some(next) => url = next,
                None => return Ok(tags),
            }
        }
        Err(RegistryError::TooManyPages { image: self.image.clone(), max: config.max_pages })
    }

    /// The digest of the manifest `tag` points at (`sha256:…`): the registry's
    /// `Docker-Content-Digest`, checked against the body it sent.
    pub async fn digest(&mut self, tag: &str) -> Result<String, RegistryError> {
        let url = format!("{}/v2/{}/manifests/{tag}", self.base, self.path);
        let fetched = self.get(&url, Some(MANIFEST_ACCEPT)).await?;
        let computed = format!("sha256:{}", hex::encode(Sha256::digest(&fetched.body)));
        match fetched.digest {
            Some(header) if header.starts_with("sha256:") && header != computed => {
                Err(RegistryError::Garbage {
                    url,
                    message: format!(
                        "the manifest's digest is {computed}, but the registry says {header}"
                    ),
                })
            }
            Some(header) if !header.starts_with("sha256:") => Ok(header),
            _ => Ok(computed),
        }
    }

    /// When the image `tag` points at was built (its config's `created`); for an index, the
    /// linux/amd64 image or else the first one.
    pub async fn created(&mut self, tag: &str) -> Result<jiff::Timestamp, RegistryError> {
        let mut url = format!("{}/v2/{}/manifests/{tag}", self.base, self.path);
        // An index points at manifests; a manifest never points at another index.
        for _ in 0..2 {
            let fetched = self.get(&url, Some(MANIFEST_ACCEPT)).await?;
            let manifest: Manifest = serde_json::from_slice(&fetched.body).map_err(|source| {
                RegistryError::Garbage { url: url.clone(), message: source.to_string() }
            })?;
            if let Some(config) = manifest.config {
                check_digest(&url, &config.digest)?;
                let blob = format!("{}/v2/{}/blobs/{}", self.base, self.path, config.digest);
                let fetched = self.get(&blob, None).await?;
                let image: ImageConfig =
                    serde_json::from_slice(&fetched.body).map_err(|source| {
                        RegistryError::Garbage { url: blob.clone(), message: source.to_string() }
                    })?;
                let created = image.created.ok_or_else(|| RegistryError::Garbage {
                    url: blob.clone(),
                    message: "the image config has no `created` time".to_string(),
                })?;
                return created.parse().map_err(|source: jiff::Error| RegistryError::Garbage {
                    url: blob,
                    message: format!("`created` {created:?}: {source}"),
                });
            }
            let manifests = manifest.manifests.unwrap_or_default();
            let chosen = manifests
                .iter()
                .find(|m| {
                    m.platform
                        .as_ref()
                        .is_some_and(|p| p.os == "linux" && p.architecture == "amd64")
                })
                .or(manifests.first())
                .ok_or_else(|| RegistryError::Garbage {
                    url: url.clone(),
                    message: "neither an image manifest nor an index with manifests".to_string(),
                })?;
            check_digest(&url, &chosen.digest)?;
            url = format!("{}/v2/{}/manifests/{}", self.base, self.path, chosen.digest);
        }
        Err(RegistryError::Garbage { url, message: "an index inside an index".to_string() })
    }

    /// One GET, answering an auth challenge once: the first one of the session, or a later one
    /// when a token expired (a 401 despite a token).
    async fn get(&mut self, url: &str, accept: Option<&str>) -> Result<Fetched, RegistryError> {
        for attempt in 0..2 {
            let mut request = self.client.http.get(url);
            if let Some(accept) = accept {
                request = request.header(reqwest::header::ACCEPT, accept);
            }
            request = match (&self.auth, &self.credentials) {
                (Auth::Bearer(token), _) => request.bearer_auth(token),
                (Auth::Basic, Some(creds)) => {
                    request.basic_auth(&creds.username, Some(&creds.password))
                }
                _ => request,
            };
            let response = request
                .send()
                .await
                .map_err(|source| RegistryError::Request { url: url.to_string(), source })?;
            let status = response.status();
            let retry_basic = matches!(self.auth, Auth::Basic);
            if status == reqwest::StatusCode::UNAUTHORIZED && attempt == 0 && !retry_basic {
                let challenge = response
                    .headers()
                    .get(reqwest::header::WWW_AUTHENTICATE)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                self.auth = self
                    .client
                    .answer(url, &challenge, &self.path, self.credentials.as_ref())
                    .await?;
                continue;
            }
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_string)
            };
            let next = header("link").as_deref().and_then(next_link);
            let digest = header("docker-content-digest");
            let body = self.client.read_capped(url, response).await?;
            if !status.is_success() {
                let snippet = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
                return Err(RegistryError::Status {
                    url: url.to_string(),
                    status: status.as_u16(),
                    body: snippet,
                });
            }
            return Ok(Fetched { body, next, digest });
        }
        Err(RegistryError::Status {
            url: url.to_string(),
            status: 401,
            body: "unauthorized after answering the auth challenge".to_string(),
        })
    }
}

/// A digest from a registry goes into a URL: it must look like one.
fn check_digest(url: &str, digest: &str) -> Result<(), RegistryError> {
    let valid = digest.split_once(':').is_some_and(|(algorithm, hex)| {
        !algorithm.is_empty()
            && algorithm.chars().all(|c| {
                c.is_ascii_lowercase()
                    || c.is_ascii_digit()
                    || c == '+'
                    || c == '.'
                    || c == '_'
                    || c == '-'
            })
            && hex.len() >= 32
            && hex.chars().all(|c| c.is_ascii_hexdigit())
    });
    if valid {
        Ok(())
    } else {
        Err(RegistryError::Garbage {
            url: url.to_string(),
            message: format!("{digest:?} is not a digest"),
        })
    }
}

impl RegistryClient {
    async fn answer(
        &self,
        url: &str,
        challenge: &str,
        repository: &str,
        credentials: Option<&Credentials>,
    ) -> Result<Auth, RegistryError> {
        let bad =
            || RegistryError::Challenge { url: url.to_string(), challenge: challenge.to_string() };
        let (scheme, params) = challenge.split_once(' ').ok_or_else(bad)?;
        if scheme.eq_ignore_ascii_case("basic") {
            return Ok(Auth::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(bad());
        }
        let params = parse_challenge_params(params);
        let realm =
            params.iter().find(|(k, _)| k == "realm").map(|(_, v)| v.clone()).ok_or_else(bad)?;
        let mut token_request = self.http.get(&realm);
        let mut query: Vec<(String, String)> = Vec::new();
        if let Some((_, service)) = params.iter().find(|(k, _)| k == "service") {
            query.push(("service".into(), service.clone()));
        }
        let scope = params
            .iter()
            .find(|(k, _)| k == "scope")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| format!("repository:{repository}:pull"));
        query.push(("scope".into(), scope));
        token_request = token_request.query(&query);
        if let Some(creds) = credentials {
            token_request = token_request.basic_auth(&creds.username, Some(&creds.password));
        }
        let response = token_request
            .send()
            .await
            .map_err(|source| RegistryError::Request { url: realm.clone(), source })?;
        let status = response.status();
        let body = self.read_capped(&realm, response).await?;
        if !status.is_success() {
            return Err(RegistryError::Status {
                url: realm,
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
            });
        }
        let token: TokenResponse = serde_json::from_slice(&body).map_err(|source| {
            RegistryError::Garbage { url: realm.clone(), message: source.to_string() }
        })?;
        token.token.or(token.access_token).map(Auth::Bearer).ok_or_else(|| RegistryError::Garbage {
            url: realm,
            message: "the token response has no token".to_string(),
        })
    }

    async fn read_capped(
        &self,
        url: &str,
        mut response: reqwest::Response,
    ) -> Result<Vec<u8>, RegistryError> {
        let max = self.config.max_body_bytes;
        if response.content_length().is_some_and(|length| length as usize > max) {
            return Err(RegistryError::TooLarge { url: url.to_string(), max });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|source| RegistryError::Request { url: url.to_string(), source })?
        {
            if body.len() + chunk.len() > max {
                return Err(RegistryError::TooLarge { url: url.to_string(), max });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// The host serving `image`'s registry API (`registry-1.docker.io` for Docker Hub).
pub fn registry_host(image: &str) -> String {
    let normalized = normalize_name(image);
    let domain = normalized.split('/').next().unwrap_or_default();
    if domain == "docker.io" { "registry-1.docker.io".to_string() } else { domain.to_string() }
}

/// The target of `rel="next"` in a `Link` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|link| {
        let (target, params) = link.split_once(';')?;
        let is_next = params.split(';').any(|param| {
            param.trim().replace(' ', "") == "rel=\"next\"" || param.trim() == "rel=next"
        });
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_string())
    })
}

/// `realm="https://auth",service="registry",scope="repository:a:pull"` → pairs.
fn parse_challenge_params(params: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = params.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((value, remaining)) => (value.to_string(), remaining),
                None => (quoted.to_string(), ""),
            }
        } else {
            match after.split_once(',') {
                Some((value, remaining)) => (value.trim().to_string(), remaining),
                None => (after.trim().to_string(), ""),
            }
        };
        out.push((key, value));
        rest = remaining.trim_start_matches(',').trim();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_link_is_read_from_the_link_header() {
        assert_eq!(
            next_link("</v2/app/tags/list?last=b&n=2>; rel=\"next\""),
            Some("/v2/app/tags/list?last=b&n=2".to_string())
        );
        assert_eq!(next_link("</other>; rel=\"prev\""), None);
    }

    #[test]
    fn bearer_challenge_parameters_are_parsed() {
        let params = parse_challenge_params(
            r#"realm="https://auth.example.com/token",service="registry.example.com",scope="repository:org/app:pull""#,
        );
        assert_eq!(
            params,
            [
                ("realm".to_string(), "https://auth.example.com/token".to_string()),
                ("service".to_string(), "registry.example.com".to_string()),
                ("scope".to_string(), "repository:org/app:pull".to_string()),
            ]
        );
    }

    #[test]
    fn credentials_do_not_print_their_password() {
        let creds = Credentials { username: "bot".into(), password: "s3cret".into() };
        assert!(!format!("{creds:?}").contains("s3cret"));
    }
}
