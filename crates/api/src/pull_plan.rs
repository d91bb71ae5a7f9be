//! A pull request opened or updated on a repository Ferry deploys from: the engine plans it in
//! the background (`ferry plan` with the PR's base and head) and the outcome is published for
//! the reviewer. The webhook answers at once; a slow plan never holds the provider's delivery.

use std::time::Duration;

use ferry_engine::plan::{Plan, PlanError, PlanRequest, markdown};
use ferry_notify::comment::CommentClient;
use ferry_notify::repo::RepoRef;
use ferry_notify::service::ServiceKind;
use ferry_notify::status::{CommitStatus, State};
use ferry_source::RepoUrl;
use ferry_source::webhook::{Provider, PullRequest};

use crate::dto::WebhookResult;
use crate::state::ApiState;

/// Starts the plan of `pr` when it wants one and some app deploys from its repository.
pub(crate) fn start(state: &ApiState, provider: Provider, pr: PullRequest) -> WebhookResult {
    let keys = pr.repo_keys.clone();
    let answer = |triggered: usize, message: String| WebhookResult {
        provider: provider.to_string(),
        event: "pull_request".into(),
        triggered,
        repositories: keys.clone(),
        message,
    };
    if !pr.action.wants_plan() {
        return answer(
            0,
            format!(
                "pull request #{} was {:?}: its head did not move, no plan",
                pr.number, pr.action
            ),
        );
    }
    // The URL as the apps spell it, so the engine fetches with the credentials it uses for them.
    let apps = state.engine().applications();
    let users: Vec<String> = apps
        .iter()
        .filter(|a| {
            RepoUrl::parse(&a.spec.source.repo_url).is_ok_and(|u| pr.repo_keys.contains(&u.key()))
        })
        .map(|a| a.spec.source.repo_url.clone())
        .collect();
    let Some(repo_url) = users.first().cloned() else {
        return answer(
            0,
            format!(
                "no application deploys from {}; pull request #{} needs no plan",
                pr.full_name, pr.number
            ),
        );
    };
    let req =
        PlanRequest { repo_url, base: pr.base_ref.clone(), head: pr.head_fetch_ref(provider) };
    let engine = state.engine().clone();
    let number = pr.number;
    let head = pr.head_sha.get(..12).unwrap_or(&pr.head_sha).to_owned();
    let publisher = Publisher::find(&engine, provider, &pr);
    tokio::spawn(async move {
        if let Some(p) = &publisher {
            p.status(State::Pending, "planning against the live clusters").await;
        }
        let outcome = engine.plan(&req).await;
        match (&outcome, &publisher) {
            (_, Some(p)) => p.publish(&outcome).await,
            (Ok(plan), None) => {
                tracing::info!(pull_request = number, headline = %plan.headline(), "pull request planned; no service.{} in ferry-notifications to post it with", provider_kind(provider))
            }
            (Err(e), None) => {
                tracing::warn!(pull_request = number, error = %e, hint = e.hint(), "the plan of a pull request failed")
            }
        }
    });
    answer(
        users.len(),
        format!(
            "pull request #{number}: planning {} against the live clusters ({} application(s) deploy from this repository)",
            head,
            users.len()
        ),
    )
}

/// The hidden line that marks Ferry's plan comment on a pull request.
const MARKER: &str = "<!-- ferry-plan -->";
/// The commit status a plan sets on the pull request's head.
const CONTEXT: &str = "ferry/plan";

/// The `service.<type>` key of ferry-notifications whose credentials talk to `provider`.
fn provider_kind(provider: Provider) -> &'static str {
    match provider {
        Provider::GitLab => "gitlab",
        Provider::Gitea | Provider::Gogs => "gitea",
        Provider::BitbucketCloud | Provider::BitbucketServer => "bitbucket",
        _ => "github",
    }
}

/// Posts a pull request's plan: one comment (updated in place by later plans) and the
/// `ferry/plan` status on its head, with the credentials of the notification service for the
/// provider (`service.github` for GitHub, …).
struct Publisher {
    client: CommentClient,
    repo: RepoRef,
    number: u64,
    sha: String,
    target_url: String,
}

impl Publisher {
    fn find(engine: &ferry_engine::Engine, provider: Provider, pr: &PullRequest) -> Option<Self> {
        let config = engine.notifier().config();
        let kind = provider_kind(provider);
        let service = config.services.values().find_map(|s| match &s.kind {
            ServiceKind::Status(st) if st.provider.as_str() == kind => Some(st.clone()),
            _ => None,
        })?;
        let http =
            reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap_or_default();
        Some(Self {
            client: CommentClient::new(http, &service),
            repo: repo_ref(pr)?,
            number: pr.number,
            sha: pr.head_sha.clone(),
            target_url: pr.web_url.clone().unwrap_or_default(),
        })
    }

    async fn status(&self, state: State, description: &str) {
        let status = CommitStatus {
            state,
            context: CONTEXT.into(),
            description: description.into(),
            target_url: self.target_url.clone(),
        };
        if let Err(e) = self.client.status(&self.repo, &self.sha, &status).await {
            tracing::warn!(pull_request = self.number, error = %e, "cannot set the ferry/plan status; check the token of the service in ferry-notifications");
        }
    }

    async fn publish(&self, outcome: &Result<Plan, PlanError>) {
        let (state, description, text) = match outcome {
            Ok(plan) => {
                let state = if plan.has_errors() { State::Failure } else { State::Success };
                (state, plan.headline(), markdown(plan))
            }
            Err(e) => (
                State::Error,
                "the plan failed".to_owned(),
                format!("### Ferry plan\n\n> :x: **the plan failed**: {e}\n\n{}\n", e.hint()),
            ),
        };
        match self.client.upsert(&self.repo, self.number, MARKER, &text).await {
            Ok(updated) => {
                tracing::info!(pull_request = self.number, updated, "pull request plan posted")
            }
            Err(e) => {
                tracing::warn!(pull_request = self.number, error = %e, "cannot comment the plan on the pull request; check the token of the service in ferry-notifications")
            }
        }
        self.status(state, &description).await;
    }
}

/// The repository on its forge: the web address's scheme and host, and the provider's
/// `owner/name` (a clone URL may not carry the owner, e.g. on a bare git server).
fn repo_ref(pr: &PullRequest) -> Option<RepoRef> {
    let web = pr.web_url.as_deref().unwrap_or(&pr.repo_url);
    let (scheme, rest) = web.split_once("://")?;
    let host = rest.split('/').next()?.rsplit('@').next()?;
    let scheme = if scheme == "http" { "http" } else { "https" };
    Some(RepoRef { web_base: format!("{scheme}://{host}"), path: pr.full_name.clone() })
}
