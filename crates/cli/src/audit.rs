//! `ferry audit` and `ferry auth can-i`: the audit trail and the RBAC answer, from the API.

use std::process::ExitCode;

use anyhow::bail;
use serde_json::Value;

use crate::remote::{self, ServerArgs};

#[derive(clap::Args)]
pub struct AuditArgs {
    /// Only this app (`NAME` or `NAMESPACE/NAME`).
    #[arg(long)]
    pub app: Option<String>,
    /// Only records this recent (`1h`, `30m`) or since an RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Only this user (an API caller, or the user who asked for a sync).
    #[arg(long)]
    pub user: Option<String>,
    /// Only this action (sync, rollback, suspend, approve...).
    #[arg(long)]
    pub action: Option<String>,
    /// Output format: table or json.
    #[arg(long, short = 'o', default_value = "table")]
    pub output: String,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(clap::Subcommand)]
pub enum AuthCommand {
    /// Whether you may do ACTION on RESOURCE OBJECT (e.g. `sync applications default/team/web`);
    /// prints yes or no and exits 0 or 1, as `kubectl auth can-i`.
    CanI {
        action: String,
        resource: String,
        /// `PROJECT/NAMESPACE/NAME` for applications; `*` when left out.
        object: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Who the server takes you for, and your roles.
    Whoami {
        #[command(flatten)]
        server: ServerArgs,
    },
}

pub async fn audit(args: AuditArgs) -> anyhow::Result<String> {
    if !matches!(args.output.as_str(), "table" | "json") {
        bail!("-o {} is not known; use table or json", args.output);
    }
    let mut query = Vec::new();
    for (key, value) in
        [("app", &args.app), ("since", &args.since), ("user", &args.user), ("action", &args.action)]
    {
        if let Some(v) = value {
            query.push((key, v.clone()));
        }
    }
    let body = remote::get(&args.server, "/api/v1/audit", &query).await?;
    let items = body["items"].as_array().cloned().unwrap_or_default();
    if args.output == "json" {
        return Ok(serde_json::to_string_pretty(&items)?);
    }
    Ok(table(&items))
}

fn table(items: &[Value]) -> String {
    let mut out = format!(
        "{:<21} {:<22} {:<10} {:<24} {:<10} DETAIL",
        "TIME", "USER", "ACTION", "APP", "OUTCOME"
    );
    for r in items {
        let app = match (r["app"]["namespace"].as_str(), r["app"]["name"].as_str()) {
            (Some(ns), Some(n)) => format!("{ns}/{n}"),
            _ => "-".into(),
        };
        let user = match r["sync"]["trigger"]["user"].as_str() {
            Some(u) => u.to_owned(),
            None => r["actor"]["user"].as_str().unwrap_or("-").to_owned(),
        };
        let detail = match r["kind"].as_str() {
            Some("sync") => format!(
                "{} by {} ({}): {}",
                r["sync"]["revision"].as_str().map(|s| &s[..s.len().min(7)]).unwrap_or("-"),
                r["sync"]["commit"]["author"].as_str().unwrap_or("unknown author"),
                r["sync"]["trigger"]["kind"].as_str().unwrap_or("-"),
                r["sync"]["changes"]["summary"].as_str().unwrap_or("")
            ),
            _ => r["message"].as_str().unwrap_or_default().to_owned(),
        };
        let time = r["time"].as_str().unwrap_or_default();
        out.push_str(&format!(
            "\n{:<21} {:<22} {:<10} {:<24} {:<10} {detail}",
            &time[..time.len().min(19)],
            user,
            r["action"].as_str().unwrap_or_default(),
            app,
            r["outcome"].as_str().unwrap_or_default()
        ));
    }
    if items.is_empty() {
        out.push_str("\n(no records; the API keeps the most recent ones in memory, the --audit-log file keeps them all)");
    }
    out
}

pub async fn auth(command: AuthCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuthCommand::CanI { action, resource, object, server } => {
            let object = object.unwrap_or_else(|| "*".into());
            let query = [("action", action), ("resource", resource), ("object", object)];
            let answer = remote::get(&server, "/api/v1/account/can-i", &query).await?;
            let allowed = answer["allowed"].as_bool().unwrap_or(false);
            crate::say(if allowed { "yes" } else { "no" })?;
            Ok(if allowed { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        AuthCommand::Whoami { server } => {
            let me = remote::get(&server, "/api/v1/account", &[]).await?;
            crate::say(&serde_json::to_string_pretty(&me)?)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
