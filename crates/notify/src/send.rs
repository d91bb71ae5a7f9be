//! The I/O edge: one HTTP request or one email, sent once, the answer classified for
//! [`crate::retry`]. Errors carry no URL (a Slack or Teams URL is a secret) and no credential.

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::payload::HttpRequest;
use crate::retry::{Answer, parse_retry_after};
use crate::service::{Email, EmailTls};

/// The most of an error answer's body kept for the log.
const SNIPPET: usize = 300;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("the request could not be built: {0}")]
    Build(String),
    #[error("no answer: {0}")]
    Transport(String),
    #[error("HTTP {code}{}", if snippet.is_empty() { String::new() } else { format!(": {snippet}") })]
    Status { code: u16, retry_after: Option<Duration>, snippet: String },
    #[error("SMTP: {message}")]
    Smtp { permanent: bool, message: String },
}

impl SendError {
    pub fn answer(&self) -> Answer {
        match self {
            Self::Build(_) | Self::Smtp { permanent: true, .. } => Answer::Permanent,
            Self::Transport(_) | Self::Smtp { permanent: false, .. } => Answer::Transport,
            Self::Status { code, retry_after, .. } => {
                Answer::Status { code: *code, retry_after: *retry_after }
            }
        }
    }

    pub fn status_code(&self) -> Option<u16> {
        match self {
            Self::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// What a sink answered when it accepted (HTTP status; 250 for SMTP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    pub code: u16,
}

pub async fn http(client: &reqwest::Client, request: &HttpRequest) -> Result<Sent, SendError> {
    let method = reqwest::Method::from_bytes(request.method.as_bytes())
        .map_err(|_| SendError::Build(format!("`{}` is not an HTTP method", request.method)))?;
    let mut builder = client.request(method, &request.url);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let response = builder.body(request.body.clone()).send().await.map_err(|e| {
        if e.is_builder() {
            SendError::Build(e.without_url().to_string())
        } else {
            SendError::Transport(e.without_url().to_string())
        }
    })?;
    let code = response.status().as_u16();
    if response.status().is_success() {
        return Ok(Sent { code });
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, jiff::Timestamp::now()));
    let snippet = snippet(response).await;
    Err(SendError::Status { code, retry_after, snippet })
}

/// The most of a successful answer's body [`http_json`] reads (a page of PR comments).
const MAX_ANSWER: usize = 4 << 20;

/// Sends `request` and reads a successful answer as JSON (a list of comments, say); an answer
/// over 4 MiB or not JSON is an error naming which.
pub async fn http_json(
    client: &reqwest::Client,
    request: &HttpRequest,
) -> Result<serde_json::Value, SendError> {
    let method = reqwest::Method::from_bytes(request.method.as_bytes())
        .map_err(|_| SendError::Build(format!("`{}` is not an HTTP method", request.method)))?;
    let mut builder = client.request(method, &request.url);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let mut response = builder
        .body(request.body.clone())
        .send()
        .await
        .map_err(|e| SendError::Transport(e.without_url().to_string()))?;
    let code = response.status().as_u16();
    if !response.status().is_success() {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, jiff::Timestamp::now()));
        return Err(SendError::Status { code, retry_after, snippet: snippet(response).await });
    }
    let mut bytes = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|e| SendError::Transport(e.without_url().to_string()))?
    {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_ANSWER {
            return Err(SendError::Build(format!("the answer is over {MAX_ANSWER} bytes")));
        }
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| SendError::Build(format!("HTTP {code}: the answer is not JSON: {e}")))
}

async fn snippet(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < SNIPPET {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(SNIPPET);
    String::from_utf8_lossy(&bytes).trim().to_owned()
}

/// One email to `to` through the service's SMTP server.
pub async fn email(
    service: &Email,
    to: &[String],
    subject: &str,
    body: &str,
    timeout: Duration,
) -> Result<Sent, SendError> {
    let build = |what: &str, e: &dyn std::fmt::Display| SendError::Build(format!("{what}: {e}"));
    let from: Mailbox = service.from.parse().map_err(|e| build("`from` is not an address", &e))?;
    let mut message =
        Message::builder().from(from).subject(subject).header(ContentType::TEXT_PLAIN);
    for recipient in to.iter().filter(|r| !r.is_empty()) {
        let mailbox: Mailbox = recipient
            .parse()
            .map_err(|e| build(&format!("`{recipient}` is not an address"), &e))?;
        message = message.to(mailbox);
    }
    let message = message.body(body.to_owned()).map_err(|e| build("the email", &e))?;
    let smtp_err = |e: lettre::transport::smtp::Error| SendError::Smtp {
        permanent: e.is_permanent(),
        message: e.to_string(),
    };
    let builder = match service.tls {
        EmailTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&service.host),
        EmailTls::Starttls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&service.host).map_err(smtp_err)?
        }
        EmailTls::Implicit => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(&service.host).map_err(smtp_err)?
        }
    };
    let mut builder = builder.port(service.port).timeout(Some(timeout));
    if let (Some(user), Some(password)) = (&service.username, &service.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    let response = builder.build().send(message).await.map_err(smtp_err)?;
    Ok(Sent { code: u16::from(response.code()) })
}
