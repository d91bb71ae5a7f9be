//! Projects are watched in Ferry's namespace: a project created, changed or deleted reconciles
//! the apps that name it, so a tightened rule stops their next sync and a loosened one lets it
//! through without waiting for a resync.

use std::collections::HashMap;
use std::sync::Arc;

use ferry_apply::tracking::AppId;
use futures::StreamExt;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher::{self, Event};

use crate::controller::Inner;

use super::Project;

pub(crate) async fn projects(inner: Arc<Inner>, writer: Writer<Project>) {
    let api: Api<Project> = Api::namespaced(inner.client.clone(), &inner.config.home_namespace);
    let stream =
        watcher::watcher(api, watcher::Config::default()).default_backoff().reflect(writer);
    let mut stream = std::pin::pin!(stream);
    let mut seen: HashMap<String, Option<i64>> = HashMap::new();
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Apply(p) | Event::InitApply(p)) => {
                let name = p.name_any();
                if seen.insert(name.clone(), p.metadata.generation) != Some(p.metadata.generation) {
                    reconcile_apps_of(&inner, &name);
                }
            }
            Ok(Event::Delete(p)) => {
                seen.remove(&p.name_any());
                reconcile_apps_of(&inner, &p.name_any());
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "watch on Projects failed; retrying"),
        }
    }
}

fn reconcile_apps_of(inner: &Inner, project: &str) {
    for app in inner.apps.state() {
        if app.project() == project {
            let id = AppId::new(app.namespace().unwrap_or_default(), app.name_any());
            inner.trigger(&id, |r| r.spec = true);
        }
    }
}
