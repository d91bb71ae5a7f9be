//! Scanning: the ImageRepositories that are due (new, changed, or their interval passed) are
//! listed at once, a few at a time, and each result goes into memory and the status.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use kube::ResourceExt;

use super::controller::{Context, Key, RepositoryMemo, State, key_of};
use super::crd::{ImageRepository, ImageRepositoryStatus};
use super::secrets::registry_credentials;
use crate::reference::{ImageRef, normalize_name};
use crate::registry::{Credentials, registry_host};

/// A scan's result, before it goes into the memo and the status.
struct Scanned {
    key: Key,
    generation: Option<i64>,
    image: String,
    insecure: bool,
    credentials: Option<Credentials>,
    tags: Result<Vec<String>, String>,
}

impl Context {
    pub(super) async fn scan_repositories(&self, state: &mut State) {
        let now = Instant::now();
        let mut due = Vec::new();
        for repository in self.repositories.state() {
            let key = key_of(repository.as_ref());
            let generation = repository.metadata.generation;
            if repository.spec.suspend {
                continue;
            }
            let interval = match self.interval(&repository.spec.interval) {
                Ok(interval) => interval,
                Err(error) => {
                    let status = ImageRepositoryStatus {
                        last_error: Some(format!("spec.interval: {error}")),
                        observed_generation: generation,
                        ..repository.status.clone().unwrap_or_default()
                    };
                    self.set_status(repository.as_ref(), &repository.status, status).await;
                    continue;
                }
            };
            let memo = state.repositories.get(&key);
            if memo
                .is_none_or(|m| m.generation != generation || now.duration_since(m.at) >= interval)
            {
                due.push(repository);
            }
        }
        let scanned: Vec<(Arc<ImageRepository>, Scanned)> = futures::stream::iter(due)
            .map(|repository| async move {
                let scanned = self.scan(&repository).await;
                (repository, scanned)
            })
            .buffer_unordered(self.config.concurrent_scans.max(1))
            .collect()
            .await;
        for (repository, scanned) in scanned {
            state.scans += 1;
            let mut status = repository.status.clone().unwrap_or_default();
            status.last_scan_time = Some(jiff::Timestamp::now().to_string());
            status.observed_generation = scanned.generation;
            match &scanned.tags {
                Ok(tags) => {
                    status.tag_count = Some(tags.len() as u64);
                    status.canonical_image_name = Some(normalize_name(&scanned.image));
                    status.last_error = None;
                }
                Err(error) => {
                    tracing::warn!(repository = %scanned.key, %error, "image scan failed");
                    status.last_error = Some(error.clone());
                }
            }
            self.set_status(repository.as_ref(), &repository.status, status).await;
            state.repositories.insert(
                scanned.key,
                RepositoryMemo {
                    generation: scanned.generation,
                    at: Instant::now(),
                    scan: state.scans,
                    image: scanned.image,
                    insecure: scanned.insecure,
                    credentials: scanned.credentials,
                    tags: scanned.tags.map(Arc::new),
                },
            );
        }
        let live: Vec<Key> = self.repositories.state().iter().map(|r| key_of(r.as_ref())).collect();
        state.repositories.retain(|key, _| live.contains(key));
    }

    async fn scan(&self, repository: &ImageRepository) -> Scanned {
        let spec = &repository.spec;
        let mut scanned = Scanned {
            key: key_of(repository),
            generation: repository.metadata.generation,
            image: spec.image.clone(),
            insecure: spec.insecure,
            credentials: None,
            tags: Err(String::new()),
        };
        let namespace = repository.namespace().unwrap_or_default();
        scanned.tags = async {
            let image = ImageRef::parse_name(&spec.image)
                .map_err(|e| format!("spec.image {:?}: {e}", spec.image))?;
            if let Some(secret_ref) = &spec.secret_ref {
                let secret = self.secret(&namespace, &secret_ref.name).await?;
                scanned.credentials = Some(
                    registry_credentials(&secret, &registry_host(&image))
                        .map_err(|e| e.to_string())?,
                );
            }
            let mut session =
                self.registry.session(&image, scanned.credentials.clone(), spec.insecure);
            session.tags().await.map_err(|e| e.to_string())
        }
        .await;
        scanned
    }
}
