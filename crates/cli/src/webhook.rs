//! `ferry webhook`: the webhook secrets `ferry up` creates, and `ferry webhook test`, which sends
//! the API a signed delivery in a provider's own form (a ping, or a push of `--repo`) with the
//! secret read from the Secret `ferry-webhook`, and says what Ferry made of it.

use std::process::ExitCode;

use anyhow::{Context, bail};
use ferry_api::WEBHOOK_SECRET_NAME;
use ferry_source::webhook::{Provider, sample_delivery};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};

use crate::app::connect::{ClusterArgs, connect};

#[derive(clap::Subcommand)]
pub enum WebhookCommand {
    /// Send a signed test delivery to Ferry's API: a ping, or with --repo a push that reconciles
    /// the apps of that repository now.
    Test(TestArgs),
}

#[derive(clap::Args)]
pub struct TestArgs {
    /// The provider whose form and secret to use: github, gitlab, gitea, bitbucket or generic.
    #[arg(long, default_value = "generic")]
    provider: String,
    /// Send a push of this repository URL (as the Applications spell it) instead of a ping.
    #[arg(long)]
    repo: Option<String>,
    /// The ref of the push.
    #[arg(long = "ref", default_value = "refs/heads/main")]
    reference: String,
    /// Ferry's API (what `ferry up` prints as "Web UI and API").
    #[arg(long, env = "FERRY_API", default_value = "http://127.0.0.1:8080")]
    api: String,
    /// Ferry's namespace, where the Secret ferry-webhook lives.
    #[arg(long, env = "FERRY_NAMESPACE", default_value = ferry_engine::DEFAULT_HOME_NAMESPACE)]
    namespace: String,
    #[command(flatten)]
    cluster: ClusterArgs,
}

pub fn run(command: WebhookCommand) -> anyhow::Result<ExitCode> {
    let WebhookCommand::Test(args) = command;
    tokio::runtime::Runtime::new()?.block_on(test(args))
}

/// The Secret's key for a provider name given on the command line, and the provider's form.
fn provider_of(name: &str) -> anyhow::Result<(&'static str, Provider)> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "github" => ("github", Provider::GitHub),
        "gitlab" => ("gitlab", Provider::GitLab),
        "gitea" | "gogs" => ("gitea", Provider::Gitea),
        "bitbucket" | "bitbucket-server" => ("bitbucket", Provider::BitbucketServer),
        "generic" | "ferry" => ("generic", Provider::Generic),
        other => bail!(
            "unknown provider {other:?}: use one of github, gitlab, gitea, bitbucket, generic"
        ),
    })
}

async fn test(args: TestArgs) -> anyhow::Result<ExitCode> {
    let (key, provider) = provider_of(&args.provider)?;
    let client = connect(&args.cluster).await?.client;
    let secrets: Api<Secret> = Api::namespaced(client, &args.namespace);
    let where_ = format!("Secret {}/{WEBHOOK_SECRET_NAME}", args.namespace);
    let secret = secrets
        .get_opt(WEBHOOK_SECRET_NAME)
        .await
        .with_context(|| format!("reading {where_}"))?
        .with_context(|| format!("there is no {where_}: create it with a key {key:?} (`ferry up` creates one with a generic secret)"))?;
    let (config, _, _) = ferry_api::config_from_secret(&secret, &Default::default());
    let value = match provider {
        Provider::GitHub => config.github_secret,
        Provider::GitLab => config.gitlab_token,
        Provider::Gitea => config.gitea_secret,
        Provider::BitbucketServer => config.bitbucket_secret,
        _ => config.generic_secret,
    }
    .with_context(|| {
        format!("{where_} has no usable key {key:?}: add the provider's secret under it")
    })?;
    let id = format!("ferry-webhook-test-{}", std::process::id());
    let delivery =
        sample_delivery(provider, value.expose(), args.repo.as_deref(), &args.reference, &id);
    let url = format!("{}/api/webhook", args.api.trim_end_matches('/'));
    let mut request = reqwest::Client::new().post(&url).body(delivery.body);
    for (k, v) in &delivery.headers {
        request = request.header(k, v);
    }
    let response = request.send().await.with_context(|| {
        format!("sending the test delivery to {url}; is Ferry's API there? (--api or FERRY_API)")
    })?;
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let text = |k: &str| answer[k].as_str().unwrap_or_default().to_owned();
    if !status.is_success() {
        let message =
            answer["message"].as_str().map(str::to_owned).unwrap_or_else(|| answer.to_string());
        eprintln!("Ferry refused the {provider} test delivery ({status}): {message}");
        if let Some(hint) = answer["hint"].as_str() {
            eprintln!("hint: {hint}");
        }
        return Ok(ExitCode::from(1));
    }
    println!("{provider} test delivery accepted ({}): {}", text("event"), text("message"));
    Ok(ExitCode::SUCCESS)
}

/// Creates the Secret `ferry-webhook` with a random `generic` secret unless it exists; returns
/// whether it was created. Reads nothing of an existing one.
pub async fn ensure_secret(client: &kube::Client, namespace: &str) -> anyhow::Result<bool> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    if secrets.get_opt(WEBHOOK_SECRET_NAME).await?.is_some() {
        return Ok(false);
    }
    let value =
        ferry_engine::random_hex(24).context("reading random bytes for the webhook secret")?;
    let mut secret = Secret::default();
    secret.metadata.name = Some(WEBHOOK_SECRET_NAME.into());
    secret.metadata.namespace = Some(namespace.into());
    secret.data = Some([("generic".to_owned(), ByteString(value.into_bytes()))].into());
    match secrets.create(&PostParams::default(), &secret).await {
        Ok(_) => Ok(true),
        // Another process created it first: theirs stands.
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => {
            Err(e).with_context(|| format!("creating Secret {namespace}/{WEBHOOK_SECRET_NAME}"))
        }
    }
}
