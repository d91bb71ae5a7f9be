//! Notifications and commit statuses, configured the way Argo CD Notifications is, so existing
//! configs carry over.
//!
//! # The config format
//!
//! The ConfigMap `ferry-notifications` in Ferry's namespace (Argo CD's `argocd-notifications-cm`)
//! holds three kinds of keys, and `$key` references in them are resolved from the Secret
//! `ferry-notifications-secret` (Argo CD's `argocd-notifications-secret`):
//!
//! - `service.<type>` or `service.<type>.<name>`: a sink, YAML. The service's name is `<name>`
//!   (or `<type>` when there is none). Types and fields:
//!   - `webhook`: `url`, `headers` (`[{name, value}]`), `secret` (Ferry's: signs the body as
//!     `X-Ferry-Signature: sha256=<hex HMAC-SHA256>`);
//!   - `slack`: `webhookUrl` (an incoming webhook), `username`, `icon`;
//!   - `teams`: `recipientUrls` (`{recipient: url}`) and/or `webhookUrl`;
//!   - `email`: `host`, `port`, `from`, `username`, `password`, `tls`
//!     (`starttls` by default, `implicit`, or `none` for loopback relays);
//!   - `github`, `gitlab`, `gitea`, `bitbucket`: commit statuses; `token` (Bitbucket:
//!     `username` + `appPassword`, or `token`), `baseURL` (`enterpriseBaseURL` is read for
//!     GitHub too; Gitea and a self-hosted GitLab default to the scheme and host of the app's
//!     `repoURL`), `context` (the status's name, `ferry/<app>` by default).
//! - `template.<name>`: YAML with `title`, `message`, `email.subject`, `slack.attachments` /
//!   `slack.blocks` (JSON text), `teams.title`, `webhook.<service>.{method, path, body}` and
//!   `<github|gitlab|gitea|bitbucket>.status.{state, label, targetURL, description}`. Strings are
//!   templates (see [`gotmpl`]): `{{.app.metadata.name}}`, `{{.app.status.sync.revision}}`,
//!   `{{.context.argocdUrl}}`, plus Ferry's `{{.commit.author}}`, `{{.commit.message}}`,
//!   `{{.commit.revision}}`, `{{.commit.short}}`, `{{.changes}}`, `{{.trigger}}`, `{{.url}}`,
//!   `{{.serviceType}}` and `{{.recipient}}`.
//! - `trigger.<name>`: a YAML list of `{when, send, oncePer}` (see [`trigger`]).
//! - `context`: YAML map for `{{.context.*}}` (`argocdUrl`, `ferryUrl`).
//!
//! Built-in triggers and their templates need no config (see [`builtin`]): `on-sync-succeeded`,
//! `on-sync-failed`, `on-sync-running`, `on-health-degraded`, `on-deployed`, `on-drift-healed`,
//! `on-approval-required`; a ConfigMap key of the same name replaces one.
//!
//! An Application subscribes with annotations, Ferry's or Argo CD's:
//! `notifications.ferry.dev/subscribe.<trigger>.<service>: "<recipient>;<recipient>"` or
//! `notifications.argoproj.io/subscribe.<trigger>.<service>: ...` (see [`subscribe`]).
//!
//! # Layout
//!
//! Pure: [`config`] (parse and validate), [`trigger`] (CEL conditions), [`gotmpl`] and
//! [`template`] (rendering), [`subscribe`], [`ledger`] (deduplication), [`payload`] (the chat and
//! webhook shapes), [`status`] (commit-status providers: request shapes), [`repo`] (owner and
//! repository from a `repoURL`), [`retry`], [`limit`], [`mask`]. I/O at the edges: [`send`]
//! (HTTP and SMTP), [`notifier`] (queue, workers, retries, the delivery log, metrics).

pub mod builtin;
pub mod comment;
pub mod config;
pub mod event;
pub mod gotmpl;
pub mod ledger;
pub mod limit;
pub mod log;
pub mod mask;
pub mod metrics;
pub mod notifier;
pub mod payload;
pub mod plan;
pub mod repo;
pub mod retry;
pub mod send;
pub mod service;
pub mod status;
pub mod subscribe;
pub mod template;
pub mod trigger;

pub use config::{CONFIGMAP, Config, ConfigError, SECRET};
pub use event::AppEvent;
pub use log::{DeliveryLog, LogEntry, Outcome};
pub use notifier::{Notifier, Options};
