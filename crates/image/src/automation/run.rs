//! Writing back: an ImageUpdateAutomation runs when it changed, when the images its
//! namespace's policies chose changed, or when its interval passed; the Git work runs on a
//! blocking thread.

use std::time::Instant;

use kube::ResourceExt;

use super::controller::{AutomationMemo, Context, Key, State, key_of};
use super::crd::ImageUpdateAutomation;
use super::secrets::git_credentials;
use super::updates::{Chosen, updates_for};
use super::writeback::{RemoteUrl, WriteBack, WriteBackOutcome, write_back};
use crate::git::mask_credentials;
use crate::message::MessageTemplate;

impl Context {
    pub(super) async fn write_back(&self, state: &mut State) {
        let now = Instant::now();
        let mut runs = Vec::new();
        for automation in self.automations.state() {
            let key = key_of(automation.as_ref());
            let namespace = automation.namespace().unwrap_or_default();
            let generation = automation.metadata.generation;
            if automation.spec.suspend {
                continue;
            }
            // Every policy of the namespace with a choice, in name order.
            let mut chosen: Vec<Chosen> = state
                .policies
                .iter()
                .filter(|(policy, _)| policy.split_once('/').is_some_and(|(ns, _)| ns == namespace))
                .filter_map(|(policy, memo)| {
                    memo.latest
                        .as_ref()
                        .ok()
                        .map(|latest| Chosen { policy: policy.clone(), latest: latest.clone() })
                })
                .collect();
            chosen.sort_by(|a, b| a.policy.cmp(&b.policy));
            if chosen.is_empty() {
                continue;
            }
            let inputs: Vec<String> =
                chosen.iter().map(|c| format!("{}={}", c.policy, c.latest.reference())).collect();
            let interval = self.interval(&automation.spec.interval);
            let memo = state.automations.get(&key);
            let due = match (&interval, memo) {
                (_, None) => true,
                (Err(_), Some(memo)) => memo.generation != generation,
                (Ok(interval), Some(memo)) => {
                    memo.generation != generation
                        || memo.inputs != inputs
                        || now.duration_since(memo.at) >= *interval
                }
            };
            if !due {
                continue;
            }
            state.automations.insert(key, AutomationMemo { generation, at: now, inputs });
            runs.push(async move {
                let result = match interval {
                    Ok(_) => self.run_automation(&automation, &chosen).await,
                    Err(error) => Err(format!("spec.interval: {error}")),
                };
                (automation, result)
            });
        }
        for (automation, result) in futures::future::join_all(runs).await {
            let mut status = automation.status.clone().unwrap_or_default();
            status.observed_generation = automation.metadata.generation;
            status.last_run_time = Some(jiff::Timestamp::now().to_string());
            match result {
                Ok(outcome) => {
                    status.last_error = None;
                    if let Some(commit) = outcome.commit {
                        tracing::info!(automation = %key_of(automation.as_ref()), %commit, branch = %outcome.branch, "pushed image updates");
                        let changes: Vec<String> =
                            outcome.changes.iter().map(ToString::to_string).collect();
                        self.publish(
                            automation.as_ref(),
                            false,
                            "Pushed",
                            format!(
                                "pushed {} to branch {}: {}",
                                &commit[..commit.len().min(12)],
                                outcome.branch,
                                changes.join("; ")
                            ),
                        );
                        status.last_push_commit = Some(commit);
                        status.last_push_time = status.last_run_time.clone();
                        status.last_push_branch = Some(outcome.branch);
                        status.last_push_changes =
                            outcome.changes.iter().map(ToString::to_string).collect();
                    }
                }
                Err(error) => {
                    tracing::warn!(automation = %key_of(automation.as_ref()), %error, "image write-back failed");
                    if automation.status.as_ref().and_then(|s| s.last_error.as_ref())
                        != Some(&error)
                    {
                        self.publish(
                            automation.as_ref(),
                            true,
                            "WriteBackFailed",
                            format!("{error}; nothing was pushed, Ferry tries again at the next interval"),
                        );
                    }
                    status.last_error = Some(error);
                }
            }
            self.set_status(automation.as_ref(), &automation.status, status).await;
        }
        let live: Vec<Key> = self.automations.state().iter().map(|a| key_of(a.as_ref())).collect();
        state.automations.retain(|key, _| live.contains(key));
    }

    async fn run_automation(
        &self,
        automation: &ImageUpdateAutomation,
        chosen: &[Chosen],
    ) -> Result<WriteBackOutcome, String> {
        let spec = &automation.spec;
        let namespace = automation.namespace().unwrap_or_default();
        let updates = updates_for(chosen).map_err(|e| e.to_string())?;
        let message = match &spec.git.commit.message_template {
            Some(template) => MessageTemplate::parse(template)
                .map_err(|e| format!("spec.git.commit.messageTemplate: {e}"))?,
            None => MessageTemplate::default(),
        };
        let credentials = match &spec.git.secret_ref {
            Some(secret_ref) => {
                if !spec.git.repo_url.starts_with("https://")
                    && !spec.git.repo_url.starts_with("http://")
                {
                    return Err(format!(
                        "spec.git.secretRef holds an http(s) account, but spec.git.repoURL is {}; use an https URL",
                        mask_credentials(&spec.git.repo_url)
                    ));
                }
                let secret = self.secret(&namespace, &secret_ref.name).await?;
                Some(git_credentials(&secret).map_err(|e| e.to_string())?)
            }
            None => None,
        };
        let url = spec.git.repo_url.clone();
        let author = spec
            .git
            .commit
            .author
            .as_ref()
            .map(|a| (a.name.clone(), a.email.clone()))
            .unwrap_or_else(|| self.config.default_author.clone());
        let request = WriteBack {
            work_dir: self
                .config
                .data_dir
                .join("automation")
                .join(&namespace)
                .join(automation.name_any()),
            url: RemoteUrl(url),
            credentials,
            checkout_branch: spec.git.checkout.branch.clone(),
            push_branch: spec.git.push.as_ref().map(|p| p.branch.clone()),
            path: spec.update.path.clone(),
            author,
            message,
            updates,
        };
        tokio::task::spawn_blocking(move || write_back(&request))
            .await
            .map_err(|e| format!("the write-back task failed: {e}"))?
            .map_err(|e| e.to_string())
    }
}
