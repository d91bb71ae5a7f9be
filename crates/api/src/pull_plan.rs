//! A pull request opened or updated on a repository Ferry deploys from: the engine plans it in
//! the background (`ferry plan` with the PR's base and head) and the outcome is published for
//! the reviewer. The webhook answers at once; a slow plan never holds the provider's delivery.

use ferry_engine::plan::{Plan, PlanRequest};
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
    tokio::spawn(async move {
        match engine.plan(&req).await {
            Ok(plan) => published(&pr, &plan),
            Err(e) => {
                tracing::warn!(pull_request = number, error = %e, hint = e.hint(), "the plan of a pull request failed");
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

fn published(pr: &PullRequest, plan: &Plan) {
    tracing::info!(pull_request = pr.number, repository = %pr.full_name, headline = %plan.headline(), "pull request planned");
}
