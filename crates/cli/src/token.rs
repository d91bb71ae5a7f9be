//! `ferry token create|list|revoke`: API tokens as Secrets in Ferry's namespace, holding the
//! token's SHA-256 only (`ferry_api::access::tokens`). The token is printed once, at creation.

use anyhow::{Context, bail};
use ferry_api::access::tokens::{self, ApiToken, SECRET_TYPE_LABEL, TOKEN_SECRET_TYPE};
use ferry_api::access::watch::{RBAC_CONFIGMAP, policy_from};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, ListParams, PostParams};

use crate::repo::Target;

#[derive(clap::Subcommand)]
pub enum TokenCommand {
    /// Make a token with a role; prints it once (only its hash is stored).
    Create(CreateArgs),
    /// The tokens: name, role, created, expires (never the token).
    List {
        /// Output format: text table or json.
        #[arg(long, short = 'o', default_value = "text")]
        output: String,
        #[command(flatten)]
        target: Target,
    },
    /// Delete a token; requests with it are refused at once.
    Revoke {
        name: String,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// The token's name (lower-case letters, digits, '-'); the audit trail shows `token:NAME`.
    pub name: String,
    /// The role it has: role:readonly, role:admin, or a role of ConfigMap ferry-rbac-cm.
    #[arg(long)]
    pub role: String,
    /// Lifetime (`30d`, `12h`, `90m`); without it the token does not expire.
    #[arg(long, value_parser = parse_lifetime)]
    pub expires: Option<jiff::SignedDuration>,
    #[command(flatten)]
    pub target: Target,
}

/// `30d`, `12h`, `1h30m`: days are 24 hours.
fn parse_lifetime(raw: &str) -> Result<jiff::SignedDuration, String> {
    let days = raw.strip_suffix('d').and_then(|d| d.parse::<i64>().ok());
    let duration = match days {
        Some(d) => jiff::SignedDuration::from_hours(d * 24),
        None => {
            let d = ferry_source::duration::parse_seconds_or_go_duration(raw)
                .map_err(|e| format!("{raw:?} is not a lifetime like 30d, 12h or 90m: {e}"))?;
            jiff::SignedDuration::try_from(d).map_err(|e| e.to_string())?
        }
    };
    if duration.is_zero() || duration.is_negative() {
        return Err(format!("--expires {raw:?} must be longer than zero"));
    }
    Ok(duration)
}

pub async fn run(command: TokenCommand) -> anyhow::Result<String> {
    match command {
        TokenCommand::Create(args) => create(args).await,
        TokenCommand::List { output, target } => list(&target, &output).await,
        TokenCommand::Revoke { name, target } => revoke(&name, &target).await,
    }
}

async fn create(args: CreateArgs) -> anyhow::Result<String> {
    tokens::check_name(&args.name)?;
    let ns = &args.target.namespace;
    let conn = crate::app::connect(&args.target.cluster).await?;
    check_role(&conn.client, ns, &args.role).await?;
    let token = tokens::generate()?;
    let now = jiff::Timestamp::now();
    let expires_at = match args.expires {
        Some(d) => Some(now.checked_add(d).context("the expiry is too far in the future")?),
        None => None,
    };
    let record = ApiToken {
        name: args.name.clone(),
        role: args.role.clone(),
        hash: tokens::hash(&token),
        expires_at,
        created_at: Some(now),
    };
    let api: Api<Secret> = Api::namespaced(conn.client.clone(), ns);
    match api.create(&PostParams::default(), &tokens::to_secret(&record, ns)).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => bail!(
            "token {} exists already; `ferry token revoke {}` first to replace it",
            args.name,
            args.name
        ),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("storing token {} in namespace {ns}", args.name));
        }
    }
    let until = expires_at.map(|t| format!(", expires {t}")).unwrap_or_default();
    eprintln!(
        "token {} created with {}{until}; it is shown once, store it now",
        args.name, args.role
    );
    eprintln!("hint: `ferry login URL --token-stdin` stores it for the CLI");
    Ok(token)
}

