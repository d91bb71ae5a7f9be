//! Reaching the cluster the way kubectl does: `--kubeconfig`, else `KUBECONFIG`, else
//! `~/.kube/config`; `--context` picks a context. A cheap version call up front turns "nothing
//! listens there" into one clear line before any real work starts.

use std::path::PathBuf;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::error::{CliError, root_cause};

/// How to reach the cluster; shared by every command that talks to it.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ClusterArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long, global = true)]
    pub context: Option<String>,
}

/// A client that answered a version call.
pub struct Connection {
    pub client: Client,
}

pub async fn connect(args: &ClusterArgs) -> Result<Connection, CliError> {
    let (kubeconfig, origin) = read_kubeconfig(args)?;
    let options = KubeConfigOptions { context: args.context.clone(), ..Default::default() };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| CliError::BadKubeconfig { path: origin.clone(), message: root_cause(&e) })?;
    let server = config.cluster_url.to_string();
    let client = Client::try_from(config)
        .map_err(|e| CliError::BadKubeconfig { path: origin, message: root_cause(&e) })?;
    // A short deadline: an address that drops packets should not hang the command for minutes.
    match tokio::time::timeout(Duration::from_secs(15), client.apiserver_version()).await {
        Ok(Ok(_)) => Ok(Connection { client }),
        Ok(Err(e)) => Err(CliError::Unreachable { server, message: root_cause(&e) }),
        Err(_) => Err(CliError::Unreachable { server, message: "no answer within 15s".into() }),
    }
}

fn read_kubeconfig(args: &ClusterArgs) -> Result<(Kubeconfig, PathBuf), CliError> {
    if let Some(path) = &args.kubeconfig {
        if !path.exists() {
            return Err(CliError::NoKubeconfig {
                detail: format!("--kubeconfig {} does not exist", path.display()),
            });
        }
        let kc = Kubeconfig::read_from(path)
            .map_err(|e| CliError::BadKubeconfig { path: path.clone(), message: root_cause(&e) })?;
        return Ok((kc, path.clone()));
    }
    if let Some(raw) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        let paths: Vec<PathBuf> = std::env::split_paths(&raw).collect();
        let existing: Vec<&PathBuf> = paths.iter().filter(|p| p.exists()).collect();
        if existing.is_empty() {
            return Err(CliError::NoKubeconfig {
                detail: format!("KUBECONFIG={} names no existing file", raw.to_string_lossy()),
            });
        }
        let mut merged: Option<Kubeconfig> = None;
        for path in existing {
            let kc = Kubeconfig::read_from(path).map_err(|e| CliError::BadKubeconfig {
                path: path.clone(),
                message: root_cause(&e),
            })?;
            merged = Some(match merged {
                None => kc,
                Some(m) => m.merge(kc).map_err(|e| CliError::BadKubeconfig {
                    path: path.clone(),
                    message: root_cause(&e),
                })?,
            });
        }
        let kc = merged.expect("at least one existing file was read");
        return Ok((kc, PathBuf::from(raw)));
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let default = home.map(|h| h.join(".kube/config"));
    match default {
        Some(path) if path.exists() => {
            let kc = Kubeconfig::read_from(&path).map_err(|e| CliError::BadKubeconfig {
                path: path.clone(),
                message: root_cause(&e),
            })?;
            Ok((kc, path))
        }
        _ => Err(CliError::NoKubeconfig {
            detail: "no --kubeconfig, KUBECONFIG is unset and ~/.kube/config does not exist".into(),
        }),
    }
}

/// Who the cluster takes this CLI for (`kubectl auth whoami`), for the audit trail's "requested
/// by": `kube:USER`. `None` when the cluster does not answer the SelfSubjectReview.
pub async fn kube_user(conn: &Connection) -> Option<String> {
    use k8s_openapi::api::authentication::v1::SelfSubjectReview;
    let api: kube::Api<SelfSubjectReview> = kube::Api::all(conn.client.clone());
    let review = SelfSubjectReview::default();
    let answer = api.create(&kube::api::PostParams::default(), &review).await.ok()?;
    let user = answer.status?.user_info?.username?;
    Some(format!("kube:{user}"))
}
