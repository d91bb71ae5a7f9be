//! Argo CD's Applications (`argoproj.io/v1alpha1`): Ferry reconciles them like its own, so an
//! app of apps written for Argo CD (argocd-example-apps' `apps` chart) runs unchanged. Ferry's
//! `Application` uses Argo CD's field names where the concept is the same, so an Argo CD
//! Application is read as one (fields Ferry does not know are ignored) and its status is written
//! in the same names (`sync.status`, `health.status`, `operationState`, `history`).
//!
//! Whether Ferry touches that group is [`ArgoApplications`]: by default only when the
//! `applications.argoproj.io` CRD is the one Ferry installed (labelled
//! `app.kubernetes.io/managed-by: ferry`), so Ferry never fights a real Argo CD controller over
//! the same Applications; `Install` installs that CRD when it is absent (never over Argo CD's),
//! `Watch` takes over whatever CRD exists (a migration with Argo CD's controller stopped).
//!
//! # Caveats
//! - An Argo CD Application and a Ferry Application with the same namespace and name are one
//!   app to the engine (the later event wins); keep Argo CD's apps in their own namespace.
//! - The CRD is looked up once at start: a CRD installed later is seen after a restart.
//! - Events about an Argo CD app name it (namespace, name, uid) with Ferry's `apiVersion`.
//! - `ferry app` verbs read Ferry's group; Argo CD's apps are read with `kubectl get
//!   applications.argoproj.io` (or the API's application list, which shows both).

use std::collections::HashSet;
use std::sync::RwLock;

use ferry_apply::tracking::AppId;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::runtime::watcher::Event;
use kube::{Client, ResourceExt};
use serde_json::Value;

use crate::application::Application;

pub const GROUP: &str = "argoproj.io";
pub const CRD_NAME: &str = "applications.argoproj.io";
/// Argo CD's namespace, where its Applications live by default.
pub const NAMESPACE: &str = "argocd";
const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "ferry");

/// Whether the engine reconciles Argo CD's Applications (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ArgoApplications {
    /// Never.
    Off,
    /// When the CRD exists and Ferry installed it.
    #[default]
    IfOwnCrd,
    /// Install the CRD when absent, then as `IfOwnCrd`.
    Install,
    /// Whenever the CRD exists, whoever installed it.
    Watch,
}

/// A mode that is not one of `off`, `own-crd`, `install`, `watch`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not an Argo CD Applications mode: off, own-crd, install or watch")]
pub struct ModeError(String);

impl std::str::FromStr for ArgoApplications {
    type Err = ModeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "off" => Ok(Self::Off),
            "own-crd" => Ok(Self::IfOwnCrd),
            "install" => Ok(Self::Install),
            "watch" => Ok(Self::Watch),
            other => Err(ModeError(other.to_owned())),
        }
    }
}

/// The API resource of Argo CD's Applications.
pub fn api_resource() -> ApiResource {
    ApiResource {
        group: GROUP.into(),
        version: "v1alpha1".into(),
        api_version: format!("{GROUP}/v1alpha1"),
        kind: "Application".into(),
        plural: "applications".into(),
    }
}

/// An Argo CD-compatible Application CRD: Ferry's schema in Argo CD's group and names, with
/// `spec` and `status` keeping fields Ferry does not know (Argo CD's `info`, `sources` …).
pub fn crd() -> CustomResourceDefinition {
    let mut crd = crate::application::crd();
    crd.metadata.name = Some(CRD_NAME.into());
    crd.metadata.labels = Some([(MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned())].into());
    crd.spec.group = GROUP.into();
    crd.spec.names.short_names = Some(vec!["app".into(), "apps".into()]);
    crd.spec.names.categories = Some(vec!["argo".into()]);
    for version in &mut crd.spec.versions {
        let schema = version.schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut());
        if let Some(props) = schema.and_then(|s| s.properties.as_mut()) {
            for field in ["spec", "status"] {
                if let Some(p) = props.get_mut(field) {
                    p.x_kubernetes_preserve_unknown_fields = Some(true);
                }
            }
        }
    }
    crd
}

