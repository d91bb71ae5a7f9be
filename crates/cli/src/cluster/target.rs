//! The cluster being added, as its kubeconfig describes it: server, TLS settings and (for
//! `--use-kubeconfig-credentials`) the user's own credentials, in the cluster Secret's terms.

use std::path::Path;

use base64::Engine as _;
use kube::config::Kubeconfig;
use serde_json::{Value, json};

use crate::app::connect::{ClusterArgs, Connection, connect};
use crate::app::error::CliError;

/// What the kubeconfig says about the target cluster.
pub struct Target {
    pub server: String,
    /// `tlsClientConfig` (without client credentials).
    pub tls: Value,
    /// The kubeconfig user's credentials in `config` terms (`bearerToken`, `username` …).
    pub credentials: Value,
    pub conn: Connection,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Reads `path` (context `context`) and connects to the cluster it names.
pub async fn read(path: &Path, context: Option<&str>) -> Result<Target, CliError> {
    let bad = |message: String| CliError::BadKubeconfig { path: path.to_owned(), message };
    let kc = Kubeconfig::read_from(path).map_err(|e| bad(e.to_string()))?;
    let ctx_name = context
        .map(str::to_owned)
        .or(kc.current_context.clone())
        .ok_or_else(|| bad("it has no current-context; pass --context".into()))?;
    let ctx = kc
        .contexts
        .iter()
        .find(|c| c.name == ctx_name)
        .and_then(|c| c.context.clone())
        .ok_or_else(|| bad(format!("it has no context {ctx_name:?}")))?;
    let cluster = kc
        .clusters
        .iter()
        .find(|c| c.name == ctx.cluster)
        .and_then(|c| c.cluster.clone())
        .ok_or_else(|| {
            bad(format!(
                "context {ctx_name:?} names cluster {:?}, which it does not define",
                ctx.cluster
            ))
        })?;
    let server = cluster.server.clone().ok_or_else(|| bad("the cluster has no server".into()))?;
    let file = |p: &str| std::fs::read(p).map_err(|e| bad(format!("cannot read {p}: {e}")));
    let ca = match (&cluster.certificate_authority_data, &cluster.certificate_authority) {
        (Some(data), _) => Some(data.clone()),
        (None, Some(p)) => Some(b64(&file(p)?)),
        _ => None,
    };
    let mut tls = json!({"insecure": cluster.insecure_skip_tls_verify.unwrap_or(false)});
    if let Some(ca) = ca {
        tls["caData"] = json!(ca);
    }
    if let Some(name) = &cluster.tls_server_name {
        tls["serverName"] = json!(name);
    }
    let user = ctx.user.as_deref().and_then(|u| kc.auth_infos.iter().find(|a| a.name == u));
    // The kubeconfig serializes its own secrets back: no secrecy plumbing here.
    let user = user.and_then(|u| u.auth_info.as_ref()).map(serde_json::to_value).transpose();
    let user = user.map_err(|e| bad(e.to_string()))?.unwrap_or(Value::Null);
    let credentials = credentials(&user, &file)?;
    let conn = connect(&ClusterArgs { kubeconfig: Some(path.to_owned()), context: Some(ctx_name) })
        .await?;
    Ok(Target { server: server.trim_end_matches('/').to_owned(), tls, credentials, conn })
}

/// A kubeconfig user's credentials as `config` keys.
fn credentials(
    user: &Value,
    file: &dyn Fn(&str) -> Result<Vec<u8>, CliError>,
) -> Result<Value, CliError> {
    let s = |k: &str| user.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
    if user.get("exec").is_some_and(|e| !e.is_null())
        || user.get("auth-provider").is_some_and(|e| !e.is_null())
    {
        return Err(CliError::Failed(
            "the kubeconfig user authenticates through an exec plugin or auth provider, which a cluster Secret cannot hold; drop --use-kubeconfig-credentials to create a ServiceAccount token instead".into(),
        ));
    }
    let mut out = json!({});
    if let Some(t) = s("token") {
        out["bearerToken"] = json!(t);
    } else if let Some(p) = s("tokenFile") {
        out["bearerToken"] = json!(String::from_utf8_lossy(&file(p)?).trim());
    }
    if let (Some(u), Some(p)) = (s("username"), s("password")) {
        out["username"] = json!(u);
        out["password"] = json!(p);
    }
    let cert = match (s("client-certificate-data"), s("client-certificate")) {
        (Some(d), _) => Some(d.to_owned()),
        (None, Some(p)) => Some(b64(&file(p)?)),
        _ => None,
    };
    let key = match (s("client-key-data"), s("client-key")) {
        (Some(d), _) => Some(d.to_owned()),
        (None, Some(p)) => Some(b64(&file(p)?)),
        _ => None,
    };
    if let (Some(cert), Some(key)) = (cert, key) {
        out["tlsClientConfig"] = json!({"certData": cert, "keyData": key});
    }
    Ok(out)
}
