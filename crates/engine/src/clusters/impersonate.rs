//! A client that acts as another user (Kubernetes impersonation): every request of the wrapped
//! client carries `Impersonate-User`, so the API server authorizes it with that user's RBAC.
//! Hand-written as one header on kube's own client because kube's `Config` impersonation needs
//! the `Config` a client was built from, which a connection does not keep.

use http::HeaderValue;
use kube::Client;
use kube::client::Body;

#[derive(Debug, thiserror::Error)]
#[error("cannot impersonate {user:?}: not a valid header value")]
pub struct ImpersonateError {
    pub user: String,
}

/// `client`, acting as `user` (e.g. `system:serviceaccount:team-a:deployer`).
pub fn as_user(client: &Client, user: &str) -> Result<Client, ImpersonateError> {
    let header = HeaderValue::from_str(user).map_err(|_| ImpersonateError { user: user.into() })?;
    let inner = client.clone();
    let service = tower::service_fn(move |mut request: http::Request<Body>| {
        let inner = inner.clone();
        request.headers_mut().insert("Impersonate-User", header.clone());
        async move { inner.send(request).await }
    });
    Ok(Client::new(service, client.default_namespace()))
}