/// Installs the CRD when `mode` asks for it and it is absent, then says whether to watch
/// Argo CD's Applications.
pub async fn prepare(client: &Client, mode: ArgoApplications) -> Result<bool, kube::Error> {
    if mode == ArgoApplications::Off {
        return Ok(false);
    }
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let existing = crds.get_opt(CRD_NAME).await?;
    let existing = match existing {
        None if mode == ArgoApplications::Install => {
            crate::controller::install_one(client, crd()).await?;
            crds.get_opt(CRD_NAME).await?
        }
        other => other,
    };
    let Some(existing) = existing else { return Ok(false) };
    let ours = existing.labels().get(MANAGED_BY.0).is_some_and(|v| v == MANAGED_BY.1);
    if !ours && mode != ArgoApplications::Watch {
        tracing::info!(
            "the {CRD_NAME} CRD was not installed by Ferry (is Argo CD running?): its Applications are left to Argo CD"
        );
    }
    Ok(ours || mode == ArgoApplications::Watch)
}

/// An Argo CD Application read as Ferry's (`None`, logged, when its spec is not one Ferry reads).
pub fn to_ferry(obj: &DynamicObject) -> Option<Application> {
    let mut value = serde_json::to_value(obj).ok()?;
    value["apiVersion"] =
        Value::from(format!("{}/{}", crate::application::GROUP, crate::application::VERSION));
    value["kind"] = Value::from("Application");
    match serde_json::from_value(value) {
        Ok(app) => Some(app),
        Err(e) => {
            tracing::warn!(app = %format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any()), error = %e, "an Argo CD Application Ferry cannot read is left alone");
            None
        }
    }
}

/// The ids of the apps that are Argo CD's (their status and finalizers go to that group).
#[derive(Debug, Default)]
pub(crate) struct ArgoIds(RwLock<HashSet<AppId>>);

impl ArgoIds {
    pub fn insert(&self, id: AppId) {
        self.0.write().unwrap_or_else(|p| p.into_inner()).insert(id);
    }

    pub fn remove(&self, id: &AppId) {
        self.0.write().unwrap_or_else(|p| p.into_inner()).remove(id);
    }

    pub fn contains(&self, id: &AppId) -> bool {
        self.0.read().unwrap_or_else(|p| p.into_inner()).contains(id)
    }
}

/// Argo CD's Applications as watch events on Ferry's type, for the one Application store: a
/// relist of either group must not drop the other's apps, so the apps are kept here and
/// replayed after Ferry's own relist ([`Mirror::replay`]); Argo CD's relist is turned into
/// applies and the deletes of what it no longer lists.
#[derive(Debug, Default)]
pub(crate) struct Mirror {
    apps: std::collections::HashMap<AppId, Application>,
    listing: Option<HashSet<AppId>>,
}

impl Mirror {
    pub fn convert(
        &mut self,
        event: Event<DynamicObject>,
        ids: &ArgoIds,
    ) -> Vec<Event<Application>> {
        match event {
            Event::Init => {
                self.listing = Some(HashSet::new());
                Vec::new()
            }
            Event::InitApply(obj) | Event::Apply(obj) => {
                let id = AppId::new(obj.namespace().unwrap_or_default(), obj.name_any());
                if let Some(listing) = self.listing.as_mut() {
                    listing.insert(id.clone());
                }
                match to_ferry(&obj) {
                    Some(app) => {
                        ids.insert(id.clone());
                        self.apps.insert(id, app.clone());
                        vec![Event::Apply(app)]
                    }
                    None => self.gone(&id, ids).into_iter().collect(),
                }
            }
            Event::InitDone => {
                let listed = self.listing.take().unwrap_or_default();
                let stale: Vec<AppId> =
                    self.apps.keys().filter(|id| !listed.contains(*id)).cloned().collect();
                stale.iter().filter_map(|id| self.gone(id, ids)).collect()
            }
            Event::Delete(obj) => {
                let id = AppId::new(obj.namespace().unwrap_or_default(), obj.name_any());
                self.gone(&id, ids).into_iter().collect()
            }
        }
    }

    fn gone(&mut self, id: &AppId, ids: &ArgoIds) -> Option<Event<Application>> {
        ids.remove(id);
        self.apps.remove(id).map(Event::Delete)
    }

