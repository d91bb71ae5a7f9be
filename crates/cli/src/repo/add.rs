//! `ferry repo add`: checks the connection, then stores the credentials as a repository Secret
//! (Argo CD's format, label `ferry.dev/secret-type: repository`, named `repo-<hash>` as Argo CD
//! names its own).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use ferry_engine::repos::{self, Resolver, Snapshot, secret_name};
use ferry_engine::settings::LABEL_FERRY;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};

use super::{Target, check_connection, client, read_password};

#[derive(clap::Args, Clone, Debug)]
pub struct AddArgs {
    /// Repository URL (https://, http://, ssh:// or git@host:path).
    pub url: String,
    /// User name for HTTP basic auth (with --password-stdin or --password-file).
    #[arg(long)]
    pub username: Option<String>,
    /// Read the password or token from stdin (never pass it as an argument).
    #[arg(long, conflicts_with = "password_file")]
    pub password_stdin: bool,
    /// Read the password or token from this file.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// SSH private key file for ssh URLs (host keys come from ConfigMap ferry-ssh-known-hosts).
    #[arg(long, conflicts_with_all = ["password_stdin", "password_file", "username"])]
    pub ssh_private_key_path: Option<PathBuf>,
    /// Skip TLS certificate verification and SSH host key checks (as Argo CD's `insecure`).
    #[arg(long)]
    pub insecure: bool,
    /// HTTP(S) proxy for this repository.
    #[arg(long)]
    pub proxy: Option<String>,
    /// Replace the Secret if the repository already has one.
    #[arg(long)]
    pub upsert: bool,
    /// Save without checking that the repository answers with these credentials.
    #[arg(long)]
    pub skip_check: bool,
    #[command(flatten)]
    pub target: Target,
}

/// The Secret's data, by Argo CD's keys.
fn data(args: &AddArgs) -> anyhow::Result<BTreeMap<String, ByteString>> {
    let mut data = BTreeMap::new();
    let mut put = |k: &str, v: String| data.insert(k.to_owned(), ByteString(v.into_bytes()));
    put("url", args.url.trim().to_owned());
    put("type", "git".to_owned());
    if let Some(password) = read_password(args.password_file.as_ref(), args.password_stdin)? {
        put("password", password);
    }
    if let Some(user) = &args.username {
        put("username", user.clone());
    }
    if let Some(path) = &args.ssh_private_key_path {
        let key = std::fs::read_to_string(path)
            .with_context(|| format!("reading the SSH private key {}", path.display()))?;
        put("sshPrivateKey", key);
    }
    if args.insecure {
        put("insecure", "true".to_owned());
    }
    if let Some(proxy) = &args.proxy {
        put("proxy", proxy.clone());
    }
    Ok(data)
}

fn secret(args: &AddArgs, data: BTreeMap<String, ByteString>) -> Secret {
    let mut secret = Secret::default();
    secret.metadata.name = Some(secret_name(&args.url));
    secret.metadata.namespace = Some(args.target.namespace.clone());
    secret.metadata.labels =
        Some(BTreeMap::from([(LABEL_FERRY.to_owned(), "repository".to_owned())]));
    secret.type_ = Some("Opaque".to_owned());
    secret.data = Some(data);
    secret
}

pub async fn run(args: AddArgs) -> anyhow::Result<()> {
    let ns = args.target.namespace.clone();
    let conn = client(&args.target).await?;
    let new = secret(&args, data(&args)?);
    let name = new.metadata.name.clone().unwrap_or_default();
    // What the engine would read: the new Secret alone, with the cluster's known hosts.
    if let Some(e) = new_secret_problem(&new) {
        anyhow::bail!("{e}");
    }
    if !args.skip_check {
        let current = repos::load(&conn.client, &ns)
            .await
            .with_context(|| format!("reading the SSH known hosts in namespace {ns}"))?;
        let only = Snapshot::read([&new], current.known_hosts);
        let keys = tempfile::tempdir().context("creating a temporary directory for the key")?;
        let repo = Resolver::new(keys.path()).access(&args.url, &only).await?;
        if let Err(why) = check_connection(&args.url, &repo, &ns, Duration::from_secs(30)).await {
            anyhow::bail!(
                "connection check failed, nothing was saved: {}\nhint: fix the credentials, or pass --skip-check to save them anyway",
                why.replace(&format!("Secret {ns}/{name}"), "the credentials given")
            );
        }
        eprintln!("connected to {} with the credentials given", args.url);
    }
    let api: Api<Secret> = Api::namespaced(conn.client.clone(), &ns);
    let existing =
        api.get_opt(&name).await.with_context(|| format!("reading Secret {ns}/{name}"))?;
    match existing {
        Some(_) if !args.upsert => anyhow::bail!(
            "Secret {ns}/{name} already holds credentials for {}; pass --upsert to replace them",
            args.url
        ),
        Some(old) => {
            let mut new = new;
            new.metadata.resource_version = old.metadata.resource_version;
            api.replace(&name, &PostParams::default(), &new)
                .await
                .with_context(|| format!("replacing Secret {ns}/{name}"))?;
            eprintln!("repository {} updated (Secret {ns}/{name})", args.url);
        }
        None => {
            api.create(&PostParams::default(), &new)
                .await
                .with_context(|| format!("creating Secret {ns}/{name}"))?;
            eprintln!("repository {} added (Secret {ns}/{name})", args.url);
        }
    }
    crate::app::hint(
        "apps on this repository are reconciled with these credentials now; `ferry repo list` shows the connection",
    );
    Ok(())
}

/// What the engine would refuse in the Secret (e.g. a file that is not a private key).
fn new_secret_problem(secret: &Secret) -> Option<String> {
    match ferry_engine::repos::secret::RepoSecret::parse(secret)? {
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    }
}
