//! Choosing: an ImagePolicy is evaluated again when it changed or its repository was scanned
//! again; `newest` looks up creation times and digest pinning the tag's digest.

use kube::ResourceExt;

use super::controller::{Context, Key, PolicyMemo, RepositoryMemo, State, key_of};
use super::crd::{ImagePolicy, LatestRef};

impl Context {
    pub(super) async fn evaluate_policies(&self, state: &mut State) {
        for policy in self.policies.state() {
            let key = key_of(policy.as_ref());
            let namespace = policy.namespace().unwrap_or_default();
            let reference = &policy.spec.image_repository_ref;
            let repository_key = format!(
                "{}/{}",
                reference.namespace.as_deref().unwrap_or(&namespace),
                reference.name
            );
            let repository = state.repositories.get(&repository_key);
            let scan = repository.map_or(0, |r| r.scan);
            let generation = policy.metadata.generation;
            if state
                .policies
                .get(&key)
                .is_some_and(|m| m.generation == generation && m.scan == scan)
            {
                continue;
            }
            let latest = match repository {
                None => {
                    Err(format!("ImageRepository {repository_key} not found or not scanned yet"))
                }
                Some(repository) => self.choose(&policy, repository).await,
            };
            let mut status = policy.status.clone().unwrap_or_default();
            status.observed_generation = generation;
            match &latest {
                Ok(latest) => {
                    status.latest_image = Some(latest.reference());
                    status.latest_ref = Some(latest.clone());
                    status.last_error = None;
                }
                // The last good choice stays visible beside the error.
                Err(error) => status.last_error = Some(error.clone()),
            }
            self.set_status(policy.as_ref(), &policy.status, status).await;
            state.policies.insert(key, PolicyMemo { generation, scan, latest });
        }
        let live: Vec<Key> = self.policies.state().iter().map(|p| key_of(p.as_ref())).collect();
        state.policies.retain(|key, _| live.contains(key));
    }

    async fn choose(
        &self,
        policy: &ImagePolicy,
        repository: &RepositoryMemo,
    ) -> Result<LatestRef, String> {
        let compiled = policy.spec.choice.compile().map_err(|e| e.to_string())?;
        let tags = repository
            .tags
            .as_ref()
            .map_err(|error| format!("the last scan of {} failed: {error}", repository.image))?;
        let mut session = self.registry.session(
            &repository.image,
            repository.credentials.clone(),
            repository.insecure,
        );
        let tag = if compiled.needs_creation_times() {
            let candidates = compiled.candidates(tags);
            if candidates.len() > self.config.max_newest_candidates {
                return Err(format!(
                    "{} tags of {} pass the filter, more than the {} whose creation times are looked up; narrow filterTags.pattern",
                    candidates.len(),
                    repository.image,
                    self.config.max_newest_candidates
                ));
            }
            let mut created = Vec::with_capacity(candidates.len());
            for tag in candidates {
                let time = session.created(tag).await.map_err(|e| e.to_string())?;
                created.push((tag, time));
            }
            compiled.choose_newest(&created).map(str::to_string)
        } else {
            compiled.choose(tags).map(str::to_string)
        };
        let tag = tag.ok_or_else(|| {
            format!(
                "none of the {} tags of {} qualifies under the policy",
                tags.len(),
                repository.image
            )
        })?;
        let digest = if policy.spec.digest_pinning {
            Some(session.digest(&tag).await.map_err(|e| e.to_string())?)
        } else {
            None
        };
        Ok(LatestRef { name: repository.image.clone(), tag, digest })
    }
}