    /// Every Argo CD app known, as applies (after Ferry's relist replaced the store).
    pub fn replay(&self) -> Vec<Event<Application>> {
        self.apps.values().cloned().map(Event::Apply).collect()
    }
}

/// The API an app's status and metadata are written through: its own group's.
pub(crate) enum AppApi {
    Ferry(Api<Application>),
    Argo(Api<DynamicObject>),
}

impl AppApi {
    pub fn new(client: &Client, ids: &ArgoIds, id: &AppId) -> Self {
        if ids.contains(id) {
            AppApi::Argo(Api::namespaced_with(client.clone(), &id.namespace, &api_resource()))
        } else {
            AppApi::Ferry(Api::namespaced(client.clone(), &id.namespace))
        }
    }

    /// A merge patch of the status subresource; the app as the server returned it.
    pub async fn patch_status(
        &self,
        name: &str,
        patch: &Patch<Value>,
    ) -> Result<Application, kube::Error> {
        let pp = PatchParams::default();
        match self {
            AppApi::Ferry(api) => api.patch_status(name, &pp, patch).await,
            AppApi::Argo(api) => {
                let obj = api.patch_status(name, &pp, patch).await?;
                let value = serde_json::to_value(&obj).map_err(kube::Error::SerdeError)?;
                serde_json::from_value(value).map_err(kube::Error::SerdeError)
            }
        }
    }

    /// A merge patch of the object (finalizers).
    pub async fn patch(&self, name: &str, patch: &Patch<Value>) -> Result<(), kube::Error> {
        let pp = PatchParams::default();
        match self {
            AppApi::Ferry(api) => api.patch(name, &pp, patch).await.map(drop),
            AppApi::Argo(api) => api.patch(name, &pp, patch).await.map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_argo_cd_application_is_read_as_ferrys_with_unknown_fields_ignored() {
        let obj: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "example.guestbook", "namespace": "argocd",
                         "finalizers": ["resources-finalizer.argocd.argoproj.io"]},
            "spec": {"project": "default",
                     "destination": {"namespace": "guestbook", "server": "https://kubernetes.default.svc"},
                     "source": {"repoURL": "https://github.com/argoproj/argocd-example-apps",
                                "path": "guestbook", "targetRevision": "master"},
                     "revisionHistoryLimit": 3,
                     "syncPolicy": {"automated": {"prune": true, "selfHeal": true},
                                    "syncOptions": ["CreateNamespace=true"]}},
            "status": {"sync": {"status": "Synced", "revision": "abc"}, "health": {"status": "Healthy"},
                       "summary": {"images": ["gcr.io/x"]}}
        }))
        .expect("a DynamicObject");
        let app = to_ferry(&obj).expect("readable");
        assert_eq!(app.spec.source.path, "guestbook");
        assert!(app.automated().is_some_and(|a| a.prune && a.self_heal));
        assert!(app.sync_option("CreateNamespace"));
        assert_eq!(app.status.map(|s| s.sync.revision), Some("abc".to_owned()));
    }

    #[test]
    fn a_mode_is_read_from_its_flag_value_and_anything_else_is_refused() {
        assert_eq!("install".parse(), Ok(ArgoApplications::Install));
        assert_eq!("own-crd".parse(), Ok(ArgoApplications::IfOwnCrd));
        let e = "yes".parse::<ArgoApplications>().expect_err("refused");
        assert!(e.to_string().contains("off, own-crd, install or watch"));
    }

    #[test]
    fn the_argo_cd_compatible_crd_is_labelled_as_ferrys_and_keeps_unknown_fields() {
        let crd = crd();
        assert_eq!(crd.metadata.name.as_deref(), Some(CRD_NAME));
        assert_eq!(crd.spec.group, GROUP);
        assert_eq!(crd.spec.names.plural, "applications");
        assert_eq!(crd.labels().get(MANAGED_BY.0).map(String::as_str), Some(MANAGED_BY.1));
        let schema =
            crd.spec.versions[0].schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref());
        let spec = schema.and_then(|s| s.properties.as_ref()).and_then(|p| p.get("spec"));
        assert_eq!(spec.and_then(|s| s.x_kubernetes_preserve_unknown_fields), Some(true));
    }
}
