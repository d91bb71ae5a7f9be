//! What the handlers share: the engine, the metrics registry, the token and webhook secrets.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};

use ferry_engine::Engine;
use ferry_source::webhook::{Dedupe, WebhookConfig};
use prometheus_client::registry::Registry;

use crate::access::{Access, OidcConfig};
use crate::metrics::ApiMetrics;

/// Webhook bodies larger than this are refused before they are read (GitHub's pushes are a few
/// KiB; 1 MiB leaves room for big pushes and keeps a flood of bodies cheap).
pub const DEFAULT_WEBHOOK_BODY_LIMIT: usize = 1 << 20;

/// The shared state of the router. Cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    pub(crate) engine: Engine,
    pub(crate) registry: Arc<Registry>,
    pub(crate) metrics: ApiMetrics,
    /// Authentication (API token, stored tokens, OIDC) and the RBAC policy.
    pub(crate) access: Access,
    /// The webhook secrets in use: the start-up configuration, replaced by what the Secret
    /// `ferry-webhook` says while it is watched.
    pub(crate) webhook: Arc<RwLock<Arc<WebhookConfig>>>,
    /// The start-up configuration (restored when the Secret is deleted).
    pub(crate) webhook_base: Arc<WebhookConfig>,
    pub(crate) dedupe: Arc<Mutex<Dedupe>>,
}

impl ApiState {
    /// Starts a builder. `registry` is the one the engine registered its metrics in; the API adds
    /// its own and serves them all at `/metrics`.
    pub fn builder(engine: Engine, registry: Registry) -> ApiStateBuilder {
        let webhook =
            WebhookConfig { max_body_bytes: DEFAULT_WEBHOOK_BODY_LIMIT, ..Default::default() };
        ApiStateBuilder {
            engine,
            registry,
            token: None,
            webhook,
            require_auth: false,
            oidc: None,
            listen: None,
        }
    }

    /// Whether a server bound to `addr` must require a token: anything but loopback.
    pub fn requires_token(addr: &SocketAddr) -> bool {
        !addr.ip().is_loopback()
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Whether a request without a token is refused.
    pub fn token_required(&self) -> bool {
        self.access.required()
    }

    /// Authentication and the RBAC policy.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// Watches the RBAC ConfigMap `ferry-rbac-cm` and the API token Secrets in `namespace`.
    pub fn watch_access(
        &self,
        client: kube::Client,
        namespace: &str,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.access.clone().watch(client, namespace.to_owned())
    }

    /// The webhook secrets in use now.
    pub fn webhook_config(&self) -> Arc<WebhookConfig> {
        self.webhook.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

pub struct ApiStateBuilder {
    engine: Engine,
    registry: Registry,
    token: Option<String>,
    webhook: WebhookConfig,
    require_auth: bool,
    oidc: Option<OidcConfig>,
    listen: Option<SocketAddr>,
}

impl ApiStateBuilder {
    /// Require `Authorization: Bearer TOKEN` on the API. An empty token means none.
    pub fn token(mut self, token: Option<String>) -> Self {
        self.token = token.filter(|t| !t.is_empty());
        self
    }

    /// Refuse requests without a token even when no `--api-token` is set (tokens from `ferry
    /// token create` and OIDC then are the only way in). Implied by a token or an OIDC issuer.
    pub fn require_auth(mut self, required: bool) -> Self {
        self.require_auth = required;
        self
    }

    /// Accept OIDC ID tokens from this issuer.
    pub fn oidc(mut self, config: Option<OidcConfig>) -> Self {
        self.oidc = config;
        self
    }

    /// The address the server is bound to: on loopback, `Host` must name it (DNS rebinding).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// Webhook secrets per provider and the body cap (`max_body_bytes`; 0 means
    /// [`DEFAULT_WEBHOOK_BODY_LIMIT`]). Without this call, and without the Secret `ferry-webhook`
    /// ([`ApiState::watch_webhook_secret`]), every provider is refused (fail closed).
    pub fn webhook(mut self, mut config: WebhookConfig) -> Self {
        if config.max_body_bytes == 0 {
            config.max_body_bytes = DEFAULT_WEBHOOK_BODY_LIMIT;
        }
        self.webhook = config;
        self
    }

    pub fn build(mut self) -> ApiState {
        let metrics = ApiMetrics::new(&mut self.registry);
        ApiState {
            engine: self.engine,
            registry: Arc::new(self.registry),
            metrics,
            access: Access::new(
                self.require_auth || self.token.is_some() || self.oidc.is_some(),
                self.token.map(Arc::from),
                self.oidc,
                self.listen,
            ),
            webhook: Arc::new(RwLock::new(Arc::new(self.webhook.clone()))),
            webhook_base: Arc::new(self.webhook),
            dedupe: Arc::new(Mutex::new(Dedupe::default())),
        }
    }
}
