//! The project's rules in a reconcile: the app's project exists and allows its namespace,
//! repository and destination (checked before anything is fetched); every rendered object is of
//! a kind and in a namespace the project allows (checked before anything is applied); and the
//! project's sync windows say whether syncs may run now.

use std::sync::Arc;
use std::time::Duration;

use ferry_apply::object::{ObjKey, str_at};
use kube::runtime::reflector::ObjectRef;

use crate::application::{IN_CLUSTER_NAME, IN_CLUSTER_SERVER, SyncWindowState, SyncWindowsStatus};
use crate::project::rules::{AppFacts, Cluster, ObjectFacts};
use crate::project::windows::{WindowApp, verdict};
use crate::project::{
    DEFAULT_PROJECT, Project, WindowVerdict, check_objects, check_spec, service_account,
};

use super::cycle::{Cycle, stamp};
use super::stop::{Stage, Stop};

/// The app's project, from the watched Projects in Ferry's namespace (the built-in `default`
/// when no Project `default` exists).
pub(crate) fn find(
    projects: &kube::runtime::reflector::Store<Project>,
    home: &str,
    name: &str,
) -> Option<Arc<Project>> {
    projects
        .get(&ObjectRef::new(name).within(home))
        .or_else(|| (name == DEFAULT_PROJECT).then(|| Arc::new(Project::builtin_default())))
}

/// The destination cluster as projects match it.
pub(crate) fn cluster(cy: &Cycle<'_>) -> Cluster {
    match &cy.cluster.spec {
        Some(spec) => Cluster { server: spec.server.clone(), name: spec.name.clone() },
        None => Cluster { server: IN_CLUSTER_SERVER.into(), name: IN_CLUSTER_NAME.into() },
    }
}

/// Finds the app's project and checks the app's spec against it; sets `cy.project`.
pub(crate) fn project(cy: &mut Cycle<'_>) -> Result<(), Stop> {
    let home = cy.inner.config.home_namespace.as_str();
    // Argo CD's Applications live in Argo CD's namespace: it is their home, as Ferry's is for
    // Ferry's (no sourceNamespaces entry needed); elsewhere the project decides, as for any app.
    let own_home = if cy.inner.argo.contains(cy.id) && cy.id.namespace == crate::argo::NAMESPACE {
        crate::argo::NAMESPACE
    } else {
        home
    };
    let name = cy.app.project();
    let Some(project) = find(&cy.inner.projects, home, name) else {
        return Err(Stop::new(
            Stage::Project,
            "ProjectNotFound",
            format!("the app names project {name:?}, which does not exist in namespace {home}"),
        )
        .hint(format!(
            "Create it (`ferry project create {name}`) or set spec.project to an existing project (`ferry project list`)"
        )));
    };
    let facts = AppFacts {
        namespace: &cy.id.namespace,
        home_namespace: own_home,
        repo_url: &cy.app.spec.source.repo_url,
        cluster: cluster(cy),
        dest_namespace: &cy.app.spec.destination.namespace,
    };
    let refused = |v: crate::project::Violation| {
        Stop::new(Stage::Project, v.reason(), v.to_string())
            .hint(format!("Change the app, or ask an admin to extend project {name}"))
    };
    check_spec(&project, &facts).map_err(refused)?;
    cy.apply_as =
        service_account(&project, &facts.cluster, facts.dest_namespace).map_err(refused)?;
    cy.project = Some(project);
    cy.clear("ProjectPermitted");
    Ok(())
}

/// Every object the render produced, against the project's kinds and destinations.
pub(crate) fn objects(cy: &mut Cycle<'_>) -> Result<(), Stop> {
    let Some(project) = cy.project.clone() else { return Ok(()) };
    let desired = cy.mem.prepared.desired.clone();
    // Each new prepared render counts up the epoch, so the same epoch means the same objects.
    let checked =
        (cy.mem.epoch, project.metadata.resource_version.clone(), cy.cluster.id.to_string());
    if cy.mem.admitted.as_ref() == Some(&checked) {
        return Ok(());
    }
    let name = cy.app.project().to_owned();
    check_desired(&project, &cluster(cy), &desired).map_err(|v| {
        Stop::new(Stage::Project, v.reason(), v.to_string()).hint(format!(
            "Remove the object from Git, or ask an admin to allow it in project {name}"
        ))
    })?;
    cy.mem.admitted = Some(checked);
    Ok(())
}

/// Every prepared object's kind and namespace against the project (also what `ferry plan`
/// checks).
pub(crate) fn check_desired(
    project: &Project,
    cluster: &Cluster,
    desired: &[ferry_apply::plan::Desired],
) -> Result<(), crate::project::Violation> {
    let keys: Vec<(String, String, Option<String>, String)> = desired
        .iter()
        .map(|d| {
            let group = str_at(&d.object, &["apiVersion"])
                .and_then(|v| v.rsplit_once('/').map(|(g, _)| g.to_owned()))
                .unwrap_or_default();
            let kind = str_at(&d.object, &["kind"]).unwrap_or_default().to_owned();
            let ns = str_at(&d.object, &["metadata", "namespace"])
                .filter(|n| !n.is_empty())
                .map(str::to_owned);
            let display = ObjKey::of(&d.object).map(|k| k.to_string()).unwrap_or_default();
            (group, kind, ns, display)
        })
        .collect();
    let facts = keys.iter().map(|(group, kind, namespace, display)| ObjectFacts {
        group,
        kind,
        namespace: namespace.as_deref(),
        display: display.clone(),
    });
    check_objects(project, cluster, facts)
}

/// The project's sync windows for this app now; written to `status.syncWindows`.
pub(crate) fn windows(cy: &mut Cycle<'_>) -> Result<WindowVerdict, Stop> {
    let Some(project) = cy.project.clone() else { return Ok(WindowVerdict::open()) };
    let app = WindowApp {
        name: &cy.id.name,
        namespace: &cy.app.spec.destination.namespace,
        cluster: cluster(cy),
    };
    let name = cy.app.project();
    let v = verdict(name, &project.spec.sync_windows, &app, cy.now.wall).map_err(|e| {
        Stop::new(Stage::Project, "InvalidSyncWindow", e.to_string())
            .hint(format!("Fix the window in project {name}"))
    })?;
    cy.status.sync_windows = (!v.windows.is_empty()).then(|| window_status(&v));
    Ok(v)
}

fn window_status(v: &WindowVerdict) -> SyncWindowsStatus {
    let show = |t: Option<jiff::Timestamp>| t.map(stamp).unwrap_or_default();
    SyncWindowsStatus {
        automated: v.automated,
        manual: v.manual,
        closed_by: v.closed_by.clone().unwrap_or_default(),
        next_opening: show(v.opens_at),
        windows: v
            .windows
            .iter()
            .map(|w| SyncWindowState {
                window: w.summary.clone(),
                active: w.active_until.is_some(),
                active_until: show(w.active_until),
                next_start: show(w.next_start),
            })
            .collect(),
    }
}

/// How long until `at`, at least a second and at most ten minutes (a window may change).
pub(crate) fn until(at: Option<jiff::Timestamp>, now: jiff::Timestamp) -> Duration {
    let wait = match at {
        Some(t) if t > now => now.duration_until(t).unsigned_abs(),
        Some(_) => Duration::ZERO,
        None => Duration::from_secs(600),
    };
    wait.clamp(Duration::from_secs(1), Duration::from_secs(600))
}
