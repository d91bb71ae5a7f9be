//! GitHub App credentials: an RS256 JWT signed with the app's private key is exchanged at
//! `{base}/app/installations/{id}/access_tokens` for an installation token, which git uses as
//! the HTTP password of `x-access-token`. Tokens are cached until five minutes before they
//! expire, so one exchange serves every fetch of the hour.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use ferry_source::Secret as Hidden;
use serde::Deserialize;

use super::secret::GithubApp;

/// A token is renewed this long before GitHub says it expires.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    #[error(
        "the GitHub App private key of Secret {secret} is not an RSA private key in PEM form; paste the key GitHub generated for the app"
    )]
    Key { secret: String },
    #[error("cannot sign the GitHub App token for Secret {secret}: {source}")]
    Sign {
        secret: String,
        #[source]
        source: jsonwebtoken::errors::Error,
    },
    #[error(
        "cannot reach {url} to exchange the GitHub App token of Secret {secret}: {source}; check githubAppEnterpriseBaseUrl and the network"
    )]
    Request {
        secret: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error(
        "{url} refused the GitHub App token of Secret {secret} ({status}{message}); check githubAppID, githubAppInstallationID and githubAppPrivateKey"
    )]
    Refused { secret: String, url: String, status: u16, message: String },
}

#[derive(Deserialize)]
struct TokenResponse {
    token: String,
    expires_at: jiff::Timestamp,
}

#[derive(Deserialize)]
struct ErrorResponse {
    message: String,
}

#[derive(serde::Serialize)]
struct Claims {
    iat: i64,
    exp: i64,
    iss: String,
}

type CacheKey = (String, u64, u64);

/// Installation tokens by (API base, app, installation).
pub struct GithubTokens {
    http: reqwest::Client,
    cache: Mutex<HashMap<CacheKey, (Hidden, jiff::Timestamp)>>,
}

impl Default for GithubTokens {
    fn default() -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self { http, cache: Mutex::default() }
    }
}

impl GithubTokens {
    /// A valid installation token for `app` (from `secret`, named in errors).
    pub async fn token(&self, secret: &str, app: &GithubApp) -> Result<Hidden, GithubError> {
        let key = (app.base_url.clone(), app.app_id, app.installation_id);
        let now = jiff::Timestamp::now();
        let cached = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned();
        if let Some((token, expires)) = cached
            && now + RENEW_BEFORE < expires
        {
            return Ok(token);
        }
        let (token, expires) = self.exchange(secret, app, now).await?;
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(key, (token.clone(), expires));
        Ok(token)
    }

    async fn exchange(
        &self,
        secret: &str,
        app: &GithubApp,
        now: jiff::Timestamp,
    ) -> Result<(Hidden, jiff::Timestamp), GithubError> {
        let jwt = sign(secret, app, now)?;
        let url =
            format!("{}/app/installations/{}/access_tokens", app.base_url, app.installation_id);
        let request =
            |source| GithubError::Request { secret: secret.into(), url: url.clone(), source };
        let response = self
            .http
            .post(&url)
            .bearer_auth(jwt)
            .header("Accept", "application/vnd.github+json")
            .send()
            .await
            .map_err(request)?;
        let status = response.status();
        let body = response.bytes().await.map_err(request)?;
        if !status.is_success() {
            // GitHub's error bodies say why in `message`; nothing else is shown.
            let message = serde_json::from_slice::<ErrorResponse>(&body)
                .map(|e| format!(": {}", e.message.chars().take(200).collect::<String>()))
                .unwrap_or_default();
            return Err(GithubError::Refused {
                secret: secret.into(),
                url,
                status: status.as_u16(),
                message,
            });
        }
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|_| GithubError::Refused {
                secret: secret.into(),
                url: url.clone(),
                status: status.as_u16(),
                message: ": the answer has no token and expires_at".into(),
            })?;
        Ok((Hidden::new(parsed.token), parsed.expires_at))
    }
}

/// The app's JWT: issued a minute in the past (clock skew, as GitHub advises), valid 9 minutes.
fn sign(secret: &str, app: &GithubApp, now: jiff::Timestamp) -> Result<String, GithubError> {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(app.private_key.expose().as_bytes())
        .map_err(|_| GithubError::Key { secret: secret.into() })?;
    let claims = Claims {
        iat: now.as_second() - 60,
        exp: now.as_second() + 540,
        iss: app.app_id.to_string(),
    };
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    jsonwebtoken::encode(&header, &claims, &key)
        .map_err(|source| GithubError::Sign { secret: secret.into(), source })
}
