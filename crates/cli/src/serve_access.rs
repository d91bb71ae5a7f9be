//! The flags `ferry up` and `ferry controller` share for who may use the API and where the
//! audit trail goes.

use anyhow::{Context, bail};
use ferry_engine::audit::{AuditTrail, LogTarget, trail::DEFAULT_RING_SIZE};

#[derive(clap::Args, Clone, Debug, Default)]
pub struct AccessArgs {
    /// A bearer token with role:admin (required for a non-loopback --listen unless tokens from
    /// `ferry token create` or OIDC are used).
    #[arg(long, env = "FERRY_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// Accept OIDC ID tokens from this issuer (its /.well-known/openid-configuration is read).
    #[arg(long, env = "FERRY_OIDC_ISSUER", requires = "oidc_audience")]
    pub oidc_issuer: Option<String>,
    /// The audience (client id) OIDC tokens must be for.
    #[arg(long, env = "FERRY_OIDC_AUDIENCE", requires = "oidc_issuer")]
    pub oidc_audience: Option<String>,
    /// Refuse requests without a token even on loopback.
    #[arg(long)]
    pub auth_required: bool,
    /// Also write the audit trail as JSON lines to this file (rotated at 50 MiB, 5 kept), or
    /// `-` for stdout. The API keeps the most recent records either way.
    #[arg(long, env = "FERRY_AUDIT_LOG")]
    pub audit_log: Option<String>,
}

impl AccessArgs {
    /// The audit trail the engine and the API share.
    pub fn audit_trail(&self) -> anyhow::Result<AuditTrail> {
        match self.audit_log.as_deref().filter(|p| !p.is_empty()) {
            None => Ok(AuditTrail::in_memory(DEFAULT_RING_SIZE)),
            Some(raw) => AuditTrail::with_log(DEFAULT_RING_SIZE, LogTarget::parse(raw))
                .with_context(|| {
                    format!("--audit-log {raw}: is the directory there and writable?")
                }),
        }
    }

    /// Applies the flags to the API; authentication is required beyond loopback.
    pub fn apply(
        &self,
        builder: ferry_api::ApiStateBuilder,
        listen: std::net::SocketAddr,
    ) -> anyhow::Result<ferry_api::ApiStateBuilder> {
        if self.api_token.as_deref().is_some_and(|t| t.len() < 16) {
            bail!(
                "--api-token is shorter than 16 characters; use a random one (`openssl rand -hex 32`)"
            );
        }
        let oidc = match (&self.oidc_issuer, &self.oidc_audience) {
            (Some(issuer), Some(audience)) => Some(ferry_api::OidcConfig::new(issuer, audience)),
            _ => None,
        };
        let required = self.auth_required || ferry_api::ApiState::requires_token(&listen);
        Ok(builder.token(self.api_token.clone()).oidc(oidc).require_auth(required).listen(listen))
    }
}

/// One line saying who may use the API, for the start-up output.
pub fn describe(state: &ferry_api::ApiState) -> String {
    if state.token_required() {
        "authentication required (--api-token, `ferry token create`, or OIDC); roles from ConfigMap ferry-rbac-cm".into()
    } else {
        "OPEN: no token needed on this loopback address (anyone on this machine may use it); --api-token or --auth-required closes it".into()
    }
}
