//! What goes on the wire, as data: an HTTP request, and the JSON shapes of a generic webhook
//! (signed), a Slack incoming webhook and a Microsoft Teams incoming webhook. Pure.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::service::{Slack, Webhook};
use crate::template::Rendered;

/// The largest body a notification sends (a larger one is refused, not cut).
pub const MAX_BODY: usize = 256 * 1024;

/// The header a signed webhook carries: `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Ferry-Signature";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the {what} body is {size} bytes, over the {limit}-byte cap: shorten the template")]
    TooLarge { what: &'static str, size: usize, limit: usize },
    #[error("template's slack.{field} is not JSON: {message}")]
    SlackJson { field: &'static str, message: String },
    #[error(
        "teams recipient `{recipient}` is not in recipientUrls and the service has no webhookUrl"
    )]
    TeamsRecipient { recipient: String },
}

/// One HTTP request. `Debug` shows the method and the header names only: URLs (Slack's) and
/// header values (tokens) may be secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        write!(f, "HttpRequest({} …, headers {names:?}, {} bytes)", self.method, self.body.len())
    }
}

impl HttpRequest {
    pub fn post_json(url: String, body: &Value) -> Self {
        Self {
            method: "POST".into(),
            url,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    pub fn header(&mut self, name: &str, value: &str) {
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    fn capped(self, what: &'static str) -> Result<Self, PayloadError> {
        if self.body.len() > MAX_BODY {
            return Err(PayloadError::TooLarge { what, size: self.body.len(), limit: MAX_BODY });
        }
        Ok(self)
    }
}

/// `sha256=<hex>` of `body` under `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The generic webhook: the template's `webhook.<service>` (method, path appended to the URL,
/// body) or, without one, Ferry's JSON body; custom headers; signed when a secret is set.
pub fn webhook(
    service: &Webhook,
    name: &str,
    rendered: &Rendered,
    default_body: &Value,
) -> Result<HttpRequest, PayloadError> {
    let mut request = match rendered.webhook.get(name) {
        Some(w) => HttpRequest {
            method: w.method.clone(),
            url: format!("{}{}", service.url.trim_end_matches('/'), w.path),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: w.body.clone().into_bytes(),
        },
        None => HttpRequest::post_json(service.url.clone(), default_body),
    };
    for h in &service.headers {
        request.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&h.name));
        request.header(&h.name, &h.value);
    }
    if let Some(secret) = service.secret.as_deref().filter(|s| !s.is_empty()) {
        let signature = sign(secret, &request.body);
        request.header(SIGNATURE_HEADER, &signature);
    }
    request.capped("webhook")
}

/// A Slack incoming webhook: `text`, and the template's attachments and blocks as given.
pub fn slack(
    service: &Slack,
    channel: &str,
    rendered: &Rendered,
) -> Result<HttpRequest, PayloadError> {
    let mut body = json!({"text": rendered.text()});
    let parse = |field: &'static str, text: &str| {
        serde_json::from_str::<Value>(text)
            .map_err(|e| PayloadError::SlackJson { field, message: e.to_string() })
    };
    if let Some(a) = rendered.slack_attachments.as_deref().filter(|s| !s.trim().is_empty()) {
        body["attachments"] = parse("attachments", a)?;
    }
    if let Some(b) = rendered.slack_blocks.as_deref().filter(|s| !s.trim().is_empty()) {
        body["blocks"] = parse("blocks", b)?;
    }
    if !channel.is_empty() {
        body["channel"] = json!(channel);
    }
    if let Some(username) = &service.username {
        body["username"] = json!(username);
    }
    if let Some(icon) = &service.icon {
        let field = if icon.starts_with(':') { "icon_emoji" } else { "icon_url" };
        body[field] = json!(icon);
    }
    HttpRequest::post_json(service.webhook_url.clone(), &body).capped("slack")
}

/// A Teams incoming webhook: a MessageCard with the title, the text, and a button to the app.
pub fn teams(
    service: &crate::service::Teams,
    recipient: &str,
    rendered: &Rendered,
) -> Result<HttpRequest, PayloadError> {
    let url = service
        .recipient_urls
        .get(recipient)
        .or(service.webhook_url.as_ref())
        .ok_or_else(|| PayloadError::TeamsRecipient { recipient: recipient.to_owned() })?;
    let title = rendered.teams_title.clone().unwrap_or_else(|| rendered.title.clone());
    let mut card = json!({
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": title,
        "themeColor": rendered.color.trim_start_matches('#'),
        "title": title,
        "text": rendered.message,
    });
    if !rendered.url.is_empty() {
        card["potentialAction"] = json!([{
            "@type": "OpenUri",
            "name": "Open in Ferry",
            "targets": [{"os": "default", "uri": rendered.url}],
        }]);
    }
    HttpRequest::post_json(url.clone(), &card).capped("teams")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Header;

    fn rendered() -> Rendered {
        Rendered {
            title: "guestbook deployed".into(),
            message: "abc1234 by Ada".into(),
            url: "https://ferry.example/applications/guestbook".into(),
            color: "#18be52".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_signed_webhook_carries_an_hmac_of_exactly_its_body() {
        let service = Webhook {
            url: "http://127.0.0.1:9/hook".into(),
            headers: vec![Header { name: "X-Team".into(), value: "ops".into() }],
            secret: Some("key".into()),
        };
        let request =
            webhook(&service, "ops", &rendered(), &json!({"app": "guestbook"})).expect("builds");
        let signature =
            request.headers.iter().find(|(n, _)| n == SIGNATURE_HEADER).map(|(_, v)| v.clone());
        assert_eq!(signature, Some(sign("key", &request.body)));
        assert!(request.headers.contains(&("X-Team".into(), "ops".into())));
        // RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?").
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn slack_gets_text_channel_and_the_templates_attachments() {
        let service = Slack {
            webhook_url: "http://h/services/T/B/X".into(),
            username: Some("ferry".into()),
            icon: Some(":ship:".into()),
        };
        let mut r = rendered();
        r.slack_attachments = Some("[{\"title\": \"guestbook\"}]".into());
        let request = slack(&service, "#deploys", &r).expect("builds");
        let body: Value = serde_json::from_slice(&request.body).expect("json");
        assert_eq!(
            body,
            json!({"text": "guestbook deployed\nabc1234 by Ada", "attachments": [{"title": "guestbook"}], "channel": "#deploys", "username": "ferry", "icon_emoji": ":ship:"})
        );
        r.slack_blocks = Some("not json".into());
        assert!(matches!(
            slack(&service, "", &r),
            Err(PayloadError::SlackJson { field: "blocks", .. })
        ));
    }

    #[test]
    fn teams_gets_a_message_card_posted_to_the_recipients_url() {
        let service = crate::service::Teams {
            recipient_urls: [("ops".to_owned(), "http://h/webhookb2/x".to_owned())].into(),
            webhook_url: None,
        };
        let request = teams(&service, "ops", &rendered()).expect("builds");
        assert_eq!(request.url, "http://h/webhookb2/x");
        let body: Value = serde_json::from_slice(&request.body).expect("json");
        assert_eq!(body["@type"], "MessageCard");
        assert_eq!(body["themeColor"], "18be52");
        assert_eq!(
            body["potentialAction"][0]["targets"][0]["uri"],
            "https://ferry.example/applications/guestbook"
        );
        assert!(teams(&service, "dev", &rendered()).is_err());
    }
}
