//! Which cluster an Application's destination names: the cluster Ferry runs in, or one of the
//! cluster Secrets, by `destination.name` or `destination.server` (both set, they must name the
//! same cluster, as in Argo CD). Pure: it reads a snapshot of the Secrets.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;

use crate::application::{Destination, IN_CLUSTER_NAME, IN_CLUSTER_SERVER};

use super::secret::{ClusterSecretError, ClusterSpec, parse};

/// What a destination selects.
#[derive(Debug)]
pub enum Selected {
    /// The cluster Ferry runs in (its own client).
    InCluster,
    /// A cluster Secret, parsed.
    Remote(Box<ClusterSpec>, Arc<Secret>),
}

#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error(
        "destination.name {name:?} and destination.server {server:?} name different clusters (the cluster named {name:?} has server {actual:?})"
    )]
    Disagree { name: String, server: String, actual: String },
    #[error("no cluster Secret in namespace {namespace} has {field} {value:?}")]
    Unknown { namespace: String, field: &'static str, value: String },
    #[error(transparent)]
    Secret(#[from] ClusterSecretError),
}

/// The cluster `dest` names among `secrets` (the cluster Secrets of `namespace`).
pub fn select(
    dest: &Destination,
    secrets: &[Arc<Secret>],
    namespace: &str,
) -> Result<Selected, SelectError> {
    if dest.is_in_cluster() && !(dest.server.is_some() && dest.name.is_some()) {
        return Ok(Selected::InCluster);
    }
    let server = dest.server.as_deref().map(|s| s.trim_end_matches('/'));
    let by_name = |name: &str| secrets.iter().find(|s| raw(s, "name").as_deref() == Some(name));
    let by_server =
        |server: &str| secrets.iter().find(|s| raw_server(s).as_deref() == Some(server));
    let unknown = |field, value: &str| SelectError::Unknown {
        namespace: namespace.to_owned(),
        field,
        value: value.to_owned(),
    };
    let found = match (dest.name.as_deref(), server) {
        (Some(name), Some(server)) => {
            let actual = if name == IN_CLUSTER_NAME {
                Some(IN_CLUSTER_SERVER.to_owned())
            } else {
                by_name(name).and_then(|s| raw_server(s))
            };
            let actual = actual.ok_or_else(|| unknown("name", name))?;
            if actual != server {
                return Err(SelectError::Disagree {
                    name: name.to_owned(),
                    server: server.to_owned(),
                    actual,
                });
            }
            if server == IN_CLUSTER_SERVER {
                return Ok(Selected::InCluster);
            }
            by_server(server).ok_or_else(|| unknown("server", server))?
        }
        (Some(name), None) => by_name(name).ok_or_else(|| unknown("name", name))?,
        (None, Some(server)) => by_server(server).ok_or_else(|| unknown("server", server))?,
        (None, None) => return Ok(Selected::InCluster),
    };
    Ok(Selected::Remote(Box::new(parse(found)?), found.clone()))
}

/// The server URL `dest` names, without connecting or parsing credentials (for "which apps
/// target this cluster"); `None` when it names no known cluster.
pub fn server_of(dest: &Destination, secrets: &[Arc<Secret>]) -> Option<String> {
    if dest.is_in_cluster() {
        return Some(IN_CLUSTER_SERVER.to_owned());
    }
    if let Some(server) = &dest.server {
        return Some(server.trim_end_matches('/').to_owned());
    }
    let name = dest.name.as_deref()?;
    secrets.iter().find(|s| raw(s, "name").as_deref() == Some(name)).and_then(|s| raw_server(s))
}

/// A text key of a Secret (`stringData` over `data`), trimmed.
pub fn raw(secret: &Secret, key: &str) -> Option<String> {
    let from_string = secret.string_data.as_ref().and_then(|d| d.get(key)).cloned();
    let from_data = || {
        let bytes = secret.data.as_ref()?.get(key)?;
        String::from_utf8(bytes.0.clone()).ok()
    };
    let value = from_string.or_else(from_data)?.trim().to_owned();
    (!value.is_empty()).then_some(value)
}

fn raw_server(secret: &Secret) -> Option<String> {
    raw(secret, "server").map(|s| s.trim_end_matches('/').to_owned())
}

/// The Secret's name, for messages.
pub fn secret_name(secret: &Secret) -> String {
    secret.name_any()
}