/// A role must be built in or named by the policy in force: a typo is refused here, not found
/// out as 403s later.
async fn check_role(client: &kube::Client, ns: &str, role: &str) -> anyhow::Result<()> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let cm = api
        .get_opt(RBAC_CONFIGMAP)
        .await
        .with_context(|| format!("reading ConfigMap {ns}/{RBAC_CONFIGMAP}"))?;
    let data = cm.and_then(|c| c.data).unwrap_or_default();
    let policy = policy_from(&data, ns).with_context(|| {
        format!("the policy in ConfigMap {ns}/{RBAC_CONFIGMAP} does not load; fix it first")
    })?;
    if !policy.defines(role) {
        bail!(
            "unknown role {role:?}: it is not built in (role:readonly, role:admin) and no line of ConfigMap {ns}/{RBAC_CONFIGMAP} names it; add `p, {role}, applications, get, */*, allow` (or the like) there first"
        );
    }
    Ok(())
}

async fn list(target: &Target, output: &str) -> anyhow::Result<String> {
    let ns = &target.namespace;
    let conn = crate::app::connect(&target.cluster).await?;
    let api: Api<Secret> = Api::namespaced(conn.client.clone(), ns);
    let selector = format!("{SECRET_TYPE_LABEL}={TOKEN_SECRET_TYPE}");
    let secrets = api
        .list(&ListParams::default().labels(&selector))
        .await
        .with_context(|| format!("listing the token Secrets in namespace {ns}"))?;
    let now = jiff::Timestamp::now();
    let rows: Vec<serde_json::Value> = secrets
        .items
        .iter()
        .map(|s| match tokens::from_secret(s) {
            Ok(t) => serde_json::json!({
                "name": t.name, "role": t.role,
                "created": t.created_at.map(|t| t.to_string()).unwrap_or_default(),
                "expires": t.expires_at.map(|t| t.to_string()).unwrap_or_else(|| "never".into()),
                "status": if t.expired(now) { "expired" } else { "valid" },
            }),
            Err(e) => serde_json::json!({"name": kube::ResourceExt::name_any(s), "role": "", "created": "", "expires": "", "status": format!("unreadable: {e}")}),
        })
        .collect();
    if output == "json" {
        return Ok(serde_json::to_string_pretty(&rows)?);
    }
    let mut table =
        format!("{:<24} {:<20} {:<22} {:<22} STATUS", "NAME", "ROLE", "CREATED", "EXPIRES");
    for r in &rows {
        let cell = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
        table.push_str(&format!(
            "\n{:<24} {:<20} {:<22} {:<22} {}",
            cell("name"),
            cell("role"),
            cell("created"),
            cell("expires"),
            cell("status")
        ));
    }
    Ok(table)
}

async fn revoke(name: &str, target: &Target) -> anyhow::Result<String> {
    let ns = &target.namespace;
    let conn = crate::app::connect(&target.cluster).await?;
    let api: Api<Secret> = Api::namespaced(conn.client.clone(), ns);
    match api.delete(&tokens::secret_name(name), &DeleteParams::default()).await {
        Ok(_) => Ok(format!("token {name} revoked; requests with it are refused")),
        Err(kube::Error::Api(e)) if e.code == 404 => {
            bail!("no token {name} in namespace {ns}; `ferry token list` shows the tokens")
        }
        Err(e) => Err(e).with_context(|| format!("deleting token {name}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_read_days_and_go_durations_and_refuse_zero() {
        assert_eq!(parse_lifetime("30d"), Ok(jiff::SignedDuration::from_hours(720)));
        assert_eq!(parse_lifetime("1h30m"), Ok(jiff::SignedDuration::from_mins(90)));
        assert!(parse_lifetime("0d").is_err());
        assert!(parse_lifetime("soon").is_err_and(|e| e.contains("30d")));
    }
}
